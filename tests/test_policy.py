from pathlib import Path

import pytest

from assistant.policy import LOST_ADDRESS, PolicyError, load_policy


def test_seed_policy_has_its_eight_sections_with_stable_ids():
    policy = load_policy()
    assert [s.id for s in policy.sections] == [f"§{n}" for n in range(1, 9)]
    assert policy.section("§3").label == "§3 Response Time"
    assert "24–48 business hours" in policy.section("§3").text
    assert policy.title == "Customer Service Policy – Crocso"


def test_lost_support_address_is_replaced_by_the_setting():
    policy = load_policy(support_address="help@crocso.test")
    text = policy.as_text()
    assert LOST_ADDRESS not in text
    assert "help@crocso.test" in policy.section("§2").text


def test_version_is_content_hash_and_last_updated():
    policy = load_policy()
    assert len(policy.content_hash) == 64
    assert policy.last_updated is None  # the seed states none
    assert policy.version.startswith(policy.content_hash[:12])
    assert "not stated" in policy.version


def test_changed_text_changes_the_version(tmp_path: Path):
    changed = tmp_path / "policy.txt"
    seed = load_policy()
    changed.write_text(
        "Policy\n\n1. Scope\n\nAll.\n\n2. Contact\n\nEmail. Last updated: March 3, 2026\n",
        encoding="utf-8",
    )
    other = load_policy(changed)
    assert other.content_hash != seed.content_hash
    assert other.last_updated == "March 3, 2026"


def test_extra_documents_add_sections_and_leave_the_rest_named_only(tmp_path: Path):
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "refund-policy.txt").write_text(
        "Refund Policy\n\n1. Eligibility\n\nUnworn items within the return window.\n",
        encoding="utf-8",
    )
    policy = load_policy(policy_dir=folder)
    assert policy.has_section("Refund Policy §1")
    assert policy.missing_documents == ["Shipping Policy"]
    assert load_policy().missing_documents == ["Refund Policy", "Shipping Policy"]


def test_empty_policy_is_refused(tmp_path: Path):
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    with pytest.raises(PolicyError, match="empty"):
        load_policy(empty)
