"""Organizations of 10,000 members and more: what `make bench` measures of enforcement at scale.

Everything runs in-process on moto through the test harness; members are batch-written in
the storage modules' own item shapes (`devkit.population`). DynamoDB, SES and SQS requests
are counted with botocore hooks on the application's own clients (`devkit.counting`).
Times are moto's, so only request counts are figures to rely on; the time 100,000 notices
take on AWS is computed from the counts and SES's sending rate, which is the limit.

    .venv/bin/python -m scripts.bench_scale [MEMBERS]
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import Any

DAY = 86400
OWNER = "owner@bench.test"


def measure_scale(large: int = 10_000, small: int = 100) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for size in (small, large):
        figures.update(_policy_change_and_listing(size))
    figures.update(_notices(large))
    figures.update(_hourly_reads_only_what_is_due(large))
    per_notice_ses = figures["notice_ses_requests_per_notice"]
    for rate in (14, 50):
        seconds = 100_000 * per_notice_ses / rate
        figures[f"notices_100000_hours_at_{rate}_per_second"] = round(seconds / 3600, 2)
    return figures


def _organization(h: Any, members: int, **kwargs: Any) -> tuple[str, str, list[Any]]:
    from devkit import population

    owner, _, _ = h.user_with_two_factor(OWNER)
    org_id = h.post("/v1/orgs", {"name": "Bench", "plan": "enterprise"}, token=owner).body["org_id"]
    return owner, org_id, population.add_members(org_id, members, h.clock.now(), **kwargs)


def _policy_change_and_listing(size: int) -> dict[str, Any]:
    from devkit.counting import RequestCounter
    from devkit.harness import Harness

    with Harness() as h:
        owner, org_id, _ = _organization(h, size, two_factor_every=4)
        counter = RequestCounter()
        with counter.measure() as change:
            reply = h.put(f"/v1/orgs/{org_id}/security", {"require_two_factor": True}, token=owner)
        assert reply.status == 200, reply
        with counter.measure() as page:
            listed = h.get(f"/v1/orgs/{org_id}/members?limit=50", token=owner)
        assert len(listed.body["members"]) == 50
        with counter.measure() as filtered:
            h.get(f"/v1/orgs/{org_id}/members?limit=50&status=pending", token=owner)
    return {
        f"policy_change_ddb_requests_{size}": change["dynamodb"],
        f"policy_change_sqs_requests_{size}": change["sqs"],
        "policy_change_emails_in_request": change["ses"],
        f"members_page_ddb_requests_{size}": page["dynamodb"],
        f"members_page_filtered_ddb_requests_{size}": filtered["dynamodb"],
    }


def _notices(size: int) -> dict[str, Any]:
    """Turn enforcement on for `size` members and run the queue worker until it is done."""
    from devkit.counting import RequestCounter
    from devkit.harness import Harness

    with Harness() as h:
        owner, org_id, members = _organization(h, size)
        h.put(f"/v1/orgs/{org_id}/security", {"require_two_factor": True}, token=owner)
        counter = RequestCounter()
        start = time.perf_counter()
        with counter.measure() as calls:
            done = h.drain()
        seconds = time.perf_counter() - start
        received = Counter(e["to"] for e in h.emails() if e["subject"] == "Bench requires two-factor authentication")
        sent_once = received == Counter(m.email for m in members)
        # Everything again, as a duplicate delivery of every message or a second hourly run would:
        again = h.drain()
        sent = done["notices_sent"]
    return {
        f"notices_{size}_sent_once": sent_once and again == {},
        f"notices_{size}_sent": sent,
        "notice_ddb_requests_per_notice": round(calls["dynamodb"] / sent, 3),
        "notice_ses_requests_per_notice": round(calls["ses"] / sent, 3),
        "notice_sqs_requests_per_notice": round(calls["sqs"] / sent, 3),
        f"notices_{size}_worker_seconds_on_moto": round(seconds, 1),
    }


def _hourly_reads_only_what_is_due(size: int, due: int = 50) -> dict[str, Any]:
    """The hourly function's requests when one organization of `due` members is due, alone and
    beside an organization of `size` members whose next notice is weeks away."""
    requests = []
    for crowd in (0, size):
        from devkit import population
        from devkit.counting import RequestCounter
        from devkit.harness import Harness

        with Harness() as h:
            owner, due_org, _ = _organization(h, due)
            h.put(f"/v1/orgs/{due_org}/security", {"require_two_factor": True}, token=owner)
            h.drain()
            if crowd:
                crowded = h.post("/v1/orgs", {"name": "Crowd", "plan": "enterprise"}, token=owner).body["org_id"]
                population.add_members(crowded, crowd, h.clock.now(), prefix="c")
                h.clock.advance(10 * DAY)
                owner = h.session_with_code(OWNER)
                # Its "enforcement started" notices stay queued: they are not what is measured.
                h.put(f"/v1/orgs/{crowded}/security", {"require_two_factor": True}, token=owner)
            h.clock.set(h.clock.now() - (10 * DAY if crowd else 0) + 23 * DAY)
            counter = RequestCounter()
            with counter.measure() as calls:
                queued = h.hourly()
            assert queued["notice_stages_queued"] == 1, queued
            requests.append(calls["dynamodb"])
    return {
        "hourly_ddb_requests_due_only": requests[0],
        f"hourly_ddb_requests_with_{size}_not_due": requests[1],
        "hourly_requests_equal": requests[0] == requests[1],
    }


def main(argv: list[str]) -> int:
    figures = measure_scale(*(int(value) for value in argv))
    for name, value in figures.items():
        print(f"{name}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
