"""The little CSS that decides whether text in an HTML mail can be seen.

`assistant.mailtext` asks two questions of CSS: which declarations apply to an element
(its `style` attribute, the mail's `<style>` sheets, presentational attributes such as
`bgcolor`), and what their values mean (a colour, a length in pixels). Only the
properties that can hide text are read; everything else is dropped while parsing.

Parsing follows the browsers where it matters for hiding: property names are lower-case,
comments and escapes are resolved, `!important` is honoured, and an invalid value does
not override an earlier valid one (`display:none; display:blok` hides). It is tolerant
rather than complete: a selector or value it cannot read is skipped, never an error, and
every step is linear in the size of its input.
"""

from __future__ import annotations

import colorsys
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

RGBA = tuple[float, float, float, float]  # 0-255 channels, alpha 0-1


def words(text: str) -> frozenset[str]:
    """A set of names written as one string, apart by spaces."""
    return frozenset(text.split())


# Properties that can hide text. Shorthands are split into these longhands.
RELEVANT = frozenset(
    {
        "display",
        "visibility",
        "opacity",
        "filter",
        "content-visibility",
        "font-size",
        "color",
        "-webkit-text-fill-color",
        "background-color",
        "background-image",
        "position",
        "left",
        "top",
        "right",
        "bottom",
        "margin-left",
        "margin-top",
        "text-indent",
        "height",
        "max-height",
        "width",
        "max-width",
        "overflow-x",
        "overflow-y",
        "clip",
        "clip-path",
        "transform",
    }
)
SHORTHANDS = frozenset({"background", "margin", "overflow"})
GLOBAL = frozenset({"inherit", "initial", "unset", "revert", "revert-layer"})
_FUNCTION_VALUE = re.compile(r"^(?:-\w+-)?(?:calc|var|env|min|max|clamp|attr)\(")

_DISPLAY = words(
    "none block inline inline-block flex inline-flex grid inline-grid table inline-table "
    "table-row table-cell table-row-group table-header-group table-footer-group table-column "
    "table-column-group table-caption list-item contents flow flow-root run-in ruby ruby-base "
    "ruby-text ruby-base-container ruby-text-container math"
)
_KEYWORDS = {
    "visibility": frozenset({"visible", "hidden", "collapse"}),
    "position": frozenset({"static", "relative", "absolute", "fixed", "sticky", "-webkit-sticky"}),
    "content-visibility": frozenset({"visible", "hidden", "auto"}),
    "overflow-x": frozenset({"visible", "hidden", "clip", "scroll", "auto", "overlay"}),
    "overflow-y": frozenset({"visible", "hidden", "clip", "scroll", "auto", "overlay"}),
}
_LENGTH_PROPS = frozenset(
    {
        "left",
        "top",
        "right",
        "bottom",
        "margin-left",
        "margin-top",
        "text-indent",
        "height",
        "max-height",
        "width",
        "max-width",
    }
)
_LENGTH_KEYWORDS = frozenset(
    {
        "auto",
        "none",
        "min-content",
        "max-content",
        "fit-content",
        "stretch",
        "-webkit-fill-available",
    }
)

