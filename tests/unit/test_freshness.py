"""Fresh data: the pure date logic (validity periods, reminder windows and runs), the
[freshness] settings, and the reminder's text and addressing."""

from datetime import date

import pytest

from ssefed.config import DEFAULT_OFFER_VALIDITY_DAYS, ConfigError, load_config
from ssefed.db.models import Actor, Organisation
from ssefed.domain import freshness, reminders
from ssefed.domain.errors import Conflict
from ssefed.terms import KINDS
from ssefed.domain.reconfirm import check_reconfirmable


@pytest.mark.parametrize("day, months, expected", [
    (date(2026, 12, 2), 12, date(2027, 12, 2)),
    (date(2026, 1, 31), 1, date(2026, 2, 28)),
    (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap year
    (date(2026, 11, 30), 3, date(2027, 2, 28)),
    (date(2026, 12, 15), 1, date(2027, 1, 15)),
    (date(2026, 3, 31), -1, date(2026, 2, 28)),
    (date(2024, 2, 29), 12, date(2025, 2, 28)),
    (date(2026, 5, 1), 0, date(2026, 5, 1)),
])
def test_add_months_keeps_the_day_or_takes_the_last_of_a_shorter_month(day, months, expected):
    assert freshness.add_months(day, months) == expected


def test_a_validation_approved_today_holds_for_validation_months():
    assert freshness.validation_end(date(2026, 12, 2), 12) == date(2027, 12, 2)
    assert freshness.validation_end(date(2026, 8, 31), 6) == date(2027, 2, 28)


def test_an_offer_holds_for_its_kinds_period():
    days = dict(DEFAULT_OFFER_VALIDITY_DAYS)
    today = date(2026, 12, 2)
    assert freshness.offer_end("tender", today, days) == date(2027, 1, 31)
    assert freshness.offer_end("product", today, days) == date(2027, 5, 31)
    assert freshness.offer_end("premises", today, days) == date(2027, 12, 2)


def test_state_of_says_expired_expiring_or_current():
    today = date(2026, 12, 2)
    assert freshness.state_of(None, today, 30) == "current"
    assert freshness.state_of(date(2026, 12, 1), today, 30) == "expired"
    assert freshness.state_of(today, today, 30) == "expiring"  # still valid today
    assert freshness.state_of(date(2027, 1, 1), today, 30) == "expiring"
    assert freshness.state_of(date(2027, 1, 2), today, 30) == "current"
    assert freshness.state_of(date(2026, 12, 3), today, 0) == "current"


def test_expired_and_guarantee_agree_on_the_last_valid_day():
    today = date(2026, 12, 2)
    assert not freshness.expired(today, today) and freshness.expired(date(2026, 12, 1), today)
    assert freshness.guarantee("validated", today, today).current
    assert freshness.guarantee("validated", date(2026, 12, 1), today).state == "expired"
    assert freshness.guarantee("refused", None, today).state == "unvalidated"


def test_the_reminder_window_covers_both_sides_of_today():
    assert freshness.reminder_window(date(2026, 12, 2), 30) == (date(2026, 11, 2),
                                                               date(2027, 1, 1))


def test_reminder_runs_are_numbered_by_interval_and_the_next_starts_at_its_boundary():
    slot, next_at = freshness.reminder_slot(3600 * 24 * 10 + 5, 24)
    assert slot == 10 and next_at == 3600 * 24 * 11
    slot2, _ = freshness.reminder_slot(3600 * 24 * 11 - 0.001, 24)
    assert slot2 == slot  # the same run however often the node restarts within it
    assert freshness.reminder_slot(10.0, 0.001) == (2, 10.8)


def test_offer_kinds_of_the_settings_are_the_domains():
    assert set(DEFAULT_OFFER_VALIDITY_DAYS) == set(KINDS)


def write(tmp_path, text: str):
    path = tmp_path / "ssefed.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_offer_validity_days_from_a_table_or_the_environment_keep_other_kinds(tmp_path):
    cfg = load_config(write(tmp_path, "[freshness]\noffer_validity_days = { tender = 30 }\n"),
                      env={})
    assert cfg.freshness.offer_validity_days == {**DEFAULT_OFFER_VALIDITY_DAYS, "tender": 30}
    cfg = load_config(write(tmp_path, "[freshness.offer_validity_days]\nproduct = 90\n"),
                      env={"SSEFED_FRESHNESS_OFFER_VALIDITY_DAYS": "skills=10, service=20"})
    assert cfg.freshness.offer_validity_days == {**DEFAULT_OFFER_VALIDITY_DAYS,
                                                 "skills": 10, "service": 20}


@pytest.mark.parametrize("text, env, words", [
    ("offer_validity_days = { bread = 3 }", {}, "unknown kind 'bread'"),
    ("offer_validity_days = { tender = 0 }", {}, "between 1 and 3650"),
    ("offer_validity_days = { tender = 'soon' }", {}, "expected an integer"),
    ("", {"SSEFED_FRESHNESS_OFFER_VALIDITY_DAYS": "tender=soon"}, "expected an integer"),
    ("validation_months = 0", {}, "between 1 and 120"),
    ("remind_days_before = 0", {}, "between 1 and 365"),
    ("remind_interval_hours = 0", {}, "greater than 0"),
    ("email_hook = 'mail \"unclosed'", {}, "not a command line"),
])
def test_bad_freshness_settings_are_refused_naming_the_key(tmp_path, text, env, words):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, f"[freshness]\n{text}\n"), env=env)
    assert words in str(info.value) and "[freshness]" in str(info.value)


