"""The network's rule for participatory validation, alone: what counts, what blocks."""

from __future__ import annotations

from datetime import date

import pytest

from ssefed.domain.errors import InvalidInput
from ssefed.domain.vetting import (Rule, Voice, evaluate, read_answers, read_charter_spec,
                                      valid_until)

RULE = Rule()  # default: 3 endorsements, 2 colleges, 1 peer member, objections block


def v(n: int, college: str | None = "consumers", **kw) -> Voice:
    return Voice(f"https://x.example/endorsements/{n}", f"https://x.example/actors/{n}",
                 college=college, **kw)


def test_three_endorsements_from_two_colleges_with_a_peer_meet_the_default_rule():
    verdict = evaluate(RULE, [v(1, "industry", peer=True, kind="peer"), v(2), v(3)])
    assert verdict.met and verdict.colleges == ["consumers", "industry"] and verdict.peers == 1


def test_one_college_only_is_not_enough():
    verdict = evaluate(RULE, [v(1, peer=True), v(2), v(3)])
    assert not verdict.met and verdict.missing == ["1 of 2 colleges"]


def test_without_a_validated_peer_member_the_rule_is_not_met():
    verdict = evaluate(RULE, [v(1, "industry"), v(2), v(3)])
    assert verdict.missing == ["0 of 1 endorsements from validated members"]


def test_an_endorser_counts_once_and_unconfirmed_colleges_do_not_count():
    same = Voice("https://x.example/endorsements/9", "https://x.example/actors/2",
                 college="consumers")
    verdict = evaluate(RULE, [v(1, "industry", peer=True), v(2), same, v(4, None)])
    assert len(verdict.counted) == 2 and len(verdict.awaiting_college) == 1
    assert not verdict.met


def test_an_unresolved_objection_blocks_and_a_resolved_one_does_not():
    voices = [v(1, "industry", peer=True), v(2), v(3)]
    blocked = evaluate(RULE, voices + [v(4, stance="object")])
    assert not blocked.met and blocked.missing == ["1 unresolved objection(s)"]
    assert evaluate(RULE, voices + [v(4, stance="object", resolved=True)]).met
    assert evaluate(Rule(objections_block=False), voices + [v(4, stance="object")]).met


def test_an_endorser_who_also_objects_is_not_counted_as_endorsing():
    voices = [v(1, "industry", peer=True), v(2), v(3), v(3, stance="object")]
    verdict = evaluate(RULE, voices)
    assert len(verdict.counted) == 2 and not verdict.met


def test_unverified_endorsements_never_count():
    verdict = evaluate(RULE, [v(1, "industry", peer=True), v(2), v(3, verified=False)])
    assert not verdict.met and len(verdict.unverified) == 1


def test_a_rule_read_from_a_decision_is_bounded_and_defaults_what_is_missing():
    assert Rule.from_json({"minEndorsements": 5, "minColleges": "x", "objectionsBlock": 1}) \
        == Rule(5, 2, 1, True)
    assert Rule.from_json({"minEndorsements": 10**9}).min_endorsements == 3
    assert Rule.from_json({"minEndorsements": 150}).min_endorsements == 150
    assert Rule.from_json(Rule(4, 3, 0, False).to_json()) == Rule(4, 3, 0, False)


CRITERIA = read_charter_spec({"slug": "ess", "name": "Charte", "criteria": [
    {"key": "gouvernance", "text": "Gouvernance démocratique"},
    {"key": "ancrage", "text": "Ancrage local", "required": False}]}).criteria


def iri(key: str) -> str:
    return f"https://a.example/charters/ess/v1#{key}"


def test_answers_name_criteria_by_key_or_iri_and_every_required_one_is_answered():
    out = read_answers([{"criterion": iri("gouvernance"), "answer": "yes",
                         "evidence": "statuts", "url": "https://a.example/s.pdf"}], CRITERIA, iri)
    assert out == [{"criterion": iri("gouvernance"), "answer": "yes", "evidence": "statuts",
                    "url": "https://a.example/s.pdf"}]
    with pytest.raises(InvalidInput) as exc:
        read_answers([{"criterion": "ancrage", "answer": "no"}], CRITERIA, iri)
    assert exc.value.field == "answers" and "gouvernance" in exc.value.message


@pytest.mark.parametrize("answer, field", [
    ({"criterion": "nope", "answer": "yes"}, "answers[0].criterion"),
    ({"criterion": "gouvernance", "answer": "maybe"}, "answers[0].answer"),
    ({"criterion": "gouvernance", "answer": "yes", "url": "javascript:x"}, "answers[0].url"),
    ({"criterion": "gouvernance", "answer": "yes", "evidence": "x" * 2001},
     "answers[0].evidence"),
])
def test_a_bad_answer_names_its_field(answer, field):
    with pytest.raises(InvalidInput) as exc:
        read_answers([answer], CRITERIA, iri)
    assert exc.value.field == field


@pytest.mark.parametrize("doc, field", [
    ({"slug": "Bad Slug", "name": "x", "criteria": [{"key": "a", "text": "t"}]}, "slug"),
    ({"slug": "ess", "name": "", "criteria": [{"key": "a", "text": "t"}]}, "name"),
    ({"slug": "ess", "name": "x", "criteria": []}, "criteria"),
    ({"slug": "ess", "name": "x", "criteria": [{"key": "a", "text": "t"},
                                               {"key": "a", "text": "u"}]}, "criteria[1].key"),
    ({"slug": "ess", "name": "x", "approach": "vibes", "criteria": [{"key": "a", "text": "t"}]},
     "approach"),
])
def test_a_bad_charter_names_its_field(doc, field):
    with pytest.raises(InvalidInput) as exc:
        read_charter_spec(doc)
    assert exc.value.field == field


def test_validity_ends_the_same_day_months_later_or_at_the_month_end():
    assert valid_until(date(2026, 12, 2), 12) == date(2027, 12, 2)
    assert valid_until(date(2026, 1, 31), 1) == date(2026, 2, 28)
