"""Received HTML read as plain text (vocab/text.py): text without markup is read as it
is, without the HTML parser, and comes out exactly as the parser would give it."""

from hypothesis import given, strategies as st

from ssefed.vocab import text


def _parsed(value: str, limit: int) -> str:
    parser = text._Text()
    parser.feed(value[:text.MAX_HTML])
    parser.close()
    out = text.plain_text("".join(parser.parts))
    return out if len(out) <= limit else out[:limit - 1].rstrip() + "…"


@given(st.text(alphabet=st.characters(blacklist_characters="<&"), max_size=300),
       st.integers(min_value=2, max_value=400))
def test_text_without_markup_reads_as_the_parser_reads_it(value, limit):
    assert text.html_to_text(value, limit) == _parsed(value, limit)


def test_markup_is_still_parsed():
    assert text.html_to_text("<p>Vélos &amp; pièces</p><script>x()</script><p>ok</p>",
                             100) == "Vélos & pièces\nok"
    assert text.html_to_text("Blue bike, some rust", 10) == "Blue bike…"
