"""The configuration reference in docs/ is the one the settings generate today."""

from __future__ import annotations

from pathlib import Path

from devtools.config_reference import reference

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_configuration_reference_is_current() -> None:
    assert (DOCS / "configuration.md").read_text() == reference(), (
        "regenerate it: python -m devtools.config_reference > docs/configuration.md"
    )


def test_the_runbook_answers_every_legacy_troubleshooting_case() -> None:
    runbook = (DOCS / "runbook.md").read_text()
    for case in (
        "Redis connection issues",
        "Account stuck in pending_closure",
        "Stuck after full withdrawal",
        "Multi-day transfer issues",
        "Email not sending",
        "Process not persistent",
        "Force resume a stuck account",
        "Manual state creation",
        "Scheduler",
    ):
        assert case in runbook, f"the runbook has no answer for the legacy case {case!r}"
