"""Reminders: before an organisation's validation or one of its offers ends, the network
tells it, once per thing and end date.

A periodic job (``freshness.remind``, every ``remind_interval_hours``) finds the local
organisations whose validation or offers end within ``remind_days_before`` days (or ended
less than that ago without a reminder), records one reminder row per thing (a unique
index on (subject, valid_until): a second run sends nothing), and has the network's actor
send the organisation a ``Create`` of a ``Note`` addressed to it only, with a ``Mention``
tag, in French and English. A local organisation reads it on its /edit page until it
re-confirms; a remote actor gets it in its inbox (domain/outbox.py). When the
organisation has an e-mail address and ``email_hook`` is set, a ``freshness.email`` job
runs the hook (retried by the worker when it fails; never in a request)."""

from __future__ import annotations

import asyncio
import html
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from ssefed.config import Config, FreshnessConfig
from ssefed.db.base import utcnow
from ssefed.db.models import Actor, Organisation
from ssefed.db.repos import actors as actor_repo
from ssefed.db.repos import freshness as fresh_repo
from ssefed.db.repos import jobs as job_repo
from ssefed.db.session import Database
from ssefed.domain import freshness, outbox
from ssefed.vocab import to_as

log = logging.getLogger("ssefed.reminders")

REMIND_JOB = "freshness.remind"
EMAIL_JOB = "freshness.email"
MAX_ROWS = 2000  # things read per run (the next run goes on with the rest)
MAX_ORGANISATIONS = 200  # organisations told per run
MAX_ITEMS_PER_NOTE = 50
HOOK_TIMEOUT_SECONDS = 60.0
HOOK_MAX_OUTPUT = 2000


def today_utc() -> date:
    return datetime.now(timezone.utc).date()


@dataclass(frozen=True)
class Item:
    """One thing that ends: ``kind`` is validation, offer or demand."""
    kind: str
    subject: str  # the organisation's actor IRI (validation) or the offer's IRI
    title: str
    until: date


@dataclass
class Recipient:
    actor_id: int
    ap_id: str
    handle: str
    name: str
    email: str | None
    items: list[Item] = field(default_factory=list)


def describe(item: Item, today: date, lang: str) -> str:
    """What ends when, in one line of ``lang`` (fr or en)."""
    past = item.until < today
    when = item.until.isoformat()
    if lang == "fr":
        if item.kind == "validation":
            return (f"la validation de votre organisation par le réseau a pris fin le {when}"
                    if past else f"la validation de votre organisation par le réseau prend "
                                 f"fin le {when}")
        what = "votre offre" if item.kind == "offer" else "votre demande"
        return (f"{what} « {item.title} » a expiré le {when}" if past
                else f"{what} « {item.title} » expire le {when}")
    if item.kind == "validation":
        return (f"the network's validation of your organisation ended on {when}" if past
                else f"the network's validation of your organisation ends on {when}")
    what = "your offer" if item.kind == "offer" else "your demand"
    return (f"{what} \"{item.title}\" expired on {when}" if past
            else f"{what} \"{item.title}\" expires on {when}")


def reminder_text(network_name: str, items: list[Item], today: date, *, edit_url: str,
                  api_url: str) -> dict[str, tuple[str, list[str], str]]:
    """Per language (fr, en): the subject, the lines saying what ends when, and how to
    re-confirm. Plain text: the note's HTML and the e-mail are made from it."""
    fr_lines = [describe(i, today, "fr") for i in items]
    en_lines = [describe(i, today, "en") for i in items]
    return {
        "fr": (f"{network_name} : informations à re-confirmer", fr_lines,
               f"Si elles sont toujours exactes, re-confirmez-les telles quelles avec le "
               f"bouton « Re-confirmer » de votre page {edit_url} (ou POST {api_url} avec "
               f"le jeton de votre organisation) ; sinon, modifiez-les ou retirez-les."),
        "en": (f"{network_name}: information to re-confirm", en_lines,
               f"If it is still right, re-confirm it as it is with the \"Re-confirm\" "
               f"button of your page {edit_url} (or POST {api_url} with your "
               f"organisation's token); otherwise change or withdraw it."),
    }


def _html(mention: str, lines: list[str], how: str, lead: str) -> str:
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    return f"<p>{mention} {html.escape(lead)}</p><ul>{items}</ul><p>{html.escape(how)}</p>"


