"""Plain text out of real mail: HTML to text, the new message without the quoted thread.

Triage and language detection read what the customer wrote this time, not the earlier
replies quoted below it nor an English signature under a French message. HTML mail is
read as its reader sees it: text hidden from them (a prompt injection in a display:none
div, white on white...) is not part of the text, and is returned apart so the agent
sees that it was there (`html_to_text_and_hidden`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from html import unescape
from html.parser import HTMLParser
from typing import NamedTuple

from assistant.mailcss import (
    GLOBAL,
    PRESENTATIONAL,
    RGBA,
    ROOT_FONT_PX,
    Element,
    StyleSheet,
    attribute_colour,
    cascade,
    declarations,
    font_attribute_px,
    font_size_px,
    length_px,
    parse_colour,
    words,
)

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


# -- HTML mail to text, without what the reader cannot see ----------------------------
#
# Attackers write prompt injections into HTML mail where a person reading it does not see
# them. What a mail client would not show is left out of the text (which triage, drafts
# and every model read) and kept apart, with why, so the agent sees it was there:
#
# * CSS (inline `style`, the mail's `<style>` sheets, presentational attributes):
#   display:none, visibility:hidden|collapse (a descendant may be visible again),
#   content-visibility:hidden, opacity (with filter:opacity) under 0.1, font-size of 2px
#   or less (0, 0px, 0pt, 0em; a descendant may set a readable size again), text the
#   colour of its background (colours normalised; near-equal counts; the page is white
#   unless a background says otherwise; an image background is unknown and never
#   hides), transparent text, positioned or pushed off-screen (left/top/right/bottom,
#   margin-left/top or text-indent of -500px or less), a block of height or width of 1px
#   or less with overflow hidden, max-height:0, clip/clip-path that leaves nothing,
#   transform: scale(0);
# * HTML: the `hidden` attribute, `<template>`, `<noscript>` (markup for browsers without
#   scripts; mail clients differ, so it is kept out and recorded), `<iframe>` content,
#   `<noembed>`, `<noframes>`, `<datalist>`, a `<dialog>` not open, a closed `<details>`
#   (its summary stays), comments, conditional comments (`<!--[if mso]>`: only Outlook
#   shows them), CDATA sections, and what an unclosed `<style>`, `<script>` or `<title>`
#   swallows to the end of the mail.
# * Never text, and not recorded: the contents of `<style>`, `<script>`, `<title>`.
# * `aria-hidden="true"` is not hiding: it keeps decorative icons from screen readers
#   and the text stays on screen, so it stays in the body.
#
# Markup is read the way browsers build their tree, where it changes what is hidden: an
# element's scope ends at its end tag, or where its parent ends (an unclosed hidden
# element hides to the end of its parent; at the top of a mail, to the end); `<p>`,
# `<li>`, `<td>`... close their open predecessor; end tags out of scope (across a table)
# or of `</body>` and `</html>` are ignored, as are void elements' ends; `<div .../>`
# opens a div. One pass (two when a `<style>` sheet or `<body>` attributes come after
# the text), linear in the size of the mail: no step looks at more than the innermost
# open element and a constant amount of bookkeeping.

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
NOT_TEXT = frozenset({"script", "style", "title"})
HIDDEN_ELEMENTS = {
    "template": "<template>",
    "noscript": "<noscript>",
    "iframe": "<iframe> content",
    "noembed": "<noembed>",
    "noframes": "<noframes>",
    "datalist": "<datalist>",
}
VOID = words(
    "area base basefont bgsound br col embed frame hr image img input keygen link meta "
    "param source track wbr"
)
HEAD_CONTENT = words(
    "base basefont bgsound link meta title noscript noframes style script template"
)
_SPECIAL = words(
    "address applet area article aside base basefont bgsound blockquote body br button "
    "caption center col colgroup dd details dialog dir div dl dt embed fieldset figcaption "
    "figure footer form frame frameset h1 h2 h3 h4 h5 h6 head header hgroup hr html iframe "
    "img input keygen li link listing main marquee menu meta nav noembed noframes noscript "
    "object ol p param plaintext pre script search section select source style summary "
    "table tbody td template textarea tfoot th thead title tr track ul wbr xmp"
)
_FORMATTING = words("a b big code em font i nobr s small strike strong tt u")
_SCOPE = words("applet caption html table td th marquee object template")
_TABLE_PARTS = words("td th tr tbody thead tfoot caption colgroup")
_CLOSES_P = words(
    "address article aside blockquote center details dialog dir div dl fieldset figcaption "
    "figure footer form header hgroup hr main menu nav ol p pre listing plaintext search "
    "section summary ul xmp li dd dt h1 h2 h3 h4 h5 h6"
)
_RCDATA = ("title", "textarea")
_HEADINGS = words("h1 h2 h3 h4 h5 h6")
_BLOCK_BOXES = words(
    "address article aside blockquote center dd details dialog dir div dl dt fieldset "
    "figcaption figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr li listing main menu "
    "nav ol p pre section summary ul xmp body html"
)
_NOT_A_BOX = ("inline", "contents", "none", "table-row", "table-cell", "table-column")
OFFSCREEN_PX = 500.0
TINY_FONT_PX = 2.0
FAINT_OPACITY = 0.1
COLOUR_TOLERANCE = 12.0  # of 255, per channel: "near-white on white" hides too
MAX_HIDDEN_CHARS = 10_000
WHITE = (255.0, 255.0, 255.0)
BLACK: RGBA = (0.0, 0.0, 0.0, 1.0)
LINK_BLUE: RGBA = (0.0, 0.0, 238.0, 1.0)
_SCALED_TO_NOTHING = re.compile(r"\bscale(?:x|y|3d)?\(\s*[+-]?0*\.?0*(?:\s*[,)]|\s)")
_OPACITY_FILTER = re.compile(r"opacity\(\s*([^)]*)\)")
_CLIP_RECT = re.compile(r"^rect\(([^)]*)\)$")
_TAG = re.compile(r"<[^>]*>")
_ZERO_WIDTH = re.compile("[\u00ad\u034f\u200b-\u200f\u2060-\u2064\ufeff]")
_CUT_OFF_MARKUP = re.compile(r"</?[a-zA-Z]|<[!?]")


class HiddenText(NamedTuple):
    """Text a reader of the mail would not see, and why."""

    reason: str
    text: str


class _Frame:
    """An open element and what it passes on to its content."""

    __slots__ = (
        "tag",
        "attrs",
        "index",
        "uid",
        "reason",
        "origin",
        "hard",
        "summary_hard",
        "visibility_hidden",
        "indent_px",
        "indent_hidden",
        "font_px",
        "colour",
        "fill",
        "link_colour",
        "background",
        "opacity",
        "not_text",
        "inert",
        "foreign",
        "closed",
        "tokens",
        "scope_at",
        "special_at",
        "table_at",
        "p_at",
        "li_at",
        "dl_at",
        "cell_at",
        "row_at",
        "section_at",
    )

    def __init__(self, tag: str, attrs: dict[str, str], index: int, uid: int) -> None:
        self.tag, self.attrs, self.index, self.uid = tag, attrs, index, uid
        self.reason: str | None = None  # why its text is hidden; None: visible
        self.origin: int | None = None  # the element where that hiding starts
        self.hard: str | None = None  # hidden for good (display:none...): no way back
        self.summary_hard: str | None = None  # for the <summary> of a closed <details>
        self.visibility_hidden = False
        self.indent_px: float | None = None
        self.indent_hidden = False
        self.font_px = ROOT_FONT_PX
        self.colour: RGBA = BLACK
        self.fill: RGBA | None = None
        self.link_colour: RGBA = LINK_BLUE
        self.background: tuple[float, float, float] | None = WHITE
        self.opacity = 1.0
        self.not_text = self.inert = self.foreign = self.closed = False
        self.tokens: list[str] = []
        self.scope_at = self.special_at = self.table_at = -1
        self.p_at = self.li_at = self.dl_at = self.cell_at = self.row_at = self.section_at = -1


class _TextOfHtml(HTMLParser):
    """Text and line breaks, as an HTML-only mail reads in a mail client: block elements
    start and end a line, table cells are apart; what the reader would not see goes to
    `hidden` (see the notes above), scripts, styles, DOCTYPE and processing instructions
    are not text."""

    FIXED = 3  # the document, <html> and <body>: always open

    def __init__(
        self,
        styles: list[str] | None = None,
        root_attrs: dict[str, dict[str, str]] | None = None,
        *,
        final: bool = False,
        nested: bool = False,
    ) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self.hidden: list[HiddenText] = []
        self.final = final or nested  # what is known of sheets and <body> is all there is
        self.nested = nested  # the inside of a comment: no comments, no sheets in there
        self.styles: list[str] = list(styles or [])
        self.root_attrs = root_attrs or {"html": {}, "body": {}}
        self.sheet = StyleSheet(self.styles) if self.styles else None
        self.started = False  # text or body markup seen: a later sheet means a second pass
        self.again = False  # a second pass is needed
        self.head_at: int | None = None
        self.head_seen = False
        self.open: dict[str, list[int]] = {}
        self.ancestors: Counter[str] = Counter()
        self.style_text: list[str] | None = None
        self.entry_origin: int | None = None
        self.entry_reason = ""
        self.entry: list[str] = []
        self.uids = 0
        root = _Frame("#document", {}, 0, 0)
        self.stack = [root]
        for tag in ("html", "body"):
            self._push(tag, self.root_attrs[tag])

    # -- tags ------------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values: dict[str, str] = {}
        for name, value in attrs:  # the first of a repeated attribute counts, as in browsers
            values.setdefault(name, value or "")
        if tag in ("html", "body"):
            self._root_element(tag, values)
            return
        if tag == "image":
            tag = "img"
        top = self.stack[-1]
        if tag == "head":
            if not self.head_seen and not self.started and top.index == self.FIXED - 1:
                self.head_seen = True
                self.head_at = self._push(tag, values).index
            return
        if tag not in HEAD_CONTENT:
            self.started = True
            if self.head_at is not None and not top.inert:
                self._pop_to(self.head_at)
        if not self.stack[-1].foreign:
            self._close_implied(tag)
        if tag in VOID:
            self._gap(tag, self.stack[-1])
            return
        parent = self.stack[-1]
        frame = self._push(tag, values)
        self._gap(tag, parent)
        if tag in _RCDATA and not frame.foreign:  # text up to </title>, as in browsers
            self.set_cdata_mode(tag)
        if tag == "style" and not frame.inert and not self.final:
            self.style_text = []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        foreign = self.stack[-1].foreign or tag in ("svg", "math")
        before = self.uids
        self.handle_starttag(tag, attrs)
        if self.uids == before or self.stack[-1].uid != self.uids:
            return  # a void element, or a tag that opened nothing
        if foreign:  # <path/> in SVG is closed; <div/> in HTML is only opened
            self._pop_to(len(self.stack) - 1)
        elif tag in ("script", "style"):  # <style/> opens a style sheet all the same
            self.set_cdata_mode(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "br":  # </br> is read as <br>
            self._gap(tag, self.stack[-1])
            return
        if tag in ("html", "body"):  # what follows still goes where it would have gone
            return
        indices = self.open.get(tag)
        if not indices:
            return
        at, top = indices[-1], self.stack[-1]
        if tag in _FORMATTING and top.special_at > at:
            # </b> across a <div> opened inside it: the div and its content stay as they
            # are (the adoption agency of the HTML parsing algorithm, simplified)
            self.stack[at].closed = True
            indices.pop()
            return
        if tag in _TABLE_PARTS:
            if top.table_at > at:
                return
        elif tag not in _SCOPE and top.scope_at > at:
            return  # a table or cell opened since: the end tag does not reach across it
        self._pop_to(at)
        self._gap(tag, self.stack[-1])

    def _close_implied(self, tag: str) -> None:
        top = self.stack[-1]
        if tag in _CLOSES_P and top.p_at >= 0:
            self._pop_to(top.p_at)
            top = self.stack[-1]
        if tag == "li" and top.li_at >= 0:
            self._pop_to(top.li_at)
        elif tag in ("dd", "dt") and top.dl_at >= 0:
            self._pop_to(top.dl_at)
        elif tag in ("td", "th") and top.cell_at >= 0:
            self._pop_to(top.cell_at)
        elif tag == "tr" and max(top.row_at, top.cell_at) >= 0:
            self._pop_to(top.row_at if top.row_at >= 0 else top.cell_at)
        elif tag in ("tbody", "thead", "tfoot"):
            found = [at for at in (top.section_at, top.row_at, top.cell_at) if at >= 0]
            if found:
                self._pop_to(min(found))
        elif (tag in _HEADINGS and top.tag in _HEADINGS) or (
            tag in ("option", "optgroup") and top.tag == "option"
        ):
            self._pop_to(top.index)

    def _root_element(self, tag: str, values: dict[str, str]) -> None:
        """<html> and <body> are open from the start; a later tag adds its attributes
        to them, for everything in the mail (a second pass when text came before)."""
        if self.head_at is not None and tag == "body":
            self._pop_to(self.head_at)
        if self.final:
            return
        known = self.root_attrs[tag]
        new = {name: value for name, value in values.items() if name not in known}
        if not new:
            return
        known.update(new)
        if self.started:
            self.again = True
        else:
            self._recompute()

    # -- the stack -------------------------------------------------------------------

    def _push(self, tag: str, attrs: dict[str, str]) -> _Frame:
        self.uids += 1
        frame = self._frame(self.stack[-1], tag, attrs, len(self.stack), self.uids)
        self.stack.append(frame)
        self.open.setdefault(tag, []).append(frame.index)
        self.ancestors.update(frame.tokens)
        return frame

    def _pop_to(self, at: int) -> None:
        """Close the element at `at` and everything opened inside it."""
        at = max(at, self.FIXED)
        while len(self.stack) > at:
            self._pop()
        while len(self.stack) > self.FIXED and self.stack[-1].closed:
            self._pop()

    def _pop(self) -> None:
        frame = self.stack.pop()
        indices = self.open.get(frame.tag)
        if indices and indices[-1] == frame.index:
            indices.pop()
        self.ancestors.subtract(frame.tokens)
        if self.entry_origin == frame.uid:
            self._flush()
        if frame.tag == "head":
            self.head_at = None
        elif frame.tag == "style" and self.style_text is not None:
            text, self.style_text = "".join(self.style_text), None
            self._add_sheet(text)

    def _add_sheet(self, text: str) -> None:
        self.styles.append(text)
        if self.started:
            self.again = True  # text already read without these rules
            return
        if self.sheet is None:
            self.sheet = StyleSheet()
        self.sheet.add(text)
        self._recompute()

    def _recompute(self) -> None:
        for at in range(1, len(self.stack)):
            old = self.stack[at]
            self.stack[at] = self._frame(self.stack[at - 1], old.tag, old.attrs, at, old.uid)

    # -- what an element hides -------------------------------------------------------

    def _frame(self, parent: _Frame, tag: str, attrs: dict[str, str], at: int, uid: int) -> _Frame:
        frame = _Frame(tag, attrs, at, uid)
        frame.foreign = parent.foreign or tag in ("svg", "math")
        frame.inert = parent.inert or tag == "template"
        frame.not_text = parent.not_text or tag in NOT_TEXT
        frame.scope_at = at if tag in _SCOPE else parent.scope_at
        frame.special_at = at if tag in _SPECIAL else parent.special_at
        frame.table_at = at if tag == "table" else parent.table_at
        frame.p_at = at if tag == "p" else -1 if tag in _SCOPE or tag == "button" else parent.p_at
        list_stop = tag in _SPECIAL and tag not in ("address", "div", "p")
        frame.li_at = at if tag == "li" else -1 if list_stop else parent.li_at
        frame.dl_at = at if tag in ("dd", "dt") else -1 if list_stop else parent.dl_at
        table_stop = tag in ("table", "html", "template")
        frame.cell_at = at if tag in CELLS else -1 if table_stop else parent.cell_at
        frame.row_at = at if tag == "tr" else -1 if table_stop else parent.row_at
        frame.section_at = (
            at if tag in ("tbody", "thead", "tfoot") else -1 if table_stop else parent.section_at
        )
        classes = frozenset(attrs.get("class", "").lower().split())
        element_id = attrs.get("id", "").strip().lower() or None
        frame.tokens = ["<" + tag] + ["." + c for c in classes]
        if element_id:
            frame.tokens.append("#" + element_id)
        inline = declarations(attrs["style"]) if attrs.get("style") else {}
        rules = []
        if self.sheet:
            element = Element(tag, attrs, classes, element_id, self.ancestors)
            rules = self.sheet.matching(element)
        presentational = _presentational(tag, attrs, parent)
        decls = cascade(presentational, rules, inline) if presentational or rules or inline else {}
        _computed(frame, parent, decls)
        return frame

    # -- text ------------------------------------------------------------------------

    def handle_data(self, data: str) -> None:
        top = self.stack[-1]
        if self.head_at is not None and not top.not_text and not top.inert and data.strip():
            self._pop_to(self.head_at)  # text in <head> starts the body, as in browsers
            top = self.stack[-1]
        if top.tag == "textarea":
            data = unescape(data)
        if top.not_text:
            if top.tag == "style" and self.style_text is not None:
                self.style_text.append(data)
            return
        if data.strip():
            self.started = True
        if top.reason is None:
            if data.strip():
                self._flush()
            self.pieces.append(data)
        elif data.strip() or self.entry_origin == top.origin:
            self._hide(top, data)

    def _gap(self, tag: str, where: _Frame) -> None:
        if tag in BLOCKS:
            gap = "\n"
        elif tag in CELLS:
            gap = " "
        else:
            return
        if where.not_text:
            return
        if where.reason is None:
            self.pieces.append(gap)
        elif self.entry_origin == where.origin:
            self.entry.append(" ")

    def _hide(self, where: _Frame, text: str) -> None:
        if self.entry_origin != where.origin:
            self._flush()
            self.entry_origin, self.entry_reason = where.origin, where.reason or ""
        self.entry.append(text)

    def _flush(self) -> None:
        if self.entry:
            self._record(self.entry_reason, "".join(self.entry))
        self.entry, self.entry_origin = [], None

    def _record(self, reason: str, text: str) -> None:
        text = " ".join(_ZERO_WIDTH.sub("", text).split())
        if text:
            self.hidden.append(HiddenText(reason, text))

    def handle_comment(self, data: str) -> None:
        self._flush()
        condition = ""
        if data.lstrip().lower().startswith("[if"):
            head, closing, inner = data.partition("]>")
            if closing:
                condition = head.strip()[1:].strip()
                data = inner[: inner.rfind("<![endif]")] if "<![endif]" in inner else inner
        reason = (
            f"conditional comment ({condition}), shown only by some clients"
            if condition
            else "HTML comment"
        )
        if "<" not in data:
            self._record(reason, unescape(data))
        elif self.nested:
            self._record(reason, unescape(_TAG.sub(" ", data)))
        else:
            text, inside = _read_html(data, nested=True)
            self._record(reason, text)
            self.hidden.extend(HiddenText(f"{reason}, {why}", words) for why, words in inside)

    def unknown_decl(self, data: str) -> None:
        if data[:6].lower() == "cdata[":  # not text in HTML: a bogus comment
            self._flush()
            self._record("CDATA section", data[6:])

    def close(self) -> None:
        rest = self.rawdata
        if self.cdata_elem:  # an unclosed <style>, <script>, <title> or <textarea>
            element = self.cdata_elem
            self.rawdata = ""
            self.clear_cdata_mode()
            self._unclosed(element, rest)
        elif rest.startswith("<!--"):  # an unclosed comment: to the end, as in browsers
            self.rawdata = ""
            self.handle_comment(rest[4:])
        elif _CUT_OFF_MARKUP.match(rest):  # a tag cut off by the end: nothing, as in browsers
            self.rawdata = ""
        super().close()
        self._pop_to(self.FIXED)
        self._flush()

    def _unclosed(self, element: str, rest: str) -> None:
        if element == "textarea":
            self.handle_data(unescape(rest))
            return
        if element == "style" and self.style_text is not None:
            self.style_text.append(rest)
        self._flush()
        self._record(f"in an unclosed <{element}>", unescape(_TAG.sub(" ", rest)))


def _presentational(tag: str, attrs: dict[str, str], parent: _Frame) -> dict[str, str]:
    """What attributes say about an element's look, below any CSS."""
    out: dict[str, str] = {}
    if "hidden" in attrs or (tag == "dialog" and "open" not in attrs):
        out["display"] = "none"
    for name, prop in (("bgcolor", "background-color"), ("color", "color"), ("text", "color")):
        if name == "color" and tag not in ("font", "basefont"):
            continue
        if name == "text" and tag != "body":
            continue
        colour = attribute_colour(attrs.get(name))
        if colour is not None:
            out[prop] = "rgba({:.0f},{:.0f},{:.0f},{})".format(*colour)
    if attrs.get("background"):
        out["background-image"] = "url"
    if tag == "font":
        size = font_attribute_px(attrs.get("size"), parent.font_px)
        if size is not None:
            out["font-size"] = f"{size}px"
    return out


