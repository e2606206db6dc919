"""The JSON Schemas of participatory validation (charter, application, endorsement,
decision) accept exactly what ssefed's builders publish, and the readers of received
endorsements and decisions refuse what does not match them, with the JSON Pointer of
the field at fault.

The valid examples in ``schemas/json-schema/examples/`` are the builders' output for the
documents below (the endorsements signed with a fixed test key, so that their proofs are
reproducible): ``python tests/unit/test_validation_schemas.py`` writes them again after a
builder changes."""

from __future__ import annotations

import copy
import json
import sys
from datetime import date, datetime, timezone
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from ssefed.domain.vetting import Rule
from ssefed.federation import proofs
from ssefed.paths import SCHEMAS_DIR
from ssefed.vocab import proposals, vetting_as

EXAMPLES = SCHEMAS_DIR / "json-schema" / "examples"
A = "https://ess-hautes-vallees.example"
B = "https://ess-savoie.example"
NETWORK = f"{A}/actors/network"
CHARTER = f"{A}/charters/ess/v1"
APPLICANT = f"{B}/actors/fromagerie-des-bauges"
JOIN = f"{APPLICANT}/activities/join-5b0e7d1c-2f4a-4d8e-9a51-3c6f0b2e8d47"
APPLICATION = f"{A}/applications/9c2d4e6f-1a3b-4c5d-8e7f-0a1b2c3d4e5f"
NOW = datetime(2025, 3, 2, 9, 0, tzinfo=timezone.utc)
# a test key, never used anywhere else: Ed25519 signatures are deterministic, so the
# examples' proofs are the same at every run
TEST_KEY = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
TEST_PEM = TEST_KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()).decode()
TEST_PUBLIC_PEM = TEST_KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _charter():
    criteria = [
        {"key": "gouvernance", "text": "Gouvernance démocratique : une personne, une voix.",
         "text_en": "Democratic governance: one member, one vote.", "required": True},
        {"key": "lucrativite", "text": "Lucrativité limitée : les bénéfices restent dans "
         "l'activité.", "text_en": "Limited profit: surpluses stay in the activity.",
         "required": True},
        {"key": "ancrage", "text": "Ancrage territorial.", "text_en": "", "required": False},
    ]
    return SimpleNamespace(ap_id=CHARTER, name="Charte de l'ESS des Hautes Vallées",
                           summary="Les principes que les membres du réseau partagent.",
                           version=1, approach="criteria", published_at=NOW, criteria=criteria)


ANSWERS = [
    {"criterion": f"{CHARTER}#gouvernance", "answer": "yes",
     "evidence": "SCIC : 42 sociétaires, une voix chacun.",
     "url": f"{B}/actors/fromagerie-des-bauges/statuts.pdf"},
    {"criterion": f"{CHARTER}#lucrativite", "answer": "partly",
     "evidence": "57 % des excédents en réserves impartageables."},
    {"criterion": f"{CHARTER}#ancrage", "answer": "in_progress", "evidence": ""},
]


def _application(state="pending", valid_until=None):
    return SimpleNamespace(ap_id=APPLICATION, network_ap_id=NETWORK, created_at=NOW,
                           charter_ap_id=CHARTER, answers=copy.deepcopy(ANSWERS), state=state,
                           valid_until=valid_until)


def _endorsement(n: int, endorser: str, *, stance="endorse", college=None, content=""):
    unsigned = vetting_as.endorsement_document(
        f"{endorser.split('/actors/')[0]}/endorsements/00000000-0000-4000-8000-00000000000{n}",
        endorser, APPLICATION, APPLICANT, NETWORK, stance=stance, college=college,
        content=content, published=NOW)
    return proofs.sign_object(unsigned, TEST_PEM, f"{endorser}#ed25519-key", created=NOW)


def endorsement_support():
    return _endorsement(1, f"{B}/actors/biocoop-chambery", college="consumers",
                        content="Nous achetons leurs tommes depuis dix ans ; la SCIC "
                                "fonctionne vraiment en une personne, une voix.")


def endorsement_objection():
    return _endorsement(2, f"{A}/actors/laiterie-voisine", stance="object",
                        content="Le lait vient en partie hors du territoire.")


def _basis():
    return [
        {"endorsement": endorsement_support(), "college": "consumers", "peer": False,
         "endorserKind": "user", "stance": "endorse", "counted": True},
        {"endorsement": f"{A}/endorsements/00000000-0000-4000-8000-000000000003",
         "college": "ssro", "peer": False, "endorserKind": "reviewer", "stance": "endorse",
         "counted": True},
        # a Mastodon like: only its IRI (it is not an Endorsement object)
        {"endorsement": "https://mastodon.example/users/camille#likes/4711", "college": None,
         "peer": False, "endorserKind": "user", "stance": "endorse", "counted": False},
        {"endorsement": endorsement_objection(), "college": "industry", "peer": True,
         "endorserKind": "peer", "stance": "object", "counted": False, "resolved": True},
    ]


