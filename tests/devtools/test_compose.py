"""temporal-dev.yml agrees with the settings and with `make dev`: services, ports, environment."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from closure.search_attributes import CLI_TYPES
from devtools.devstack import PORTS
from tests.devtools.deploy_files import is_setting

COMPOSE = Path(__file__).resolve().parents[2] / "temporal-dev.yml"


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def test_the_services_are_the_ones_make_dev_runs() -> None:
    services = _compose()["services"]
    assert set(services) == {
        "volume-owner",
        "temporal",
        "redis",
        "simulator",
        "worker",
        "api",
        "codec",
        "listener",
        "seed",
    }
    ports = {name: [str(p) for p in spec.get("ports", [])] for name, spec in services.items()}
    assert f"{PORTS['temporal']}:7233" in ports["temporal"]
    assert f"{PORTS['ui']}:8233" in ports["temporal"]
    assert f"{PORTS['simulator']}:8765" in ports["simulator"]
    assert f"{PORTS['api']}:8000" in ports["api"]
    assert ports["redis"] == [], "Redis stays inside: a Redis on the host keeps its port"
    assert f"{PORTS['codec']}:8081" in ports["codec"]


def test_temporal_registers_the_search_attributes() -> None:
    command = " ".join(_compose()["services"]["temporal"]["command"])
    for name, kind in CLI_TYPES.items():
        assert f"--search-attribute={name}={kind}" in command


def test_every_environment_variable_is_a_setting_and_points_at_a_service() -> None:
    services = _compose()["services"]
    for name in ("worker", "api", "codec", "listener", "seed"):
        environment = services[name]["environment"]
        unknown = [v for v in environment if v.startswith("CLOSURE_") and not is_setting(v)]
        assert not unknown, f"{name}: not settings: {unknown}"
        assert environment["CLOSURE_TEMPORAL__ADDRESS"] == "temporal:7233"
        assert environment["CLOSURE_ALPACA__BASE_URL"] == "http://simulator:8765"
        assert environment["CLOSURE_REDIS_URL"] == "redis://redis:6379/0"
        assert environment["CLOSURE_TIME_SCALE"] == str(600.0)
    assert services["api"]["environment"]["CLOSURE_API__HOST"] == "0.0.0.0"
    assert "--clock-rate" in services["simulator"]["command"]
    rate = services["simulator"]["command"][services["simulator"]["command"].index("--clock-rate") + 1]
    assert float(rate) == 600.0, "the simulator's clock and the policy's scale agree, as in make dev"


def test_the_stack_runs_as_written() -> None:
    services = _compose()["services"]
    images = [spec["image"] for spec in services.values() if "image" in spec]
    assert all(re.fullmatch(r"[\w./-]+:\d[\w.-]*", image) for image in images), images  # pinned tags
    # The Temporal image runs as uid 1000: the volumes are handed to it before anything writes there.
    owner = services["volume-owner"]
    assert owner["command"][:3] == ["chown", "-R", "1000:1000"]
    assert services["temporal"]["depends_on"]["volume-owner"]["condition"] == "service_completed_successfully"
    for name in ("temporal", "redis", "api"):
        assert services[name]["healthcheck"]["test"][0] == "CMD", name
    for name in ("worker", "api", "listener"):
        assert services[name]["depends_on"]["temporal"]["condition"] == "service_healthy", name
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    assert services["seed"]["profiles"] == ["seed"]
    assert services["seed"]["command"][-2:] == ["seed", "--start"]