_OWN_LOOK = frozenset({"a", "area", "body", "details", "summary"}) | frozenset(HIDDEN_ELEMENTS)


def _computed(frame: _Frame, parent: _Frame, decls: dict[str, tuple[str, int]]) -> None:
    """Fill in what `frame` hides and passes on, from its parent and its declarations."""
    tag, attrs = frame.tag, frame.attrs
    if not decls and tag not in _OWN_LOOK and parent.tag != "details" and "hidden" not in attrs:
        _inherited(frame, parent)
        return

    def value(name: str) -> str | None:
        found = decls.get(name)
        return found[0] if found else None

    closed_details = parent.tag == "details" and "open" not in parent.attrs
    hard = parent.summary_hard if closed_details and tag == "summary" else parent.hard
    frame.font_px = (
        font_size_px(value("font-size") or "inherit", parent.font_px)
        if "font-size" in decls
        else parent.font_px
    )
    own_opacity = _opacity(value("opacity"), value("filter"))
    frame.opacity = parent.opacity * own_opacity
    display = value("display")
    position = value("position") or "static"
    box = _is_box(tag, display, position)
    if hard is None:
        hard = HIDDEN_ELEMENTS.get(tag)
    if hard is None and display == "none":
        if decls["display"][1] != PRESENTATIONAL:
            hard = "display:none"
        else:
            hard = "hidden attribute" if "hidden" in attrs else f"<{tag}> not open"
    if hard is None and attrs.get("hidden", "").lower() == "until-found":
        hard = "hidden attribute"
    if hard is None and value("content-visibility") == "hidden":
        hard = "content-visibility:hidden"
    if hard is None and frame.opacity < FAINT_OPACITY:
        hard = "opacity:0"
    if hard is None:
        hard = _off_screen(value, frame.font_px, position) or _clipped(value, position)
    if hard is None and box:
        hard = _no_room(value, frame.font_px)
    if tag == "details" and "open" not in attrs:
        frame.summary_hard = hard
        hard = hard or "in a closed <details>"
    frame.hard = hard

    visibility = value("visibility")
    if visibility in ("hidden", "collapse"):
        frame.visibility_hidden = True
    elif visibility in ("visible", "initial", "revert", "revert-layer"):
        frame.visibility_hidden = False
    else:
        frame.visibility_hidden = parent.visibility_hidden

    indent = value("text-indent")
    if indent is None or indent in ("inherit", "unset"):
        frame.indent_px = parent.indent_px
    else:
        frame.indent_px = length_px(indent, frame.font_px) if indent != "initial" else None
    if box:
        frame.indent_hidden = frame.indent_px is not None and frame.indent_px <= -OFFSCREEN_PX
    else:
        frame.indent_hidden = parent.indent_hidden

    frame.link_colour = parent.link_colour
    if tag == "body":
        link = attribute_colour(attrs.get("link"))
        frame.link_colour = link or parent.link_colour
    frame.colour = _colour_of(value("color"), parent.colour, BLACK)
    if value("color") is None and tag in ("a", "area") and "href" in attrs:
        frame.colour = frame.link_colour
    fill = value("-webkit-text-fill-color")
    if fill is None or fill in ("inherit", "unset"):
        frame.fill = parent.fill
    elif fill in ("initial", "currentcolor", "revert", "revert-layer"):
        frame.fill = None
    else:
        frame.fill = parse_colour(fill)
    frame.background = _background(value, parent.background, frame.colour)

    frame.reason = hard or _soft_reason(frame)
    if frame.reason is not None:
        frame.origin = parent.origin if parent.reason == frame.reason else frame.uid


