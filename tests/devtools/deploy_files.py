"""What the deployment files may name: settings that exist, commands the package installs."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings

from runtime.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
ALIASES = {"CLOSURE_REDIS_URL", "REDIS_URL"}


def _field(variable: str) -> Any:
    """The annotation of the setting this CLOSURE_* variable names (nested with __), or None."""
    if variable in ALIASES:
        return str
    path = variable.removeprefix("CLOSURE_").lower().split("__")
    model: type[BaseSettings] | type[Any] = Settings
    for part in path:
        fields = getattr(model, "model_fields", {})
        if part not in fields:
            return None
        model = fields[part].annotation
    return model


def is_setting(variable: str) -> bool:
    return _field(variable) is not None


def is_secret(variable: str) -> bool:
    """A setting Settings keeps as a SecretStr (alone or in a collection), or the Redis URL (its password)."""
    return variable in ALIASES or "SecretStr" in str(_field(variable))


def installed_commands() -> set[str]:
    scripts: dict[str, str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    return set(scripts)
