"""An organisation edits its profile and offers in HTML forms behind its token: sign in,
profile, offers (add, edit, withdraw), CSRF, refusals; every change federates."""

import re

import requests

AS2 = {"Accept": "application/activity+json"}


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]{64})"', html).group(1)


def sign_in_csrf(session: requests.Session, node) -> str:
    """The sign-in form's CSRF field (its pre-session cookie stays in ``session``)."""
    return csrf_of(session.get(f"{node.base_url}/edit", timeout=10).text)


def signed_in(node, token: str) -> requests.Session:
    session = requests.Session()
    r = session.post(f"{node.base_url}/edit/sign-in",
                     data={"token": token, "csrf": sign_in_csrf(session, node)}, timeout=10,
                     allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == "/edit"
    cookie = r.headers["Set-Cookie"]
    assert "ssefed_edit=" in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/edit" in cookie
    assert "Secure" not in cookie  # the test node's base_url is http
    return session


def test_an_organisation_edits_its_profile_and_offers_in_html_forms(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    assert a.cli("org", "add", "--handle", "moulin", "--name", "Moulin").returncode == 0
    assert a.cli("org", "add", "--handle", "ferme", "--name", "Ferme").returncode == 0
    assert b.cli("follow", f"moulin@127.0.0.1:{a.port}", "--as", "network").returncode == 0
    b.wait_for("SELECT state FROM follows", [("accepted",)])
    token = a.cli("token", "create", "moulin").stdout.strip().splitlines()[-1]
    other = a.cli("token", "create", "ferme").stdout.strip().splitlines()[-1]
    edit = f"{a.base_url}/edit"

    # no session: the sign-in form; a wrong token is refused
    first = requests.get(edit, timeout=10)
    assert first.status_code == 200 and 'name="token"' in first.text
    assert "<script" not in first.text and "http" not in first.text.split("<main>")[1].split(
        "</main>")[0].replace(a.base_url, "")  # no external assets
    browser = requests.Session()
    refused = browser.post(f"{edit}/sign-in", timeout=10,
                           data={"token": "ssefed_nope", "csrf": sign_in_csrf(browser, a)})
    assert refused.status_code == 403 and "Traceback" not in refused.text
    assert "Jeton inconnu" in refused.text

    web = signed_in(a, token)
    page = web.get(edit, timeout=10)
    assert page.status_code == 200 and "Moulin" in page.text and "Profil / Profile" in page.text
    csrf = csrf_of(page.text)

    # the profile: saved through the domain, the actor document shows it
    profile = {"csrf": csrf, "name": "Moulin du Pont <Rouge>", "summary": "Meunerie bio",
               "website": "https://moulin.example", "address": "1 chemin du Pont",
               "postal_code": "38000", "locality": "Grenoble", "country": "FR",
               "lat": "45.19", "lon": "5.72", "sectors": "10.61", "legal_form": "cooperative",
               "email": "contact@moulin.example", "phone": "+33 4 00 00 00 00",
               "contact_public": "yes", "accessible_premises": "yes"}
    saved = web.post(f"{edit}/profile", data=profile, timeout=10, allow_redirects=False)
    assert saved.status_code == 303, saved.text[:2000]
    actor = requests.get(f"{a.base_url}/actors/moulin", headers=AS2, timeout=10).json()
    assert actor["name"] == "Moulin du Pont <Rouge>" and actor["location"]["latitude"] == 45.19
    assert "Moulin du Pont &lt;Rouge&gt;" in web.get(edit, timeout=10).text  # autoescaped
    assert b.wait_for("SELECT name FROM actors WHERE ap_id = :i",
                      [("Moulin du Pont <Rouge>",)], i=f"{a.base_url}/actors/moulin")

    # accessible premises: ticked, published, read by the follower, found by its search;
    # unticked, left out of the document, and no longer true there
    assert actor["accessiblePremises"] is True
    assert 'name="accessible_premises" value="yes" checked' in web.get(edit, timeout=10).text
    public = requests.get(f"{a.base_url}/actors/moulin", timeout=10,
                          headers={"Accept": "text/html", "Accept-Language": "fr"}).text
    assert "<dt>Locaux accessibles</dt>" in public
    accessible = ("SELECT o.accessible_premises FROM organisations o JOIN actors a "
                  "ON a.id = o.actor_id WHERE a.ap_id = :i")
    assert b.wait_for(accessible, [(True,)], i=f"{a.base_url}/actors/moulin") == [(True,)]
    found = requests.get(f"{b.base_url}/api/search", params={
        "type": "organisation", "accessible_premises": "true"}, timeout=10).json()
    assert [i["id"] for i in found["items"]] == [f"{a.base_url}/actors/moulin"]
    assert found["facets"]["accessible_premises"] == {"true": 1}
    unticked = {k: v for k, v in profile.items() if k != "accessible_premises"}
    assert web.post(f"{edit}/profile", data=unticked, timeout=10,
                    allow_redirects=False).status_code == 303
    actor = requests.get(f"{a.base_url}/actors/moulin", headers=AS2, timeout=10).json()
    assert "accessiblePremises" not in actor
    assert b.wait_for(accessible, [(False,)], i=f"{a.base_url}/actors/moulin") == [(False,)]

    # bad input: 422, the field named next to it, nothing saved
    bad = web.post(f"{edit}/profile", data={**profile, "lat": "north"}, timeout=10)
    assert bad.status_code == 422 and "lat : must be a number" in bad.text
    assert "Traceback" not in bad.text

    # an offer: added with the form, in the outbox, and on the follower node
    form = web.get(f"{edit}/offers/new", timeout=10).text
    assert '<option value="flour"' in form and "Farine" in form  # the taxonomy, labelled
    offer = {"csrf": csrf, "direction": "offer", "role": "transformation", "kind": "product",
             "category": "flour", "inputs": ["wheat"], "title": "Farine T65",
             "summary": "Moulue à la meule", "quantity": "100", "unit": "kg", "price": "2,40",
             "currency": "EUR", "exchange": "sale", "valid_until": "2027-06-30"}
    badprice = web.post(f"{edit}/offers", data={**offer, "price": "cher"}, timeout=10)
    assert badprice.status_code == 422 and "price : must be a number" in badprice.text
    assert a.sql("SELECT count(*) FROM offers") == [(0,)]
    made = web.post(f"{edit}/offers", data=offer, timeout=10, allow_redirects=False)
    assert made.status_code == 303, made.text[:2000]
    iri, price, valid = a.sql("SELECT ap_id, price, valid_until FROM offers")[0]
    assert float(price) == 2.40 and str(valid) == "2027-06-30"
    outbox = requests.get(f"{a.base_url}/actors/moulin/outbox?page=true", headers=AS2,
                          timeout=10).json()
    assert [i["object"]["id"] for i in outbox["orderedItems"] if i["type"] == "Create"] == [iri]
    assert b.wait_for("SELECT title, category FROM offers WHERE ap_id = :i",
                      [("Farine T65", "https://w3id.org/ssefed/category/flour")], i=iri)

    # edit it, then withdraw it: an Update, then a Delete reach the follower
    ident = iri.rsplit("/", 1)[1]
    shown = web.get(f"{edit}/offers/{ident}", timeout=10).text
    assert 'value="Farine T65"' in shown and 'value="2.4"' in shown
    changed = web.post(f"{edit}/offers/{ident}", data={**offer, "title": "Farine T80"},
                       timeout=10, allow_redirects=False)
    assert changed.status_code == 303
    assert b.wait_for("SELECT title FROM offers WHERE ap_id = :i", [("Farine T80",)], i=iri)
    gone = web.post(f"{edit}/offers/{ident}/withdraw", data={"csrf": csrf}, timeout=10,
                    allow_redirects=False)
    assert gone.status_code == 303
    assert requests.get(iri, headers=AS2, timeout=10).status_code == 410
    assert b.wait_for("SELECT deleted_at IS NOT NULL FROM offers WHERE ap_id = :i",
                      [(True,)], i=iri)

    # CSRF: missing or another session's is refused; another org's session cannot touch it
    assert web.post(f"{edit}/profile", data={k: v for k, v in profile.items() if k != "csrf"},
                    timeout=10).status_code == 403
    intruder = signed_in(a, other)
    other_csrf = csrf_of(intruder.get(edit, timeout=10).text)
    assert other_csrf != csrf
    assert web.post(f"{edit}/profile", data={**profile, "csrf": other_csrf},
                    timeout=10).status_code == 403
    assert web.post(f"{edit}/offers", data={**offer, "csrf": ""}, timeout=10).status_code == 403
    second = web.post(f"{edit}/offers", data=offer, timeout=10, allow_redirects=False)
    mine = a.sql("SELECT ap_id FROM offers WHERE deleted_at IS NULL")[0][0].rsplit("/", 1)[1]
    assert second.status_code == 303
    assert intruder.get(f"{edit}/offers/{mine}", timeout=10).status_code == 404
    assert intruder.post(f"{edit}/offers/{mine}/withdraw", data={"csrf": other_csrf},
                         timeout=10).status_code == 404
    # no cookie at all, a forged one, or a revoked token: refused
    assert requests.post(f"{edit}/profile", data=profile, timeout=10).status_code == 403
    forged = requests.post(f"{edit}/profile", data=profile, timeout=10,
                           cookies={"ssefed_edit": "1.9999999999." + "0" * 64})
    assert forged.status_code == 403
    token_id = a.sql("SELECT id FROM tokens WHERE actor_id = (SELECT id FROM actors WHERE "
                     "handle = 'moulin')")[0][0]
    assert a.cli("token", "revoke", str(token_id)).returncode == 0
    assert web.post(f"{edit}/profile", data=profile, timeout=10).status_code == 403
    assert 'name="token"' in web.get(edit, timeout=10).text  # signed out


def test_a_claim_link_signs_the_organisation_in_to_its_pages(nodes):
    a = nodes.start("a")
    assert a.cli("org", "add", "--handle", "epicerie", "--name", "Épicerie").returncode == 0
    link = a.cli("org", "claim-link", "epicerie").stdout.strip().splitlines()[-1]
    web = requests.Session()
    claimed = web.post(link, data={}, timeout=10)
    assert claimed.status_code == 200 and 'href="/edit"' in claimed.text
    page = web.get(f"{a.base_url}/edit", timeout=10)
    assert "Profil / Profile" in page.text and "Épicerie" in page.text