def note_activity(network: Actor, recipient: Recipient, acct: str, items: list[Item],
                  today: date, *, create_id: str, edit_url: str, api_url: str
                  ) -> tuple[dict[str, Any], dict]:
    """The network's ``Create`` of a ``Note`` to the organisation only (no Public, no
    followers), mentioning it; and the texts, per language, for the e-mail."""
    texts = reminder_text(network.name, items, today, edit_url=edit_url, api_url=api_url)
    mention = (f'<span class="h-card"><a href="{html.escape(recipient.ap_id)}" '
               f'class="u-url mention">@<span>{html.escape(recipient.handle)}</span></a></span>')
    leads = {"fr": "Bonjour, le réseau vous rappelle que :",
             "en": "Hello, the network reminds you that:"}
    content = {lang: _html(mention, lines, how, leads[lang])
               for lang, (_, lines, how) in texts.items()}
    note = {"id": f"{create_id}/note", "type": "Note", "attributedTo": network.ap_id,
            "to": [recipient.ap_id], "summary": f"{texts['fr'][0]} / {texts['en'][0]}",
            "content": content["fr"] + content["en"], "contentMap": content,
            "tag": [{"type": "Mention", "href": recipient.ap_id, "name": acct}],
            "published": to_as.iso(utcnow())}
    doc = to_as.activity(network.ap_id, "Create", note, to=[recipient.ap_id],
                         published=utcnow(), id_=create_id)
    return doc, texts


def email_message(to: str, texts: dict) -> dict[str, str]:
    """What the e-mail hook reads on its standard input."""
    parts = []
    for lang in ("fr", "en"):
        _, lines, how = texts[lang]
        lead = "Bonjour,\n\nle réseau vous rappelle que :" if lang == "fr" else \
            "Hello,\n\nthe network reminds you that:"
        parts.append(lead + "\n" + "".join(f"- {line}\n" for line in lines) + "\n" + how)
    return {"to": to, "subject": f"{texts['fr'][0]} / {texts['en'][0]}",
            "text": "\n\n----\n\n".join(parts) + "\n"}


async def due(db: Database, days_before: int, today: date) -> list[Recipient]:
    """The organisations to remind now and what of (things already reminded of for their
    current end date are left out), at most MAX_ORGANISATIONS."""
    start, end = freshness.reminder_window(today, days_before)
    async with db.read() as s:
        validations = await fresh_repo.validations_ending(s, start=start, end=end,
                                                          limit=MAX_ROWS, unreminded=True)
        offers = await fresh_repo.offers_ending(s, start=start, end=end, limit=MAX_ROWS,
                                                unreminded=True)
    out: dict[int, Recipient] = {}
    for r in validations:
        rec = out.setdefault(r.id, Recipient(r.id, r.ap_id, r.handle, r.name, r.email))
        rec.items.append(Item("validation", r.ap_id, r.name, r.valid_until))
    for r in offers:
        rec = out.setdefault(r.actor_id, Recipient(r.actor_id, r.actor_ap_id, r.handle, r.name,
                                                   r.email))
        if len(rec.items) < MAX_ITEMS_PER_NOTE:
            rec.items.append(Item(r.direction, r.ap_id, r.title, r.valid_until))
    return list(out.values())[:MAX_ORGANISATIONS]


async def send_reminders(db: Database, config: Config, *, today: date | None = None) -> int:
    """Send the reminders due now (see the module docstring); return how many
    organisations were told."""
    today = today or today_utc()
    fresh = config.freshness
    base = config.node.base_url
    told = 0
    for rec in await due(db, fresh.remind_days_before, today):
        async with db.write() as s:
            network = await actor_repo.get_network(s)
            actor = await s.get(Actor, rec.actor_id)
            if network is None or actor is None or actor.deleted_at is not None:
                continue
            create_id = to_as.activity_id(network.ap_id, "Create")
            email = rec.email if fresh.email_hook else None
            added = await fresh_repo.add_reminders(s, [
                {"actor_id": rec.actor_id, "subject_type": "validation"
                 if i.kind == "validation" else "offer", "subject": i.subject,
                 "title": i.title[:500], "valid_until": i.until, "note_ap_id": create_id,
                 "email_to": email, "sent_at": utcnow()} for i in rec.items])
            items = [i for i in rec.items if (i.subject, i.until) in added]
            if not items:  # another run told it meanwhile
                continue
            doc, texts = note_activity(
                network, rec, f"@{rec.handle}@{config.node.domain if actor.local else actor.domain}",
                items, today,
                create_id=create_id, edit_url=f"{base}/edit",
                api_url=f"{base}/api/actors/{rec.handle}/reconfirm")
            inboxes = [] if actor.local else [i for i in [actor.inbox] if i]
            await outbox.publish(s, network, doc, inboxes=inboxes, public=False)
            if email:
                await s.run_sync(job_repo.enqueue, EMAIL_JOB, email_message(email, texts),
                                 dedupe_key=f"{EMAIL_JOB}:{create_id}")
        told += 1
    return told


