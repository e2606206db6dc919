"""ssefed reports [--all] [--json] | ssefed reports handle ID [--note TEXT] [--by NAME]:
the network's reviewers read and close the reports of wrong or outdated information."""

from __future__ import annotations

import argparse
import getpass
import json

from ssefed.cli.common import CommandError
from ssefed.cli.common import command, config_from, in_session
from ssefed.domain import reports as report_domain
from ssefed.domain.errors import Conflict, NotFound


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "reports", run_list, help="reports of wrong or outdated information (open "
                                               "ones; `reports handle ID` closes one)")
    p.add_argument("--all", action="store_true", help="handled reports too")
    p.add_argument("--json", action="store_true", help="print JSON")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    h = command(actions, "handle", run_handle, help="mark a report handled: it leaves the "
                                                    "organisation's page")
    h.add_argument("id", type=int, help="the report's number (see `ssefed reports`)")
    h.add_argument("--note", default=None, help="what was done (kept with the report)")
    h.add_argument("--by", default=None, help="who handled it (default: your user name)")


def run_list(args: argparse.Namespace) -> int:
    config = config_from(args)

    items = in_session(config, lambda s: report_domain.listing(s, include_handled=args.all))
    if args.json:
        print(json.dumps(items, ensure_ascii=False, indent=2))
        return 0
    for r in items:
        who = r["reporter"] or "form"
        text = " ".join(r["text"].split())
        print(f"#{r['id']}\t{r['created'][:10]}\t{r['state']}\t@{r['organisation']['handle']}\t"
              f"{r['reason']}\t{who}\t{' '.join(r['objects'])}\t"
              f"{text[:120] + ('…' if len(text) > 120 else '')}")
        if r["state"] == "handled":
            print(f"\thandled {(r['handled_at'] or '')[:10]} by {r['handled_by']}"
                  + (f": {r['resolution']}" if r["resolution"] else ""))
    kind = "" if args.all else "open "
    print(f"{len(items)} {kind}report{'' if len(items) == 1 else 's'}")
    return 0


def run_handle(args: argparse.Namespace) -> int:
    config = config_from(args)
    by = args.by or _user()

    async def handle(s) -> dict:
        report, actor = await report_domain.handle(s, args.id, note=args.note, by=by)
        return report_domain.report_json(report, actor)

    try:
        report = in_session(config, handle, write=True)
    except (NotFound, Conflict) as exc:
        raise CommandError(str(exc)) from None
    print(f"report #{report['id']} on @{report['organisation']['handle']} handled by {by}")
    return 0


def _user() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in this environment
        return "cli"
