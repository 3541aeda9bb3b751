"""Customer data never reaches Temporal in the clear: every payload is sealed with AES-256-GCM.

Workflow inputs and results, activity arguments and results, signals, updates, queries, memos and failure
messages (moved into encoded attributes) all pass through `EncryptionCodec`, so the Temporal server, its
database and its operators hold ciphertext; search attributes do not pass through codecs and hold no personal
data. Each sealed payload names its key id, so keys rotate: new payloads use the current key, old ones are
opened with the key they name for as long as it stays configured. A payload that was never sealed (a history
recorded before encryption) passes through unchanged.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

from runtime.codec_keys import PayloadKeyError, parse_keys
from runtime.settings import TemporalSettings

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: Mapping[str, bytes], current: str) -> None:
        if current not in keys:
            raise PayloadKeyError(f"the current codec key {current!r} is not among the configured keys")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._current = current

    @classmethod
    def of(cls, settings: TemporalSettings) -> EncryptionCodec | None:
        """The configured codec, or None when no key is configured (payloads then travel in the clear)."""
        if not settings.codec_keys:
            return None
        encoded = {key_id: secret.get_secret_value() for key_id, secret in settings.codec_keys.items()}
        return cls(*parse_keys(encoded, settings.codec_key_id))

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.seal(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.open(p) for p in payloads]

    def seal(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        key_id = self._current.encode()
        # The key id is bound in as associated data: a payload relabelled with another id fails to open.
        sealed = self._ciphers[self._current].encrypt(nonce, payload.SerializeToString(), key_id)
        return Payload(metadata={"encoding": ENCODING, KEY_ID: key_id}, data=nonce + sealed)

    def open(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID, b"").decode()
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise PayloadKeyError(f"payload sealed with codec key {key_id!r}, which is not configured")
        try:
            plain = cipher.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], key_id.encode())
        except InvalidTag as exc:
            raise PayloadKeyError(f"payload does not open with codec key {key_id!r}") from exc
        return Payload.FromString(plain)


def data_converter(settings: TemporalSettings) -> DataConverter:
    """Pydantic (exact Decimal money) for every client and worker, sealed when keys are configured."""
    codec = EncryptionCodec.of(settings)
    if codec is None:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