async def schedule(db: Database, fresh: FreshnessConfig, *, now: float | None = None,
                   next_run: bool = False) -> None:
    """Queue the reminder run of the current interval (or, with ``next_run``, of the next
    one, at its start). The dedupe key names the interval, so each runs once however many
    times the node starts."""
    slot, next_at = freshness.reminder_slot(time.time() if now is None else now,
                                            fresh.remind_interval_hours)
    interval = round(fresh.remind_interval_hours * 3600)
    if next_run:
        slot += 1
    run_at = datetime.fromtimestamp(next_at, timezone.utc) if next_run else None
    async with db.write() as s:
        await s.run_sync(job_repo.enqueue, REMIND_JOB, {"slot": slot},
                         dedupe_key=f"{REMIND_JOB}:{interval}:{slot}", run_at=run_at)


async def run_email_hook(command: list[str], message: dict[str, str], *,
                         timeout: float = HOOK_TIMEOUT_SECONDS) -> None:
    """Run the e-mail hook (no shell) with ``message`` as JSON on its standard input;
    raise RuntimeError when it fails, so the job is retried."""
    if not command:
        return
    try:
        proc = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE)
    except OSError as exc:
        raise RuntimeError(f"e-mail hook {command[0]!r} could not start: {exc}") from None
    try:
        _, err = await asyncio.wait_for(
            proc.communicate(json.dumps(message, ensure_ascii=False).encode()), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise RuntimeError(f"e-mail hook timed out after {timeout:.0f} s") from None
    if proc.returncode != 0:
        detail = err.decode("utf-8", "replace").strip()[:HOOK_MAX_OUTPUT]
        raise RuntimeError(f"e-mail hook exited with {proc.returncode}: {detail}")


def job_handlers(db: Database, config: Config) -> dict:
    """The worker's handlers of the reminder jobs."""

    async def remind(payload: dict) -> None:
        # the next run is queued first: a failing run does not stop the ones after it
        await schedule(db, config.freshness, next_run=True)
        told = await send_reminders(db, config)
        if told:
            log.info("reminded %d organisation(s) of what ends", told)

    async def email(payload: dict) -> None:
        message = {k: str(payload.get(k, ""))[:20_000] for k in ("to", "subject", "text")}
        try:
            await run_email_hook(config.freshness.email_command, message)
        except RuntimeError as exc:
            log.warning("e-mail to %s not sent: %s", message["to"], exc)
            raise

    return {REMIND_JOB: remind, EMAIL_JOB: email}


MAX_STALE_ROWS = 10_000


async def stale_items(db, days: int, today: date) -> tuple[list[dict], bool]:
    """Items ending by today + ``days`` (expired ones included), soonest first; and
    whether the list was cut at MAX_STALE_ROWS."""
    end = today + timedelta(days=days)
    async with db.read() as s:
        validations = await fresh_repo.validations_ending(s, start=None, end=end,
                                                          limit=MAX_STALE_ROWS + 1)
        offers = await fresh_repo.offers_ending(s, start=None, end=end, limit=MAX_STALE_ROWS + 1)
    items = [{"type": "validation", "handle": r.handle, "title": r.name, "id": r.ap_id,
              "valid_until": r.valid_until} for r in validations]
    items += [{"type": r.direction, "handle": r.handle, "title": r.title, "id": r.ap_id,
               "kind": r.kind, "valid_until": r.valid_until} for r in offers]
    items.sort(key=lambda i: (i["valid_until"], i["type"] != "validation", i["handle"] or ""))
    cut = len(items) > MAX_STALE_ROWS
    for item in items:
        item["state"] = freshness.state_of(item["valid_until"], today, days)
        item["valid_until"] = item["valid_until"].isoformat()
    return items[:MAX_STALE_ROWS], cut


async def freshness_summary(s, actor: Actor, org: Organisation, offers: list,
                            days: int) -> dict[str, Any]:
    """What the /edit page shows of freshness: the validation, each offer's state, and the
    network's reminders not yet answered (those still about the current end dates)."""
    today = today_utc()
    ends = {o.ap_id: o for o in offers}
    notes = []
    for r in await fresh_repo.open_reminders(s, actor.id):
        if r.subject_type == "validation":
            current = r.subject == actor.ap_id and org.valid_until == r.valid_until
            kind = "validation"
        else:
            offer = ends.get(r.subject)
            current = offer is not None and offer.valid_until == r.valid_until
            kind = offer.direction if offer is not None else "offer"
        if current:
            item = Item(kind, r.subject, r.title, r.valid_until)
            notes.append({"sent": r.sent_at.date(), "fr": describe(item, today, "fr"),
                          "en": describe(item, today, "en")})
    return {"guarantee": freshness.guarantee(org.validation_status, org.valid_until, today),
            "reconfirmable": org.validation_status in ("validated", "expired"),
            "offers": {o.ap_id: freshness.state_of(o.valid_until, today, days) for o in offers},
            "reminders": notes}
