"""`pip install .` must give a working install: templates, prompts, policy, training data
and migrations ship inside the wheel, and are found there."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(REPO)],
        check=True,
    )
    return next(out.glob("*.whl"))


@pytest.mark.slow
def test_wheel_carries_every_file_the_assistant_reads(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "assistant/_shipped/templates/replies/order_status.j2",
        "assistant/_shipped/templates/acknowledgements/fr.j2",
        "assistant/policy_docs/customer-service-policy.txt",
        "assistant/classifier/data/public_train.jsonl",
        "assistant/classifier/data/train_fr.jsonl",
        "assistant/classifier/data/train_urgency_contrast.jsonl",
        "assistant/triage/rules/urgency.toml",
        "assistant/triage/rules/urgent_missing_items.toml",
        "assistant/triage/rules/escalation.toml",
        "assistant/triage/rules/language.toml",
        "assistant/classifier/data/LICENSE-CDLA-Sharing-1.0.txt",
        "assistant/storage/migrations/env.py",
        "assistant/storage/migrations/versions/0001_initial_schema.py",
        "assistant/_shipped/templates/web/review.html",
        "assistant/web/static/vendor/htmx.min.js",
        "assistant/web/static/vendor/htmx.LICENSE",
        "assistant/web/static/app.js",
    ):
        assert required in names, required
    assert any(name.startswith("assistant/_shipped/prompts/") for name in names)


@pytest.mark.slow
def test_unpacked_wheel_drafts_a_reply_from_its_own_templates(wheel, tmp_path):
    zipfile.ZipFile(wheel).extractall(tmp_path)
    script = (
        "from assistant.resources import shipped_dir;"
        "print(shipped_dir('templates'));"
        "from assistant.cli import app;"
        "app(['triage', 'I was charged twice for my order', '--json'])"
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(tmp_path),
        "ASSISTANT_MODEL_PATH": str(tmp_path / "m.joblib"),
    }
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert str(tmp_path / "assistant" / "_shipped" / "templates") in result.stdout
    assert '"urgency": "urgent"' in result.stdout
