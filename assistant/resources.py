"""Where shipped text files live: inside the installed package, or at the repo root.

`pip install .` copies `prompts/` and `templates/` into `assistant/_shipped/`; a source
checkout (editable install, tests) reads them from the repository root.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def shipped_dir(name: str) -> Path:
    """The folder `prompts` or `templates`, wherever this install keeps it."""
    for candidate in (PACKAGE_DIR / "_shipped" / name, PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the {name}/ folder is missing from this install")


@lru_cache
def jinja_env(name: str):
    """A Jinja2 environment over `prompts/` or `templates/` (strict about missing values)."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    return Environment(
        loader=FileSystemLoader(shipped_dir(name)),
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
