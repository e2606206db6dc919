"""An organisation publishes with its token: ActivityPub client-to-server outbox POSTs."""

import requests

CATEGORY = "https://w3id.org/ssefed/category/flour"


def proposal(title: str, purpose: str = "offer") -> dict:
    return {"@context": ["https://www.w3.org/ns/activitystreams",
                         "https://w3id.org/ssefed/ns/context.jsonld"],
            "type": ["Note", "Proposal"], "name": title, "purpose": purpose,
            "content": f"<p>{title}</p>", "kind": "product", "role": "transformation",
            "inputCategories": ["https://w3id.org/ssefed/category/wheat"],
            "publishes": {"type": "Intent", "action": "transfer",
                          "resourceConformsTo": CATEGORY,
                          "resourceQuantity": {"hasUnit": "kilogram",
                                               "hasNumericalValue": "500"}}}


def test_an_organisation_publishes_updates_and_withdraws_with_its_token(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    assert a.cli("org", "add", "--handle", "moulin", "--name", "Moulin").returncode == 0
    assert b.cli("follow", f"moulin@127.0.0.1:{a.port}", "--as", "network").returncode == 0
    b.wait_for("SELECT state FROM follows", [("accepted",)])
    created = a.cli("token", "create", "moulin", "--label", "site web")
    token = created.stdout.strip().splitlines()[-1]
    other = a.cli("token", "create", "network").stdout.strip().splitlines()[-1]
    outbox = f"{a.base_url}/actors/moulin/outbox"
    auth = {"Authorization": f"Bearer {token}"}

    assert requests.post(outbox, json=proposal("Farine"), timeout=10).status_code == 401
    wrong = requests.post(outbox, json=proposal("Farine"), timeout=10,
                          headers={"Authorization": f"Bearer {other}"})
    assert wrong.status_code == 403
    bad = requests.post(outbox, json=proposal("Farine", purpose="sell"), headers=auth, timeout=10)
    assert bad.status_code == 422
    assert bad.headers["Content-Type"].startswith("application/problem+json")
    assert bad.json()["field"] == "/object/purpose"

    made = requests.post(outbox, json={"type": "Create", "object": proposal("Farine T80")},
                         headers=auth, timeout=10)
    assert made.status_code == 201, made.text
    iri = made.headers["Location"]
    assert a.sql("SELECT title, category, role, quantity FROM offers WHERE ap_id = :i",
                 i=iri)[0][:3] == ("Farine T80", CATEGORY, "transformation")
    assert b.wait_for("SELECT title FROM offers WHERE ap_id = :i", [("Farine T80",)], i=iri)

    changed = proposal("Farine T110")
    changed["id"] = iri
    updated = requests.post(outbox, json={"type": "Update", "object": changed}, headers=auth,
                            timeout=10)
    assert updated.status_code == 200
    assert b.wait_for("SELECT title FROM offers WHERE ap_id = :i", [("Farine T110",)], i=iri)

    gone = requests.post(outbox, json={"type": "Delete", "object": iri}, headers=auth,
                         timeout=10)
    assert gone.status_code == 200
    assert b.wait_for("SELECT deleted_at IS NOT NULL FROM offers WHERE ap_id = :i",
                      lambda r: r and r[0][0], i=iri)
    assert requests.get(iri, headers={"Accept": "application/activity+json"},
                        timeout=10).status_code == 410
    listing = a.cli("token", "list", "moulin").stdout
    assert "site web" in listing and "last used" in listing
    assert a.cli("token", "revoke", "1").returncode == 0
    assert requests.post(outbox, json=proposal("X"), headers=auth, timeout=10).status_code == 403


def test_an_imported_organisation_claims_its_account_once(nodes, tmp_path):
    node = nodes.create("a")
    members = tmp_path / "members.csv"
    members.write_text("handle,name,email,phone\nboulange,La Boulange,contact@boulange.example,"
                       "+33 4 00 00 00 00\n", encoding="utf-8")
    assert node.cli("import", str(members)).returncode == 0
    link = node.cli("org", "claim-link", "boulange").stdout.strip().splitlines()[-1]
    assert link.startswith(f"{node.base_url}/claim/")
    node.start()
    actor_url = f"{node.base_url}/actors/boulange"
    before = requests.get(actor_url, headers={"Accept": "application/activity+json"}, timeout=10)
    assert "email" not in before.json()  # private until the organisation publishes it
    form = requests.get(link, timeout=10)
    assert form.status_code == 200 and "La Boulange" in form.text and "<form" in form.text
    done = requests.post(link, data={"publish_contacts": "yes"}, timeout=10)
    assert done.status_code == 200
    token = done.text.split("<code>")[1].split("</code>")[0]
    assert token.startswith("ssefed_")
    assert node.sql("SELECT claimed, contact_public FROM organisations") == [(True, True)]
    after = requests.get(actor_url, headers={"Accept": "application/activity+json"}, timeout=10)
    assert after.json()["email"] == "contact@boulange.example"
    again = requests.post(link, timeout=10)  # one time only
    assert again.status_code == 410
    posted = requests.post(f"{actor_url}/outbox", json=proposal("Pain de seigle"), timeout=10,
                           headers={"Authorization": f"Bearer {token}"})
    assert posted.status_code == 201
