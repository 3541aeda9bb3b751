"""deploy/kubernetes: every piece as a Deployment running an installed command, with probes that mean what
they say, and only settings that exist."""

from __future__ import annotations

from typing import Any

import yaml

from tests.devtools.deploy_files import ROOT, installed_commands, is_secret, is_setting

KUBERNETES = ROOT / "deploy" / "kubernetes"


def _documents() -> dict[str, list[dict[str, Any]]]:
    return {
        path.name: [d for d in yaml.safe_load_all(path.read_text()) if d]
        for path in sorted(KUBERNETES.glob("*.yaml"))
    }


def _of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for docs in _documents().values() for d in docs if d["kind"] == kind}


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    found: dict[str, Any] = container
    return found


def test_the_kustomization_applies_every_file() -> None:
    listed = set(yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())["resources"])
    assert listed == {p for p in _documents() if p != "kustomization.yaml"}


def test_each_piece_runs_an_installed_command_with_the_shared_settings() -> None:
    deployments = _of_kind("Deployment")
    assert set(deployments) == {"worker", "api", "listener", "codec"}
    for name, deployment in deployments.items():
        container = _container(deployment)
        assert container["command"][0] in installed_commands(), name
        sources = {next(iter(s.values()))["name"] for s in container["envFrom"]}
        assert sources == {"account-closure"}, name
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"] == labels
    assert deployments["listener"]["spec"]["replicas"] == 1
    assert deployments["listener"]["spec"]["strategy"]["type"] == "Recreate"


def test_liveness_and_readiness_are_separate_and_redis_never_makes_the_api_unready() -> None:
    deployments = _of_kind("Deployment")
    api = _container(deployments["api"])
    assert api["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    worker = _container(deployments["worker"])
    assert worker["livenessProbe"] != worker["readinessProbe"]
    assert worker["readinessProbe"]["httpGet"]["path"] == "/healthz"


def test_every_variable_is_a_setting() -> None:
    for kind in ("ConfigMap", "Secret"):
        [document] = _of_kind(kind).values()
        values = document.get("data") or document["stringData"]
        unknown = [v for v in values if not is_setting(v)]
        assert not unknown, f"{kind}: not settings: {unknown}"


def test_secrets_are_in_the_secret_and_only_there() -> None:
    [config] = _of_kind("ConfigMap").values()
    [secret] = _of_kind("Secret").values()
    assert not [v for v in config["data"] if is_secret(v)]
    assert not [v for v in secret["stringData"] if not is_secret(v)]


def test_the_files_are_where_the_docs_say() -> None:
    assert "deploy/kubernetes" in (ROOT / "docs" / "deployment.md").read_text()
