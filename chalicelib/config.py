"""Settings read from environment variables at call time.

Chalice applies a stage's `environment_variables` per invocation, so nothing is
read at import time. The same names are used locally, in tests and on AWS.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

ISSUER = "AegisRunner"
ARGON2_MEMORY_KIB = 19456  # OWASP's first choice (19 MiB, t = 2, p = 1): README.md, "Performance"
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1


@dataclass(frozen=True)
class Settings:
    table_name: str
    kms_key_id: str
    sender_email: str
    queue_url: str = ""
    ses_configuration_set: str = ""  # named in every email, so SES measures bounces and complaints
    web_url: str = ""  # where the web pages are served: invitation links point there
    support_reset_hours: int = 24
    deadline_shards: int = 4
    # The queue worker paces its emails so that all of its copies together stay under SES's
    # sending rate: each sends at most ses_sends_per_second / worker_concurrency a second.
    ses_sends_per_second: float = 14.0  # 0: unpaced (tests, the local stack)
    worker_concurrency: int = 5  # the worker's reserved concurrency on AWS
    # Argon2id for passwords (DESIGN.md, "Throttling"); stored hashes carry their own parameters,
    # so raising these upgrades each account at its next correct sign-in.
    argon2_memory_kib: int = ARGON2_MEMORY_KIB
    argon2_time_cost: int = ARGON2_TIME_COST
    argon2_parallelism: int = ARGON2_PARALLELISM

    @classmethod
    def from_environment(cls) -> Settings:
        env = os.environ
        return cls(
            table_name=env.get("AEGIS_TABLE_NAME", "aegis-2fa"),
            kms_key_id=env.get("AEGIS_KMS_KEY_ID", "alias/aegis-2fa"),
            sender_email=env.get("AEGIS_SENDER_EMAIL", "no-reply@aegisrunner.test"),
            queue_url=env.get("AEGIS_QUEUE_URL", ""),
            ses_configuration_set=env.get("AEGIS_SES_CONFIGURATION_SET", ""),
            web_url=env.get("AEGIS_WEB_URL", ""),
            support_reset_hours=int(env.get("AEGIS_SUPPORT_RESET_HOURS", "24")),
            deadline_shards=int(env.get("AEGIS_DEADLINE_SHARDS", "4")),
            ses_sends_per_second=float(env.get("AEGIS_SES_SENDS_PER_SECOND", "14")),
            worker_concurrency=int(env.get("AEGIS_WORKER_CONCURRENCY", "5")),
            argon2_memory_kib=int(env.get("AEGIS_ARGON2_MEMORY_KIB", str(ARGON2_MEMORY_KIB))),
            argon2_time_cost=int(env.get("AEGIS_ARGON2_TIME_COST", str(ARGON2_TIME_COST))),
            argon2_parallelism=int(env.get("AEGIS_ARGON2_PARALLELISM", str(ARGON2_PARALLELISM))),
        )
