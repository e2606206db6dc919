"""Reading FEP-0837 proposals received from other servers (FEP examples, Mitra)."""

import json
from decimal import Decimal

import pytest

from ssefed.vocab import proposals
from ssefed.vocab.from_as import ParseError
from tests.conftest import PEERS



def load(name: str) -> dict:
    return json.loads((PEERS / name).read_text())


def test_fep0837_full_example_is_read_as_an_offer_with_quantity_price_and_place():
    doc = load("fep0837-proposal-offer-full.json")
    proposals.check_schema("offer", doc)
    p = proposals.read_proposal(doc)
    assert p.direction == "offer"
    assert p.category == "https://www.wikidata.org/wiki/Q11442"
    assert (p.quantity, p.unit) == (Decimal("1"), "unit")  # "one", given as a string
    assert (p.price, p.currency) == (Decimal("30"), "https://www.wikidata.org/wiki/Q4917")
    assert (p.lat, p.lon) == (25.0, -71.0)
    assert p.title == "Offering used bike"


def test_fep0837_minimal_example_is_kept_as_uncategorised():
    doc = load("fep0837-proposal-offer-minimal.json")
    proposals.check_schema("offer", doc)
    p = proposals.read_proposal(doc)
    assert p.category == proposals.UNCATEGORISED and p.direction == "offer"


@pytest.mark.parametrize("name", ["mitra-proposal.json", "mitra-proposal-incoming.json"])
def test_mitra_proposals_with_vf_unit_terms_are_read(name):
    doc = load(name)
    proposals.check_schema("offer", doc)
    p = proposals.read_proposal(doc)
    assert p.kind == "service"  # action deliverService
    assert p.quantity == Decimal("1") and p.price == Decimal("20000")
    assert p.currency.startswith("caip:19:monero:")


def test_what_ssefed_publishes_reads_back_the_same():
    from types import SimpleNamespace
    from datetime import date, datetime, timezone

    from ssefed.vocab.to_as import offer_object

    now = datetime(2026, 11, 1, tzinfo=timezone.utc)
    offer = SimpleNamespace(
        ap_id="https://a.example/offers/1", title="Farine T80", summary="Moulue à la meule.",
        kind="product", role="transformation", exchange="sale", direction="offer",
        category="https://w3id.org/ssefed/category/flour", quantity=Decimal("500"), unit="kg",
        price=Decimal("1.20"), currency="EUR", lat=45.1, lon=5.7, valid_until=date(2027, 1, 1),
        published_at=now, updated_at=now,
        inputs=[SimpleNamespace(category="https://w3id.org/ssefed/category/wheat")])
    doc = offer_object(offer, SimpleNamespace(ap_id="https://a.example/actors/moulin"))
    proposals.check_schema("offer", doc)
    p = proposals.read_proposal(doc)
    assert (p.category, p.inputs, p.role) == (offer.category, [offer.inputs[0].category],
                                              "transformation")
    assert (p.quantity, p.unit, p.price) == (Decimal("500"), "kg", Decimal("1.20"))
    assert p.valid_until == date(2027, 1, 1) and p.summary.startswith("Farine T80")


def test_broken_proposals_are_refused_with_the_path():
    doc = load("fep0837-proposal-offer-full.json")
    doc["purpose"] = "sell"
    with pytest.raises(proposals.SchemaError) as err:
        proposals.check_schema("offer", doc)
    assert err.value.path == "/purpose"
    with pytest.raises(ParseError) as perr:
        proposals.read_proposal(doc)
    assert perr.value.path == "purpose"


def test_categories_are_taxonomy_codes_or_network_specific_iris():
    from ssefed.domain import categories

    assert categories.to_iri("flour") == "https://w3id.org/ssefed/category/flour"
    with pytest.raises(ValueError, match="not a category of the shared taxonomy"):
        categories.to_iri("flower-power")
    own = "https://ess-savoie.example/categories/fromage-de-bauges"
    assert categories.to_iri(own) == own and categories.is_network_specific(own)
    assert not categories.is_network_specific("https://w3id.org/ssefed/category/wheat")


def test_currencies_are_published_as_iris():
    from ssefed.vocab.to_as import currency_iri

    assert currency_iri("EUR") == "http://www.wikidata.org/entity/Q4916"
    assert currency_iri("https://sou-des-cimes.example/") == "https://sou-des-cimes.example/"
    assert currency_iri("LOCAL") == "https://w3id.org/ssefed/currency/LOCAL"