def _inherited(frame: _Frame, parent: _Frame) -> None:
    """The common case, an element with no look of its own: all from its parent."""
    frame.hard, frame.visibility_hidden = parent.hard, parent.visibility_hidden
    frame.font_px, frame.opacity = parent.font_px, parent.opacity
    frame.colour, frame.fill, frame.link_colour = parent.colour, parent.fill, parent.link_colour
    frame.background, frame.indent_px = parent.background, parent.indent_px
    frame.indent_hidden = parent.indent_hidden
    if frame.tag in _BLOCK_BOXES:
        frame.indent_hidden = frame.indent_px is not None and frame.indent_px <= -OFFSCREEN_PX
    if frame.indent_hidden == parent.indent_hidden:
        frame.reason, frame.origin = parent.reason, parent.origin
        return
    frame.reason = frame.hard or _soft_reason(frame)
    if frame.reason is not None:
        frame.origin = parent.origin if parent.reason == frame.reason else frame.uid


def _soft_reason(frame: _Frame) -> str | None:
    """Hidden by what a descendant can undo: visibility, font size, indent, colour."""
    if frame.visibility_hidden:
        return "visibility:hidden"
    if frame.font_px <= TINY_FONT_PX:
        return "font-size:0" if frame.font_px == 0 else "font-size too small to read"
    if frame.indent_hidden:
        return "text-indent off-screen"
    return _unreadable_colour(frame.fill or frame.colour, frame.background)


