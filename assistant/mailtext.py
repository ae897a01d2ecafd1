"""Plain text out of real mail: HTML to text, the new message without the quoted thread.

Triage and language detection read what the customer wrote this time, not the earlier
replies quoted below it nor an English signature under a French message.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_QUOTE_HEADER = re.compile(
    r"^\s*(?:"
    r"On\b.{0,200}\bwrote:|"  # en
    r"El\b.{0,200}\bescribió:|"  # es
    r"Le\b.{0,200}\ba écrit\s?:|"  # fr
    r"Am\b.{0,200}\bschrieb.{0,80}:|"  # de
    r"Il\b.{0,200}\bha scritto:|"  # it
    r"Em\b.{0,200}\bescreveu:|"  # pt
    r"Op\b.{0,200}\bschreef.{0,80}:|"  # nl
    r"-{2,}\s*(?:Original Message|Mensaje original|Message d'origine|Ursprüngliche Nachricht|"
    r"Messaggio originale|Mensagem original|Oorspronkelijk bericht)\s*-{2,}|"
    r"From:\s.+|De\s?:\s.+|Von:\s.+|Da:\s.+|Van:\s.+|_{10,}"
    r")\s*$",
    re.I | re.M,
)
_SIGNATURE = re.compile(r"^-- ?$", re.M)
_DISCLAIMER = re.compile(
    r"^\s*(?:CONFIDENTIALITY NOTICE|DISCLAIMER|This (?:e-?mail|message) (?:and any attachments )?"
    r"(?:is|may be) (?:confidential|intended)|Sent from my (?:iPhone|iPad|Android|Galaxy))",
    re.I | re.M,
)


def latest_message(body: str) -> str:
    """The part of `body` the customer wrote now: before quotes, signature, disclaimer."""
    cut = len(body)
    for pattern in (_QUOTE_HEADER, _SIGNATURE, _DISCLAIMER):
        match = pattern.search(body)
        if match and match.start() < cut:
            cut = match.start()
    lines = [line for line in body[:cut].splitlines() if not line.lstrip().startswith(">")]
    text = "\n".join(lines).strip()
    return text or body.strip()


BLOCKS = frozenset(
    {
        "p",
        "div",
        "tr",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "table",
        "br",
        "ul",
        "ol",
        "blockquote",
        "pre",
        "hr",
        "section",
        "article",
        "header",
        "footer",
    }
)
CELLS = frozenset({"td", "th"})
HIDDEN = frozenset({"script", "style", "head", "title", "template", "noscript"})


class _TextOfHtml(HTMLParser):
    """Text and line breaks, as an HTML-only mail reads in a mail client: block elements
    start and end a line, table cells are apart, scripts, styles, comments, DOCTYPE and
    processing instructions are not text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in HIDDEN:
            self.hidden += 1
        self._gap(tag)

    def handle_startendtag(self, tag: str, attrs) -> None:
        self._gap(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN and self.hidden:
            self.hidden -= 1
        self._gap(tag)

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.pieces.append(data)

    def _gap(self, tag: str) -> None:
        if tag in BLOCKS:
            self.pieces.append("\n")
        elif tag in CELLS:
            self.pieces.append(" ")


def html_to_text(html: str) -> str:
    """Readable text from an HTML-only email (paragraphs and line breaks kept). One pass
    with the standard library's parser: time grows with the size of the mail, never with
    its square (changing a parsed tree per paragraph took minutes on 40,000 of them)."""
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.pieces).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
