"""The public web directory over HTTP: language negotiation and its cookie, guarantees
and validity flags, contacts only when public, the linked JSON, no asset from elsewhere."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import requests

HTML = {"Accept": "text/html"}


class Assets(HTMLParser):
    """Every URL a browser would load by itself from a page (not links it may follow)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.alternates: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "link" and a.get("rel") == "alternate":
            self.alternates.append((a.get("type", ""), a.get("href", "")))
        elif tag == "link" and a.get("href"):
            self.urls.append(a["href"])
        for key in ("src", "srcset", "poster", "data"):
            if a.get(key):
                self.urls.append(a[key])
        if a.get("style") and "url(" in a["style"]:
            self.urls.append(a["style"])


def assets_of(base: str, html: str) -> Assets:
    parser = Assets()
    parser.feed(html)
    parser.urls = [urljoin(base, u) for u in parser.urls]
    return parser


def _setup(node) -> dict[str, str]:
    token = node.admin_token()
    auth = {"Authorization": f"Bearer {token}"}
    base = node.base_url
    for body in (
        {"handle": "fournil", "name": "Fournil des Combes", "legal_form": "worker-cooperative",
         "sectors": ["10.71"], "qualifiers": ["organic"], "lat": 45.1, "lon": 5.7,
         "locality": "Vif", "website": "https://fournil.example", "email": "pain@fournil.example",
         "phone": "+33 4 00 00 00 00"},
        {"handle": "vieux", "name": "Vieux Moulin", "legal_form": "association",
         "lat": 45.2, "lon": 5.8},
    ):
        r = requests.post(f"{base}/api/organisations", json=body, headers=auth, timeout=10)
        assert r.status_code == 201, r.text
    offers = {}
    for key, args in (
        ("bread", ["--direction", "offer", "--kind", "product", "--role", "transformation",
                   "--category", "bread", "--input", "flour", "--title", "Pain au levain",
                   "--quantity", "40", "--unit", "kg", "--price", "6.5", "--currency", "EUR",
                   "--valid-until", "2099-01-31"]),
        ("stale", ["--direction", "demand", "--kind", "equipment", "--role", "service",
                   "--exchange", "loan", "--category", "wheat", "--title", "Four à prêter",
                   "--valid-until", "2020-03-01"]),
    ):
        made = node.cli("offer", "add", "--org", "fournil", *args)
        assert made.returncode == 0, made.stdout + made.stderr
        offers[key] = made.stdout.strip().splitlines()[-1].strip()
    assert node.cli("org", "approve", "fournil", "--until", "2099-06-30").returncode == 0
    assert node.cli("org", "approve", "vieux", "--until", "2020-01-15").returncode == 0
    return offers