_NAMED_COLOURS = dict(
    pair.split(":")
    for pair in words(
        "aliceblue:f0f8ff antiquewhite:faebd7 aqua:00ffff aquamarine:7fffd4 azure:f0ffff "
        "beige:f5f5dc bisque:ffe4c4 black:000000 blanchedalmond:ffebcd blue:0000ff "
        "blueviolet:8a2be2 brown:a52a2a burlywood:deb887 cadetblue:5f9ea0 chartreuse:7fff00 "
        "chocolate:d2691e coral:ff7f50 cornflowerblue:6495ed cornsilk:fff8dc crimson:dc143c "
        "cyan:00ffff darkblue:00008b darkcyan:008b8b darkgoldenrod:b8860b darkgray:a9a9a9 "
        "darkgreen:006400 darkgrey:a9a9a9 darkkhaki:bdb76b darkmagenta:8b008b "
        "darkolivegreen:556b2f darkorange:ff8c00 darkorchid:9932cc darkred:8b0000 "
        "darksalmon:e9967a darkseagreen:8fbc8f darkslateblue:483d8b darkslategray:2f4f4f "
        "darkslategrey:2f4f4f darkturquoise:00ced1 darkviolet:9400d3 deeppink:ff1493 "
        "deepskyblue:00bfff dimgray:696969 dimgrey:696969 dodgerblue:1e90ff firebrick:b22222 "
        "floralwhite:fffaf0 forestgreen:228b22 fuchsia:ff00ff gainsboro:dcdcdc "
        "ghostwhite:f8f8ff gold:ffd700 goldenrod:daa520 gray:808080 green:008000 "
        "greenyellow:adff2f grey:808080 honeydew:f0fff0 hotpink:ff69b4 indianred:cd5c5c "
        "indigo:4b0082 ivory:fffff0 khaki:f0e68c lavender:e6e6fa lavenderblush:fff0f5 "
        "lawngreen:7cfc00 lemonchiffon:fffacd lightblue:add8e6 lightcoral:f08080 "
        "lightcyan:e0ffff lightgoldenrodyellow:fafad2 lightgray:d3d3d3 lightgreen:90ee90 "
        "lightgrey:d3d3d3 lightpink:ffb6c1 lightsalmon:ffa07a lightseagreen:20b2aa "
        "lightskyblue:87cefa lightslategray:778899 lightslategrey:778899 "
        "lightsteelblue:b0c4de lightyellow:ffffe0 lime:00ff00 limegreen:32cd32 linen:faf0e6 "
        "magenta:ff00ff maroon:800000 mediumaquamarine:66cdaa mediumblue:0000cd "
        "mediumorchid:ba55d3 mediumpurple:9370db mediumseagreen:3cb371 "
        "mediumslateblue:7b68ee mediumspringgreen:00fa9a mediumturquoise:48d1cc "
        "mediumvioletred:c71585 midnightblue:191970 mintcream:f5fffa mistyrose:ffe4e1 "
        "moccasin:ffe4b5 navajowhite:ffdead navy:000080 oldlace:fdf5e6 olive:808000 "
        "olivedrab:6b8e23 orange:ffa500 orangered:ff4500 orchid:da70d6 palegoldenrod:eee8aa "
        "palegreen:98fb98 paleturquoise:afeeee palevioletred:db7093 papayawhip:ffefd5 "
        "peachpuff:ffdab9 peru:cd853f pink:ffc0cb plum:dda0dd powderblue:b0e0e6 "
        "purple:800080 rebeccapurple:663399 red:ff0000 rosybrown:bc8f8f royalblue:4169e1 "
        "saddlebrown:8b4513 salmon:fa8072 sandybrown:f4a460 seagreen:2e8b57 seashell:fff5ee "
        "sienna:a0522d silver:c0c0c0 skyblue:87ceeb slateblue:6a5acd slategray:708090 "
        "slategrey:708090 snow:fffafa springgreen:00ff7f steelblue:4682b4 tan:d2b48c "
        "teal:008080 thistle:d8bfd8 tomato:ff6347 turquoise:40e0d0 violet:ee82ee "
        "wheat:f5deb3 white:ffffff whitesmoke:f5f5f5 yellow:ffff00 yellowgreen:9acd32"
    )
)
_HEX = re.compile(r"^#([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$")
_COLOUR_FUNCTION = re.compile(r"^(rgba?|hsla?)\(([^()]*)\)$")
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$")
_LENGTH = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)([a-z%]*)$")
_UNITS = {
    "px": 1.0,
    "pt": 4 / 3,
    "pc": 16.0,
    "in": 96.0,
    "cm": 96 / 2.54,
    "mm": 96 / 25.4,
    "q": 96 / 101.6,
    "vw": 10.24,  # a 1024 x 768 window
    "vh": 7.68,
    "vmin": 7.68,
    "vmax": 10.24,
}
_FONT_KEYWORDS = {
    "xx-small": 9.0,
    "x-small": 10.0,
    "small": 13.0,
    "medium": 16.0,
    "large": 18.0,
    "x-large": 24.0,
    "xx-large": 32.0,
    "xxx-large": 48.0,
}
_FONT_SIZE_ATTRIBUTE = [10.0, 13.0, 16.0, 18.0, 24.0, 32.0, 48.0]  # <font size="1".."7">
ROOT_FONT_PX = 16.0


# -- values ----------------------------------------------------------------------------