def _is_box(tag: str, display: str | None, position: str) -> bool:
    """Whether height, width and text-indent apply: a block container."""
    if position in ("absolute", "fixed"):
        return True
    if display is None or display in GLOBAL:
        return tag in _BLOCK_BOXES
    return display.split()[0] not in _NOT_A_BOX and not display.startswith("table")


def _opacity(opacity: str | None, filters: str | None) -> float:
    own = 1.0
    if opacity and opacity not in GLOBAL:
        own = _fraction_or(opacity, 1.0)
    if filters:
        for amount in _OPACITY_FILTER.findall(filters):
            own *= _fraction_or(amount.strip() or "1", 1.0)
    return own


def _fraction_or(text: str, default: float) -> float:
    try:
        number = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        return default
    return min(1.0, max(0.0, number)) if math.isfinite(number) else default


def _off_screen(value, font_px: float, position: str) -> str | None:
    if position != "static":
        for side in ("left", "top", "right", "bottom"):
            offset = value(side)
            px = length_px(offset, font_px) if offset else None
            if px is not None and px <= -OFFSCREEN_PX:
                return "positioned off-screen"
    for side in ("margin-left", "margin-top"):
        margin = value(side)
        px = length_px(margin, font_px) if margin else None
        if px is not None and px <= -OFFSCREEN_PX:
            return "pushed off-screen"
    return None


