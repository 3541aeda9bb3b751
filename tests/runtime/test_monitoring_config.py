"""deploy/'s Prometheus rules and Grafana dashboard are well formed (the metrics they name are checked against
the worker's own endpoint in test_metrics)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from tests.runtime.monitoring import DASHBOARD, RULES, dashboard_queries, deployed_metrics, rules

DURATION = re.compile(r"^\d+[smhdw]$")


def test_every_rule_is_a_complete_alert() -> None:
    found = rules()
    assert {r["alert"] for r in found} == {
        "ClosureNeedsAttention",
        "ClosureSettlementSlow",
        "ClosureWorkflowTasksFailing",
        "ClosureBrokerErrorRate",
        "ClosureWorkerStalled",
    }
    for rule in found:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert re.fullmatch(r"[A-Z][A-Za-z]+", rule["alert"])
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["expr"]
        assert "for" not in rule or DURATION.match(rule["for"]), rule
        assert rule["labels"]["severity"] in ("page", "ticket")
        assert rule["annotations"]["summary"]
        assert rule["annotations"]["description"]


def test_promtool_accepts_the_rules() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:  # make test installs it (Debian's prometheus package) where it can
        pytest.skip("promtool is not installed: the rules were checked by their schema only")
    checked = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 5 rules found" in checked.stdout


def test_the_dashboard_is_grafana_json_with_a_query_per_panel() -> None:
    board = json.loads(DASHBOARD.read_text())
    assert board["uid"] == "account-closures"
    assert all(panel["targets"] and panel["title"] for panel in board["panels"])
    assert len(dashboard_queries()) == len(board["panels"])
    assert {
        "closure_phase_duration",
        "closure_withdrawn_cents",
        "closure_broker_errors",
    } <= deployed_metrics()
