"""Envelope encryption of TOTP secrets: a KMS data key per secret, AES-256-GCM locally.

The encryption context `{user_id, purpose}` is bound twice: KMS refuses to unwrap
the data key under another context, and GCM refuses the ciphertext under other
associated data. So a secret copied onto another user's record does not decrypt.
The plaintext data key lives only inside `seal` and `open`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from . import aws
from .randomness import Randomness

NONCE_BYTES = 12  # 96-bit nonce, the size GCM is defined for


def encryption_context(user_id: str, purpose: str) -> dict[str, str]:
    return {"user_id": user_id, "purpose": purpose}


def _associated_data(context: dict[str, str]) -> bytes:
    return json.dumps(context, sort_keys=True, separators=(",", ":")).encode()


class EnvelopeCipher:
    def __init__(self, kms: Callable[[], Any], key_id: str, randomness: Randomness) -> None:
        self._kms = kms
        self._key_id = key_id
        self._randomness = randomness

    def seal(self, plaintext: bytes, context: dict[str, str]) -> dict[str, Any]:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        data_key = aws.call(
            "kms.GenerateDataKey",
            self._kms().generate_data_key,
            KeyId=self._key_id,
            KeySpec="AES_256",
            EncryptionContext=context,
        )
        nonce = self._randomness.token_bytes(NONCE_BYTES)
        ciphertext = AESGCM(data_key["Plaintext"]).encrypt(nonce, plaintext, _associated_data(context))
        return {
            "key_id": data_key["KeyId"],
            "encrypted_key": data_key["CiphertextBlob"],
            "nonce": nonce,
            "ciphertext": ciphertext,
        }

    def open(self, sealed: dict[str, Any], context: dict[str, str]) -> bytes | None:
        """The plaintext, or None when the context does not match (a swapped record)."""
        from botocore.exceptions import ClientError
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            with aws.unavailable_on_aws_error("kms.Decrypt"):
                try:
                    data_key = self._kms().decrypt(
                        CiphertextBlob=sealed["encrypted_key"],
                        KeyId=sealed["key_id"],
                        EncryptionContext=context,
                    )
                except ClientError as error:
                    if error.response.get("Error", {}).get("Code") == "InvalidCiphertextException":
                        return None
                    raise
            return AESGCM(data_key["Plaintext"]).decrypt(
                sealed["nonce"], sealed["ciphertext"], _associated_data(context)
            )
        except InvalidTag:
            return None
