"""The public web directory in a real browser: a visitor goes from the home page to an
organisation, sees its map and offers, opens an offer, switches language; every page
passes axe-core with no serious or critical violation."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from selenium.webdriver.common.by import By

from tests.browser import axe

MILL = "Moulin coopératif du Pont-Rouge"
FLOUR = "Farine de blé T80 sur meule de pierre"


def shot(driver, artifacts, name: str, node) -> None:
    driver.save_screenshot(str(artifacts / f"{name}-{node.backend}.png"))


def lang_of(driver) -> str:
    return driver.find_element(By.TAG_NAME, "html").get_attribute("lang")


def text_of(driver) -> str:
    return driver.find_element(By.TAG_NAME, "main").text


def test_visitor_goes_from_home_to_an_organisation_and_its_offer_then_reads_it_in_english(
        browser, demo_node, artifacts):
    browser.delete_all_cookies()
    browser.get(demo_node.base_url + "/")
    assert lang_of(browser) == "fr"  # the browser asks for French
    assert browser.find_element(By.TAG_NAME, "h1").text == "Réseau ESS des Hautes-Vallées"
    main = text_of(browser)
    assert "30\norganisations membres" in main and "56\noffres" in main and "16\ndemandes" in main
    assert "Industrie manufacturière" in main  # grouped by NACE section
    members_map = browser.find_element(By.CSS_SELECTOR, "figure.map svg")
    assert len(members_map.find_elements(By.CSS_SELECTOR, "a")) == 30
    shot(browser, artifacts, "01-home-fr", demo_node)

    # Follow the link to the mill, from the members' list.
    browser.find_element(By.LINK_TEXT, MILL).click()
    assert urlsplit(browser.current_url).path == "/actors/moulin-du-pont-rouge"
    assert browser.find_element(By.TAG_NAME, "h1").text == MILL
    org_map = browser.find_element(By.CSS_SELECTOR, "#org-location svg")
    assert org_map.get_attribute("aria-label") == f"Carte : où est {MILL}"
    assert org_map.find_element(By.CSS_SELECTOR, "circle.pt-here").is_displayed()
    offers = browser.find_element(By.CSS_SELECTOR, "section[aria-labelledby=offers-title]").text
    assert FLOUR in offers and "Farine de seigle T130" in offers
    demands = browser.find_element(By.CSS_SELECTOR, "section[aria-labelledby=demands-title]").text
    assert "Recherche blé panifiable" in demands
    assert "garantit que cette organisation relève de l'économie sociale" in \
        browser.find_element(By.ID, "guarantee").text
    handle = browser.find_element(By.ID, "follow-handle").get_attribute("value")
    assert handle == f"@moulin-du-pont-rouge@127.0.0.1:{demo_node.port}"
    alternate = browser.find_element(By.CSS_SELECTOR, 'link[rel=alternate]')
    assert alternate.get_attribute("type") == "application/activity+json"
    assert alternate.get_attribute("href") == f"{demo_node.base_url}/actors/moulin-du-pont-rouge"
    shot(browser, artifacts, "02-organisation-fr", demo_node)

    # Open its flour offer.
    browser.find_element(By.LINK_TEXT, FLOUR).click()
    assert browser.find_element(By.TAG_NAME, "h1").text == FLOUR
    facts = browser.find_element(By.CSS_SELECTOR, "dl.facts").text
    for expected in ("Catégorie\nFarine", "Intrants\nBlé", "Nature\nProduit",
                     "Rôle dans la filière\nTransformation", "Vente — marchand",
                     "Quantité\n12000 kg", "Prix\n1.45 EUR / kg", "valable jusqu'au"):
        assert expected in facts, (expected, facts)
    assert browser.find_element(By.ID, "direction").text == "Offre"
    assert browser.find_elements(By.CSS_SELECTOR, "#offer-location svg circle.pt-offer")
    offer_url = browser.current_url
    shot(browser, artifacts, "03-offer-fr", demo_node)

    # Switch to English: the same offer, labels from the vocabulary in English.
    browser.find_element(By.ID, "lang-switch").click()
    assert lang_of(browser) == "en"
    assert urlsplit(browser.current_url).path == urlsplit(offer_url).path
    facts = browser.find_element(By.CSS_SELECTOR, "dl.facts").text
    for expected in ("Category\nFlour", "Inputs\nWheat", "Kind\nProduct",
                     "Supply-chain role\nProcessing", "Sale — market", "valid until"):
        assert expected in facts, (expected, facts)
    assert browser.find_element(By.ID, "direction").text == "Offer"
    shot(browser, artifacts, "04-offer-en", demo_node)

    # The choice is remembered: back to the organisation and home, still in English.
    browser.find_element(By.LINK_TEXT, MILL).click()
    assert lang_of(browser) == "en"
    assert "Its offers" in text_of(browser) and "Manufacturing" in text_of(browser)
    browser.find_element(By.CSS_SELECTOR, "header.site .site-name").click()
    assert lang_of(browser) == "en"
    assert "member organisations" in text_of(browser)
    shot(browser, artifacts, "05-home-en", demo_node)
    browser.delete_all_cookies()


def test_members_can_be_grouped_by_legal_form(browser, demo_node, artifacts):
    browser.delete_all_cookies()
    browser.get(demo_node.base_url + "/?lang=en")
    browser.find_element(By.LINK_TEXT, "legal form").click()
    groups = [h.text for h in browser.find_elements(By.CSS_SELECTOR, ".group h3")]
    # 7 producer co-operatives, 6 worker co-operatives, 5 associations in the demo
    assert groups[:3] == ["Producer co-operative (7)", "Worker co-operative (6)",
                          "Association (5)"], groups
    shot(browser, artifacts, "06-home-by-legal-form-en", demo_node)
    browser.delete_all_cookies()


PAGES = [
    ("home-fr", "/?lang=fr"),
    ("home-legal-form-en", "/?group=legal_form&lang=en"),
    ("organisation-fr", "/actors/moulin-du-pont-rouge?lang=fr"),
    ("organisation-unvalidated-en", "/actors/malterie-champsaur?lang=en"),
    ("network-fr", "/actors/network?lang=fr"),
    ("offer", None),
    ("chains-bread-fr", "/chains?category=bread&lang=fr"),
    ("chains-form-en", "/chains?lang=en"),
]


@pytest.mark.parametrize("name,path", PAGES, ids=[p[0] for p in PAGES])
def test_page_has_no_serious_accessibility_violation(browser, demo_node, axe_source, artifacts,
                                                     name, path):
    if path is None:  # the first offer of the mill, found as a visitor would
        browser.get(demo_node.base_url + "/actors/moulin-du-pont-rouge?lang=en")
        path = browser.find_element(By.LINK_TEXT, FLOUR).get_attribute("href")
    browser.get(path if path.startswith("http") else demo_node.base_url + path)
    assert browser.find_element(By.TAG_NAME, "h1").text
    found = axe.violations(browser, axe_source)
    shot(browser, artifacts, f"a11y-{name}", demo_node)
    bad = axe.serious(found)
    assert not bad, f"{path}:\n{axe.describe(bad)}"
    browser.delete_all_cookies()


def test_the_accessibility_check_reports_a_page_that_breaks_the_rules(browser, axe_source):
    # no lang, an image without text, an empty link: what the check must catch
    browser.get("data:text/html;charset=utf-8,<!doctype html><html><head><title>x</title>"
                "</head><body><main><img src='data:,'><a href='/x'></a></main></body></html>")
    ids = {v["id"] for v in axe.serious(axe.violations(browser, axe_source))}
    assert {"html-has-lang", "image-alt", "link-name"} <= ids, ids
