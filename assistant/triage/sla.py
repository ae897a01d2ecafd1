"""Policy §3 response times as due dates.

Urgent: within 24 hours, weekends included. Normal: 24–48 *business* hours, so hours are
counted only on business days (weekends and the configured country's public holidays
excluded, from the `holidays` package). We store both ends: `due_at` is the 24-hour
target the team aims for, `due_latest_at` the 48-hour limit. A peak period (sales,
holidays; configured dates) extends both, as §3 allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from assistant.models import Urgency
from assistant.settings import PeakPeriod, Settings

_DAY = timedelta(days=1)


@dataclass(frozen=True)
class BusinessCalendar:
    """Business days for one country (and optional subdivision), in one time zone."""

    country: str
    subdivision: str | None
    tz: ZoneInfo

    def is_business_day(self, day: date) -> bool:
        return _is_business_day(self.country, self.subdivision, day)

    def add_business_hours(self, start: datetime, hours: float) -> datetime:
        """`start` plus `hours` counted only on business days (a business day has 24 hours)."""
        moment = start.astimezone(self.tz)
        remaining = timedelta(hours=hours)
        while True:
            day = moment.date()
            if not self.is_business_day(day):
                moment = datetime.combine(day + _DAY, time(0), self.tz)
                continue
            end_of_day = datetime.combine(day + _DAY, time(0), self.tz)
            available = end_of_day - moment
            if remaining <= available:
                return (moment + remaining).astimezone(UTC)
            remaining -= available
            moment = end_of_day


@lru_cache(maxsize=4096)
def _is_business_day(country: str, subdivision: str | None, day: date) -> bool:
    """Asked for every inquiry, about the same few weeks: worth remembering."""
    return day.weekday() < 5 and day not in _holidays(country, subdivision)


@lru_cache(maxsize=16)
def _holidays(country: str, subdivision: str | None) -> holidays.HolidayBase:
    try:
        return holidays.country_holidays(country, subdiv=subdivision)
    except NotImplementedError as error:
        raise ValueError(f"no public-holiday calendar for country {country!r}") from error


@lru_cache(maxsize=16)
def calendar_for(country: str, subdivision: str | None, tz_name: str) -> BusinessCalendar:
    _holidays(country, subdivision)  # fail early on an unknown country
    return BusinessCalendar(country, subdivision, ZoneInfo(tz_name))


@dataclass(frozen=True)
class DueTimes:
    due_at: datetime
    due_latest_at: datetime
    reason: str


def _peak(received: date, peaks: list[PeakPeriod]) -> PeakPeriod | None:
    return next((p for p in peaks if p.start <= received <= p.end), None)


def due_times(received_at: datetime, urgency: Urgency, settings: Settings) -> DueTimes:
    """When a reply is due for an inquiry received at `received_at`."""
    if received_at.tzinfo is None:
        received_at = received_at.replace(tzinfo=UTC)
    if urgency is Urgency.urgent:
        due = received_at.astimezone(UTC) + timedelta(hours=settings.urgent_hours)
        return DueTimes(due, due, f"urgent: within {settings.urgent_hours:g} hours (§3)")
    calendar = calendar_for(settings.sla_country, settings.sla_subdivision, settings.sla_timezone)
    target_hours = settings.normal_target_business_hours
    latest_hours = settings.normal_latest_business_hours
    reason = f"normal: {target_hours:g}–{latest_hours:g} business hours (§3)"
    peak = _peak(received_at.astimezone(calendar.tz).date(), settings.peak_periods)
    if peak:
        target_hours += peak.extra_business_hours
        latest_hours += peak.extra_business_hours
        reason += f", extended by {peak.extra_business_hours:g} h for {peak.name}"
    due = calendar.add_business_hours(received_at, target_hours)
    # Business hours add up: the latest time is the target plus the hours between them.
    return DueTimes(due, calendar.add_business_hours(due, latest_hours - target_hours), reason)
