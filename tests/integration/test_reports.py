"""Reports of wrong or outdated information, on real nodes: a Flag signed by a
Mastodon-like instance actor (tests/fakepeer.py), the public form and ``POST
/api/reports``, the organisation's page and its /edit page, the reviewers' CLI and API.

One node per backend serves the module (``shared_node``); each test adds its own
organisation (and offer), so none depends on another's data or on their order. The rate
limit is tested on a node of its own."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any, Iterator

import pytest
import requests

from ssefed.domain import keys as keygen
from ssefed.federation import httpsig
from tests.conftest import BACKENDS, FreshDatabases
from tests.fakepeer import AS_CONTEXT, SEC_CONTEXT, FakePeer
from tests.integration.test_edit_pages import signed_in
from tests.nodes import Node, NodeFactory

AS2 = "application/activity+json"
HTML = {"Accept": "text/html"}


# -- the node and its organisations ----------------------------------------------------------

def ok(result) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@dataclass
class Org:
    node: Node
    handle: str
    iri: str
    offer: str

    @property
    def page(self) -> str:
        return f"{self.node.base_url}/actors/{self.handle}"


def admin(node: Node) -> dict[str, str]:
    return {"Authorization": f"Bearer {node.admin_token()}"}


def new_org(node: Node) -> Org:
    """A member organisation with one offer, through the admin API."""
    handle = f"coop-{uuid.uuid4().hex[:8]}"
    created = requests.post(f"{node.base_url}/api/organisations", headers=admin(node),
                            json={"handle": handle, "name": f"Coop {handle}"}, timeout=10)
    assert created.status_code == 201, created.text
    offer = requests.post(f"{node.base_url}/api/offers", headers=admin(node), timeout=10, json={
        "org": handle, "direction": "offer", "role": "production", "kind": "product",
        "category": "wheat", "title": "Blé tendre"})
    assert offer.status_code == 201, offer.text
    return Org(node, handle, created.json()["id"], offer.json()["id"])


def start_node(factory: NodeFactory, name: str, **env: str) -> Node:
    node = factory.create(name, extra_env=env)
    return node.start()


@pytest.fixture(scope="module", params=BACKENDS)
def shared_node(request, tmp_path_factory) -> Iterator[Node]:
    dbs = FreshDatabases(request.param, tmp_path_factory.mktemp(f"reports-{request.param}"))
    factory = NodeFactory(dbs.tmp_path, dbs)
    try:
        yield start_node(factory, "reports", SSEFED_REPORTS_REQUESTS_PER_MINUTE="1000")
    finally:
        factory.stop_all()
        dbs.drop_all()


@pytest.fixture
def org(shared_node: Node) -> Org:
    return new_org(shared_node)


@pytest.fixture
def peer() -> Iterator[FakePeer]:
    with FakePeer() as fake:
        yield fake


def reports_of(org: Org) -> list[tuple]:
    return org.node.sql(
        "SELECT r.source, r.reason, r.state, r.text, r.reporter_ap_id FROM reports r "
        "JOIN actors a ON a.id = r.actor_id WHERE a.handle = :h ORDER BY r.id", h=org.handle)


def page(org: Org, lang: str = "en") -> str:
    resp = requests.get(org.page, params={"lang": lang}, headers=HTML, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.text


def assert_problem(resp: requests.Response, status: int, field: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].split(";")[0] == "application/problem+json"
    body = resp.json()
    assert body["status"] == status
    if field is not None:
        assert body["field"] == field, body
    return body


# -- a Mastodon-like instance actor ------------------------------------------------------------

@dataclass
class InstanceActor:
    """Mastodon reports from its instance actor (``/actor``, type Application), so that
    the reporter stays anonymous."""

    peer: FakePeer
    private_pem: str

    @property
    def id(self) -> str:
        return f"{self.peer.base_url}/actor"

    @property
    def key_id(self) -> str:
        return f"{self.id}#main-key"


def instance_actor(peer: FakePeer) -> InstanceActor:
    pair = keygen.generate("rsa")
    actor = InstanceActor(peer, pair.private_pem)
    peer.serve("/actor", {
        "@context": [AS_CONTEXT, SEC_CONTEXT], "id": actor.id, "type": "Application",
        "preferredUsername": peer.host, "inbox": f"{actor.id}/inbox",
        "outbox": f"{actor.id}/outbox", "manuallyApprovesFollowers": True,
        "url": f"{peer.base_url}/about/more?instance_actor=true",
        "endpoints": {"sharedInbox": f"{peer.base_url}/inbox"},
        "publicKey": {"id": actor.key_id, "owner": actor.id, "publicKeyPem": pair.public_pem}})
    return actor


def flag(actor: InstanceActor, objects: list[str], content: str, **extra: Any) -> dict:
    """A Flag as Mastodon sends it: a random id, the objects, the comment."""
    return {"@context": AS_CONTEXT, "id": f"{actor.peer.base_url}/{uuid.uuid4()}",
            "type": "Flag", "actor": actor.id, "content": content, "object": objects, **extra}


def post_signed(url: str, doc: dict, actor: InstanceActor) -> dict:
    body = json.dumps(doc).encode()
    headers = {"Content-Type": AS2}
    headers.update(httpsig.sign_cavage("POST", url, headers, body, actor.key_id,
                                       actor.private_pem))
    resp = requests.post(url, data=body, headers=headers, timeout=20)
    assert resp.status_code == 202, resp.text
    return resp.json()


def processed(node: Node, ap_id: str) -> list[tuple]:
    return node.wait_for("SELECT state, error FROM inbox_items WHERE ap_id = :id",
                         lambda rows: rows and rows[0][0] != "pending", id=ap_id)


# -- Flags ---------------------------------------------------------------------------------

def test_a_flag_from_a_mastodon_instance_actor_makes_one_open_report_even_sent_twice(org, peer):
    node = org.node
    reporter = instance_actor(peer)
    doc = flag(reporter, [org.iri, org.offer],
               "<p>Le blé n'est plus <b>disponible</b> depuis mai</p>")
    inbox = f"{org.page}/inbox"
    assert post_signed(inbox, doc, reporter)["status"] == "accepted"
    assert processed(node, doc["id"]) == [("processed", None)]
    assert post_signed(inbox, doc, reporter)["status"] == "ignored"  # the same id again
    assert post_signed(f"{node.base_url}/inbox", doc, reporter)["status"] == "ignored"
    assert reports_of(org) == [("flag", "other", "open",
                                "Le blé n'est plus disponible depuis mai", reporter.id)]

    listed = [r for r in json.loads(ok(node.cli("reports", "--json")))
              if r["organisation"]["handle"] == org.handle]
    assert len(listed) == 1 and listed[0]["objects"] == [org.iri, org.offer]
    assert listed[0]["flag"] == doc["id"] and listed[0]["state"] == "open"

    # the page says it, in both languages, without the reporter's text
    english = page(org, "en")
    assert re.search(r"Information on this page was reported on \d{1,2} \w+ \d{4} "
                     r"\(other reason\)", english), english
    assert "disponible depuis mai" not in english
    assert "signalées le" in page(org, "fr")
    # the JSON the network publishes about its members carries the count
    members = requests.get(f"{node.base_url}/api/organisations", timeout=10).json()["items"]
    assert next(m for m in members if m["id"] == org.iri)["openReports"] == 1
    found = requests.get(f"{node.base_url}/api/search",
                         params={"q": org.handle, "type": "organisation"}, timeout=10).json()
    assert [i.get("openReports") for i in found["items"] if i["id"] == org.iri] == [1]

    # a Flag saying why, with the ssefed reason: a second report, shown as outdated
    second = flag(reporter, [org.offer], "plus de stock", reason="outdated",
                  **{"@context": [AS_CONTEXT, "https://w3id.org/ssefed/ns"]})
    post_signed(inbox, second, reporter)
    assert processed(node, second["id"]) == [("processed", None)]
    assert [r[1] for r in reports_of(org)] == ["other", "outdated"]
    assert "reported as outdated on" in page(org, "en")
    assert "signalées comme obsolètes le" in page(org, "fr")


def test_a_flag_of_something_not_on_this_node_is_ignored_with_the_reason(org, peer):
    node = org.node
    reporter = instance_actor(peer)
    elsewhere = ["https://mastodon.example/users/someone",
                 f"{node.base_url}/actors/{org.handle}-nobody"]
    doc = flag(reporter, elsewhere, "spam")
    post_signed(f"{node.base_url}/inbox", doc, reporter)
    state = processed(node, doc["id"])
    assert state[0][0] == "ignored"
    assert "none of the reported objects is an organisation or an offer of this node" in \
        state[0][1]
    ignored = ok(node.cli("inbox", "--ignored"))
    line = next(li for li in ignored.splitlines() if doc["id"] in li)
    assert "Flag" in line and "none of the reported objects" in line
    assert node.sql("SELECT count(*) FROM reports WHERE ap_id = :id", id=doc["id"]) == [(0,)]
    assert "Open reports" not in page(org)


# -- the form and the public API ---------------------------------------------------------------

def form_post(org: Org, data: dict, **headers: str) -> requests.Response:
    return requests.post(f"{org.page}/reports", data=data, allow_redirects=False, timeout=10,
                         headers={"Origin": org.node.base_url, **headers})


def test_the_form_files_a_report_shown_on_the_page_until_handled(org):
    node = org.node
    before = page(org)
    assert 'action="/actors/%s/reports"' % org.handle in before
    assert f'<option value="{org.offer}">Blé tendre</option>' in before
    assert "Open reports" not in before

    sent = form_post(org, {"object": org.offer, "reason": "wrong",
                           "text": "Le prix affiché est faux"})
    assert sent.status_code == 303, sent.text
    assert sent.headers["Location"] == f"/actors/{org.handle}?reported=1#report-title"
    thanks = requests.get(node.base_url + sent.headers["Location"], params={"lang": "en"},
                          headers=HTML, timeout=10).text
    assert "Thank you: your report was passed on" in thanks
    assert re.search(r"Information on this page was reported as wrong on \d{1,2} \w+ \d{4}",
                     thanks)
    assert "Le prix affiché est faux" not in thanks
    assert re.search(r"signalées comme erronées le \d{1,2}(er)? \w+ \d{4}", page(org, "fr"))
    assert reports_of(org) == [("form", "wrong", "open", "Le prix affiché est faux", None)]

    # the organisation sees it, with the text, on its editing page
    token = ok(node.cli("token", "create", org.handle)).strip().splitlines()[-1]
    session = signed_in(node, token)
    edit = session.get(f"{node.base_url}/edit", timeout=10).text
    assert "Open reports (1)" in edit and "Le prix affiché est faux" in edit
    assert f'<a href="{org.offer}">Blé tendre</a>' in edit

    # a reviewer handles it: it leaves the page
    listed = ok(node.cli("reports"))
    number = re.search(rf"^#(\d+)\t\S+\topen\t@{org.handle}\twrong\tform\t", listed, re.M)
    assert number, listed
    done = node.cli("reports", "handle", number.group(1), "--note", "prix corrigé",
                    "--by", "relecteur")
    assert done.returncode == 0, done.stderr
    assert f"report #{number.group(1)} on @{org.handle} handled by relecteur" in done.stdout
    after = page(org)
    assert "Open reports" not in after and "reported as wrong" not in after
    assert "Open reports" not in session.get(f"{node.base_url}/edit", timeout=10).text
    assert f"@{org.handle}" not in ok(node.cli("reports"))
    everything = [r for r in json.loads(ok(node.cli("reports", "--all", "--json")))
                  if r["organisation"]["handle"] == org.handle]
    assert [(r["state"], r["resolution"], r["handled_by"]) for r in everything] == [
        ("handled", "prix corrigé", "relecteur")]
    again = node.cli("reports", "handle", number.group(1))
    assert again.returncode == 1 and "already handled" in again.stderr
    missing = node.cli("reports", "handle", "999999")
    assert missing.returncode == 1 and "no report 999999" in missing.stderr


def test_the_api_files_a_report_and_the_reviewers_api_needs_the_admin_token(org):
    node = org.node
    api = f"{node.base_url}/api/reports"
    filed = requests.post(api, json={"object": org.iri, "reason": "outdated",
                                     "text": "Adresse changée"}, timeout=10)
    assert filed.status_code == 201, filed.text
    report_id = filed.json()["id"]
    assert filed.json() == {"id": report_id, "state": "open"}
    assert "reported as outdated on" in page(org)

    # the reviewers' API: 401 without the token, or with a wrong one
    assert_problem(requests.get(api, timeout=10), 401)
    assert_problem(requests.get(api, headers={"Authorization": "Bearer nope"}, timeout=10), 401)
    assert_problem(requests.post(f"{api}/{report_id}/handle", timeout=10), 401)
    assert reports_of(org)[0][2] == "open"

    listed = requests.get(api, headers=admin(node), timeout=10)
    assert listed.status_code == 200
    mine = [r for r in listed.json()["items"] if r["id"] == report_id]
    assert mine[0]["organisation"]["id"] == org.iri and mine[0]["text"] == "Adresse changée"
    assert mine[0]["reporter"] is None and mine[0]["source"] == "form"

    handled = requests.post(f"{api}/{report_id}/handle", headers=admin(node), timeout=10,
                            json={"note": "adresse mise à jour"})
    assert handled.status_code == 200, handled.text
    assert handled.json()["state"] == "handled"
    assert handled.json()["resolution"] == "adresse mise à jour"
    assert handled.json()["handled_by"] == "admin"
    assert "Open reports" not in page(org)
    assert_problem(requests.post(f"{api}/{report_id}/handle", headers=admin(node), timeout=10),
                   409)
    assert_problem(requests.post(f"{api}/999999/handle", headers=admin(node), timeout=10), 404)
    open_ids = [r["id"] for r in requests.get(api, headers=admin(node), timeout=10).json()["items"]]
    assert report_id not in open_ids
    all_ids = [r["id"] for r in requests.get(api, params={"all": "true"}, headers=admin(node),
                                             timeout=10).json()["items"]]
    assert report_id in all_ids


def test_bad_report_input_is_refused_with_422_naming_the_field(org):
    node = org.node
    api = f"{node.base_url}/api/reports"
    cases = [
        ({"object": f"{node.base_url}/actors/nobody-{org.handle}", "reason": "wrong"}, "object"),
        ({"object": "https://elsewhere.example/actors/coop", "reason": "wrong"}, "object"),
        ({"object": f"{node.base_url}/actors/network", "reason": "wrong"}, "object"),
        ({"object": org.iri, "reason": "wrong", "text": "x" * 2001}, "text"),
        ({"object": org.iri, "text": "sans motif"}, "reason"),
        ({"object": org.iri, "reason": "spam"}, "reason"),
        ({"reason": "wrong"}, "object"),
    ]
    for body, field in cases:
        assert_problem(requests.post(api, json=body, timeout=10), 422, field)
    assert_problem(requests.post(api, data="object=x", timeout=10,
                                 headers={"Content-Type": "text/plain"}), 415)
    assert_problem(requests.post(api, data=b"{" * 20_000, timeout=10,
                                 headers={"Content-Type": "application/json"}), 413)

    # the form: the page again, 422, the message next to the form, what was typed kept
    missing = form_post(org, {"object": org.iri, "text": "gardé"},
                        **{"Accept-Language": "en"})
    assert missing.status_code == 422
    assert "The report was not sent: choose a reason." in missing.text
    assert ">gardé</textarea>" in missing.text
    too_long = form_post(org, {"object": org.iri, "reason": "other", "text": "x" * 2001})
    assert too_long.status_code == 422
    assert "les précisions sont trop longues (2000 caractères au plus)" in too_long.text
    other_org = form_post(org, {"object": f"{node.base_url}/actors/network", "reason": "wrong"})
    assert other_org.status_code == 422
    assert reports_of(org) == []


def test_a_cross_site_form_post_is_refused(org):
    evil = form_post(org, {"object": org.iri, "reason": "wrong"}, Origin="https://evil.example")
    assert_problem(evil, 403)
    fetch = form_post(org, {"object": org.iri, "reason": "wrong"}, **{"Sec-Fetch-Site":
                                                                       "cross-site"})
    assert_problem(fetch, 403)
    assert_problem(form_post(org, {"object": org.iri, "reason": "wrong"}, Origin="null"), 403)
    assert reports_of(org) == []
    # a form posted from the node's own page (same origin) is taken
    assert form_post(org, {"object": org.iri, "reason": "wrong"}).status_code == 303
    assert len(reports_of(org)) == 1


def test_reports_past_the_rate_limit_of_an_address_are_refused_with_429(nodes):
    node = start_node(nodes, "limited", SSEFED_REPORTS_REQUESTS_PER_MINUTE="3")
    org = new_org(node)
    answers = [requests.post(f"{node.base_url}/api/reports", timeout=10,
                             json={"object": org.iri, "reason": "wrong"}) for _ in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 201]
    refused = requests.post(f"{node.base_url}/api/reports", timeout=10,
                            json={"object": org.iri, "reason": "wrong"})
    body = assert_problem(refused, 429)
    assert "3 reports per minute" in body["detail"] and int(refused.headers["Retry-After"]) >= 1
    form = form_post(org, {"object": org.iri, "reason": "wrong"})
    assert form.status_code == 429 and "trop de signalements depuis votre adresse" in form.text
    assert len(reports_of(org)) == 3