def test_the_email_hook_is_split_like_a_command_line_never_given_to_a_shell(tmp_path):
    cfg = load_config(write(tmp_path, "[freshness]\nemail_hook = \"/usr/bin/mail-it --from "
                                      "'ESS <a@b.org>' ; rm -rf /\"\n"), env={})
    assert cfg.freshness.email_command == ["/usr/bin/mail-it", "--from", "ESS <a@b.org>", ";",
                                           "rm", "-rf", "/"]


def _network() -> Actor:
    return Actor(ap_id="https://ess.example/actors/network", name="Réseau <ESS>", local=True)


def _recipient() -> reminders.Recipient:
    return reminders.Recipient(7, "https://ess.example/actors/ferme", "ferme", "Ferme",
                               "f@ferme.example")


def test_the_reminder_is_a_note_to_the_organisation_only_mentioning_it_in_both_languages():
    today = date(2026, 12, 2)
    items = [reminders.Item("validation", "https://ess.example/actors/ferme", "Ferme",
                            date(2026, 12, 20)),
             reminders.Item("offer", "https://ess.example/offers/1", "Blé <bio>",
                            date(2026, 11, 30))]
    doc, texts = reminders.note_activity(
        _network(), _recipient(), "@ferme@ess.example", items, today,
        create_id="https://ess.example/actors/network/activities/create-1",
        edit_url="https://ess.example/edit",
        api_url="https://ess.example/api/actors/ferme/reconfirm")
    assert doc["type"] == "Create" and doc["actor"] == "https://ess.example/actors/network"
    assert doc["to"] == ["https://ess.example/actors/ferme"] and "cc" not in doc
    note = doc["object"]
    assert note["type"] == "Note" and note["to"] == doc["to"] and "cc" not in note
    assert note["tag"] == [{"type": "Mention", "href": "https://ess.example/actors/ferme",
                            "name": "@ferme@ess.example"}]
    fr, en = note["contentMap"]["fr"], note["contentMap"]["en"]
    assert "prend fin le 2026-12-20" in fr and "a expiré le 2026-11-30" in fr
    assert "ends on 2026-12-20" in en and "expired on 2026-11-30" in en
    assert "Blé &lt;bio&gt;" in fr and "<bio>" not in note["content"]  # escaped
    assert "Re-confirmer" in fr and "https://ess.example/edit" in en
    message = reminders.email_message("f@ferme.example", texts)
    assert message["to"] == "f@ferme.example"
    assert "Réseau <ESS>" in message["subject"] and "re-confirm" in message["subject"]
    assert "« Blé <bio> » a expiré le 2026-11-30" in message["text"]  # plain text
    assert "your offer \"Blé <bio>\" expired on 2026-11-30" in message["text"]


def test_only_a_validated_or_expired_validation_can_be_reconfirmed():
    actor = Actor(handle="ferme", is_network=False)
    for status in ("validated", "expired"):
        check_reconfirmable(actor, Organisation(validation_status=status))
    for status, words in (("refused", "refused"), ("unvalidated", "not validated"),
                          ("pending", "not validated")):
        with pytest.raises(Conflict) as info:
            check_reconfirmable(actor, Organisation(validation_status=status))
        assert words in str(info.value) and "@ferme" in str(info.value)
    with pytest.raises(Conflict):
        check_reconfirmable(actor, None)
