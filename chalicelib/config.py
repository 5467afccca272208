"""Settings read from environment variables at call time.

Chalice applies a stage's `environment_variables` per invocation, so nothing is
read at import time. The same names are used locally, in tests and on AWS.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

ISSUER = "AegisRunner"


@dataclass(frozen=True)
class Settings:
    table_name: str
    kms_key_id: str
    sender_email: str
    support_reset_hours: int = 24
    deadline_shards: int = 4
    sweep_batch_size: int = 500
    scrypt_n: int = 2**14
    scrypt_r: int = 8
    scrypt_p: int = 1

    @classmethod
    def from_environment(cls) -> Settings:
        env = os.environ
        return cls(
            table_name=env.get("AEGIS_TABLE_NAME", "aegis-2fa"),
            kms_key_id=env.get("AEGIS_KMS_KEY_ID", "alias/aegis-2fa"),
            sender_email=env.get("AEGIS_SENDER_EMAIL", "no-reply@aegisrunner.test"),
            support_reset_hours=int(env.get("AEGIS_SUPPORT_RESET_HOURS", "24")),
            deadline_shards=int(env.get("AEGIS_DEADLINE_SHARDS", "4")),
            sweep_batch_size=int(env.get("AEGIS_SWEEP_BATCH_SIZE", "500")),
            scrypt_n=int(env.get("AEGIS_SCRYPT_N", str(2**14))),
        )