def parse_colour(value: str) -> RGBA | None:
    """A CSS colour (lower-case) as RGBA; None when it is not one we can read
    (`currentcolor` is the caller's business)."""
    value = value.strip()
    if value == "transparent":
        return (0.0, 0.0, 0.0, 0.0)
    named = _NAMED_COLOURS.get(value)
    if named:
        value = "#" + named
    match = _HEX.match(value)
    if match:
        digits = match.group(1)
        if len(digits) <= 4:
            digits = "".join(c * 2 for c in digits)
        channels = [int(digits[i : i + 2], 16) for i in range(0, len(digits), 2)]
        alpha = channels[3] / 255 if len(channels) == 4 else 1.0
        return (float(channels[0]), float(channels[1]), float(channels[2]), alpha)
    match = _COLOUR_FUNCTION.match(value)
    if not match:
        return None
    args = [a for a in re.split(r"[\s,/]+", match.group(2).strip()) if a]
    if len(args) not in (3, 4):
        return None
    given_alpha = _fraction(args[3]) if len(args) == 4 else 1.0
    if given_alpha is None:
        return None
    alpha = given_alpha
    if match.group(1).startswith("rgb"):
        rgb = [_channel(a) for a in args[:3]]
        if any(c is None for c in rgb):
            return None
        red, green, blue = (float(c or 0.0) for c in rgb)
        return (red, green, blue, alpha)
    hue = _number(args[0].removesuffix("deg"))
    saturation, lightness = _fraction(args[1]), _fraction(args[2])
    if hue is None or saturation is None or lightness is None:
        return None
    red, green, blue = colorsys.hls_to_rgb((hue % 360) / 360, lightness, saturation)
    return (red * 255, green * 255, blue * 255, alpha)


def attribute_colour(value: str | None) -> RGBA | None:
    """A colour in a presentational attribute (`bgcolor`, `color`, `text`): CSS, or hex
    digits without the `#` as old mail writes them."""
    if not value:
        return None
    value = value.strip().lower()
    colour = parse_colour(value)
    if colour is None and re.fullmatch(r"[0-9a-f]{3}|[0-9a-f]{6}", value):
        colour = parse_colour("#" + value)
    return colour


def _number(text: str) -> float | None:
    if not _NUMBER.match(text):
        return None
    number = float(text)
    return number if math.isfinite(number) else None


def _channel(text: str) -> float | None:
    if text == "none":
        return 0.0
    number = _number(text[:-1]) if text.endswith("%") else _number(text)
    if number is None:
        return None
    if text.endswith("%"):
        number *= 2.55
    return min(255.0, max(0.0, number))


def _fraction(text: str) -> float | None:
    """An alpha, saturation or lightness: 0.5 or 50%, clamped to 0..1."""
    if text == "none":
        return 0.0
    number = _number(text[:-1]) if text.endswith("%") else _number(text)
    if number is None:
        return None
    if text.endswith("%"):
        number /= 100
    return min(1.0, max(0.0, number))


def length_px(value: str, font_px: float, percent_of: float | None = None) -> float | None:
    """A length in CSS pixels; None when it cannot be known here (a percentage of an
    unknown size, calc(), auto). Unitless numbers count as pixels, as in quirks mode."""
    match = _LENGTH.match(value.strip())
    if not match:
        return None
    number = float(match.group(1))
    if not math.isfinite(number):
        return None
    unit = match.group(2)
    if unit == "":
        return number
    if unit in _UNITS:
        return number * _UNITS[unit]
    if unit == "em":
        return number * font_px
    if unit == "rem":
        return number * ROOT_FONT_PX
    if unit in ("ex", "ch"):
        return number * font_px / 2
    if unit == "%":
        return None if percent_of is None else number * percent_of / 100
    return None


def font_size_px(value: str, parent_px: float) -> float:
    """The computed font size of `value` under a parent of `parent_px`."""
    if value in ("inherit", "unset", "revert", "revert-layer"):
        return parent_px
    if value == "initial":
        return ROOT_FONT_PX
    if value in _FONT_KEYWORDS:
        return _FONT_KEYWORDS[value]
    if value == "smaller":
        return parent_px / 1.2
    if value == "larger":
        return parent_px * 1.2
    size = length_px(value, parent_px, percent_of=parent_px)
    return parent_px if size is None else max(0.0, size)


def font_attribute_px(value: str | None, parent_px: float) -> float | None:
    """`<font size="1".."7">`, or relative "+1"/"-2" (from 3)."""
    if not value:
        return None
    value = value.strip()
    try:
        number = int(value)
    except ValueError:
        return None
    if value[0] in "+-":
        number += 3
    return _FONT_SIZE_ATTRIBUTE[min(7, max(1, number)) - 1]


