"""Audit events: one item per event, even when events of one kind share a second."""

from __future__ import annotations


def audit_kinds(h, user_id: str) -> list[str]:
    return sorted(i["kind"]["S"] for i in h.table_items() if i["pk"]["S"] == f"AUDIT#{user_id}")


def test_two_events_of_one_kind_in_one_second_are_both_kept(h):
    _, _, codes = h.user_with_two_factor("alice@example.com")
    user_id = next(i["user_id"]["S"] for i in h.table_items() if i["pk"]["S"] == "EMAIL#alice@example.com")
    for code in codes[:2]:  # the clock does not move between them
        challenge = h.sign_in("alice@example.com").body["challenge_token"]
        assert h.post("/v1/sessions/verify", {"backup_code": code}, token=challenge).status == 200
    assert audit_kinds(h, user_id) == [
        "signed_in_with_backup_code",
        "signed_in_with_backup_code",
        "two_factor_enabled",
    ]
