from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from assistant.models import Urgency
from assistant.settings import PeakPeriod, Settings
from assistant.triage.sla import due_times

UTC = UTC


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 11, day, hour, 0, tzinfo=UTC)


def test_urgent_is_due_within_24_wall_clock_hours_even_over_a_weekend():
    saturday = at(21)
    due = due_times(saturday, Urgency.urgent, Settings())
    assert due.due_at == due.due_latest_at == saturday + timedelta(hours=24)


def test_normal_mail_on_a_monday_is_due_tuesday_at_the_latest_wednesday():
    due = due_times(at(16), Urgency.normal, Settings())
    assert due.due_at == at(17)
    assert due.due_latest_at == at(18)


def test_weekends_do_not_count():
    friday = at(20)
    due = due_times(friday, Urgency.normal, Settings())
    assert due.due_at == at(23)  # Monday, same time
    assert due.due_latest_at == at(24)


def test_mail_on_a_saturday_starts_counting_on_monday():
    due = due_times(at(21), Urgency.normal, Settings())
    assert due.due_at == datetime(2026, 11, 24, 0, 0, tzinfo=UTC)


def test_us_thanksgiving_is_not_a_business_day():
    wednesday_before = at(25)
    due = due_times(wednesday_before, Urgency.normal, Settings(sla_country="US"))
    assert due.due_at == at(27)  # Thursday 26 is Thanksgiving
    assert due.due_latest_at == at(30)  # then the weekend


def test_country_is_configurable():
    # 26 November is no holiday in Germany.
    due = due_times(at(25), Urgency.normal, Settings(sla_country="DE"))
    assert due.due_at == at(26)


def test_peak_period_extends_both_due_times():
    peak = PeakPeriod(
        start=date(2026, 11, 23),
        end=date(2026, 11, 30),
        extra_business_hours=24,
        name="Black Friday",
    )
    due = due_times(at(23), Urgency.normal, Settings(peak_periods=[peak]))
    assert due.due_at == at(25)
    assert due.due_latest_at == at(27)
    assert "Black Friday" in due.reason


def test_unknown_country_is_a_clear_error():
    with pytest.raises(ValidationError, match="no public-holiday calendar for country 'XX'"):
        Settings(sla_country="XX")
    with pytest.raises(ValidationError, match="subdivision 'ZZ'"):
        Settings(sla_country="US", sla_subdivision="ZZ")


def test_naive_times_are_taken_as_utc():
    due = due_times(datetime(2026, 11, 23, 10, 0), Urgency.urgent, Settings())
    assert due.due_at == at(24)