def decision_accept():
    return vetting_as.decision_activity(
        f"{A}/decisions/7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0b", NETWORK, APPLICATION, APPLICANT,
        outcome="validated", until=date(2026, 3, 2), rule=Rule().to_json(), basis=_basis(),
        note="", join_id=JOIN, published=NOW)


def decision_needs_more():
    return vetting_as.decision_activity(
        f"{A}/decisions/1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", NETWORK, APPLICATION,
        f"{A}/actors/epicerie-solidaire", outcome="needs_more", until=None,
        rule=Rule(min_endorsements=4, min_colleges=3).to_json(), basis=_basis()[:1],
        note="1 of 4 endorsements; 1 of 3 colleges", join_id=None, published=NOW)


BUILT = {
    "charter.valid-today.json": lambda: vetting_as.charter_document(_charter(), NETWORK),
    "application.valid-published.json": lambda: vetting_as.application_document(
        _application(), APPLICANT, endorsements_total=4),
    "application.valid-join.json": lambda: vetting_as.join_activity(
        JOIN, APPLICANT, NETWORK, CHARTER, copy.deepcopy(ANSWERS), NOW),
    "endorsement.valid-signed.json": endorsement_support,
    "endorsement.valid-objection.json": endorsement_objection,
    "decision.valid-accept.json": decision_accept,
    "decision.valid-needs-more.json": decision_needs_more,
}


def _broken(name: str, change) -> dict:
    doc = copy.deepcopy(BUILT[name]())
    change(doc)
    return doc


def _set(path: list, value):
    def change(doc):
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return change


def _drop(path: list):
    def change(doc):
        node = doc
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return change


BROKEN = {
    "charter.invalid-no-criteria.json": ("charter.valid-today.json", _set(["criteria"], [])),
    "charter.invalid-approach.json": ("charter.valid-today.json", _set(["approach"], "label")),
    "application.invalid-answer.json": ("application.valid-published.json",
                                        _set(["answers", 1, "answer"], "maybe")),
    "application.invalid-join-no-answers.json": ("application.valid-join.json",
                                                 _drop(["instrument", "answers"])),
    "endorsement.invalid-stance.json": ("endorsement.valid-signed.json",
                                        _set(["stance"], "support")),
    "endorsement.invalid-college.json": ("endorsement.valid-signed.json",
                                         _set(["college"], "students")),
    "endorsement.invalid-no-object.json": ("endorsement.valid-signed.json", _drop(["object"])),
    "decision.invalid-outcome.json": ("decision.valid-accept.json",
                                      _set(["outcome"], "refused")),
    "decision.invalid-rule.json": ("decision.valid-accept.json",
                                   _set(["rule", "minEndorsements"], "3")),
}


def write_examples() -> None:
    for name, build in BUILT.items():
        (EXAMPLES / name).write_text(json.dumps(build(), indent=2, ensure_ascii=False) + "\n",
                                     encoding="utf-8")
    for name, (base, change) in BROKEN.items():
        (EXAMPLES / name).write_text(json.dumps(_broken(base, change), indent=2,
                                                ensure_ascii=False) + "\n", encoding="utf-8")


def _load(name: str):
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


# -- the examples are the builders' output ----------------------------------------------


@pytest.mark.parametrize("name", sorted(BUILT))
def test_valid_examples_are_what_the_builders_publish(name):
    assert _load(name) == json.loads(json.dumps(BUILT[name]())), \
        "a builder changed: run python tests/unit/test_validation_schemas.py"


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_examples_are_a_builder_document_with_one_fault(name):
    base, change = BROKEN[name]
    assert _load(name) == json.loads(json.dumps(_broken(base, change)))


@pytest.mark.parametrize("name", sorted(BUILT))
def test_what_the_builders_publish_passes_its_schema(name):
    proposals.check_schema(name.split(".")[0], BUILT[name]())


def test_the_examples_endorsements_carry_proofs_that_verify():
    for doc in (endorsement_support(), endorsement_objection()):
        assert proofs.verify_object(doc, TEST_PUBLIC_PEM, now=NOW).ok
    for entry in decision_accept()["basis"]:
        if isinstance(entry["endorsement"], dict):
            assert proofs.verify_object(entry["endorsement"], TEST_PUBLIC_PEM, now=NOW).ok


def test_an_endorsement_embedded_without_context_still_passes():
    doc = endorsement_support()
    del doc["@context"]
    proposals.check_schema("endorsement", doc)


def test_the_join_instrument_is_checked_as_a_membership_application():
    join = copy.deepcopy(BUILT["application.valid-join.json"]())
    join["instrument"]["answers"][0]["answer"] = "oui"
    with pytest.raises(proposals.SchemaError) as err:
        proposals.check_schema("application", join)
    assert err.value.path == "/instrument/answers/0/answer"
    # a Join without charter (the builder allows None) is still an application
    proposals.check_schema("application", vetting_as.join_activity(
        JOIN, APPLICANT, NETWORK, None, copy.deepcopy(ANSWERS), NOW))