def _clipped(value, position: str) -> str | None:
    clip = value("clip")
    if clip and position in ("absolute", "fixed"):
        match = _CLIP_RECT.match(clip)
        edges = (
            [length_px(e, ROOT_FONT_PX) for e in re.split(r"[\s,]+", match.group(1).strip())]
            if match
            else []
        )
        if len(edges) == 4 and None not in edges:
            top, right, bottom, left = (e or 0.0 for e in edges)
            if bottom - top <= 1 or right - left <= 1:
                return "clipped away"
    path = value("clip-path")
    if path:
        inset = re.match(r"inset\(\s*([\d.]+)%", path)
        if (inset and float(inset.group(1)) >= 50) or re.match(r"(?:circle|ellipse)\(\s*0", path):
            return "clipped away"
    transform = value("transform")
    if transform and _SCALED_TO_NOTHING.search(transform):
        return "scaled to nothing"
    return None


def _no_room(value, font_px: float) -> str | None:
    """A block too small to show anything: max-height:0, or height/width of at most 1px
    with the overflow hidden."""

    def px(name: str) -> float | None:
        given = value(name)
        return length_px(given, font_px) if given else None

    max_height = px("max-height")
    if max_height is not None and max_height <= 0:
        return "max-height:0"
    for sizes, overflow in (
        (("height", "max-height"), "overflow-y"),
        (("width", "max-width"), "overflow-x"),
    ):
        if value(overflow) in ("hidden", "clip"):
            known = [size for size in (px(name) for name in sizes) if size is not None]
            if known and min(known) <= 1:
                return "no room to show it (size 0, overflow hidden)"
    return None