def _valid(name: str, value: str) -> bool:
    """Whether a browser would accept the value (an invalid one leaves the earlier one)."""
    if value in GLOBAL or _FUNCTION_VALUE.match(value):
        return True
    if name == "display":
        return all(word in _DISPLAY or word.startswith("-") for word in value.split())
    if name in _KEYWORDS:
        return value in _KEYWORDS[name]
    if name == "opacity":
        return _fraction(value) is not None
    if name == "font-size":
        return (
            value in _FONT_KEYWORDS
            or value in ("smaller", "larger")
            or _length_ok(value, allow_negative=False)
        )
    if name in ("color", "-webkit-text-fill-color", "background-color"):
        return value == "currentcolor" or parse_colour(value) is not None
    if name in _LENGTH_PROPS:
        return value in _LENGTH_KEYWORDS or _length_ok(value, allow_negative=True)
    return bool(value)


def _length_ok(value: str, allow_negative: bool) -> bool:
    match = _LENGTH.match(value)
    if not match or (match.group(2) and match.group(2) not in _ALL_UNITS):
        return False
    return allow_negative or float(match.group(1)) >= 0


_ALL_UNITS = frozenset(_UNITS) | {"em", "rem", "ex", "ch", "%"}


# -- declarations ----------------------------------------------------------------------

Declarations = dict[str, tuple[str, bool]]  # longhand -> (lower-case value, !important)
_IMPORTANT = re.compile(r"!\s*important\s*$", re.I)
_ESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})\s?|(.))", re.S)
_URL_OR_GRADIENT = re.compile(r"url\(|gradient\(|image-set\(|element\(")
_VALUE_TOKEN = re.compile(r"[\w#.%+-]+\([^()]*\)|[^\s()]+")


def strip_comments(css: str) -> str:
    """CSS without /* comments */, in one pass (an unclosed one runs to the end)."""
    if "/*" not in css:
        return css
    out, start = [], 0
    while True:
        open_at = css.find("/*", start)
        if open_at < 0:
            out.append(css[start:])
            break
        out.append(css[start:open_at])
        close_at = css.find("*/", open_at + 2)
        if close_at < 0:
            break
        out.append(" ")
        start = close_at + 2
    return "".join(out)


def _unescape(css: str) -> str:
    if "\\" not in css:
        return css

    def one(match: re.Match[str]) -> str:
        if match.group(1):
            code = int(match.group(1), 16)
            return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd"
        return match.group(2)

    return _ESCAPE.sub(one, css)


def declarations(text: str) -> Declarations:
    """The hiding-relevant declarations of a `style` attribute or a rule's block."""
    out: Declarations = {}
    for part in _unescape(strip_comments(text)).split(";"):
        name, colon, value = part.partition(":")
        if not colon:
            continue
        name = name.strip().lower()
        if name not in RELEVANT and name not in SHORTHANDS:
            continue
        important = bool(_IMPORTANT.search(value))
        value = " ".join(_IMPORTANT.sub("", value).lower().split())
        if not value:
            continue
        for longhand, longhand_value in _expanded(name, value):
            if not _valid(longhand, longhand_value):
                continue
            earlier = out.get(longhand)
            if earlier and earlier[1] and not important:
                continue
            out[longhand] = (longhand_value, important)
    return out


def _expanded(name: str, value: str) -> list[tuple[str, str]]:
    if name == "background":
        if value in GLOBAL:
            return [("background-color", value), ("background-image", value)]
        image = "url" if _URL_OR_GRADIENT.search(value) else "none"
        colour = next(
            (t for t in _VALUE_TOKEN.findall(value) if parse_colour(t) is not None),
            "transparent",
        )
        return [("background-color", colour), ("background-image", image)]
    if name == "margin":
        parts = _VALUE_TOKEN.findall(value)
        if value in GLOBAL or not 1 <= len(parts) <= 4:
            return [("margin-top", value), ("margin-left", value)]
        left = parts[{1: 0, 2: 1, 3: 1, 4: 3}[len(parts)]]
        return [("margin-top", parts[0]), ("margin-left", left)]
    if name == "overflow":
        parts = value.split()
        return [("overflow-x", parts[0]), ("overflow-y", parts[-1])]
    if name == "background-image":
        return [(name, "url" if _URL_OR_GRADIENT.search(value) else value)]
    return [(name, value)]


