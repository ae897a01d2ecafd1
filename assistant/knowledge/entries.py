"""One knowledge-base entry: a Markdown file with YAML front matter, validated at load.

A support lead writes these files, so every mistake names the file, the field and, where
it can, the line: "sizing.md, line 4: categories: 'prodcut_info' is not a category".
An `answer` is a reply fragment pasted into drafts as written, with the customer's facts
filled into its slots (`{{ order_number }}`, `{{ product }}`); `product` entries hold
facts; `policy` entries are citable documents such as a Refund Policy.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any

import frontmatter
import yaml
from jinja2 import TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from assistant.models import Category

# The customer's facts an answer may carry; anything else in `{{ }}` is a mistake.
SLOTS = frozenset({"order_number", "product"})
ENTRY_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")
# `[the return steps](kb:start-a-return)`: a link to another entry, its text for customers.
ENTRY_LINK = re.compile(r"\[([^\]\n]+)\]\(kb:([^)\s]+)\)")
_MARKDOWN_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")
_SANDBOX = SandboxedEnvironment(autoescape=False, keep_trailing_newline=False)


class KnowledgeError(ValueError):
    """The knowledge base cannot be used as written; the message names every problem."""


class Kind(StrEnum):
    policy = "policy"  # citable text (a Refund Policy): cited, not pasted
    answer = "answer"  # a saved reply fragment: pasted as written
    product = "product"  # facts about a product (materials, care, sizes)


class FrontMatter(BaseModel):
    """The fields between the `---` lines, as a support lead writes them."""

    model_config = ConfigDict(extra="forbid")

    id: str
    title: str = Field(min_length=3, max_length=200)
    kind: Kind
    categories: list[Category] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=lambda: ["en"], min_length=1)
    keywords: list[str] = Field(default_factory=list)
    last_reviewed: date
    approved_by: str = Field(min_length=1)
    example: bool = False  # shipped example content, to replace with the team's own
    related: list[str] = Field(default_factory=list)

    @field_validator("id", "related", mode="after")
    @classmethod
    def _entry_ids(cls, value: str | list[str]) -> str | list[str]:
        for item in [value] if isinstance(value, str) else value:
            if not ENTRY_ID.match(item):
                raise ValueError(f"{item!r} is not an entry id (lower-case letters, digits, -)")
        return value

    @field_validator("languages", mode="after")
    @classmethod
    def _language_codes(cls, value: list[str]) -> list[str]:
        for code in value:
            if not re.fullmatch(r"[a-z]{2}", code):
                raise ValueError(f"{code!r} is not an ISO 639-1 language code such as 'en'")
        return value

    @field_validator("keywords", mode="after")
    @classmethod
    def _keywords(cls, value: list[str]) -> list[str]:
        return [keyword.strip() for keyword in value if keyword.strip()]


@dataclass(frozen=True, repr=False)
class Entry:
    meta: FrontMatter
    text: str  # the Markdown after the front matter, as written
    path: Path
    digest: str  # of the file's bytes: the knowledge base's version is built from these

    def __repr__(self) -> str:
        return f"Entry({self.meta.id!r})"

    @property
    def id(self) -> str:
        return self.meta.id

    @property
    def title(self) -> str:
        return self.meta.title

    @property
    def kind(self) -> Kind:
        return self.meta.kind

    @property
    def pasted(self) -> bool:
        """Written to be pasted into a reply (answers, product facts), not only cited."""
        return self.meta.kind is not Kind.policy

    @cached_property
    def plain_text(self) -> str:
        """The text as a customer may read it, slots unfilled: what grounding compares with."""
        return customer_text(self.text)

    @cached_property
    def links(self) -> tuple[str, ...]:
        """The ids of the entries this one links to, in its text and `related`."""
        return tuple(
            dict.fromkeys([m.group(2) for m in ENTRY_LINK.finditer(self.text)] + self.meta.related)
        )

    @cached_property
    def _template(self) -> Any:
        return _SANDBOX.from_string(self.text)

    def render(self, order_number: str | None = None, product: str | None = None) -> str:
        """The text for a reply, with the customer's facts in its slots."""
        return customer_text(self._template.render(order_number=order_number, product=product))


def customer_text(markdown: str) -> str:
    """Entry links keep only their text, web links show their address, emphasis goes."""
    text = ENTRY_LINK.sub(r"\1", markdown)
    text = _MARKDOWN_LINK.sub(r"\1 (\2)", text)
    text = _EMPHASIS.sub(r"\2", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def read_entry(path: Path, root: Path) -> Entry:
    """Parse and validate one file; a KnowledgeError names the file, field and line."""
    name = path.relative_to(root).as_posix()
    try:
        raw = path.read_bytes()
        source = raw.decode("utf-8")
    except OSError as error:
        raise KnowledgeError(f"{name}: cannot be read ({error.strerror or error})") from error
    except UnicodeDecodeError as error:
        raise KnowledgeError(f"{name}: is not UTF-8 text (byte {error.start})") from error
    if not source.lstrip("\ufeff").startswith("---"):
        raise KnowledgeError(
            f"{name}, line 1: the file must start with front matter between "
            "'---' lines (id, title, kind, last_reviewed, approved_by)"
        )
    try:
        post = frontmatter.loads(source.lstrip("\ufeff"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise KnowledgeError(
            f"{name}{where}: the front matter is not valid YAML: {problem}"
        ) from error
    try:
        meta_data = FrontMatter.model_validate(post.metadata)
    except ValidationError as error:
        raise KnowledgeError(
            "; ".join(_field_problem(name, source, e) for e in error.errors())
        ) from error
    text = post.content.strip()
    if not text:
        raise KnowledgeError(f"{name}: the entry has no text after its front matter")
    _check_slots(name, source, text)
    return Entry(meta_data, text, path, hashlib.sha256(raw).hexdigest())


def _field_problem(name: str, source: str, error: Any) -> str:
    field = str(error["loc"][0]) if error["loc"] else "front matter"
    where = _line_of(source, field)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        message = "is missing"
    elif error["type"] == "extra_forbidden":
        message = (
            "is not a field (id, title, kind, categories, languages, keywords, "
            "last_reviewed, approved_by, example, related)"
        )
    elif error["type"].startswith(("date_", "datetime_")):
        message = "should be a date such as 2026-09-14"
    elif field == "categories" and error["type"] == "enum":
        message = (
            f"{error.get('input')!r} is not a category ({', '.join(c.value for c in Category)})"
        )
    return f"{name}{where}: {field}: {message}"


def _line_of(source: str, field: str) -> str:
    for number, line in enumerate(source.splitlines(), 1):
        if re.match(rf"{re.escape(field)}\s*:", line):
            return f", line {number}"
    return ""


def _check_slots(name: str, source: str, text: str) -> None:
    offset = source.count("\n", 0, source.find(text[:40])) if text[:40] in source else 0
    try:
        parsed = _SANDBOX.parse(text)
    except TemplateSyntaxError as error:
        raise KnowledgeError(
            f"{name}, line {offset + (error.lineno or 1)}: the text's "
            f"{{{{ }}}} slots are not valid: {error.message}"
        ) from error
    unknown = meta.find_undeclared_variables(parsed) - SLOTS
    if unknown:
        raise KnowledgeError(
            f"{name}: the text uses {', '.join(sorted(unknown))}; an entry "
            f"may fill only {', '.join(sorted(SLOTS))}"
        )
