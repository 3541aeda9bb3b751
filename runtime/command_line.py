"""Each service's command line: `--help` says what it runs and how it is configured, and starts nothing."""

from __future__ import annotations

import argparse

CONFIGURED_BY = "Configured by CLOSURE_* environment variables; every setting is in docs/configuration.md."


def service_command_line(prog: str, description: str, argv: list[str] | None = None) -> argparse.Namespace:
    """A service takes no arguments: anything but --help is refused with its usage (exit 2)."""
    parser = argparse.ArgumentParser(prog=prog, description=description, epilog=CONFIGURED_BY)
    return parser.parse_args(argv)
