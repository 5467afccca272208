"""`make bench`: the performance budget, measured.

- DynamoDB and KMS requests per flow, counted with botocore event hooks on the
  application's own clients (budget: password step + code step <= 5 DynamoDB, 1 KMS);
- the median wall time of `python -c "import app"` against a bare Chalice app that
  imports boto3 (budget: ratio <= 1.2);
- enforcement at scale (`bench_scale`): the policy change and a page of members for 100
  and 10,000 members, 10,000 notices through the queue worker, the hourly function's
  requests with and without 10,000 members who are not due, and how long 100,000 notices
  take at SES's sending rate;
- the size of the Lambda deployment package (budget: under 10 MB);
- `make run` under 5,000 valid requests sent 8 at a time (scripts/bench_local_stack.py;
  budget: no 5xx, and a median under 100 ms over the last 1,000).
- one Argon2id password hash at the configured parameters: median milliseconds and the
  memory it takes, in a process of its own that imports the app as Lambda does.

A script that prints figures, not a timed test. It also writes them to `bench.json`, one
flat object of named figures.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
IMPORT_RUNS = 21
LOCAL_STACK_REQUESTS = 5000
LOCAL_STACK_MEDIAN_BUDGET_MS = 100
HASH_RUNS = 15
# Run in a fresh interpreter with the production parameters (no AEGIS_ARGON2_* overrides):
# the API function's process, its clients and one sign-in's hash, measured by peak RSS.
_HASH_COST = """
import json, statistics, sys, time
import boto3
import app
from chalicelib import passwords
from chalicelib.config import Settings

for service in ("dynamodb", "kms", "ses", "sqs"):
    boto3.client(service, region_name="us-east-1")
def status_mib(field):  # Linux, as on Lambda: VmRSS is the memory in use now, VmHWM its peak
    with open("/proc/self/status") as status:
        kib = next(line.split()[1] for line in status if line.startswith(field + ":"))
    return int(kib) / 1024

settings = Settings.from_environment()
before = status_mib("VmRSS")
times = []
for _ in range(int(sys.argv[1])):
    start = time.perf_counter()
    passwords.burn_equal_time("correct horse battery staple", settings)
    times.append(time.perf_counter() - start)
