"""The published vocabulary: JSON-LD context, Turtle vocabulary, SKOS taxonomies and JSON Schemas.

Everything here is data in ``schemas/``; the tests check that it parses, that it is
bilingual, that it covers what ssefed publishes (the demo's categories, the code lists
of ``domain/``), that the context keeps the meaning of the documents ssefed already
sends, and that the JSON Schemas accept what ssefed sends and refuse broken documents.
JSON-LD is only ever processed with the bundled document loader.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
import rdflib
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from jsonschema import Draft202012Validator
from rdflib.collection import Collection
from rdflib.compare import isomorphic
from rdflib.namespace import OWL, RDF, RDFS, SKOS

from ssefed.domain import categories
from ssefed.domain.offers import EXCHANGES, KINDS, ROLES
from ssefed.domain.organisations import LEGAL_FORMS, QUALIFIERS
from ssefed.domain.vetting import ANSWERS, OUTCOMES
from ssefed.paths import DEMO_DIR, SCHEMAS_DIR
from ssefed.vocab import jsonld, to_as, vetting_as
from ssefed.vocab.vetting_as import COLLEGES, STANCES
from tests.conftest import FIXTURES, PEERS

JSON_SCHEMAS = SCHEMAS_DIR / "json-schema"
EXAMPLES = JSON_SCHEMAS / "examples"
TAXONOMIES = SCHEMAS_DIR / "taxonomies"
CONTEXT_FILE = SCHEMAS_DIR / "context.jsonld"
CONTEXT_URL = "https://w3id.org/ssefed/ns/context.jsonld"

SSEFED = rdflib.Namespace("https://w3id.org/ssefed/ns#")
AS = rdflib.Namespace("https://www.w3.org/ns/activitystreams#")
SCHEMA = rdflib.Namespace("https://schema.org/")
VF = rdflib.Namespace("https://w3id.org/valueflows/ont/vf#")
OB3 = rdflib.Namespace("https://purl.imsglobal.org/spec/vc/ob/vocab.html#")
DCTERMS = rdflib.Namespace("http://purl.org/dc/terms/")
ORG = rdflib.Namespace("http://www.w3.org/ns/org#")
ISO_26000 = rdflib.URIRef("https://www.iso.org/standard/42546.html")
ESSGLOBAL = rdflib.Namespace("http://purl.org/essglobal/vocab/")
CATEGORY_SCHEME = rdflib.URIRef(categories.CATEGORY_NS)
LEGAL_FORM_NS = "https://w3id.org/ssefed/legal-form/"
QUALIFIER_NS = "https://w3id.org/ssefed/qualifier/"
WIKIDATA_ITEM = re.compile(r"^http://www\.wikidata\.org/entity/Q[1-9]\d*$")
MAPPINGS = (SKOS.exactMatch, SKOS.closeMatch, SKOS.broadMatch, SKOS.narrowMatch, SKOS.relatedMatch)

FILIERES = {"food", "building", "energy", "textiles", "recycling-repair", "services-people",
            "services-organisations", "culture", "mobility"}


@pytest.fixture(autouse=True)
def ssefed_context_bundled(monkeypatch):
    """The loader serves schemas/context.jsonld only if it existed when ssefed.vocab.jsonld
    was imported; make sure it does here, whatever the import order."""
    rest = jsonld.SSEFED_CONTEXT.split("://", 1)[1]
    for scheme in ("https", "http"):
        for suffix in ("", "/context.jsonld"):
            monkeypatch.setitem(jsonld.CONTEXTS, f"{scheme}://{rest}{suffix}", CONTEXT_FILE)


def _graph(path: Path) -> rdflib.Graph:
    graph = rdflib.Graph()
    graph.parse(path, format="xml" if path.suffix == ".skos" else "turtle")
    return graph


@pytest.fixture(scope="module")
def vocab() -> rdflib.Graph:
    return _graph(SCHEMAS_DIR / "ssefed.ttl")


@pytest.fixture(scope="module")
def taxonomy() -> rdflib.Graph:
    return _graph(TAXONOMIES / "categories.ttl")


@pytest.fixture(scope="module")
def essglobal() -> rdflib.Graph:
    graph = rdflib.Graph()
    for path in sorted((TAXONOMIES / "essglobal").iterdir()):
        if path.suffix in (".skos", ".ttl"):
            graph += _graph(path)
    return graph


def _context() -> dict:
    return json.loads(CONTEXT_FILE.read_text(encoding="utf-8"))["@context"]


def _langs(graph: rdflib.Graph, subject, prop) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for value in graph.objects(subject, prop):
        if isinstance(value, rdflib.Literal) and value.language and str(value).strip():
            out.setdefault(value.language.lower(), []).append(str(value))
    return out


def _demo_category_codes() -> set[str]:
    demo = json.loads((DEMO_DIR / "hautes-vallees.json").read_text(encoding="utf-8"))
    codes: set[str] = set()
    for org in demo["organisations"]:
        for item in org.get("offers", []) + org.get("demands", []):
            codes.add(item["category"])
            codes.update(item.get("inputs") or [])
    return codes


# --- RDF files parse ------------------------------------------------------------------

RDF_FILES = sorted(p for p in SCHEMAS_DIR.rglob("*") if p.suffix in (".ttl", ".skos"))


def test_the_rdf_files_are_there():
    names = {p.relative_to(SCHEMAS_DIR).as_posix() for p in RDF_FILES}
    assert {"ssefed.ttl", "taxonomies/categories.ttl", "taxonomies/legal-forms.ttl",
            "taxonomies/qualifiers.ttl", "taxonomies/essglobal/legal-form.skos",
            "taxonomies/essglobal/organisational-structure.skos",
            "taxonomies/essglobal/activities-ica.skos", "taxonomies/essglobal/qualifiers.skos",
            "taxonomies/essglobal/base-membership-type.skos"} <= names


@pytest.mark.parametrize("path", RDF_FILES, ids=lambda p: p.relative_to(SCHEMAS_DIR).as_posix())
def test_every_turtle_and_skos_file_parses(path):
    assert len(_graph(path)) > 0


def test_essglobal_copies_are_unchanged_and_attributed():
    shipped = TAXONOMIES / "essglobal"
    sums = (FIXTURES / "essglobal" / "SHA256SUMS").read_text().splitlines()
    published = {name: digest for digest, name in (line.split() for line in sums)}
    copies = sorted(p for p in shipped.iterdir() if p.suffix in (".skos", ".ttl"))
    assert sorted(p.name for p in copies) == sorted(published)
    for path in copies:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == published[path.name], path.name
    attribution = (shipped / "ATTRIBUTION.md").read_text(encoding="utf-8")
    assert "CC BY 3.0" in attribution and "RIPESS" in attribution


# --- the JSON-LD context -------------------------------------------------------------


def _expand_term(context: dict, value: str) -> str:
    """Expand a compact IRI with the context's prefixes (and ActivityStreams' ``as``)."""
    prefixes = {k: v for k, v in context.items() if isinstance(v, str) and v.endswith(("#", "/"))}
    prefixes.setdefault("as", str(AS))
    if ":" in value and not value.startswith(("http://", "https://")):
        prefix, local = value.split(":", 1)
        return prefixes[prefix] + local
    return value


def _term_iris(context: dict) -> dict[str, str]:
    """term -> expanded IRI, for every term of the context that is not a prefix."""
    out = {}
    for term, definition in context.items():
        iri = definition["@id"] if isinstance(definition, dict) else definition
        if isinstance(definition, str) and definition.endswith(("#", "/")):
            continue  # a prefix
        out[term] = _expand_term(context, iri)
    return out


def test_context_is_served_by_the_bundled_loader():
    for url in (CONTEXT_URL, jsonld.SSEFED_CONTEXT):
        assert jsonld.document_loader(url)["document"] == json.loads(CONTEXT_FILE.read_text("utf-8"))


def test_context_does_not_redefine_activitystreams_terms():
    as_context = json.loads((jsonld.CONTEXTS_DIR / "activitystreams.jsonld").read_text("utf-8"))
    as_terms = set(as_context["@context"])
    assert not as_terms & set(_context())


@pytest.mark.parametrize("terms", [to_as.OFFER_TERMS, to_as.INLINE_TERMS,
                                   vetting_as.VALIDATION_TERMS],
                         ids=["offer", "inline", "validation"])
def test_context_keeps_the_meaning_of_the_terms_ssefed_already_sends(terms):
    context = _context()
    inline = {**terms, "as": str(AS)}
    for term, definition in terms.items():
        assert term in context, term
        ours = context[term]
        if isinstance(definition, dict):
            assert isinstance(ours, dict) and {k: v for k, v in ours.items() if k != "@id"} == {
                k: v for k, v in definition.items() if k != "@id"}, term
            assert _expand_term(context, ours["@id"]) == _expand_term(inline, definition["@id"]), term
        else:
            assert _expand_term(context, ours if isinstance(ours, str) else ours["@id"]) == \
                _expand_term(inline, definition), term


def test_every_context_term_has_labels_and_comments_in_french_and_english(vocab):
    missing = []
    for term, iri in _term_iris(_context()).items():
        node = rdflib.URIRef(iri)
        for prop in (RDFS.label, RDFS.comment):
            langs = _langs(vocab, node, prop)
            if "fr" not in langs or "en" not in langs:
                missing.append(f"{term} ({iri}) {prop.n3(vocab.namespace_manager)}")
    assert not missing, missing


def test_every_ssefed_class_and_property_is_described_in_both_languages(vocab):
    terms = set(vocab.subjects(RDF.type, OWL.Class)) | set(vocab.subjects(RDF.type, RDF.Property))
    terms = {t for t in terms if isinstance(t, rdflib.URIRef) and str(t).startswith(str(SSEFED))}
    assert len(terms) > 20
    for term in terms:
        for prop in (RDFS.label, RDFS.comment):
            langs = _langs(vocab, term, prop)
            assert len(langs.get("fr", [])) == 1 and len(langs.get("en", [])) == 1, (term, prop)
        assert (term, RDFS.isDefinedBy, rdflib.URIRef("https://w3id.org/ssefed/ns")) in vocab


def test_vocabulary_maps_onto_the_established_vocabularies(vocab, essglobal):
    expected = {
        SSEFED.Organisation: {AS.Organization, SCHEMA.Organization, ESSGLOBAL.SSEInitiative},
        SSEFED.Network: {AS.Group, SCHEMA.Organization, ESSGLOBAL.Network},
        SSEFED.Offer: {VF.Proposal, SCHEMA.Offer},
        SSEFED.Demand: {VF.Proposal, SCHEMA.Demand},
        SSEFED.Category: {SKOS.Concept, VF.ResourceSpecification},
        SSEFED.ChainRole: {SKOS.Concept, VF.ProcessSpecification},
    }
    for cls, supers in expected.items():
        assert supers <= set(vocab.objects(cls, RDFS.subClassOf)), cls
    # the ESSGlobal classes and properties we name exist in the shipped vocabulary
    for term in (ESSGLOBAL.SSEInitiative, ESSGLOBAL.Network, ESSGLOBAL.legalForm, ESSGLOBAL.qualifier):
        assert (term, None, None) in essglobal, term
    # an OWL reader infers ssefed:Offer / ssefed:Demand from a vf:Proposal's purpose
    for cls, purpose in ((SSEFED.Offer, "offer"), (SSEFED.Demand, "request")):
        restriction = next(vocab.objects(cls, OWL.equivalentClass))
        head = next(vocab.objects(restriction, OWL.intersectionOf))
        members = list(Collection(vocab, head))
        assert VF.Proposal in members
        assert any((m, OWL.onProperty, VF.purpose) in vocab and
                   (m, OWL.hasValue, rdflib.Literal(purpose)) in vocab for m in members)


@pytest.mark.parametrize("scheme,codes", [
    ("resourceKinds", KINDS), ("chainRoles", ROLES), ("exchangeModes", EXCHANGES),
    ("validationStatuses", ("validated", "unvalidated")),
    ("colleges", tuple(COLLEGES)), ("stances", STANCES), ("outcomes", OUTCOMES),
    ("answerValues", ANSWERS), ("charterApproaches", ("criteria", "progress")),
    ("endorserKinds", ("peer", "reviewer", "user")),
    ("applicationStates", ("pending", "validated", "refused", "needs_more", "withdrawn")),
])
def test_code_lists_in_the_vocabulary_match_the_domain(vocab, scheme, codes):
    concepts = set(vocab.subjects(SKOS.inScheme, SSEFED[scheme]))
    assert {str(vocab.value(c, SKOS.notation)) for c in concepts} == set(codes)
    for concept in concepts:
        assert set(_langs(vocab, concept, SKOS.prefLabel)) >= {"fr", "en"}, concept
        assert set(_langs(vocab, concept, SKOS.definition)) >= {"fr", "en"}, concept


@pytest.mark.parametrize("file,namespace,codes", [
    ("legal-forms.ttl", LEGAL_FORM_NS, LEGAL_FORMS), ("qualifiers.ttl", QUALIFIER_NS, QUALIFIERS),
])
def test_legal_forms_and_qualifiers_cover_the_domain_and_map_to_essglobal(essglobal, file, namespace, codes):
    graph = _graph(TAXONOMIES / file)
    concepts = set(graph.subjects(SKOS.inScheme, rdflib.URIRef(namespace)))
    assert {str(graph.value(c, SKOS.notation)) for c in concepts} == set(codes)
    mapped = 0
    for concept in concepts:
        code = str(graph.value(concept, SKOS.notation))
        assert str(concept) == namespace + code
        labels = _langs(graph, concept, SKOS.prefLabel)
        assert len(labels.get("fr", [])) == 1 and len(labels.get("en", [])) == 1, concept
        for prop in MAPPINGS:
            for target in graph.objects(concept, prop):
                assert (target, RDF.type, SKOS.Concept) in essglobal, (concept, target)
                mapped += 1
    assert mapped >= len(codes) - 1  # every code but "other" has an ESSGlobal counterpart


def test_college_concepts_carry_the_domain_labels_and_point_to_iso_26000(vocab):
    for code, (fr, en) in COLLEGES.items():
        concept = SSEFED[f"college-{code}"]
        assert _langs(vocab, concept, SKOS.prefLabel) == {"fr": [fr], "en": [en]}, code
        assert (concept, RDFS.seeAlso, ISO_26000) in vocab, code
        for prop in MAPPINGS:  # only Wikidata items that were checked (see schemas/README.md)
            for target in vocab.objects(concept, prop):
                assert WIKIDATA_ITEM.match(str(target)), (concept, target)
    wd = rdflib.Namespace("http://www.wikidata.org/entity/")
    assert (SSEFED["college-ngo"], SKOS.closeMatch, wd.Q79913) in vocab
    assert (SSEFED["college-government"], SKOS.relatedMatch, wd.Q7188) in vocab


def test_validation_classes_map_onto_the_established_vocabularies(vocab):
    expected = {
        SSEFED.Charter: {AS.Object, SCHEMA.CreativeWork},
        SSEFED.Criterion: {AS.Object},
        SSEFED.MembershipApplication: {AS.Object},
        SSEFED.Endorsement: {AS.Object},
    }
    for cls, supers in expected.items():
        assert supers <= set(vocab.objects(cls, RDFS.subClassOf)), cls
    # near, but not the same thing: seeAlso, never a subclass or an equivalence
    see_also = {
        SSEFED.Charter: {DCTERMS.Standard},
        SSEFED.Criterion: {OB3.Criteria},
        SSEFED.MembershipApplication: {ORG.Membership},
        SSEFED.Endorsement: {OB3.EndorsementCredential, SCHEMA.EndorseAction, SCHEMA.Review},
    }
    for cls, targets in see_also.items():
        assert targets <= set(vocab.objects(cls, RDFS.seeAlso)), cls
        assert not targets & (set(vocab.objects(cls, RDFS.subClassOf))
                              | set(vocab.objects(cls, OWL.equivalentClass))), cls
    assert (SSEFED.version, RDFS.subPropertyOf, SCHEMA.version) in vocab


def test_every_term_of_the_validation_documents_is_defined(vocab):
    """Every key the validation builders write (outside @context and ActivityStreams'
    own terms) is a term of the ssefed context, described in the vocabulary."""
    from tests.unit import test_validation_schemas as built

    as_terms = set(json.loads((jsonld.CONTEXTS_DIR / "activitystreams.jsonld")
                              .read_text("utf-8"))["@context"])
    integrity = set(json.loads((jsonld.CONTEXTS_DIR / "data-integrity-v2.jsonld")
                               .read_text("utf-8"))["@context"])
    keys: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key not in ("@context", "proof"):
                    keys.add(key)
                    if not key.endswith("Map"):  # nameMap etc.: keyed by language
                        walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for build in built.BUILT.values():
        walk(build())
    context = _context()
    ours = keys - as_terms - integrity - {"id", "type"}
    assert ours and ours <= set(context), ours - set(context)
    for term in ours:
        node = rdflib.URIRef(_term_iris(context)[term])
        assert set(_langs(vocab, node, RDFS.label)) >= {"fr", "en"}, term


# --- the category taxonomy ---------------------------------------------------------


def test_every_demo_category_has_a_bilingual_concept(taxonomy):
    codes = _demo_category_codes()
    assert len(codes) > 30
    for code in sorted(codes):
        concept = rdflib.URIRef(categories.to_iri(code))
        assert (concept, RDF.type, SKOS.Concept) in taxonomy, code
        assert (concept, SKOS.inScheme, CATEGORY_SCHEME) in taxonomy, code
        assert str(taxonomy.value(concept, SKOS.notation)) == code
        labels = _langs(taxonomy, concept, SKOS.prefLabel)
        assert len(labels.get("fr", [])) == 1 and len(labels.get("en", [])) == 1, (code, labels)


def test_taxonomy_is_one_well_formed_scheme_grouped_by_filiere(taxonomy, essglobal):
    concepts = set(taxonomy.subjects(RDF.type, SKOS.Concept))
    tops = set(taxonomy.objects(CATEGORY_SCHEME, SKOS.hasTopConcept))
    assert {str(taxonomy.value(t, SKOS.notation)) for t in tops} >= FILIERES
    for concept in concepts:
        code = str(taxonomy.value(concept, SKOS.notation))
        assert str(concept) == categories.CATEGORY_NS + code and categories.to_iri(code) == str(concept)
        assert (concept, RDF.type, VF.ResourceSpecification) in taxonomy
        labels = _langs(taxonomy, concept, SKOS.prefLabel)
        assert len(labels.get("fr", [])) == 1 and len(labels.get("en", [])) == 1, concept
        assert ((concept, SKOS.topConceptOf, CATEGORY_SCHEME) in taxonomy) == (concept in tops)
        # broader and narrower agree, and every concept reaches a filière
        for parent in taxonomy.objects(concept, SKOS.broader):
            assert (parent, SKOS.narrower, concept) in taxonomy, (concept, parent)
        for child in taxonomy.objects(concept, SKOS.narrower):
            assert (child, SKOS.broader, concept) in taxonomy, (concept, child)
        ancestors = set(taxonomy.transitive_objects(concept, SKOS.broader))
        assert ancestors & tops, concept
        for prop in MAPPINGS:
            for target in taxonomy.objects(concept, prop):
                if str(target).startswith("http://www.wikidata.org/"):
                    assert WIKIDATA_ITEM.match(str(target)), target
                elif str(target).startswith("http://purl.org/essglobal/"):
                    assert (target, RDF.type, SKOS.Concept) in essglobal, (concept, target)
                else:
                    pytest.fail(f"unexpected mapping target {target} of {concept}")


def test_wheat_flour_and_bread_map_to_their_wikidata_items(taxonomy):
    wd = rdflib.Namespace("http://www.wikidata.org/entity/")
    for code, item in (("wheat", "Q15645384"), ("flour", "Q36465"), ("bread", "Q7802"), ("milk", "Q8495")):
        assert (rdflib.URIRef(categories.to_iri(code)), SKOS.exactMatch, wd[item]) in taxonomy


# --- JSON Schemas and their examples --------------------------------------------------


def _index() -> list[dict]:
    return json.loads((EXAMPLES / "index.json").read_text(encoding="utf-8"))["examples"]


def _load(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def _validator(schema_name: str) -> Draft202012Validator:
    return Draft202012Validator(_load(JSON_SCHEMAS / schema_name))


def _pointer(error) -> str:
    return "".join(f"/{part}" for part in error.absolute_path)


def _all_errors(errors):
    for error in errors:
        yield error
        yield from _all_errors(error.context or [])


SCHEMA_NAMES = ["organization.schema.json", "offer.schema.json", "network.schema.json",
                "charter.schema.json", "application.schema.json", "endorsement.schema.json",
                "decision.schema.json"]


def test_every_json_schema_is_listed():
    assert {p.name for p in JSON_SCHEMAS.glob("*.schema.json")} == set(SCHEMA_NAMES)


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_json_schemas_are_valid_2020_12_schemas(name):
    schema = _load(JSON_SCHEMAS / name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_every_example_is_listed_and_each_schema_has_a_valid_and_a_broken_one():
    listed = {e["file"] for e in _index()}
    on_disk = {p.name for p in EXAMPLES.glob("*.json")} - {"index.json"}
    assert listed == on_disk
    for schema in SCHEMA_NAMES:
        kinds = {e["valid"] for e in _index() if e["schema"] == schema}
        assert kinds == {True, False}, schema


@pytest.mark.parametrize("entry", _index(), ids=lambda e: e["file"])
def test_examples_validate_or_are_refused_at_the_expected_path(entry):
    errors = list(_validator(entry["schema"]).iter_errors(_load(EXAMPLES / entry["file"])))
    if entry["valid"]:
        assert errors == [], [(_pointer(e), e.message) for e in errors]
    else:
        found = {(_pointer(e), e.validator) for e in _all_errors(errors)}
        assert (entry["errorPath"], entry["keyword"]) in found, found


@pytest.mark.parametrize("entry", _index(), ids=lambda e: e["file"])
def test_examples_expand_with_the_bundled_loader_only(entry):
    expanded = jsonld.expand(_load(EXAMPLES / entry["file"]))
    assert len(expanded) == 1 and expanded[0]["@id"].startswith("https://")


def test_the_full_organisation_example_reads_as_ssefed_linked_data():
    node = jsonld.expand(_load(EXAMPLES / "organization.valid-full.json"))[0]
    assert set(node["@type"]) == {str(AS.Organization), str(SSEFED.Organisation)}
    assert node[str(SSEFED.legalForm)] == [{"@id": LEGAL_FORM_NS + "cooperative"}]
    assert node[str(SSEFED.validUntil)] == [
        {"@type": "http://www.w3.org/2001/XMLSchema#date", "@value": "2026-12-31"}]
    assert node[str(SSEFED.accessiblePremises)] == [{"@value": True}]
    place = node[str(AS.location)][0]
    address = place[str(SCHEMA.address)][0]
    assert address["@type"] == [str(SCHEMA.PostalAddress)]
    assert address[str(SCHEMA.postalCode)] == [{"@value": "38710"}]


# --- peers' FEP-0837 proposals ----------------------------------------------------


@pytest.mark.parametrize("name", ["fep0837-proposal-offer-full.json", "mitra-proposal.json"])
def test_fep0837_proposals_of_peers_are_readable_with_the_bundled_loader(name):
    node = jsonld.expand(_load(PEERS / name))[0]
    assert node["@type"] == [str(VF.Proposal)]
    assert node[str(VF.purpose)] == [{"@value": "offer"}]
    assert str(VF.publishes) in node


@pytest.mark.parametrize("name", ["fep0837-proposal-offer-full.json", "mitra-proposal.json",
                                  "mitra-proposal-incoming.json"])
def test_offer_schema_accepts_fep0837_proposals_that_name_their_resource(name):
    errors = list(_validator("offer.schema.json").iter_errors(_load(PEERS / name)))
    assert errors == [], [(_pointer(e), e.message) for e in errors]


def test_offer_schema_accepts_the_fep0837_minimal_proposal_without_category():
    minimal = _load(PEERS / "fep0837-proposal-offer-minimal.json")
    assert list(_validator("offer.schema.json").iter_errors(minimal)) == []


# --- what ssefed publishes today ------------------------------------------------------

ACTOR = SimpleNamespace(ap_id="https://ess.example/actors/moulin")
NOW = datetime(2025, 3, 2, 9, 0, tzinfo=timezone.utc)


def _offer(**changes) -> SimpleNamespace:
    """An in-memory Offer with exactly the attributes to_as.offer_object reads."""
    offer = SimpleNamespace(
        ap_id="https://ess.example/offers/1", title="Farine de blé T65", summary="Farine bise.\n\nSur meule.",
        direction="offer", kind="product", role="transformation", exchange="sale",
        category=categories.to_iri("flour"), inputs=[SimpleNamespace(category=categories.to_iri("wheat"))],
        quantity=Decimal("500.000000"), unit="kg", price=Decimal("2.1000"), currency="EUR",
        lat=44.83, lon=5.75, valid_until=date(2026, 6, 30), published_at=NOW, updated_at=NOW)
    for key, value in changes.items():
        setattr(offer, key, value)
    return offer


MINIMAL_DEMAND = dict(direction="demand", kind="service", role="service", exchange="loan",
                      category=categories.to_iri("van"), inputs=[], quantity=None, unit=None, price=None,
                      currency=None, lat=None, lon=None, valid_until=None)


@pytest.mark.parametrize("changes", [{}, MINIMAL_DEMAND], ids=["offer", "minimal-demand"])
def test_offer_object_of_ssefed_validates_against_the_offer_schema(changes):
    doc = to_as.offer_object(_offer(**changes), ACTOR)
    errors = list(_validator("offer.schema.json").iter_errors(doc))
    assert errors == [], [(_pointer(e), e.message) for e in errors]
    # embedded in an activity it carries no @context: still valid
    assert list(_validator("offer.schema.json").iter_errors(to_as.strip_context(doc))) == []


def test_the_ssefed_context_gives_offers_the_same_meaning_as_the_inline_terms():
    doc = to_as.offer_object(_offer(), ACTOR)
    with_url = copy.deepcopy(doc)
    with_url["@context"] = [to_as.AS_CONTEXT, CONTEXT_URL]
    assert isomorphic(jsonld.to_rdf_graph(doc), jsonld.to_rdf_graph(with_url))


# Terms the validation builders write that VALIDATION_TERMS (inline) does not define yet:
# the full context defines them, so a document read with the inline terms loses them.
NOT_INLINE_YET = {t for t in ("endorsementsCount", "counted", "resolved")
                  if t not in vetting_as.VALIDATION_TERMS}


def _without(node, keys):
    if isinstance(node, dict):
        return {k: (v if k == "@context" else _without(v, keys)) for k, v in node.items()
                if k not in keys}
    if isinstance(node, list):
        return [_without(v, keys) for v in node]
    return node


def _validation_documents():
    from tests.unit import test_validation_schemas as built

    return sorted(built.BUILT.items())


@pytest.mark.parametrize("name,build", _validation_documents(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_the_ssefed_context_gives_validation_documents_the_same_meaning_as_inline_terms(name,
                                                                                      build):
    doc = _without(build(), NOT_INLINE_YET)
    assert doc["@context"][-1] is vetting_as.VALIDATION_TERMS or \
        doc["@context"][-1] == vetting_as.VALIDATION_TERMS
    with_url = copy.deepcopy(doc)
    with_url["@context"] = [*doc["@context"][:-1], CONTEXT_URL]
    inline, full = jsonld.to_rdf_graph(doc), jsonld.to_rdf_graph(with_url)
    assert len(inline) > 5 and isomorphic(inline, full)


@pytest.mark.parametrize("type_,schema", [("Organization", "organization.schema.json"),
                                           ("Group", "network.schema.json")])
def test_actor_document_of_ssefed_validates_against_its_schema(type_, schema):
    ed_pem = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    rsa_pem = _load(EXAMPLES / "organization.valid-today.json")["publicKey"]["publicKeyPem"]
    actor = SimpleNamespace(ap_id="https://ess.example/actors/a", type=type_, handle="a", name="A",
                            summary="Une organisation.", manually_approves_followers=False, created_at=NOW)
    keys = [SimpleNamespace(kind="rsa", key_id=actor.ap_id + "#main-key", public_pem=rsa_pem),
            SimpleNamespace(kind="ed25519", key_id=actor.ap_id + "#ed25519-key", public_pem=ed_pem)]
    doc = to_as.actor_document(actor, keys, "https://ess.example")
    errors = list(_validator(schema).iter_errors(doc))
    assert errors == [], [(_pointer(e), e.message) for e in errors]
    assert jsonld.expand(doc)[0]["@id"] == actor.ap_id
