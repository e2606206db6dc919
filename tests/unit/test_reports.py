"""Reading reports: a Flag as Mastodon and others send it, and a person's report."""

import pytest

from ssefed.domain import reports
from ssefed.domain.errors import InvalidInput
from ssefed.federation.reports import read_flag

AS = "https://www.w3.org/ns/activitystreams"


def test_a_mastodon_flag_gives_its_objects_comment_and_reason_other():
    # as Mastodon sends it (docs.joinmastodon.org, spec/activitypub #Flag): from the
    # instance actor, object = the reported account then its statuses, content = comment
    flag = read_flag({
        "@context": AS, "id": "https://mastodon.example/ccb4f39a-506a-490e-9a8c-71831c7713a4",
        "type": "Flag", "actor": "https://mastodon.example/actor",
        "content": "Le numéro de téléphone n'est plus le bon",
        "object": ["https://ess.example/actors/coop", "https://ess.example/offers/1"]})
    assert flag.objects == ["https://ess.example/actors/coop", "https://ess.example/offers/1"]
    assert flag.text == "Le numéro de téléphone n'est plus le bon"
    assert flag.reason == "other"


def test_a_single_object_and_the_ssefed_reason_are_read():
    for key in ("reason", "ssefed:reason", "https://w3id.org/ssefed/ns#reason"):
        flag = read_flag({"type": "Flag", "actor": "https://a.example/actor",
                          "object": "https://ess.example/actors/coop", key: "outdated"})
        assert flag.objects == ["https://ess.example/actors/coop"] and flag.reason == "outdated"
    unknown = read_flag({"type": "Flag", "object": "https://ess.example/actors/coop",
                         "reason": "spam"})
    assert unknown.reason == "other"


def test_html_content_is_read_as_bounded_plain_text():
    flag = read_flag({"type": "Flag", "object": ["https://ess.example/actors/coop"],
                      "content": "<p>Prix <b>faux</b> &amp; adresse</p><script>x()</script>"
                                 "<p>ligne 2<br>ligne 3</p>"})
    assert flag.text == "Prix faux & adresse\nligne 2\nligne 3"
    long = read_flag({"type": "Flag", "object": "https://ess.example/actors/coop",
                      "content": "<p>" + "a" * 5000 + "</p>"})
    assert len(long.text) == reports.MAX_TEXT and long.text.endswith("…")


def test_a_flag_without_objects_is_refused_naming_the_field():
    with pytest.raises(ValueError, match="^object:"):
        read_flag({"type": "Flag", "object": [{"type": "Note"}, 3]})


def test_a_flag_naming_many_objects_is_bounded():
    flag = read_flag({"type": "Flag", "object": [f"https://x.example/{i}" for i in range(500)]})
    assert len(flag.objects) == reports.MAX_OBJECTS


@pytest.mark.parametrize("data,field", [
    ({"reason": "wrong"}, "object"),
    ({"object": "ftp://x.example/a", "reason": "wrong"}, "object"),
    ({"object": "https://ess.example/actors/coop"}, "reason"),
    ({"object": "https://ess.example/actors/coop", "reason": "spam"}, "reason"),
    ({"object": "https://ess.example/actors/coop", "reason": "wrong", "text": 3}, "text"),
    ({"object": "https://ess.example/actors/coop", "reason": "wrong", "text": "a" * 2001},
     "text"),
    (["not", "an", "object"], "body"),
])
def test_a_bad_report_names_the_field(data, field):
    with pytest.raises(InvalidInput) as caught:
        reports.parse_report(data)
    assert caught.value.field == field


def test_a_good_report_is_kept_as_plain_text():
    got = reports.parse_report({"object": " https://ess.example/actors/coop ",
                                "reason": "outdated",
                                "text": "  Fermé\r\n\r\n\r\n\r\ndepuis mai \x00"})
    assert got == reports.ReportInput("https://ess.example/actors/coop", "outdated",
                                      "Fermé\n\ndepuis mai")
