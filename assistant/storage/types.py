"""Column types that make the database hand back what the code means: UTC-aware times on
SQLite as on PostgreSQL, enums rather than strings, grounding findings as models.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, Enum
from sqlalchemy.types import TypeDecorator

from assistant.models import GroundingFinding


class UtcDateTime(TypeDecorator):
    """Stored in UTC, returned aware. SQLite keeps no offset: without this an aware time
    from a `Date: … +0100` header was stored as its wall-clock time and read back naive."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def enum_column_type(enum: type[StrEnum], length: int = 32) -> Enum:
    """A VARCHAR holding the enum's values; an unknown value is refused on the way in."""
    return Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=length,
        validate_strings=True,
        values_callable=lambda members: [member.value for member in members],
    )


class FindingList(TypeDecorator):
    """Grounding findings: JSON in the database, `GroundingFinding` models in the code."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: list | None, dialect) -> list[dict[str, Any]]:
        return [f.model_dump() if isinstance(f, GroundingFinding) else dict(f) for f in value or []]

    def process_result_value(self, value: list | None, dialect) -> list[GroundingFinding]:
        return [GroundingFinding.model_validate(f) for f in value or []]