def _colour_of(given: str | None, inherited: RGBA, initial: RGBA) -> RGBA:
    if given is None or given in ("inherit", "unset", "currentcolor"):
        return inherited
    if given in ("initial", "revert", "revert-layer"):
        return initial
    return parse_colour(given) or inherited


def _background(value, below: tuple[float, float, float] | None, colour: RGBA):
    """The colour behind the element's text: its own, or what shows through; None when
    an image (or something unreadable) is there."""
    image = value("background-image")
    if image not in (None, "none", "initial", "unset", "inherit", "revert", "revert-layer"):
        return None
    given = value("background-color")
    if given is None or given in (
        "transparent",
        "initial",
        "unset",
        "inherit",
        "revert",
        "revert-layer",
    ):
        return below
    own = colour if given == "currentcolor" else parse_colour(given)
    if own is None:
        return below
    red, green, blue, alpha = own
    if alpha >= 1:
        return (red, green, blue)
    if alpha <= 0:
        return below
    if below is None:
        return None
    return tuple(
        alpha * c + (1 - alpha) * b for c, b in zip((red, green, blue), below, strict=True)
    )


def _unreadable_colour(text: RGBA, background: tuple[float, float, float] | None) -> str | None:
    red, green, blue, alpha = text
    if alpha < FAINT_OPACITY:
        return "transparent text"
    if background is None:
        return None
    shown = [
        alpha * c + (1 - alpha) * b for c, b in zip((red, green, blue), background, strict=True)
    ]
    if max(abs(s - b) for s, b in zip(shown, background, strict=True)) <= COLOUR_TOLERANCE:
        return "text the colour of its background"
    return None


