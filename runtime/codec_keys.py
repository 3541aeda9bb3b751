"""Payload keys as configured: base64 of 32 bytes each, by key id. Read by the settings (to refuse a bad key
when they load) and by the codec (to seal and open)."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping


class PayloadKeyError(ValueError):
    """A key is malformed, missing, or does not open the payload it is asked to."""


def parse_key(key_id: str, encoded: str) -> bytes:
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PayloadKeyError(f"codec key {key_id!r} is not base64") from exc
    if len(key) != 32:
        raise PayloadKeyError(f"codec key {key_id!r} is {len(key)} bytes; AES-256 needs 32")
    return key


def parse_keys(encoded: Mapping[str, str], current: str | None) -> tuple[dict[str, bytes], str]:
    """Every key, and the id new payloads are sealed with (the first key's when none is named)."""
    keys = {key_id: parse_key(key_id, value) for key_id, value in encoded.items()}
    chosen = current or next(iter(keys))
    if chosen not in keys:
        raise PayloadKeyError(f"the current codec key {chosen!r} is not among the configured keys")
    return keys, chosen


def new_key() -> str:
    """A fresh key, base64: `python -c 'from runtime.codec_keys import new_key; print(new_key())'`."""
    return base64.b64encode(os.urandom(32)).decode()
