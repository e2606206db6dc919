"""Fresh data on live nodes: validity periods, an expired validation that stops counting
on a following node until the organisation is re-confirmed, `ssefed stale`, the
reminders (a Note to the organisation, the e-mail hook once) and re-confirming through
the CLI, the JSON API, client-to-server and the /edit page."""

from __future__ import annotations

import json
import shlex
import sys
import time
from datetime import date, timedelta

import requests

from ssefed.domain.freshness import add_months
from tests.integration.test_chains import chains, org, wait_until
from tests.integration.test_edit_pages import csrf_of, signed_in
from tests.integration.test_federation import host, last_line, ok

AS2 = {"Accept": "application/activity+json"}


def day(value) -> str:
    """A date column as text, whichever database it came from."""
    return str(value)[:10] if value is not None else ""


def offer(node, handle: str, title: str, *extra: str, kind: str = "product",
          category: str = "wheat", direction: str = "offer") -> str:
    return last_line(node.cli("offer", "add", "--org", handle, "--direction", direction,
                              "--role", "production", "--kind", kind, "--category", category,
                              "--title", title, *extra))


def token_of(node, handle: str) -> str:
    return last_line(node.cli("token", "create", handle))


def link_of(answer: dict, offer_iri: str) -> dict | None:
    for chain in answer["chains"]:
        for link in chain["links"]:
            if link["offer"] == offer_iri:
                return link
    return None