def _read_html(html: str, *, nested: bool = False) -> tuple[str, list[HiddenText]]:
    parser = _TextOfHtml(nested=nested)
    parser.feed(html)
    parser.close()
    if parser.again:  # a sheet or <body> attributes after the text: read it again knowing them
        parser = _TextOfHtml(parser.styles, parser.root_attrs, final=True)
        parser.feed(html)
        parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.pieces).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip(), parser.hidden


def html_to_text_and_hidden(html: str) -> tuple[str, list[HiddenText]]:
    """The text a reader of this HTML mail sees (paragraphs and line breaks kept), and
    what is in it that they would not see, in order, each with why. One pass with the
    standard library's parser (two when a style sheet comes after the text): time grows
    with the size of the mail, never with its square (changing a parsed tree per
    paragraph took minutes on 40,000 of them)."""
    return _read_html(html)


def html_to_text(html: str) -> str:
    """Readable text from an HTML-only email, without what the reader would not see."""
    return _read_html(html)[0]


def hidden_summary(hidden: list[HiddenText], limit: int = MAX_HIDDEN_CHARS) -> str | None:
    """What was hidden, one line each ("[display:none] Ignore previous..."), at most
    `limit` characters; None when nothing was."""
    if not hidden:
        return None
    text = "\n".join(f"[{part.reason}] {part.text}" for part in hidden)
    return text if len(text) <= limit else text[: limit - 1] + "…"
