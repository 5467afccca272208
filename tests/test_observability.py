"""What operators rely on at run time, beside the logs (test_logs.py): metrics in CloudWatch's
Embedded Metric Format for what the alarms and dashboards count, nothing printed off Lambda,
and every email sent with the SES configuration set whose bounce and complaint rates SES
measures."""

import io
import json
import logging

import pytest

from chalicelib import aws, observability
from devkit.harness import PASSWORD, Harness

VERIFY = "/v1/sessions/verify"


@pytest.fixture
def metrics(monkeypatch):
    """Logs and metrics as on Lambda; the metrics are printed, as Powertools does there."""
    monkeypatch.setenv("AEGIS_METRICS_NAMESPACE", "aegis-2fa/test")
    observability.enable(io.StringIO())
    yield
    observability.disable()


def emf(output):
    """The metrics written in CloudWatch's Embedded Metric Format, summed by name."""
    totals = {}
    for text in output.splitlines():
        document = json.loads(text)
        [directive] = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "aegis-2fa/test"
        assert directive["Dimensions"] == [["service"]] and document["service"] == "aegis-2fa"
        for metric in directive["Metrics"]:
            assert metric["Unit"] == "Count"
            values = document[metric["Name"]]
            totals[metric["Name"]] = totals.get(metric["Name"], 0) + sum(
                values if isinstance(values, list) else [values]
            )
    return totals


def test_sign_ins_wrong_passwords_wrong_codes_lockouts_notices_and_resets_are_counted(metrics, capsys):
    from chalicelib import admin

    with Harness(seed="metrics") as h:
        owner, secret, _ = h.user_with_two_factor("owner@example.com")
        capsys.readouterr()
        h.sign_in("owner@example.com", "wrong " + PASSWORD)
        h.sign_in("nobody@example.com")
        assert h.sign_in_with_code("owner@example.com", secret).status == 200
        for _ in range(5):  # the 5th wrong code begins a lockout
            challenge = h.sign_in("owner@example.com").body["challenge_token"]
            h.post(VERIFY, {"code": f"{(int(h.code(secret)) + 500_000) % 1_000_000:06d}"}, token=challenge)
        org_id = h.post("/v1/orgs", {"name": "Acme", "plan": "business"}, token=owner).body["org_id"]
        h.sign_up("member@example.com")
        h.join(org_id, owner, "member@example.com")
        h.put(f"/v1/orgs/{org_id}/security", {"require_two_factor": True}, token=owner)
        h.sweep()
        admin.grant_support("owner@example.com")
        h.user_with_two_factor("lost@example.com")
        lost_id = h.get("/v1/me/security", token=h.session_with_code("lost@example.com")).body["user_id"]
        reset = {"verification_reference": "ticket 7", "reason": "lost phone"}
        assert h.post(f"/v1/support/users/{lost_id}/two-factor-reset", reset, token=owner).status == 202
        h.clock.advance(25 * 3600)
        h.sweep()
    assert emf(capsys.readouterr().out) == {
        # the owner with a code; the member before accepting; the lost user before and after enrolling
        observability.SIGN_INS: 4,
        observability.WRONG_PASSWORDS: 2,
        observability.WRONG_CODES: 5,
        observability.LOCKOUTS: 1,
        observability.NOTICES_SENT: 1,
        observability.RESETS_REQUESTED: 1,
        observability.RESETS_COMPLETED: 1,
    }


def test_off_lambda_nothing_is_printed_and_logging_is_untouched(capsys):
    root = logging.getLogger()
    handlers = list(root.handlers)
    with Harness(seed="quiet") as h:
        h.sign_up("alice@example.com")
        h.sign_in("alice@example.com", "wrong " + PASSWORD)
    assert capsys.readouterr().out == ""
    assert root.handlers == handlers


def test_every_email_names_the_configuration_set():
    sent = []

    def record(params, **kwargs):
        sent.append(params.get("ConfigurationSetName"))

    with Harness(seed="emails") as h:
        aws.client("ses").meta.events.register("provide-client-params.ses.SendEmail", record)
        h.user_with_two_factor("alice@example.com")  # 2FA enabled: an email
    assert sent == ["aegis-2fa-local"]
