"""Labels of the code lists, legal forms, qualifiers and NACE sections, from the vocabulary."""

from __future__ import annotations

import json
import re

import pytest

from ssefed.db.models import Offer
from ssefed.domain.organisations import LEGAL_FORMS, QUALIFIERS
from ssefed.paths import DEMO_DIR
from ssefed.vocab import labels


def _allowed(constraint: str) -> list[str]:
    for c in Offer.__table__.constraints:
        if getattr(c, "name", "") == f"ck_offers_{constraint}":
            return re.findall(r"'([a-z]+)'", str(c.sqltext))
    raise AssertionError(constraint)


@pytest.mark.parametrize("list_name,codes", [
    ("kind", _allowed("kind")), ("role", _allowed("role")), ("exchange", _allowed("exchange")),
    ("legal_form", list(LEGAL_FORMS)), ("qualifier", list(QUALIFIERS)),
])
def test_every_code_the_database_takes_has_a_french_and_an_english_label(list_name, codes):
    assert codes
    assert sorted(codes) == labels.codes(list_name)
    for code in codes:
        fr, en = labels.label(list_name, code, "fr"), labels.label(list_name, code, "en")
        assert fr != code or en != code, code  # a real label, not the code shown back
        assert fr and en


def test_labels_read_as_people_say_them():
    assert labels.label("role", "transformation", "en") == "Processing"
    assert labels.label("kind", "equipment", "fr") == "Matériel"
    assert labels.label("legal_form", "multi-stakeholder-cooperative", "fr") == \
        "Coopérative multi-sociétariale (SCIC)"
    assert labels.label("exchange", "pooling", "en") == "Pooling"
    assert labels.label("kind", "unknown-code", "fr") == "unknown-code"
    assert labels.label("kind", None, "fr") == ""


def test_market_exchanges_are_sales_only():
    assert labels.is_market("sale") and labels.is_market(None)
    assert not any(labels.is_market(x) for x in ("exchange", "loan", "gift", "pooling"))


def test_every_sector_of_the_demo_falls_in_a_nace_section():
    demo = json.loads((DEMO_DIR / "hautes-vallees.json").read_text(encoding="utf-8"))
    sectors = {s for org in demo["organisations"] for s in org.get("sectors", [])}
    assert sectors
    for sector in sectors:
        section = labels.nace_section(sector)
        assert section in labels.codes("nace_section"), sector
        assert labels.label("nace_section", section, "fr") != section


@pytest.mark.parametrize("sector,section", [
    ("01.11", "A"), ("03", "A"), ("10.61", "C"), ("33.1", "C"), ("35.11", "D"), ("47.11", "G"),
    ("56.10", "I"), ("62.02", "J"), ("69.20", "M"), ("85.52", "P"), ("88.99", "Q"),
    ("94.99", "S"), ("99", "U"), ("04", None), ("x1", None), ("", None),
])
def test_a_sector_code_gives_its_section(sector, section):
    assert labels.nace_section(sector) == section


def test_sections_have_the_official_titles_in_both_languages():
    assert labels.codes("nace_section") == list("ABCDEFGHIJKLMNOPQRSTU")
    assert labels.label("nace_section", "A", "en") == "Agriculture, forestry and fishing"
    assert labels.label("nace_section", "A", "fr") == "Agriculture, sylviculture et pêche"