def test_an_expired_validation_stops_counting_elsewhere_until_it_is_reconfirmed(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    today = date.today()
    yesterday, soon = today - timedelta(days=1), today + timedelta(days=5)
    ferme = org(a, "ferme", "Ferme des Combes", 45.0, 5.0)
    org(a, "moulin", "Moulin", 45.1, 5.1)
    # approved without --until: [freshness] validation_months (12)
    out = ok(a.cli("org", "approve", "ferme"))
    assert add_months(today, 12).isoformat() in out
    assert [day(v) for (v,) in a.sql("SELECT valid_until FROM organisations o JOIN actors a "
                                     "ON a.id = o.actor_id WHERE a.handle = 'ferme'")] == [
        add_months(today, 12).isoformat()]
    ok(b.cli("follow", f"network@{host(a)}", "--as", "network"))
    assert b.wait_for("SELECT state FROM follows", [("accepted",)]) == [("accepted",)]

    wheat = offer(a, "ferme", "Blé tendre", "--valid-until", soon.isoformat())
    # without --valid-until: the kind's period ([freshness] offer_validity_days)
    tender = offer(a, "ferme", "Entretien des haies", kind="tender", category="vegetables",
                   direction="demand")
    assert [day(v) for (v,) in a.sql("SELECT valid_until FROM offers WHERE ap_id = :i",
                                     i=tender)] == [(today + timedelta(days=60)).isoformat()]
    assert b.wait_for("SELECT count(*) FROM offers WHERE NOT local", [(2,)]) == [(2,)]
    network_a = f"{a.base_url}/actors/network"
    members = "SELECT valid_until FROM memberships WHERE network_ap_id = :n AND member_ap_id = :m"
    b.wait_for(members, lambda r: len(r) == 1, n=network_a, m=ferme)

    link = wait_until(lambda: link_of(chains(b, category="wheat"), wheat))
    assert link and link["guaranteed"] is True, link
    assert link["guarantee"]["validated_by"] == network_a

    # the validation expires: B's chain link is no longer guaranteed, and says why
    ok(a.cli("org", "approve", "ferme", "--until", yesterday.isoformat()))
    b.wait_for(members, lambda r: [day(v) for (v,) in r] == [yesterday.isoformat()],
               n=network_a, m=ferme)

    def expired() -> dict | None:
        found = link_of(chains(b, category="wheat"), wheat)
        return found if found and found["guaranteed"] is False else None

    link = wait_until(expired)
    assert link, "the expired validation still counts on B"
    assert link["guarantee"]["expired"] is True
    assert link["guarantee"]["reason"] == f"validation expired on {yesterday.isoformat()}"
    assert chains(b, category="wheat", guaranteed_only="true")["chains"] == []

    # the admin sees what expired and what expires soon
    table = ok(a.cli("stale"))
    lines = table.splitlines()
    assert lines[0].split() == ["STATE", "DATE", "WHAT", "HANDLE", "TITLE"]
    assert any(line.split()[:4] == ["expired", yesterday.isoformat(), "validation", "@ferme"]
               for line in lines), table
    assert any(line.split()[:4] == ["expiring", soon.isoformat(), "offer", "@ferme"]
               and "Blé tendre" in line for line in lines), table
    assert "Entretien des haies" not in table  # 60 days ahead: past the 30 days
    assert lines[-1] == "1 expired, 1 expiring within 30 day(s)"
    wide = json.loads(ok(a.cli("stale", "--days", "90", "--json")))
    assert wide["days"] == 90 and wide["today"] == today.isoformat()
    assert [(i["state"], i["type"], i["handle"], i["id"], i["valid_until"])
            for i in wide["items"]] == [
        ("expired", "validation", "ferme", ferme, yesterday.isoformat()),
        ("expiring", "offer", "ferme", wheat, soon.isoformat()),
        ("expiring", "demand", "ferme", tender, (today + timedelta(days=60)).isoformat())]
    bad = a.cli("stale", "--days", "-1")
    assert bad.returncode == 2 and "--days" in bad.stderr

    # it stays visible, marked expired, and no longer counts as validated
    found = requests.get(f"{a.base_url}/api/search", params={"q": "ferme combes"},
                         timeout=10).json()
    item = next(i for i in found["items"] if i["id"] == ferme)
    assert item["validated"] is False and item["expired"] is True
    assert item["validUntil"] == yesterday.isoformat()
    found = requests.get(f"{a.base_url}/api/search", params={"q": "blé"}, timeout=10).json()
    item = next(i for i in found["items"] if i["id"] == wheat)
    assert item["validated"] is False and item["validationExpired"] is True
    assert item["expired"] is False
    strict = requests.get(f"{a.base_url}/api/search",
                          params={"validated_only": "true"}, timeout=10).json()
    assert strict["total"] == 0
    page = requests.get(f"{a.base_url}/search", params={"q": "ferme combes", "lang": "en"},
                        timeout=10).text
    assert f"validation expired on {yesterday.isoformat()}" in page
    page = requests.get(f"{a.base_url}/search", params={"q": "blé", "lang": "fr"},
                        timeout=10).text
    assert "validation de l’organisation expirée" in page
    org_page = requests.get(ferme, headers={"Accept-Language": "fr"}, timeout=10).text
    assert "validation expirée" in org_page and "Ferme des Combes" in org_page
    offer_page = requests.get(wheat, headers={"Accept-Language": "en"}, timeout=10).text
    assert 'id="validation-expired"' in offer_page and "validation expired" in offer_page

    # re-confirming is one action: the validation and the offers are extended, and it
    # federates (the network's Add, the offers' Updates to the network's followers)
    out = ok(a.cli("org", "reconfirm", "ferme"))
    until = add_months(today, 12).isoformat()
    assert f"until {until}" in out and "2 offer(s) and demand(s) extended" in out
    b.wait_for(members, lambda r: [day(v) for (v,) in r] == [until], n=network_a, m=ferme)
    link = wait_until(lambda: (lambda lk: lk if lk and lk["guaranteed"] else None)(
        link_of(chains(b, category="wheat"), wheat)))
    assert link and link["guarantee"]["expired"] is False, link
    b_offers = "SELECT valid_until FROM offers WHERE ap_id = :i"
    assert [day(v) for (v,) in b.wait_for(
        b_offers, lambda r: [day(v) for (v,) in r] == [(today + timedelta(days=180)).isoformat()],
        i=wheat)] == [(today + timedelta(days=180)).isoformat()]
    assert [day(v) for (v,) in b.wait_for(
        b_offers, lambda r: [day(v) for (v,) in r] == [(today + timedelta(days=60)).isoformat()],
        i=tender)] == [(today + timedelta(days=60)).isoformat()]
    assert ok(a.cli("stale")).splitlines() == ["0 expired, 0 expiring within 30 day(s)"]

    # one offer on its own, and what cannot be re-confirmed
    out = ok(a.cli("offer", "reconfirm", wheat))
    assert (today + timedelta(days=180)).isoformat() in out
    unknown = a.cli("org", "reconfirm", "nobody")
    assert unknown.returncode == 1 and "no actor @nobody" in unknown.stderr
    unvalidated = a.cli("org", "reconfirm", "moulin")
    assert unvalidated.returncode == 1 and "@moulin cannot be re-confirmed" in unvalidated.stderr
    assert "not validated" in unvalidated.stderr
    nothing = a.cli("offer", "reconfirm", f"{a.base_url}/offers/nope")
    assert nothing.returncode == 1 and "no offer" in nothing.stderr
    for node in (a, b):
        assert "Traceback" not in node.log()


def test_reconfirming_through_the_api_and_client_to_server_and_bad_input(nodes):
    a = nodes.start("a")
    today = date.today()
    yesterday = (today - timedelta(days=1)).isoformat()
    ferme = org(a, "ferme", "Ferme", 45.0, 5.0)
    moulin = org(a, "moulin", "Moulin", 45.1, 5.1)
    ok(a.cli("org", "approve", "ferme", "--until", yesterday))
    wheat = offer(a, "ferme", "Blé", "--valid-until", yesterday)
    flour = offer(a, "moulin", "Farine", "--valid-until", yesterday, category="flour")
    t_ferme, t_moulin = token_of(a, "ferme"), token_of(a, "moulin")
    api = f"{a.base_url}/api/actors/{{}}/reconfirm"

    def post(handle: str, token: str | None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.post(api.format(handle), headers=headers, timeout=15)

    for r, status, words in ((post("ferme", None), 401, "bearer token is required"),
                             (post("ferme", "ssefed_nope"), 401, "unknown or revoked"),
                             (post("ferme", t_moulin), 403, "not @ferme's"),
                             (post("nobody", t_ferme), 404, "no organisation @nobody"),
                             (post("network", t_ferme), 404, "no organisation @network"),
                             (post("moulin", t_moulin), 409, "not validated")):
        assert r.status_code == status, (status, r.text)
        assert r.headers["Content-Type"].startswith("application/problem+json")
        assert words in r.json()["detail"], r.json()
    assert [day(v) for (v,) in a.sql("SELECT valid_until FROM offers WHERE ap_id = :i",
                                     i=flour)] == [yesterday]  # nothing changed

    adds = "SELECT count(*) FROM activities WHERE type = 'Add'"
    before = a.sql(adds)[0][0]
    done = post("ferme", t_ferme)
    assert done.status_code == 200, done.text
    assert done.json() == {"actor": ferme, "validation": {
        "status": "validated", "validUntil": add_months(today, 12).isoformat()},
        "offers": [{"id": wheat, "validUntil": (today + timedelta(days=180)).isoformat()}]}
    assert a.sql(adds)[0][0] == before + 1  # the network's Add to its members collection
    actor_doc = requests.get(ferme, headers=AS2, timeout=10).json()
    assert actor_doc["validUntil"] == add_months(today, 12).isoformat()

    # client-to-server: an Update whose object is just an IRI re-confirms it as is
    outbox = f"{a.base_url}/actors/moulin/outbox"
    auth = {"Authorization": f"Bearer {t_moulin}"}
    r = requests.post(outbox, json={"type": "Update", "object": flour}, headers=auth, timeout=15)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "reconfirmed"
    assert r.json()["offers"] == [{"id": flour,
                                   "validUntil": (today + timedelta(days=180)).isoformat()}]
    doc = requests.get(flour, headers=AS2, timeout=10).json()
    assert doc["validUntil"] == (today + timedelta(days=180)).isoformat()
    assert a.sql("SELECT count(*) FROM activities a JOIN actors o ON o.id = a.actor_id "
                 "WHERE o.handle = 'moulin' AND a.type = 'Update' AND a.object_ap_id = :i",
                 i=flour) == [(1,)]
    for body, status, field in (({"type": "Update", "object": wheat}, 404, "/object"),
                                ({"type": "Update", "object": f"{a.base_url}/offers/x"}, 404,
                                 "/object")):
        r = requests.post(outbox, json=body, headers=auth, timeout=15)
        assert r.status_code == status and r.json()["field"] == field, r.text
    r = requests.post(outbox, json={"type": "Update", "object": moulin}, headers=auth, timeout=15)
    assert r.status_code == 409 and "not validated" in r.json()["detail"]
    r = requests.post(outbox, json={"type": "Update", "object": flour}, timeout=15)
    assert r.status_code == 401
    r = requests.post(f"{a.base_url}/actors/ferme/outbox", json={"type": "Update",
                                                                  "object": ferme},
                      headers={"Authorization": f"Bearer {t_ferme}"}, timeout=15)
    assert r.status_code == 200 and r.json()["validation"]["status"] == "validated"

    # created without a validUntil (client-to-server, JSON API): the kind's period
    made = requests.post(outbox, headers=auth, timeout=15, json={
        "type": "Create", "object": {
            "type": ["Note", "Proposal"], "name": "Locaux partagés", "purpose": "offer",
            "content": "<p>Locaux</p>", "kind": "premises", "role": "service",
            "publishes": {"type": "Intent", "action": "transfer",
                          "resourceConformsTo": "https://w3id.org/ssefed/category/flour"}}})
    assert made.status_code == 201, made.text
    assert [day(v) for (v,) in a.sql("SELECT valid_until FROM offers WHERE ap_id = :i",
                                     i=made.headers["Location"])] == [
        (today + timedelta(days=365)).isoformat()]
    admin = {"Authorization": f"Bearer {a.admin_token()}"}
    made = requests.post(f"{a.base_url}/api/offers", headers=admin, timeout=15, json={
        "org": "moulin", "direction": "demand", "kind": "tender", "role": "service",
        "category": "flour", "title": "Appel d'offres"})
    assert made.status_code == 201 and made.json()["valid_until"] == (
        today + timedelta(days=60)).isoformat(), made.text
    bad = requests.post(f"{a.base_url}/api/offers", headers=admin, timeout=15, json={
        "org": "moulin", "direction": "demand", "kind": "tender", "role": "service",
        "category": "flour", "title": "Appel", "valid_until": "bientôt"})
    assert bad.status_code == 422 and bad.json()["field"] == "valid_until"
    assert "Traceback" not in a.log()


HOOK = """import json, sys
message = json.load(sys.stdin)
if message["to"].startswith("refuse@"):
    print("mailbox refused", file=sys.stderr)
    sys.exit(3)
with open(sys.argv[1], "a", encoding="utf-8") as out:
    out.write(json.dumps(message, ensure_ascii=False) + "\\n")
"""


def test_reminders_send_one_note_and_one_email_per_thing_and_end_date(nodes, tmp_path):
    hook, sent = tmp_path / "hook.py", tmp_path / "sent.jsonl"
    hook.write_text(HOOK, encoding="utf-8")
    command = " ".join(shlex.quote(p) for p in (sys.executable, str(hook), str(sent)))
    # a reminder run every 1.8 s, so that the test sees several; the data is there
    # before the node serves, so that the first run finds all of it
    a = nodes.create("a", extra_env={"SSEFED_FRESHNESS_REMIND_INTERVAL_HOURS": "0.0005",
                                     "SSEFED_FRESHNESS_EMAIL_HOOK": command})
    today = date.today()
    in10, in3, in20 = (today + timedelta(days=n) for n in (10, 3, 20))
    ferme = org(a, "ferme", "Ferme des Combes", 45.0, 5.0)
    ok(a.cli("org", "update", "ferme", "--email", "contact@ferme.example"))
    ok(a.cli("org", "approve", "ferme", "--until", in10.isoformat()))
    wheat = offer(a, "ferme", "Blé tendre", "--valid-until", in3.isoformat())
    moulin = org(a, "moulin", "Moulin", 45.1, 5.1)
    ok(a.cli("org", "update", "moulin", "--email", "refuse@moulin.example"))
    flour = offer(a, "moulin", "Farine", "--valid-until", in20.isoformat(), category="flour")
    org(a, "epicerie", "Épicerie", 45.2, 5.2)  # nothing of it ends soon
    ok(a.cli("org", "approve", "epicerie"))
    offer(a, "epicerie", "Pain", category="bread")
    a.start()
    b = nodes.start("b")
    ok(b.cli("follow", f"network@{host(a)}", "--as", "network"))
    assert b.wait_for("SELECT state FROM follows", [("accepted",)]) == [("accepted",)]

    rows = a.wait_for("SELECT subject_type, subject, valid_until FROM reminders "
                      "ORDER BY valid_until", lambda r: len(r) == 3, timeout=30)
    assert [(t, s, day(v)) for t, s, v in rows] == [
        ("offer", wheat, in3.isoformat()), ("validation", ferme, in10.isoformat()),
        ("offer", flour, in20.isoformat())]
    assert wait_until(lambda: sent.exists() and sent.read_text().strip(), timeout=30)

    # the notes: from the network's actor to each organisation only, mentioning it
    notes = "SELECT a.ap_json FROM activities a JOIN actors n ON n.id = a.actor_id " \
            "WHERE n.is_network AND a.type = 'Create' AND NOT a.public ORDER BY a.id"
    docs = [d if isinstance(d, dict) else json.loads(d) for (d,) in a.sql(notes)]
    assert [d["to"] for d in docs] == [[ferme], [moulin]]
    note = docs[0]["object"]
    assert note["type"] == "Note" and "cc" not in docs[0] and "cc" not in note
    assert note["tag"] == [{"type": "Mention", "href": ferme, "name": f"@ferme@{host(a)}"}]
    assert f"prend fin le {in10.isoformat()}" in note["contentMap"]["fr"]
    assert f"« Blé tendre » expire le {in3.isoformat()}" in note["contentMap"]["fr"]
    assert f"&quot;Blé tendre&quot; expires on {in3.isoformat()}" in note["contentMap"]["en"]
    assert f"{a.base_url}/edit" in note["content"]

    # more runs go by: nothing is sent twice
    runs = "SELECT count(*) FROM jobs WHERE kind = 'freshness.remind' AND state = 'done'"
    first = a.sql(runs)[0][0]
    assert wait_until(lambda: a.sql(runs)[0][0] >= first + 2, timeout=30)
    assert a.sql("SELECT count(*) FROM reminders") == [(3,)]
    assert len(a.sql(notes)) == 2
    messages = [json.loads(line) for line in sent.read_text().splitlines()]
    assert len(messages) == 1, messages
    assert messages[0]["to"] == "contact@ferme.example"
    assert "re-confirm" in messages[0]["subject"]
    assert f"« Blé tendre » expire le {in3.isoformat()}" in messages[0]["text"]
    assert f"the network's validation of your organisation ends on {in10.isoformat()}" \
        in messages[0]["text"]
    # a failing hook: logged, and its job kept for a retry
    failed = a.wait_for("SELECT state, attempts, last_error FROM jobs "
                        "WHERE kind = 'freshness.email' AND last_error IS NOT NULL",
                        lambda r: len(r) == 1)
    state, attempts, error = failed[0]
    assert state == "pending" and attempts == 1 and "exited with 3: mailbox refused" in error
    assert "e-mail to refuse@moulin.example not sent" in a.log()
    # addressed to the organisation only: the network's followers got no note
    assert b.sql("SELECT count(*) FROM inbox_items WHERE type = 'Create'") == [(0,)]

    # the local organisation reads its reminders on /edit until it re-confirms
    web = signed_in(a, token_of(a, "ferme"))
    page = web.get(f"{a.base_url}/edit", timeout=10).text
    assert "Rappels du réseau / Reminders from the network" in page
    assert f"expires on {in3.isoformat()}" in page and f"prend fin le {in10.isoformat()}" in page
    refused = web.post(f"{a.base_url}/edit/reconfirm", data={}, timeout=10)
    assert refused.status_code == 403  # no CSRF field
    done = web.post(f"{a.base_url}/edit/reconfirm", data={"csrf": csrf_of(page)}, timeout=15,
                    allow_redirects=False)
    assert done.status_code == 303 and done.headers["Location"] == "/edit?done=reconfirmed"
    page = web.get(f"{a.base_url}/edit?done=reconfirmed", timeout=10).text
    assert "Informations re-confirmées" in page and "Rappels du réseau" not in page
    assert f"jusqu'au {add_months(today, 12).isoformat()}" in page
    assert a.sql("SELECT count(*) FROM reminders WHERE resolved_at IS NOT NULL") == [(2,)]

    # one offer from the /edit page (the one that is not validated has no global button)
    web2 = signed_in(a, token_of(a, "moulin"))
    page = web2.get(f"{a.base_url}/edit", timeout=10).text
    assert 'action="/edit/reconfirm"' not in page and "Rappels du réseau" in page
    ident = flour.rsplit("/", 1)[1]
    done = web2.post(f"{a.base_url}/edit/offers/{ident}/reconfirm",
                     data={"csrf": csrf_of(page)}, timeout=15, allow_redirects=False)
    assert done.status_code == 303
    assert [day(v) for (v,) in a.sql("SELECT valid_until FROM offers WHERE ap_id = :i",
                                     i=flour)] == [(today + timedelta(days=180)).isoformat()]
    assert "Rappels du réseau" not in web2.get(f"{a.base_url}/edit", timeout=10).text
    time.sleep(4)  # two more runs: the new end dates are far off, nothing more is sent
    assert a.sql("SELECT count(*) FROM reminders") == [(3,)]
    assert len(sent.read_text().splitlines()) == 1
    for node in (a, b):
        assert "Traceback" not in node.log()
