"""Received HTML (a Note's or a Flag's ``content``, a Proposal's summary) as plain text:
one reader for the whole node, bounded in what it looks at and in what it returns."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

MAX_HTML = 50_000  # characters of received HTML looked at


class _Text(HTMLParser):
    """HTML to plain text: tags dropped, block ends and <br> as new lines, script and
    style contents skipped, entities decoded."""

    BREAKS = {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style"):
            self.skip += 1
        elif tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skip = max(0, self.skip - 1)
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_BLANK_LINES = re.compile(r"\n\s*\n\s*\n+")


def plain_text(value: str) -> str:
    """A text as people read it: no control characters, at most one blank line in a
    row, trimmed (not truncated)."""
    text = _CONTROL.sub(" ", value.replace("\r\n", "\n").replace("\r", "\n"))
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def html_to_text(value: str, limit: int) -> str:
    """Received HTML as plain text of at most ``limit`` characters (cut with an
    ellipsis): tags dropped, paragraphs and <br> as line breaks, entities decoded."""
    value = value[:MAX_HTML]
    if "<" in value or "&" in value:  # else there is nothing to parse
        parser = _Text()
        parser.feed(value)
        parser.close()
        value = "".join(parser.parts)
    text = plain_text(value)
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"
