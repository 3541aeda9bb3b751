"""`python -m devtools.config_reference > docs/configuration.md`: every setting, from `Settings` itself."""

from __future__ import annotations

import argparse
from typing import Any

from pydantic import BaseModel, SecretStr, TypeAdapter
from pydantic.fields import FieldInfo

from runtime.settings import Settings

HEADER = """# Configuration reference

Generated from `runtime/settings.py` by `python -m devtools.config_reference`; a test keeps it in step.
Every value is an environment variable (prefix `CLOSURE_`, `__` between levels). Durations are ISO 8601
(`PT24H`) or seconds; lists are JSON (`["ops@example.com"]`). `REDIS_URL` is read as well as `CLOSURE_REDIS_URL`.

| variable | type | default | what |
|---|---|---|---|
"""


def _default(info: FieldInfo) -> str:
    value = info.get_default(call_default_factory=True)
    if isinstance(value, SecretStr):
        return "(secret)"
    if value is None or isinstance(value, BaseModel):
        return ""
    return f"`{TypeAdapter(Any).dump_python(value, mode='json')}`"


def _type(info: FieldInfo) -> str:
    annotation = info.annotation
    if isinstance(annotation, type):
        return annotation.__name__
    text = str(annotation)
    for noise in ("typing.", "pathlib.", "datetime.", "pydantic.types.", "decimal.", "closure.money."):
        text = text.replace(noise, "")
    return text


def rows(model: type[BaseModel], prefix: str = "CLOSURE_") -> list[str]:
    lines = []
    for name, info in model.model_fields.items():
        annotation: Any = info.annotation
        variable = f"{prefix}{name.upper()}"
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            lines += rows(annotation, f"{variable}__")
            continue
        description = (info.description or "").replace("|", "\\|").replace("\n", " ")
        kind = _type(info).replace("|", "\\|")
        lines.append(f"| `{variable}` | `{kind}` | {_default(info)} | {description} |")
    return lines


def reference() -> str:
    return HEADER + "\n".join(rows(Settings)) + "\n"


if __name__ == "__main__":
    argparse.ArgumentParser(
        prog="python -m devtools.config_reference",
        description="Print every setting as Markdown (> docs/configuration.md).",
    ).parse_args()
    print(reference(), end="")
