"""The hourly function: find what is due and hand it to the queue worker.

It reads only the deadline index, where an organization is one entry whatever its size
and a pending support reset is one entry, so its cost grows with what is due, not with
the number of members. For an organization it enqueues the fan-out of the most urgent
notice stage that is due (after missed runs the earlier stages are skipped) and then
records the stage as handed over; the worker does the rest (`worker.py`).
"""

from __future__ import annotations

import logging

from . import enforcement
from .dependencies import Dependencies
from .organizations import hand_notice_to_queue
from .worker import reset_message

logger = logging.getLogger(__name__)


def run(deps: Dependencies) -> dict[str, int]:
    counts = {"notice_stages_queued": 0, "resets_queued": 0}
    now = deps.clock.now()
    resets: list[str] = []
    for shard in range(deps.due_index.shards):
        for entry in deps.due_index.due(shard, now):
            if entry.reset_user_id is not None:
                resets.append(entry.reset_user_id)
                continue
            org = entry.org
            assert org is not None and org.enforced_at is not None
            stage = enforcement.notice_due(org.enforced_at, org.notice_stage, now)
            if stage is not None and hand_notice_to_queue(deps, org, stage):
                counts["notice_stages_queued"] += 1
    if resets:
        # Queued again each hour until the worker completes them; completing is conditional.
        deps.queue.send([reset_message(user_id) for user_id in resets])
        counts["resets_queued"] = len(resets)
    logger.info("enforcement sweep: %s", counts)
    return counts