# -- style sheets ----------------------------------------------------------------------

MAX_SHEET_CHARS = 256 * 1024  # of all <style> text together; the rest is not read
MAX_RULES = 5000
MAX_RULES_PER_KEY = 16  # beyond: every rule of that key counts as matching (hides more, safely)
_MAX_AT_DEPTH = 4
_BRACES = re.compile(r"[{};]")
_CURLY = re.compile(r"[{}]")
_COMPOUND_PART = re.compile(
    r"(?P<tag>\*|[a-z_][\w-]*(?:\|[a-z_][\w-]*)?)"
    r"|\#(?P<id>[\w-]+)"
    r"|\.(?P<cls>[\w-]+)"
    r"|\[(?P<attr>[^\]]*)\]"
    r"|(?P<colons>::?)(?P<pseudo>[\w-]+)(?P<arg>\((?:[^()]|\([^()]*\))*\))?"
)
_COMBINATOR = re.compile(r"\s*([>+~])\s*|\s+")
_ATTRIBUTE = re.compile(
    r"""^\s*([\w:-]+)\s*(?:([~|^$*]?=)\s*(?:"([^"]*)"|'([^']*)'|([^\s"']*))\s*([is])?)?\s*$"""
)
# Pseudo-classes that never hold while a mail is read, and pseudo-elements that style
# generated content rather than the element's text: their rules are left out.
_NEVER = words(
    "hover active focus focus-visible focus-within visited target target-within checked "
    "indeterminate default invalid valid user-invalid empty before after marker placeholder "
    "selection backdrop cue file-selector-button -webkit-scrollbar spelling-error grammar-error "
    "fullscreen modal picture-in-picture playing paused autofill"
)
_LINK = frozenset({"link", "any-link"})
_PSEUDO_ELEMENTS = frozenset({"first-line", "first-letter"})


@dataclass(slots=True)
class _Compound:
    tag: str | None = None
    ids: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    attributes: list[tuple[str, str | None, str, bool]] = field(default_factory=list)
    link: bool = False

    def tokens(self) -> list[str]:
        """What an ancestor must carry (attributes and pseudo-classes are not checked)."""
        out = [f"<{self.tag}"] if self.tag else []
        return out + ["#" + i for i in self.ids] + ["." + c for c in self.classes]


@dataclass(slots=True)
class _Rule:
    specificity: tuple[int, int, int]
    order: int
    subject: _Compound
    ancestors: list[str]  # tokens each open ancestor set must contain
    decls: Declarations


@dataclass(slots=True)
class Element:
    """What a selector is matched against: an element and who is open above it."""

    tag: str
    attrs: Mapping[str, str]
    classes: frozenset[str]
    element_id: str | None
    ancestors: Mapping[str, int]  # tokens ("<div", ".note", "#x") of the open ancestors