peak = status_mib("VmHWM")
print(json.dumps({
    "ms": statistics.median(times) * 1000,
    "mib": peak - before,
    "process_peak_mib": peak,
    "parameters": [settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism],
}))
"""


def password_hash_cost(runs: int = HASH_RUNS) -> dict[str, Any]:
    """Median ms of one Argon2id hash at the configured parameters, the MiB the process's peak
    rises above what it used before hashing, and that peak: the API function's memory must hold it."""
    import os

    env = {name: value for name, value in os.environ.items() if not name.startswith("AEGIS_ARGON2_")}
    done = subprocess.run(
        [sys.executable, "-c", _HASH_COST, str(runs)], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    measured: dict[str, Any] = json.loads(done.stdout)
    return measured


def request_counts() -> list[tuple[str, int, int]]:
    from devkit.counting import RequestCounter
    from devkit.harness import Harness

    rows: list[tuple[str, int, int]] = []
    with Harness() as h:
        counter = RequestCounter()

        def flow(name: str, action: Callable[[], Any]) -> Any:
            with counter.measure() as calls:
                result = action()
            rows.append((name, calls["dynamodb"], calls["kms"]))
            return result

        flow("sign-up", lambda: h.sign_up("bench@example.com"))
        token = h.session("bench@example.com")
        secret = flow("enrollment start", lambda: h.post("/v1/me/two-factor/enrollment", token=token)).body["secret"]
        codes = flow(
            "confirm", lambda: h.post("/v1/me/two-factor/enrollment/confirm", {"code": h.code(secret)}, token=token)
        ).body["backup_codes"]
        h.clock.advance(30)
        challenge = flow("password step", lambda: h.sign_in("bench@example.com")).body["challenge_token"]
        session = flow(
            "code step", lambda: h.post("/v1/sessions/verify", {"code": h.code(secret)}, token=challenge)
        ).body["session_token"]
        challenge = h.sign_in("bench@example.com").body["challenge_token"]
        flow("backup-code step", lambda: h.post("/v1/sessions/verify", {"backup_code": codes[0]}, token=challenge))
        h.clock.advance(30)
        flow("regenerate", lambda: h.post("/v1/me/two-factor/backup-codes", {"code": h.code(secret)}, token=session))
        h.clock.advance(30)
        flow("disable", lambda: h.post("/v1/me/two-factor/disable", {"code": h.code(secret)}, token=session))
        flow("wrong password", lambda: h.sign_in("bench@example.com", "not the password"))
        flow("unknown email", lambda: h.sign_in("nobody@example.com", "not the password"))
    return rows


def import_times() -> tuple[float, float]:
    """Median seconds to import the app and a bare Chalice app importing boto3, interleaved."""
    with tempfile.TemporaryDirectory() as bare_dir:
        (Path(bare_dir) / "app.py").write_text(
            "import boto3\nfrom chalice import Chalice\n\napp = Chalice(app_name='bare')\n"
        )
        ours, bare = [], []
        for _ in range(IMPORT_RUNS):
            ours.append(_time_import(ROOT))
            bare.append(_time_import(Path(bare_dir)))
    return statistics.median(ours), statistics.median(bare)


def _time_import(directory: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import app"], cwd=directory, check=True)
    return time.perf_counter() - start


def package_size() -> int | None:
    """Bytes of the deployment zip `make package` builds, or None if packaging failed."""
    with tempfile.TemporaryDirectory() as out:
        command = ["make", "--no-print-directory", "-o", ".venv/.installed", "package", "STAGE=prod", f"DIST={out}"]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            print(done.stderr[-2000:], file=sys.stderr)
            return None
        return (Path(out) / "prod" / "deployment.zip").stat().st_size


def main() -> int:
    figures: dict[str, Any] = {}
    try:
        return _measure(figures)
    finally:
        (ROOT / "bench.json").write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
        print("\nfigures written to bench.json")


def _measure(figures: dict[str, Any]) -> int:
    print("DynamoDB and KMS requests per flow")
    rows = request_counts()
    print(f"  {'flow':<18}{'DynamoDB':>9}{'KMS':>5}")
    for name, dynamodb, kms in rows:
        print(f"  {name:<18}{dynamodb:>9}{kms:>5}")
        figures[f"{_slug(name)}_dynamodb_requests"] = dynamodb
        figures[f"{_slug(name)}_kms_requests"] = kms
    by_name = {name: (dynamodb, kms) for name, dynamodb, kms in rows}
    sign_in_db = by_name["password step"][0] + by_name["code step"][0]
    sign_in_kms = by_name["password step"][1] + by_name["code step"][1]
    ok = sign_in_db <= 5 and sign_in_kms <= 1
    print(f"  sign-in with TOTP: {sign_in_db} DynamoDB, {sign_in_kms} KMS (budget 5 and 1): {'ok' if ok else 'OVER'}")
    figures["sign_in_totp_dynamodb_requests"] = sign_in_db
    figures["sign_in_totp_kms_requests"] = sign_in_kms
    known, unknown = by_name["wrong password"][0], by_name["unknown email"][0]
    figures.update(password_step_ddb_requests_known_email=known, password_step_ddb_requests_unknown_email=unknown)
    verdict = "equal" if known == unknown else "DIFFERENT"
    print(f"  password step, wrong password {known} DynamoDB, unknown email {unknown}: {verdict}")
    ok = ok and known == unknown

    cost = password_hash_cost()
    figures.update(password_hash_ms=round(cost["ms"], 1), password_hash_mib=round(cost["mib"], 1))
    memory, time_cost, parallelism = cost["parameters"]
    print(
        f"\npassword hash (Argon2id m={memory} KiB, t={time_cost}, p={parallelism}): {cost['ms']:.1f} ms median of "
        f"{HASH_RUNS}, {cost['mib']:.1f} MiB; the API process peaks at {cost['process_peak_mib']:.0f} MiB"
    )

    ours, bare = import_times()
    ratio = ours / bare
    print(f"\nimport app: {ours * 1000:.0f} ms median of {IMPORT_RUNS}; bare Chalice app + boto3: {bare * 1000:.0f} ms")
    print(f"  ratio {ratio:.2f} (budget 1.2): {'ok' if ratio <= 1.2 else 'OVER'}")
    ok = ok and ratio <= 1.2
    figures.update(import_app_ms=round(ours * 1000, 1), import_bare_ms=round(bare * 1000, 1))
    figures["import_ratio"] = round(ratio, 3)

    from scripts.bench_scale import measure_scale

    scale = measure_scale()
    figures.update(scale)
    print("\nenforcement at scale")
    for name, value in scale.items():
        print(f"  {name}: {value}")
    figures["members_page_ddb_requests"] = scale["members_page_ddb_requests_10000"]
    scale_ok = (
        scale["policy_change_ddb_requests_100"] == scale["policy_change_ddb_requests_10000"] <= 10
        and scale["policy_change_emails_in_request"] == 0
        and scale["notices_10000_sent_once"] is True
        and scale["notice_ddb_requests_per_notice"] <= 2
        and scale["notice_ses_requests_per_notice"] == 1
        and scale["members_page_ddb_requests_100"] == scale["members_page_ddb_requests_10000"]
        and scale["hourly_requests_equal"] is True
    )
    print(f"  budget (DESIGN.md, Performance budget): {'ok' if scale_ok else 'OVER'}")
    ok = ok and scale_ok

    from scripts.bench_local_stack import measure_local_stack

    print(f"\nmake run under load: {LOCAL_STACK_REQUESTS:,} valid requests, 8 at a time")
    local = measure_local_stack(LOCAL_STACK_REQUESTS, concurrency=8)
    for name, value in local.items():
        print(f"  {name}: {value}")
    figures.update({name: value for name, value in local.items() if isinstance(value, (int, float))})
    held = local["local_stack_5xx"] == local["local_stack_no_answer"] == 0
    held = held and local["local_stack_median_ms"] < LOCAL_STACK_MEDIAN_BUDGET_MS
    print(f"  no 5xx, median under {LOCAL_STACK_MEDIAN_BUDGET_MS} ms: {'ok' if held else 'OVER'}")
    ok = ok and held

    size = package_size()
    if size is None:
        print("\ndeployment package: chalice package failed")
        return 1
    print(f"\ndeployment package: {size / 1_000_000:.2f} MB (budget 10 MB): {'ok' if size < 10_000_000 else 'OVER'}")
    figures["package_bytes"] = size
    ok = ok and size < 10_000_000
    return 0 if ok else 1


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


if __name__ == "__main__":
    sys.exit(main())
