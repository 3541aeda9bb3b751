"""The metrics deploy/'s alert rules and dashboard name, for the tests that check them against the worker."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "closure-alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "account-closures.json"
_METRIC = re.compile(r"\b((?:closure|temporal)_[a-z0-9_]+)")
_SERIES_SUFFIX = re.compile(r"_(bucket|count|sum)$")


def rules() -> list[dict[str, Any]]:
    loaded: dict[str, Any] = yaml.safe_load(RULES.read_text())
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def dashboard_queries() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in board["panels"] for target in panel["targets"]]


def metric_names(expressions: list[str]) -> set[str]:
    """Each metric as it is exported: a histogram's _bucket, _count and _sum are the histogram."""
    return {_SERIES_SUFFIX.sub("", name) for expr in expressions for name in _METRIC.findall(expr)}


def deployed_metrics() -> set[str]:
    return metric_names([r["expr"] for r in rules()] + dashboard_queries())


def exported(scrape: str) -> set[str]:
    names = {line.split("{")[0].split(" ")[0] for line in scrape.splitlines() if line and line[0] != "#"}
    return {_SERIES_SUFFIX.sub("", name) for name in names}
