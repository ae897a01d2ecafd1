"""The `assistant` command: a thin edge over pipeline, review, export and storage.

No business rule lives here: every change goes through `assistant.workflow`. Bad input or
a refused action prints one line (`error: …`) and exits non-zero; nothing is half-written.
An unexpected error prints one line too, unless `--debug` asks for the traceback.
One small module per group of commands: inbox (ingest, run, triage), queue (queue, show),
review (approve, …), translation
(edit-english, retranslate), outbox (export, mark-sent), mail (poll, send), worker (worker, status), admin (policy, audit, train), web (serve,
agents).
"""

from __future__ import annotations

import logging
import os
import sys

import typer
from typer.core import TyperGroup
from typer.exceptions import Abort, Exit, TyperException

from assistant.cli.common import fail


class SafeGroup(TyperGroup):
    """Turns an unexpected exception into one line, and a refused action into its message.
    With --debug the traceback is shown instead."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (Exit, Abort, TyperException):
            raise
        except BrokenPipeError:  # `assistant queue | head`: the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise Exit(0) from None
        except KeyboardInterrupt:
            sys.stderr.write("interrupted: what was committed is kept\n")
            raise typer.Exit(130) from None
        except Exception as error:
            if (ctx.obj or {}).get("debug"):
                raise
            from assistant.workflow import WorkflowError

            if isinstance(error, WorkflowError):
                fail(str(error))
            first = (str(error).splitlines() or [""])[0][:300]
            fail(f"{type(error).__name__}: {first} (run again with --debug for the details)")


app = typer.Typer(
    cls=SafeGroup,
    help="Crocso support assistant: triage, policy-grounded drafts, human review.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="markdown",  # docstrings' line breaks are not shown as such
)


@app.callback()
def _start(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks and debug logs."),
) -> None:
    """Read the settings once, up front: a bad one is a one-line error, not a traceback."""
    ctx.obj = {"debug": debug}
    from assistant.logsafe import install_log_redaction

    install_log_redaction()  # before anything logs: no card number or IBAN in a log line
    if debug:
        logging.basicConfig(level=logging.DEBUG)
    from assistant.settings import SettingsError, get_settings

    try:
        get_settings()
    except SettingsError as error:
        fail(str(error))


def _register() -> None:
    from assistant.cli import (
        admin,
        calibrate,
        inbox,
        knowledge,
        mail,
        outbox,
        queue,
        review,
        translation,
        web,
        worker,
    )
    from assistant.evaluation.cli import eval_app

    for module in (
        inbox,
        queue,
        review,
        translation,
        outbox,
        mail,
        admin,
        web,
        worker,
        knowledge,
        calibrate,
    ):
        module.register(app)
    app.add_typer(eval_app, name="eval")


_register()


def main() -> None:
    app(prog_name="assistant")
