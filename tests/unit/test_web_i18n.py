"""Language of the pages and their message catalogue."""

from __future__ import annotations

import re
from datetime import date

import pytest

from ssefed.paths import TEMPLATES_DIR
from ssefed.web import i18n
from ssefed.web.messages import MESSAGES


@pytest.mark.parametrize("header,lang", [
    ("fr-FR,fr;q=0.9,en;q=0.8", "fr"), ("en-US,en;q=0.9", "en"), ("EN", "en"),
    ("de-DE,de;q=0.9,en;q=0.5,fr;q=0.4", "en"), ("en;q=0.2, fr;q=0.7", "fr"),
    ("de", None), ("", None), ("fr;q=0", None), ("en;q=abc,fr", "fr"), ("*", None),
])
def test_the_best_of_french_and_english_is_read_from_accept_language(header, lang):
    assert i18n.from_accept_language(header) == lang


def test_a_huge_accept_language_header_is_read_only_so_far():
    header = ",".join(["de"] * 10_000 + ["en"])
    assert i18n.from_accept_language(header) is None


def test_plurals_follow_each_language():
    assert i18n.translate("fr", "home.n_offers", n=0) == "offre"  # French: 0 is singular
    assert i18n.translate("fr", "home.n_offers", n=2) == "offres"
    assert i18n.translate("en", "home.n_offers", n=0) == "offers"
    assert i18n.translate("en", "home.n_offers", n=1) == "offer"
    assert i18n.translate("en", "org.followers", n=3) == "3 followers"
    assert i18n.translate("en", "no.such.key") == "no.such.key"


def test_dates_read_as_words():
    assert i18n.format_date(date(2027, 3, 1), "fr") == "1er mars 2027"
    assert i18n.format_date(date(2027, 12, 2), "fr") == "2 décembre 2027"
    assert i18n.format_date(date(2027, 12, 2), "en") == "2 December 2027"


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_message_exists_in_french_and_english_with_the_same_fields(key):
    entry = MESSAGES[key]
    assert set(entry) == {"fr", "en"}, key
    fields = {lang: sorted(set(re.findall(r"{(\w+)}", str(text)))) for lang, text in entry.items()}
    assert fields["fr"] == fields["en"], key
    assert isinstance(entry["fr"], tuple) == isinstance(entry["en"], tuple), key
    for text in entry.values():
        for form in (text if isinstance(text, tuple) else (text,)):
            assert form.strip()


def test_every_message_a_template_asks_for_is_in_the_catalogue():
    used = set()
    for path in TEMPLATES_DIR.glob("*.html"):
        used |= set(re.findall(r"_\('([a-z_.]+)'", path.read_text(encoding="utf-8")))
    assert used, "no template uses the catalogue"
    assert sorted(used - set(MESSAGES)) == []