class StyleSheet:
    """The rules of a mail's `<style>` elements that can hide text, indexed by the id,
    first class or tag their selector ends with. Descendant selectors are checked
    against the tags, classes and ids open above the element (in any order: a close,
    safe approximation); sibling parts, attribute and structural pseudo-classes of
    ancestors are not checked, so such rules apply a little more widely than in a
    browser. Rules inside `@media` apply when the query holds for a 1024 px screen."""

    def __init__(self, texts: list[str] | None = None) -> None:
        self.by_key: dict[str, list[_Rule]] = {}
        self.merged: dict[str, _Rule] = {}
        self.needs_ancestors = False
        self.count = 0
        self.chars = 0
        for text in texts or []:
            self.add(text)

    def add(self, text: str) -> None:
        """The rules of one more `<style>` element, after those already read."""
        room = MAX_SHEET_CHARS - self.chars
        if room <= 0:
            return
        text = text[:room]
        self.chars += len(text)
        self._read_block(strip_comments(text), 0)

    def __bool__(self) -> bool:
        return self.count > 0

    def _read_block(self, css: str, depth: int) -> None:
        position, size = 0, len(css)
        while position < size and self.count < MAX_RULES:
            found = _BRACES.search(css, position)
            if not found:
                return
            if found.group() != "{":
                position = found.end()
                continue
            prelude = css[position : found.start()].strip()
            close = _matching_brace(css, found.start())
            body = css[found.end() : close]
            position = close + 1
            if prelude.startswith("@"):
                keyword, _, query = prelude[1:].partition(" ")
                keyword = keyword.lower()
                if depth < _MAX_AT_DEPTH and (
                    (keyword == "media" and media_matches(query))
                    or keyword in ("supports", "layer", "document", "-moz-document", "container")
                ):
                    self._read_block(body, depth + 1)
                continue
            decls = declarations(body)
            if decls:
                for selector in _split_selectors(prelude):
                    self._add(selector, decls)

    def _add(self, selector: str, decls: Declarations) -> None:
        parsed = _parse_selector(selector.strip().lower())
        if parsed is None:
            return
        specificity, subject, ancestors = parsed
        rule = _Rule(specificity, self.count, subject, ancestors, decls)
        self.count += 1
        self.needs_ancestors = self.needs_ancestors or bool(ancestors)
        if subject.ids:
            key = "#" + subject.ids[0]
        elif subject.classes:
            key = "." + subject.classes[0]
        else:
            key = "<" + (subject.tag or "*")
        self.by_key.setdefault(key, []).append(rule)

    def matching(self, element: Element) -> list[_Rule]:
        keys = ["<*", "<" + element.tag]
        keys += ["." + c for c in element.classes]
        if element.element_id:
            keys.append("#" + element.element_id)
        out = []
        for key in keys:
            rules = self.by_key.get(key)
            if not rules:
                continue
            if len(rules) > MAX_RULES_PER_KEY:
                merged = self.merged.get(key)
                if merged is None or merged.order != rules[-1].order:
                    merged = self.merged[key] = _merge_all(rules)
                out.append(merged)
                continue
            out.extend(rule for rule in rules if _matches(rule, element))
        return out


def _merge_all(rules: list[_Rule]) -> _Rule:
    """Rules of one key taken together, as if all of them matched."""
    ordered = sorted(rules, key=lambda r: (r.specificity, r.order))
    decls: Declarations = {}
    for rule in ordered:
        for name, (value, important) in rule.decls.items():
            earlier = decls.get(name)
            if earlier and earlier[1] and not important:
                continue
            decls[name] = (value, important)
    last = ordered[-1]
    return _Rule(last.specificity, last.order, _Compound(), [], decls)


def _matching_brace(css: str, open_at: int) -> int:
    depth, position = 0, open_at
    while True:
        found = _CURLY.search(css, position)
        if not found:
            return len(css)
        depth += 1 if found.group() == "{" else -1
        if depth == 0:
            return found.start()
        position = found.end()


