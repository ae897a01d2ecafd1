"""No card number, IBAN or password in the application's logs (OWASP LLM02).

Log lines quote mail (a failed triage, an exception holding the body, a search in the
access log's URL), and log files outlive the mail they quote. The same redaction as the
prompts' is applied to each record of our loggers when it is made, so it holds whatever
handler, formatter or level the CLI, uvicorn or a test sets up afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from assistant.llm.redaction import redact

# `uvicorn` too: the access log writes URLs, and the queue's search box puts mail text in them.
REDACTED_LOGGERS = ("assistant", "uvicorn", "procrastinate")
_SCALARS = (int, float, bool, type(None))


def scrub(record: logging.LogRecord) -> None:
    """Redact a record in place: its message, each of its arguments, its traceback text."""
    if isinstance(record.msg, str):
        record.msg = redact(record.msg).text
    if isinstance(record.args, Mapping):
        record.args = {key: _clean(value) for key, value in record.args.items()}
    elif record.args:
        record.args = tuple(_clean(value) for value in record.args)
    try:
        message = record.getMessage()
    except (TypeError, ValueError):  # a bad format string: logging reports it itself
        message = None
    if message is not None and (clean := redact(message).text) != message:
        record.msg, record.args = clean, ()  # a value cut in two by the format, joined again
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text).text  # what formatters print for exc_info
    if record.stack_info:
        record.stack_info = redact(record.stack_info).text


def _clean(value: object) -> object:
    """The argument, or its redacted text when that differs (a `%d` keeps its number)."""
    if isinstance(value, _SCALARS):
        return value
    text = value if isinstance(value, str) else str(value)
    clean = redact(text).text
    return value if clean == text else clean


class RedactingFilter(logging.Filter):
    """For a handler of one's own: scrubs every record that passes through it."""

    def filter(self, record: logging.LogRecord) -> bool:
        scrub(record)
        return True


def install_log_redaction(names: tuple[str, ...] = REDACTED_LOGGERS) -> None:
    """Scrub every record of these loggers (and their children) as it is made. A record
    factory rather than a handler's filter: it cannot be left out by a handler added later."""
    current = logging.getLogRecordFactory()
    if getattr(current, "redacts", None) == names:
        return

    def make_record(*args, **kwargs) -> logging.LogRecord:
        record = current(*args, **kwargs)
        if record.name.split(".", 1)[0] in names:
            scrub(record)
        return record

    make_record.redacts = names  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make_record)