def test_a_published_application_names_its_network_applicant_and_charter():
    doc = BUILT["application.valid-published.json"]()
    del doc["charter"]
    with pytest.raises(proposals.SchemaError) as err:
        proposals.check_schema("application", doc)
    assert err.value.path == "" and "charter" in err.value.message


@pytest.mark.parametrize("verb,outcome", [("Accept", "validated"), ("Reject", "refused"),
                                          ("TentativeAccept", "needs_more")])
def test_each_decision_verb_goes_with_its_outcome_only(verb, outcome):
    doc = decision_accept()
    doc["type"], doc["outcome"] = verb, outcome
    proposals.check_schema("decision", doc)
    for other in {"validated", "refused", "needs_more"} - {outcome}:
        doc["outcome"] = other
        with pytest.raises(proposals.SchemaError) as err:
            proposals.check_schema("decision", doc)
        assert err.value.path == "/outcome"


def test_a_decision_passes_whatever_thresholds_the_network_configured():
    doc = decision_accept()
    doc["rule"] = Rule(min_endorsements=150, min_colleges=7, min_peer_members=0,
                       objections_block=False).to_json()
    proposals.check_schema("decision", doc)


def test_an_endorsement_at_the_length_limit_of_its_comment_passes():
    doc = _endorsement(4, f"{B}/actors/biocoop-chambery", content="é" * 2000)
    assert vetting_as.read_endorsement(doc).content == "é" * 2000


def test_the_cli_refuses_a_comment_longer_than_an_endorsement_holds(tmp_path, capsys):
    from ssefed.cli import main

    code = main(["--config", str(tmp_path / "ssefed.toml"), "endorse", "1", "--as", "claire",
                 "--comment", "x" * 2001])
    err = capsys.readouterr().err
    assert code == 2 and "--comment" in err and "2000" in err and "Traceback" not in err


# -- the readers refuse what the schemas refuse -----------------------------------------


def test_read_endorsement_reads_what_ssefed_signs():
    facts = vetting_as.read_endorsement(endorsement_support())
    assert (facts.application, facts.stance, facts.college) == (APPLICATION, "endorse",
                                                               "consumers")


@pytest.mark.parametrize("path,value,pointer", [
    (["published"], "hier", "/published"),
    (["proof"], "z3FXQ", "/proof"),
    (["proof", "created"], "yesterday", "/proof"),  # a proof or a proof set: anyOf
    (["content"], 42, "/content"),
    (["content"], "x" * 2001, "/content"),
    (["target"], "not an iri", "/target"),
    (["to"], [None], "/to"),
    (["id"], "urn:uuid:1", "/id"),
])
def test_read_endorsement_refuses_a_document_off_its_schema_naming_the_field(path, value,
                                                                            pointer):
    doc = endorsement_support()
    _set(path, value)(doc)
    with pytest.raises(ValueError) as err:
        vetting_as.read_endorsement(doc)
    assert isinstance(err.value, proposals.SchemaError)
    assert err.value.path == pointer, str(err.value)
    assert str(err.value).startswith(pointer + ": ")


def test_read_decision_reads_what_ssefed_publishes():
    facts = vetting_as.read_decision(decision_accept())
    assert facts.outcome == "validated" and facts.join_id == JOIN and len(facts.basis) == 4
    facts = vetting_as.read_decision(decision_needs_more())
    assert facts.outcome == "needs_more" and facts.join_id is None


@pytest.mark.parametrize("change,pointer", [
    (_drop(["rule"]), ""),
    (_set(["rule", "objectionsBlock"], "yes"), "/rule/objectionsBlock"),
    (_set(["basis"], {"endorsement": "https://x.example/e/1"}), "/basis"),
    (_set(["basis", 1, "college"], "students"), "/basis/1/college"),
    (_set(["basis", 0, "endorserKind"], "admin"), "/basis/0/endorserKind"),
    (_set(["validUntil"], "bientôt"), "/validUntil"),
    (_set(["outcome"], "refused"), "/outcome"),
])
def test_read_decision_refuses_a_decision_off_its_schema_naming_the_field(change, pointer):
    doc = decision_accept()
    change(doc)
    with pytest.raises(proposals.SchemaError) as err:
        vetting_as.read_decision(doc)
    assert err.value.path == pointer, str(err.value)


def test_a_decision_keeps_an_embedded_endorsement_that_fails_its_schema_for_verification():
    """One bad endorsement in a basis does not make the decision unreadable: each embedded
    endorsement is checked (and refused) on its own when it is verified."""
    doc = decision_accept()
    doc["basis"][0]["endorsement"]["stance"] = "support"
    facts = vetting_as.read_decision(doc)
    with pytest.raises(proposals.SchemaError) as err:
        vetting_as.read_endorsement(facts.basis[0]["endorsement"])
    assert err.value.path == "/stance"


if __name__ == "__main__":
    write_examples()
    sys.exit(0)