def _split_selectors(prelude: str) -> list[str]:
    """A selector list split at its top-level commas."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(prelude):
        if char in "([":
            depth += 1
        elif char in ")]":
            depth = max(0, depth - 1)
        elif char == "," and depth == 0:
            parts.append(prelude[start:index])
            start = index + 1
    parts.append(prelude[start:])
    return [p for p in parts if p.strip()]


def _parse_selector(
    selector: str,
) -> tuple[tuple[int, int, int], _Compound, list[str]] | None:
    """Specificity, the subject compound, and what the ancestors must carry; None for a
    selector that cannot match while the mail is read or that we cannot read."""
    compounds: list[_Compound] = []
    combinators: list[str] = []
    ids = classes = tags = 0
    position, size = 0, len(selector)
    current = _Compound()
    started = False
    while position < size:
        if started:
            gap = _COMBINATOR.match(selector, position)
            if gap:
                compounds.append(current)
                combinators.append((gap.group(1) or " ").strip() or " ")
                current, started = _Compound(), False
                position = gap.end()
                continue
        part = _COMPOUND_PART.match(selector, position)
        if not part:
            return None
        position, started = part.end(), True
        if part.group("tag"):
            if current.tag is not None or current.ids or current.classes:
                return None
            tag = part.group("tag").split("|")[-1]
            if tag != "*":
                current.tag, tags = tag, tags + 1
        elif part.group("id"):
            current.ids.append(part.group("id"))
            ids += 1
        elif part.group("cls"):
            current.classes.append(part.group("cls"))
            classes += 1
        elif part.group("attr") is not None:
            attribute = _ATTRIBUTE.match(part.group("attr"))
            if not attribute:
                return None
            name, op = attribute.group(1), attribute.group(2)
            value = next((g for g in attribute.group(3, 4, 5) if g is not None), "")
            current.attributes.append((name, op, value, attribute.group(6) == "i"))
            classes += 1
        else:
            pseudo = part.group("pseudo")
            if pseudo in _NEVER:
                return None
            if pseudo in _LINK:
                current.link = True
            if part.group("colons") == "::" or pseudo in _PSEUDO_ELEMENTS:
                tags += 1
            else:
                classes += 1
    if not started:
        return None
    compounds.append(current)
    subject = compounds[-1]
    ancestors: list[str] = []
    sibling = False
    for compound, combinator in zip(reversed(compounds[:-1]), reversed(combinators), strict=True):
        sibling = combinator in "+~"
        if not sibling:
            ancestors.extend(compound.tokens())
    return (ids, classes, tags), subject, ancestors


def _matches(rule: _Rule, element: Element) -> bool:
    subject = rule.subject
    if subject.tag is not None and subject.tag != element.tag:
        return False
    if subject.ids and any(i != element.element_id for i in subject.ids):
        return False
    if subject.classes and not element.classes.issuperset(subject.classes):
        return False
    if subject.link and not (element.tag in ("a", "area") and "href" in element.attrs):
        return False
    for name, op, value, fold in subject.attributes:
        if not _attribute_matches(element.attrs.get(name), op, value, fold):
            return False
    return all(element.ancestors.get(token, 0) > 0 for token in rule.ancestors)


def _attribute_matches(actual: str | None, op: str | None, value: str, fold: bool) -> bool:
    if actual is None:
        return False
    if op is None:
        return True
    if fold:
        actual, value = actual.lower(), value.lower()
    if op == "=":
        return actual == value
    if op == "~=":
        return value in actual.split()
    if op == "|=":
        return actual == value or actual.startswith(value + "-")
    if not value:
        return False
    if op == "^=":
        return actual.startswith(value)
    if op == "$=":
        return actual.endswith(value)
    return value in actual  # *=


_MEDIA_FEATURE = re.compile(r"\(\s*([a-z-]+)\s*(?::\s*([^)]*))?\)")


def media_matches(query: str, width: float = 1024, height: float = 768) -> bool:
    """Whether a media query list holds on a screen of `width` x `height` CSS pixels:
    media types and min-/max-width/height; an unknown feature does not hold."""
    for one in query.lower().split(","):
        words = one.split()
        negate = bool(words) and words[0] == "not"
        rest = " ".join(words[1:] if negate or (words and words[0] == "only") else words)
        media_type = rest.split("(", 1)[0].replace("and", " ").split()
        holds = all(t in ("all", "screen") for t in media_type)
        for name, value in _MEDIA_FEATURE.findall(rest):
            holds = holds and _feature_holds(name, value.strip(), width, height)
        if holds != negate:
            return True
    return False


def _feature_holds(name: str, value: str, width: float, height: float) -> bool:
    size = {"width": width, "device-width": width, "height": height, "device-height": height}
    prefix, _, feature = name.partition("-")
    if prefix in ("min", "max") and feature in size:
        limit = length_px(value, ROOT_FONT_PX)
        if limit is None:
            return False
        return size[feature] >= limit if prefix == "min" else size[feature] <= limit
    if name == "orientation":
        return value == "landscape"
    return name == "color" or (name == "prefers-color-scheme" and value == "light")


# -- the cascade -----------------------------------------------------------------------

PRESENTATIONAL, SHEET, INLINE = 0, 1, 2


def cascade(
    presentational: Mapping[str, str], rules: list[_Rule], inline: Declarations
) -> dict[str, tuple[str, int]]:
    """longhand -> (value, layer it came from): inline style over the sheet over
    presentational attributes, `!important` over all of that, specificity and order
    within the sheet."""
    chosen: dict[str, tuple[tuple[int, int, tuple[int, int, int], int], str, int]] = {}

    def offer(name: str, value: str, priority, layer: int) -> None:
        current = chosen.get(name)
        if current is None or priority >= current[0]:
            chosen[name] = (priority, value, layer)

    for name, value in presentational.items():
        offer(name, value, (0, PRESENTATIONAL, (0, 0, 0), 0), PRESENTATIONAL)
    for rule in rules:
        for name, (value, important) in rule.decls.items():
            offer(name, value, (int(important), SHEET, rule.specificity, rule.order), SHEET)
    for name, (value, important) in inline.items():
        offer(name, value, (int(important), INLINE, (0, 0, 0), 0), INLINE)
    return {name: (value, layer) for name, (_, value, layer) in chosen.items()}
