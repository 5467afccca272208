"""The sweep reads only the deadline index: its DynamoDB requests follow the members it
acts on, not all members (DESIGN.md "Performance budget"). A smaller variant of the
`make bench` measurement, so CI checks the property."""

from __future__ import annotations

from scripts.bench_sweep import measure_sweep

SHARDS = 4  # AEGIS_DEADLINE_SHARDS in .chalice/config.json


def test_members_who_are_not_due_cost_the_sweep_nothing():
    result = measure_sweep(not_due=2_000, due=20)

    assert result["reminders_sent_due_only"] == result["reminders_sent_with_not_due"] == 20
    assert result["requests_with_not_due"] == result["requests_due_only"]
    assert result["operations_with_not_due"] == result["operations_due_only"]
    operations = result["operations_due_only"]
    # One index page per shard, one conditional write per notice, and a couple of batched
    # reads per shard: nothing that scans, and nothing per member beyond the notice itself.
    assert set(operations) <= {"Query", "BatchGetItem", "UpdateItem"}
    assert operations["Query"] == SHARDS
    assert operations["UpdateItem"] == 20
    assert operations.get("BatchGetItem", 0) <= 2 * SHARDS
    # With nothing due, a sweep over 2,000 members is the index queries alone.
    assert result["idle_requests_with_not_due"] == SHARDS