def test_directory_pages_speak_the_readers_language_and_flag_what_is_stale(nodes):
    node = nodes.start("a", network_name="Réseau ESS du Val")
    offers = _setup(node)
    base = node.base_url

    # Accept-Language decides (q-values honoured), French by default
    for header, lang in (("en-GB,en;q=0.9", "en"), ("de-DE,de;q=0.9,fr;q=0.5,en;q=0.4", "fr"),
                         ("en;q=0.3,fr;q=0.8", "fr"), ("de", "fr"), ("", "fr")):
        page = requests.get(f"{base}/", headers={**HTML, "Accept-Language": header}, timeout=10)
        assert page.status_code == 200
        assert f'<html lang="{lang}">' in page.text, header
        assert "Accept-Language" in page.headers["Vary"]

    # ?lang= switches and is remembered in a cookie, on every page
    with requests.Session() as browser:
        page = browser.get(f"{base}/actors/fournil?lang=en", headers=HTML, timeout=10)
        assert '<html lang="en">' in page.text and browser.cookies.get("lang") == "en"
        again = browser.get(f"{base}/", headers={**HTML, "Accept-Language": "fr"}, timeout=10)
        assert '<html lang="en">' in again.text and "member organisations" in again.text
        chains = browser.get(f"{base}/chains", headers=HTML, timeout=10)
        assert '<html lang="en">' in chains.text
        switch = re.search(r'href="([^"]+)"[^>]*id="lang-switch"', again.text).group(1)
        assert browser.get(urljoin(base, switch), headers=HTML, timeout=10).text.count(
            '<html lang="fr">') == 1
        assert browser.cookies.get("lang") == "fr"

    # the organisation: guarantee until a date, labels from the vocabulary, contacts public
    fr = requests.get(f"{base}/actors/fournil", headers={**HTML, "Accept-Language": "fr"},
                      timeout=10).text
    assert "jusqu&#39;au 30 juin 2099" in fr and "validée" in fr
    assert "Coopérative de travail (Scop)" in fr and "Industrie manufacturière" in fr
    assert "Agriculture biologique" in fr and "pain@fournil.example" in fr
    assert "Pain au levain" in fr and "Four à prêter" in fr
    assert 'value="@fournil@127.0.0.1:' in fr  # the follow box
    en = requests.get(f"{base}/actors/fournil?lang=en", headers=HTML, timeout=10).text
    assert "Worker co-operative" in en and "Manufacturing" in en and "until 30 June 2099" in en
    # a validation that ended is flagged as such
    old = requests.get(f"{base}/actors/vieux?lang=en", headers=HTML, timeout=10).text
    assert "validation expired" in old and "ended on 15 January 2020" in old

    # the offers: everything a buyer checks, and an expired one flagged
    bread = requests.get(offers["bread"] + "?lang=en", headers=HTML, timeout=10).text
    for expected in ("Offer", "Bread", "Flour", "Processing", "Product", "Sale — market",
                     "40 kg", "6.5 EUR / kg", "valid until 31 January 2099", "Fournil des Combes"):
        assert expected in bread, expected
    assert 'id="expired"' not in bread
    stale = requests.get(offers["stale"] + "?lang=fr", headers=HTML, timeout=10).text
    assert 'id="expired"' in stale and "expirée le 1er mars 2020" in stale
    assert "Prêt — non marchand" in stale and "Matériel" in stale and ">Demande<" in stale
    assert "<svg" in stale and 'aria-label="Carte : où est « Four à prêter »"' in stale

    # every page links its JSON and loads nothing from elsewhere
    pages = {f"{base}/": f"{base}/actors/network", f"{base}/actors/fournil": f"{base}/actors/fournil",
             offers["bread"]: offers["bread"], offers["stale"]: offers["stale"]}
    for url, iri in pages.items():
        page = requests.get(url, headers=HTML, timeout=10)
        found = assets_of(url, page.text)
        assert ("application/activity+json", iri) in found.alternates, url
        assert found.urls and all(urlsplit(u).netloc == urlsplit(base).netloc
                                  for u in found.urls), (url, found.urls)
        for asset in found.urls:
            assert requests.get(asset, timeout=10).status_code == 200, asset
        assert "<script" not in page.text  # works without JavaScript
    chains = requests.get(f"{base}/chains?category=bread", headers=HTML, timeout=10)
    assert ("application/json", "/api/chains?category=bread") in \
        assets_of(base, chains.text).alternates
    css = requests.get(f"{base}/static/ssefed.css", timeout=10)
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    assert "url(" not in css.text and "@import" not in css.text

    # the JSON is still there for machines at the same address
    doc = requests.get(f"{base}/actors/fournil", headers={"Accept": "application/activity+json"},
                       timeout=10)
    assert doc.json()["type"] == "Organization"


def test_contacts_of_an_imported_organisation_stay_off_its_page(nodes, tmp_path):
    node = nodes.create("a")
    csv = tmp_path / "members.csv"
    csv.write_text("handle,name,email,phone,website,lat,lon\n"
                   "atelier,Atelier Bois,bois@atelier.example,+33 6 11 22 33 44,"
                   "https://atelier.example,45.0,5.5\n", encoding="utf-8")
    assert node.cli("import", str(csv)).returncode == 0
    node.start()
    page = requests.get(f"{node.base_url}/actors/atelier", headers=HTML, timeout=10).text
    assert "https://atelier.example" in page
    assert "bois@atelier.example" not in page and "33 44" not in page
    assert "non validée" in page
