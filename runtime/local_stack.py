"""Where `make dev` leaves word of itself, so every tool run beside it talks to it.

The stack writes the settings it gives its pieces to `.data/dev/profile.env` and its process id to
`.data/dev/devstack.pid`. A tool (the `closure` CLI) started in the same directory, while that process lives,
reads the profile under its own environment: what the environment sets still wins.
"""

from __future__ import annotations

import os
from pathlib import Path

from runtime.settings import Settings

STACK_DIR = Path(".data/dev")
PROFILE = STACK_DIR / "profile.env"
PID_FILE = STACK_DIR / "devstack.pid"


def running_stack() -> int | None:
    """The process id of the `make dev` running here, if one is."""
    try:
        pid = int(PID_FILE.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def write_profile(environment: dict[str, str]) -> None:
    STACK_DIR.mkdir(parents=True, exist_ok=True)
    PROFILE.write_text("".join(f"{key}={value}\n" for key, value in sorted(environment.items())))
    PID_FILE.write_text(str(os.getpid()))


def tool_settings() -> Settings:
    """Settings for a tool: the running stack's profile under the environment, or the environment alone."""
    if running_stack() is not None and PROFILE.exists():
        return Settings(_env_file=PROFILE)
    return Settings()


def stack_hint() -> str:
    """What to add to "cannot reach Temporal" when the tool found no stack to read its settings from."""
    if running_stack() is not None:
        return ""
    return (
        f" (no `make dev` is running in this directory: none at {PID_FILE}; start one, or set the variables)"
    )
