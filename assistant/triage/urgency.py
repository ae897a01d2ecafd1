"""Policy §3: which inquiries are urgent, and the rule that says so.

The rules are data: `rules/urgency.toml` holds the concepts every rule shares (a
conditional, a negation) and each `rules/urgent_*.toml` one rule, with its wording in
every language we serve and the example sentences that become its tests. This module
applies them: a rule fires when one of its `match` patterns is found, or when a word of
each of a pair of concepts occurs close together ("marked as delivered" near "not
received"), unless a veto holds just before the match (a conditional, the customer's own
mistake) or around it (a refund of a return, wear after months).

Rules name the reason; the learned urgency signal (`classifier`) catches what they never
listed, and triage combines the two.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from assistant.models import Category, Urgency
from assistant.triage.rule_files import (
    RULES_DIR,
    Concepts,
    RuleFile,
    RuleFileError,
    compile_regex,
    examples,
    normalize,
    read_rule_file,
    rule_regex,
    word_start_regex,
)

__all__ = ["UrgencyVerdict", "assess_urgency", "load_urgency_rules", "normalize"]

_NEAR = 80  # characters around a match that `veto_near` looks at
_BEFORE = 80  # characters before a match that `veto_before` looks at
Check = Callable[[str, re.Match[str]], bool]


@dataclass(frozen=True)
class Pair:
    first: re.Pattern[str]  # the rarer concept: the second is looked for only near it
    second: re.Pattern[str]
    within: int  # characters between the two, in either order
    check: Check | None  # the first concept only counts where this holds


@dataclass(frozen=True)
class UrgencyRule:
    name: str
    description: str
    category: Category | None  # what the mail is about when the classifier is unsure
    pattern: re.Pattern[str]
    pairs: tuple[Pair, ...]
    veto_before: re.Pattern[str] | None
    veto_near: re.Pattern[str] | None

    def vetoed(self, folded: str, start: int, end: int) -> bool:
        if self.veto_before and self.veto_before.search(folded, max(0, start - _BEFORE), start):
            return True
        return bool(
            self.veto_near and self.veto_near.search(folded, max(0, start - _NEAR), end + _NEAR)
        )

    def anchor(self, pair: Pair, folded: str, start: int) -> tuple[int, int] | None:
        match = pair.first.match(folded, start)
        if match and (pair.check is None or pair.check(folded, match)):
            return match.span()
        return None

    def pairs_fire(self, folded: str, anchors: list[list[tuple[int, int]]]) -> bool:
        for pair, spans_a in zip(self.pairs, anchors):
            if not spans_a:
                continue
            for b_start, b_end in (m.span() for m in pair.second.finditer(folded)):
                for a_start, a_end in spans_a:
                    if max(b_start - a_end, a_start - b_end) <= pair.within and not self.vetoed(
                        folded, min(a_start, b_start), max(a_end, b_end)
                    ):
                        return True
        return False


@dataclass(frozen=True)
class RuleExample:
    rule: str | None  # the rule that must fire; None: no rule may fire
    language: str
    text: str
    file: str


@dataclass(frozen=True)
class UrgencyRules:
    rules: tuple[UrgencyRule, ...]
    any_start: re.Pattern[str]  # everything any rule starts a match with
    examples: tuple[RuleExample, ...]


@dataclass(frozen=True)
class UrgencyVerdict:
    urgency: Urgency
    rule: str | None
    description: str | None
    category: Category | None = None


# -- named checks a pair may ask for ------------------------------------------------------


def _delivery_status(concepts: Concepts) -> Check:
    """ "delivered" is a status, not a wish: a status cue shortly before it ("tracking says
    it was delivered", "figura como entregado") with no negation in between, a time right
    after it ("delivered yesterday at 2pm"), or evidence (a photo, a signature). "Has
    arrived" counts only when the shop or the carrier says so."""
    negation = re.compile(concepts.pattern("negation_before"), re.S)
    proof = re.compile(f"(?:{concepts.pattern('delivery_proof')})")
    arrived_cue = re.compile(concepts.pattern("arrived_cue_before"), re.S)
    cue_before = re.compile(concepts.pattern("delivered_cue_before"), re.S)
    when = re.compile(concepts.pattern("delivered_when"), re.S)

    def holds(folded: str, match: re.Match[str]) -> bool:
        start, end = match.span()
        if negation.search(folded, max(0, start - 40), start):
            return False
        if proof.match(match.group()):
            return True
        if match.group().endswith("arrived"):
            return bool(arrived_cue.search(folded, max(0, start - 100), start))
        return bool(
            when.match(folded, end) or cue_before.search(folded, max(0, start - 120), start)
        )

    return holds


CHECKS: dict[str, Callable[[Concepts], Check]] = {"delivery_status": _delivery_status}

# -- loading ------------------------------------------------------------------------------

_COMMON_FILE = "urgency.toml"
_RULE_GLOB = "urgent_*.toml"
_COMMON_KEYS = {"concepts", "not_examples"}
_RULE_KEYS = {
    "name",
    "description",
    "order",
    "category",
    "veto_before",
    "veto_near",
    "match",
    "pairs",
    "concepts",
    "examples",
    "not_examples",
}
_PAIR_KEYS = {"first", "second", "within", "check"}


def load_urgency_rules(folder: Path | None = None) -> UrgencyRules:
    """Read, validate and compile the rule files; a mistake raises RuleFileError naming
    the file and the line."""
    if folder is None:
        return _default_rules()
    folder = Path(folder)
    common_path = folder / _COMMON_FILE
    if not common_path.exists():
        raise RuleFileError(f"{common_path}: missing (the concepts every urgency rule shares)")
    common = read_rule_file(common_path)
    common.keys(common.data, _COMMON_FILE, _COMMON_KEYS)
    files = [read_rule_file(path) for path in sorted(folder.glob(_RULE_GLOB))]
    if not files:
        raise RuleFileError(f"{folder}: no {_RULE_GLOB} rule files")
    concepts = Concepts()
    concepts.add(common, common.data.get("concepts", {}))
    for file in files:
        file.keys(file.data, file.path.name, _RULE_KEYS, {"name", "description", "order", "match"})
        concepts.add(file, file.data.get("concepts", {}))
    orders = [_order(file) for file in files]
    for file, order in zip(files, orders):
        if orders.count(order) > 1:
            raise file.fail("order", f"order {order} is taken by another rule file", "order")
    rules = sorted(zip(orders, (_rule(file, concepts) for file in files)), key=lambda r: r[0])
    names = [rule.name for _, rule in rules]
    for file in files:
        if names.count(file.data["name"]) > 1:
            raise file.fail("name", f"rule {file.data['name']!r} is defined twice", "name")
    compiled = tuple(rule for _, rule in rules)
    starts = [rule.pattern.pattern for rule in compiled]
    starts += [pair.first.pattern for rule in compiled for pair in rule.pairs]
    return UrgencyRules(compiled, word_start_regex(*starts), _examples(common, files))


@lru_cache
def _default_rules() -> UrgencyRules:
    return load_urgency_rules(RULES_DIR)


def _order(file: RuleFile) -> int:
    return file.number(file.data, "order", "order")


def _rule(file: RuleFile, concepts: Concepts) -> UrgencyRule:
    data, where = file.data, file.path.name
    category = data.get("category")
    if category is not None and (
        not isinstance(category, str) or category not in Category.__members__
    ):
        raise file.fail("category", f"unknown category {category!r}", "category")
    match = file.by_language(data["match"], "match")
    patterns = [concepts.expand(file, item, "match") for items in match.values() for item in items]
    pairs = []
    for index, pair in enumerate(data.get("pairs", [])):
        place = f"pairs[{index}]"
        file.keys(pair, place, _PAIR_KEYS, {"first", "second", "within"})
        for key in ("first", "second"):
            if not isinstance(pair[key], str) or pair[key] not in concepts.names():
                raise file.fail(place, f"{key} = {pair[key]!r} is not a concept", pair[key])
        file.number(pair, "within", place, positive=True)
        check = pair.get("check")
        if check is not None and (not isinstance(check, str) or check not in CHECKS):
            raise file.fail(place, f"unknown check {check!r} (known: {sorted(CHECKS)})", check)
        pairs.append(
            Pair(
                rule_regex(file, f"concepts.{pair['first']}", concepts.pattern(pair["first"])),
                rule_regex(file, f"concepts.{pair['second']}", concepts.pattern(pair["second"])),
                pair["within"],
                CHECKS[check](concepts) if check else None,
            )
        )
    return UrgencyRule(
        name=file.text(data, "name", where),
        description=file.text(data, "description", where),
        category=Category(category) if category else None,
        pattern=rule_regex(file, "match", *patterns),
        pairs=tuple(pairs),
        veto_before=_veto(file, concepts, "veto_before", r"\Z"),
        veto_near=_veto(file, concepts, "veto_near", ""),
    )


def _veto(file: RuleFile, concepts: Concepts, key: str, anchor: str) -> re.Pattern[str] | None:
    names = file.data.get(key, [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise file.fail(key, "must be a list of concept names", key)
    for name in names:
        if name not in concepts.names():
            raise file.fail(key, f"{name!r} is not a concept", name)
    if not names:
        return None
    joined = "|".join(concepts.pattern(name) for name in names)
    return compile_regex(file, key, f"(?:{joined}){anchor}", key)


def _examples(common: RuleFile, files: list[RuleFile]) -> tuple[RuleExample, ...]:
    found = [
        RuleExample(None, lang, text, common.path.name)
        for lang, text in examples(common, "not_examples")
    ]
    for file in files:
        name = file.data["name"]
        found += [
            RuleExample(name, lang, text, file.path.name)
            for lang, text in examples(file, "examples")
        ]
        found += [
            RuleExample(None, lang, text, file.path.name)
            for lang, text in examples(file, "not_examples")
        ]
    return tuple(found)


_NORMAL = UrgencyVerdict(Urgency.normal, None, None)

# -- applying them -------------------------------------------------------------------------


def assess_urgency(text: str, rules: UrgencyRules | None = None) -> UrgencyVerdict:
    """Urgent if any §3 rule fires; the first rule (in policy order) that fired is the reason.

    The text is scanned once for anything a rule starts with; the rules are tried only
    where something was found."""
    rules = rules or _default_rules()
    folded = normalize(text)
    starts, pos = [], 0
    while (hit := rules.any_start.search(folded, pos)) is not None:
        starts.append(pos := hit.start())
        pos += 1
    if not starts:  # most mail: nothing any rule starts with
        return _NORMAL
    fired = [False] * len(rules.rules)
    anchors: list[list[list[tuple[int, int]]]] = [[[] for _ in r.pairs] for r in rules.rules]
    for start in starts:
        for index, rule in enumerate(rules.rules):
            if fired[index]:
                continue
            match = rule.pattern.match(folded, start)
            if match and not rule.vetoed(folded, *match.span()):
                fired[index] = True
            for pair, spans in zip(rule.pairs, anchors[index]):
                if span := rule.anchor(pair, folded, start):
                    spans.append(span)
    for index, rule in enumerate(rules.rules):
        if fired[index] or rule.pairs_fire(folded, anchors[index]):
            return UrgencyVerdict(Urgency.urgent, rule.name, rule.description, rule.category)
    return _NORMAL
