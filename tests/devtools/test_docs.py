"""The configuration reference in docs/ is the one the settings generate today."""

from __future__ import annotations

from pathlib import Path

from devtools.config_reference import reference
from tests.devtools.deploy_files import is_setting

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


def test_the_supabase_migration_holds_what_the_deployment_guide_shows() -> None:
    guide = (DOCS / "deployment.md").read_text()
    shown = guide.split("```sql\n", 1)[1].split("```", 1)[0]
    migration = DOCS.parent / "deploy" / "supabase" / "migrations" / "20261204000000_account_closure.sql"
    assert shown.strip() in migration.read_text()


def test_every_variable_in_the_env_example_is_a_setting() -> None:
    lines = (DOCS.parent / ".env.example").read_text().splitlines()
    names = [line.split("=", 1)[0] for line in lines if line and not line.startswith("#")]
    assert names
    assert not [n for n in names if not is_setting(n)]
