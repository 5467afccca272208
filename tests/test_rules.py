"""The rules with no I/O: TOTP, backup codes, input validation, throttling and enforcement."""

import base64
import hashlib
import re
import time
import urllib.parse

import pytest

from chalicelib import backup_codes, enforcement, passwords, tokens, totp, two_factor, validation
from chalicelib.clock import ManualClock, SystemClock, format_time, parse_time
from chalicelib.config import Settings
from chalicelib.errors import InvalidRequest, PayloadTooLarge, TemporarilyUnavailable, TooManyAttempts
from chalicelib.randomness import SeededRandomness, SystemRandomness
from chalicelib.validation import Field

# RFC 6238 and RFC 4226 use the ASCII key "12345678901234567890".
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
DAY = 86400


class FixedBytes:
    """Randomness that hands out the bytes it was given, and records the sizes asked for."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.asked: list[int] = []

    def token_bytes(self, count: int) -> bytes:
        self.asked.append(count)
        return self.data[:count]


# -- TOTP --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unix_time", "expected"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1111111111, "14050471"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ],
)
def test_rfc6238_appendix_b_sha1_vectors(unix_time, expected):
    assert RFC_SECRET == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    step = totp.time_step(unix_time)
    assert totp.code_for_step(RFC_SECRET, step, digits=8) == expected
    # The project's own check finds the code at that time, in the current step.
    assert totp.matching_step(RFC_SECRET, expected, unix_time, digits=8) == step


@pytest.mark.parametrize(
    ("counter", "expected"),
    enumerate(["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"]),
)
def test_rfc4226_appendix_d_hotp_values_as_time_steps(counter, expected):
    assert totp.code_for_step(RFC_SECRET, counter) == expected
    assert totp.matching_step(RFC_SECRET, expected, counter * totp.STEP_SECONDS) == counter


def test_a_wrong_code_matches_no_step():
    assert totp.matching_step(RFC_SECRET, "000000", 1111111111) is None


SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.mark.parametrize("position_in_step", [0, 15, 29])
@pytest.mark.parametrize(("offset", "accepted"), [(-60, False), (-30, True), (0, True), (30, True), (60, False)])
def test_window_is_one_step_each_way(position_in_step, offset, accepted):
    now = 1_800_000_000 - 1_800_000_000 % 30 + position_in_step
    code = totp.code_for_step(SECRET, totp.time_step(now + offset))
    found = totp.matching_step(SECRET, code, now)
    if accepted:
        assert found == totp.time_step(now + offset)
    else:
        assert found is None


def test_window_edges_to_the_second():
    start = 1_800_000_000 - 1_800_000_000 % 30  # the first second of a step
    code = totp.code_for_step(SECRET, totp.time_step(start))
    assert totp.matching_step(SECRET, code, start + 59) is not None  # one step later
    assert totp.matching_step(SECRET, code, start + 60) is None  # two steps later
    assert totp.matching_step(SECRET, code, start - 30) is not None  # one step earlier
    assert totp.matching_step(SECRET, code, start - 31) is None  # two steps earlier


def test_replay_is_refused_by_step():
    now = 1_800_000_000
    step = totp.time_step(now)
    current = totp.code_for_step(SECRET, step)
    previous = totp.code_for_step(SECRET, step - 1)
    following = totp.code_for_step(SECRET, step + 1)
    assert totp.matching_step(SECRET, current, now, after_step=step - 1) == step
    assert totp.matching_step(SECRET, current, now, after_step=step) is None
    assert totp.matching_step(SECRET, current, now, after_step=step + 1) is None
    # A code from before the last accepted one never works again, even inside the window.
    assert totp.matching_step(SECRET, previous, now, after_step=step) is None
    assert totp.matching_step(SECRET, following, now, after_step=step) == step + 1


def test_new_secret_is_160_bits_of_base32_without_padding():
    secret = totp.new_secret(SystemRandomness())
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    assert len(base64.b32decode(secret)) == 20
    assert totp.new_secret(SystemRandomness()) != secret


def test_provisioning_uri_names_issuer_and_url_encodes_the_email():
    uri = totp.provisioning_uri(SECRET, "a+b@example.com")
    assert uri == f"otpauth://totp/AegisRunner:a%2Bb%40example.com?secret={SECRET}&issuer=AegisRunner"
    query = urllib.parse.parse_qs(urllib.parse.urlparse(uri).query)
    assert query == {"secret": [SECRET], "issuer": ["AegisRunner"]}


def test_qr_svg_is_an_svg_document_that_depends_on_the_uri():
    first = totp.qr_svg("otpauth://totp/AegisRunner:a%40example.com?secret=AAAA&issuer=AegisRunner")
    second = totp.qr_svg("otpauth://totp/AegisRunner:b%40example.com?secret=BBBB&issuer=AegisRunner")
    assert "<svg" in first and first.rstrip().endswith("</svg>")
    assert first != second


# -- backup codes ------------------------------------------------------------------------------

CODE_FORMAT = re.compile(r"[0-9A-HJKMNP-TV-Z]{8}-[0-9A-HJKMNP-TV-Z]{8}")


def test_backup_codes_are_eight_distinct_codes_in_the_shown_format():
    codes = backup_codes.generate(SystemRandomness())
    assert len(codes) == 8
    assert len(set(codes)) == 8
    for code in codes:
        assert CODE_FORMAT.fullmatch(code), code


def test_backup_code_alphabet_is_crockford_base32():
    assert backup_codes.ALPHABET == "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    assert len(set(backup_codes.ALPHABET)) == 32
    assert not set("ILOU") & set(backup_codes.ALPHABET)


def test_each_backup_code_carries_80_random_bits():
    ones = FixedBytes(b"\xff" * 10)
    assert backup_codes.generate(ones) == ["ZZZZZZZZ-ZZZZZZZZ"] * 8
    assert ones.asked == [10] * 8  # 80 bits per code, all of them used
    zeros = FixedBytes(b"\x00" * 10)
    assert backup_codes.generate(zeros)[0] == "00000000-00000000"
    # Every 5 bits choose one symbol, most significant first.
    assert backup_codes.generate(FixedBytes(b"\x00" * 9 + b"\x01"))[0] == "00000000-00000001"
    assert backup_codes.generate(FixedBytes(b"\x08" + b"\x00" * 9))[0] == "10000000-00000000"


@pytest.mark.parametrize(
    "typed",
    [
        "ABCD2345-6789WXYZ",
        "abcd2345-6789wxyz",
        "ABCD23456789WXYZ",
        "abcd 2345 6789 wxyz",
        " ABCD-2345-6789-WXYZ ",
        "AbCd2345-6789wXyZ",
    ],
)
def test_backup_code_normalisation_forgives_case_dash_and_spaces(typed):
    assert backup_codes.normalise(typed) == "ABCD23456789WXYZ"


def test_backup_code_normalisation_reads_lookalike_letters_as_digits():
    assert backup_codes.normalise("O0I1L1ol-ABCDEFGH") == "00111101ABCDEFGH"


@pytest.mark.parametrize(
    "typed",
    ["", "ABCD2345-6789WXY", "ABCD2345-6789WXYZ0", "ABCD2345-6789WXYU", "ABCD2345_6789WXYZ", "ABCD2345-6789WXY\n"],
)
def test_backup_code_normalisation_refuses_what_cannot_be_a_code(typed):
    assert backup_codes.normalise(typed) is None


def test_backup_code_hash_is_salted_sha256_of_the_normalised_code():
    normalised = "ABCD23456789WXYZ"
    first = backup_codes.hash_code(b"salt-one", normalised)
    assert first == hashlib.sha256(b"salt-one" + normalised.encode()).hexdigest()
    assert backup_codes.hash_code(b"salt-two", normalised) != first
    assert normalised not in first


def test_find_hash_finds_only_the_matching_code():
    salt = b"0123456789abcdef"
    codes = [backup_codes.normalise(c) for c in backup_codes.generate(SystemRandomness())]
    stored = {backup_codes.hash_code(salt, c) for c in codes}
    assert backup_codes.find_hash(salt, codes[3], stored) == backup_codes.hash_code(salt, codes[3])
    assert backup_codes.find_hash(salt, "ABCD23456789WXYZ", stored) is None
    assert backup_codes.find_hash(b"another salt....", codes[3], stored) is None
    assert backup_codes.find_hash(salt, codes[3], set()) is None


# -- validation --------------------------------------------------------------------------------

JSON = "application/json"
FIELDS = {"email": Field(str, max_length=320), "password": Field(str, min_length=8, max_length=1024)}


def refused(raw, fields=FIELDS, content_type=JSON):
    with pytest.raises(InvalidRequest) as caught:
        validation.parse_body(raw, content_type, fields)
    return caught.value.message


def test_parse_body_accepts_exactly_the_expected_fields():
    body = validation.parse_body(b'{"email": "a@example.com", "password": "12345678"}', JSON, FIELDS)
    assert body == {"email": "a@example.com", "password": "12345678"}
    assert validation.parse_body(b"{}", "application/json; charset=utf-8", {"x": Field(str, required=False)}) == {}


def test_parse_body_without_fields_accepts_no_body():
    assert validation.parse_body(None, None, {}) == {}
    assert validation.parse_body(b"", None, {}) == {}
    assert validation.parse_body(b"{}", JSON, {}) == {}
    assert "Unknown field" in refused(b'{"x": 1}', {})


@pytest.mark.parametrize(
    "raw",
    [b"", None, b"{", b"not json", b"\xff\xfe", b"[]", b'"text"', b"1", b"null", b"true", b'[{"email": "x"}]'],
)
def test_parse_body_refuses_missing_malformed_and_non_object_bodies(raw):
    refused(raw)


def test_parse_body_refuses_deeply_nested_json():
    assert refused(b"[" * 8000 + b"]" * 8000) == "The body is not valid JSON."


@pytest.mark.parametrize(
    "raw", [b'{"email": "a\\ud800@example.com", "password": "12345678"}', b'{"email": "a\xed\xa0\x80@b.co"}']
)
def test_parse_body_refuses_strings_that_are_not_unicode(raw):
    """Lone surrogates would fail later in hashing (a 500) or in DynamoDB (a false 503)."""
    assert refused(raw) == "Field email must be valid Unicode text."


@pytest.mark.parametrize("content_type", [None, "", "text/plain", "application/x-www-form-urlencoded", "json"])
def test_parse_body_requires_the_json_content_type(content_type):
    assert "Content-Type" in refused(b'{"email": "a@example.com", "password": "12345678"}', content_type=content_type)


def test_parse_body_names_unknown_and_missing_fields_without_echoing_values():
    message = refused(b'{"email": "a@example.com", "password": "hunter2hunter2", "extra": "x"}')
    assert message == "Unknown field; expected email, password."
    assert refused(b'{"email": "a@example.com"}') == "Missing field: password."
    message = refused(b'{"email": "a@example.com", "password": "short"}')
    assert "short" not in message and "password" in message


@pytest.mark.parametrize("value", [1, 1.5, True, None, ["a"], {"a": 1}])
def test_parse_body_refuses_wrong_types(value):
    assert "must be a string" in refused(validation.json.dumps({"email": value, "password": "12345678"}).encode())


def test_bool_and_int_are_different_types():
    with pytest.raises(InvalidRequest):
        validation.parse_body(b'{"n": true}', JSON, {"n": Field(int)})
    with pytest.raises(InvalidRequest):
        validation.parse_body(b'{"b": 1}', JSON, {"b": Field(bool)})
    assert validation.parse_body(b'{"n": 1}', JSON, {"n": Field(int)}) == {"n": 1}
    assert validation.parse_body(b'{"b": false}', JSON, {"b": Field(bool)}) == {"b": False}
    assert "must be a number" in refused(b'{"n": "1"}', {"n": Field(int)})
    assert "must be a boolean" in refused(b'{"b": "true"}', {"b": Field(bool)})


def test_parse_body_checks_lengths_and_choices():
    plan = {"plan": Field(str, choices=("free", "business"))}
    assert validation.parse_body(b'{"plan": "free"}', JSON, plan) == {"plan": "free"}
    assert "one of" in refused(b'{"plan": "gold"}', plan)
    refused(b'{"email": "a@example.com", "password": "1234567"}')
    refused(validation.json.dumps({"email": "a@example.com", "password": "x" * 1025}).encode())
    ok = validation.parse_body(
        validation.json.dumps({"email": "a@example.com", "password": "x" * 1024}).encode(), JSON, FIELDS
    )
    assert len(ok["password"]) == 1024


def test_parse_body_refuses_bodies_over_16_kib_before_reading_them():
    with pytest.raises(PayloadTooLarge):
        validation.parse_body(b"{" + b" " * (16 * 1024 - 1) + b"}", JSON, FIELDS)
    with pytest.raises(PayloadTooLarge):
        validation.parse_body(b"x" * (16 * 1024 + 1), None, FIELDS)
    exactly = b'{"email": "a@example.com", "password": "12345678"}'
    exactly += b" " * (16 * 1024 - len(exactly))
    assert validation.parse_body(exactly, JSON, FIELDS)["email"] == "a@example.com"


@pytest.mark.parametrize(("typed", "code"), [("123456", "123456"), ("123 456", "123456"), (" 12 34 56 ", "123456")])
def test_totp_code_ignores_spaces(typed, code):
    assert validation.totp_code(typed) == code


@pytest.mark.parametrize(
    "typed",
    [
        "12345",
        "1234567",
        "12345\n6",
        "\uff11\uff12\uff13\uff14\uff15\uff16",  # full-width digits
        "\u0660\u0661\u0662\u0663\u0664\u0665",  # Arabic-Indic digits
        "12345a",
        "",
        "      ",
        "123-456",
        "+12345",
        "12345\t6",
    ],
)
def test_totp_code_refuses_anything_but_six_ascii_digits(typed):
    """Including full-width and Arabic-Indic digits, which Python's isdigit() accepts."""
    with pytest.raises(InvalidRequest) as caught:
        validation.totp_code(typed)
    assert caught.value.message == "Field code must be 6 digits."


def test_backup_code_field_normalises_or_refuses():
    assert validation.backup_code("abcd2345-6789wxyz") == "ABCD23456789WXYZ"
    with pytest.raises(InvalidRequest):
        validation.backup_code("123456")


@pytest.mark.parametrize(
    ("typed", "normalised"), [("Alice@Example.COM", "alice@example.com"), ("Zoë@Exämple.de", "zoë@exämple.de")]
)
def test_email_is_normalised_to_lower_case(typed, normalised):
    assert validation.email(typed) == normalised


@pytest.mark.parametrize("typed", ["", "alice", "alice@", "@example.com", "a b@example.com", "a@b", "a@@b.com"])
def test_email_refuses_what_is_not_an_address(typed):
    with pytest.raises(InvalidRequest):
        validation.email(typed)


CONTROL_AND_SPACE = [
    "\x00",  # NUL
    "\x07",  # BEL
    "\x1b[31m",  # an ESC sequence
    "\x7f",  # DEL
    "\x85",  # NEL, a C1 control
    "\u200b",  # zero-width space (a format character)
    "\u202e",  # right-to-left override
    "\ue000",  # private use
    " ",
    "\t",
    "\n",
    "\u00a0",  # no-break space
    "\u3000",  # ideographic space
    "\u2028",  # line separator
]


@pytest.mark.parametrize("where", ["start", "local", "domain", "end"])
@pytest.mark.parametrize("char", CONTROL_AND_SPACE)
def test_email_refuses_control_characters_and_whitespace_anywhere(char, where):
    email = {
        "start": f"{char}alice@example.com",
        "local": f"ali{char}ce@example.com",
        "domain": f"alice@exa{char}mple.com",
        "end": f"alice@example.com{char}",
    }[where]
    with pytest.raises(InvalidRequest) as caught:
        validation.email(email)
    assert caught.value.message == "Field email must be an email address of at most 320 characters."


def test_email_is_at_most_320_characters():
    longest = "a" * 64 + "@" + "b" * 251 + ".com"
    assert len(longest) == 320
    assert validation.email(longest) == longest
    with pytest.raises(InvalidRequest):
        validation.email("a" * 64 + "@" + "b" * 252 + ".com")
    with pytest.raises(InvalidRequest):
        validation.email("a" * 65 + "@example.com")  # a local part is at most 64


def test_exactly_one_of_two_fields():
    assert validation.exactly_one({"code": "1"}, "code", "backup_code") == "code"
    assert validation.exactly_one({"backup_code": "1"}, "code", "backup_code") == "backup_code"
    for body in ({}, {"code": "1", "backup_code": "2"}):
        with pytest.raises(InvalidRequest):
            validation.exactly_one(body, "code", "backup_code")


# -- throttling --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failures", "seconds"),
    [(0, 0), (1, 0), (4, 0), (5, 60), (6, 120), (7, 240), (8, 480), (10, 1920), (11, 3600), (12, 3600), (50, 3600)],
)
def test_lockout_schedule_doubles_from_one_minute_to_one_hour(failures, seconds):
    assert two_factor.lockout_seconds(failures) == seconds


def test_about_a_hundred_guesses_reach_the_check_in_four_days():
    """An attacker who guesses as soon as each lockout ends."""
    now, failures, guesses = 0, 0, 0
    while now < 4 * DAY:
        guesses += 1
        failures += 1
        now += max(two_factor.lockout_seconds(failures), 1)
    assert 95 <= guesses <= 110


def test_retry_after_headers_are_whole_positive_seconds():
    assert TooManyAttempts(59.6).headers == {"Retry-After": "59"}
    assert TooManyAttempts(0).headers == {"Retry-After": "1"}
    assert TemporarilyUnavailable().headers == {"Retry-After": "5"}


# -- enforcement policy ------------------------------------------------------------------------


NOW = 1_800_000_000
GRACE = 30 * DAY


@pytest.mark.parametrize(
    ("required", "role", "sso", "enabled", "enforced_at", "status"),
    [
        (False, "member", False, False, None, "not_required"),
        (False, "owner", False, True, None, "not_required"),
        (True, "member", True, False, NOW - GRACE - 1, "exempt"),
        (True, "admin", True, False, NOW - GRACE - 1, "locked"),
        (True, "owner", True, False, NOW - GRACE + 1, "pending"),
        (True, "member", False, True, NOW - GRACE - 1, "compliant"),
        (True, "admin", True, True, NOW, "compliant"),
        (True, "member", False, False, NOW - GRACE + 1, "pending"),
        (True, "member", False, False, NOW - GRACE, "locked"),
        (True, "member", False, False, NOW - GRACE - DAY, "locked"),
        (True, "member", False, False, NOW, "pending"),
    ],
)
def test_enforcement_status(required, role, sso, enabled, enforced_at, status):
    assert (
        enforcement.enforcement_status(
            required=required, enforced_at=enforced_at, role=role, sso=sso, two_factor_enabled=enabled, now=NOW
        )
        == status
    )


def test_only_sso_members_with_role_member_are_exempt():
    assert enforcement.is_exempt("member", True)
    assert not enforcement.is_exempt("member", False)
    assert not enforcement.is_exempt("admin", True)
    assert not enforcement.is_exempt("owner", True)


def test_who_owes_enrollment():
    assert enforcement.owes_enrollment(required=True, role="member", sso=False, two_factor_enabled=False)
    assert enforcement.owes_enrollment(required=True, role="admin", sso=True, two_factor_enabled=False)
    assert not enforcement.owes_enrollment(required=True, role="member", sso=True, two_factor_enabled=False)
    assert not enforcement.owes_enrollment(required=True, role="member", sso=False, two_factor_enabled=True)
    assert not enforcement.owes_enrollment(required=False, role="member", sso=False, two_factor_enabled=False)


def test_the_deadline_is_the_organizations_thirty_days_after_enforcement_starts():
    assert enforcement.deadline(NOW) == NOW + 30 * DAY
    owing = {"required": True, "enforced_at": NOW, "role": "member", "sso": False, "two_factor_enabled": False}
    assert enforcement.member_deadline(**owing) == NOW + 30 * DAY
    assert enforcement.member_deadline(**(owing | {"two_factor_enabled": True})) is None
    assert enforcement.member_deadline(**(owing | {"sso": True})) is None
    assert enforcement.member_deadline(**(owing | {"required": False, "enforced_at": None})) is None
    assert enforcement.earliest_deadline([NOW + 5, NOW + 2, NOW + 9]) == NOW + 2
    assert enforcement.earliest_deadline([]) is None


def test_status_counts_follow_from_the_tally_the_policy_and_the_time():
    from chalicelib.records import MemberTally

    tally = MemberTally(exempt=2, two_factor_on=5, two_factor_off=3)
    off = enforcement.status_counts(required=False, enforced_at=None, tally=tally, now=NOW)
    assert off == {"compliant": 0, "pending": 0, "locked": 0, "exempt": 0, "not_required": 10}
    running = enforcement.status_counts(required=True, enforced_at=NOW, tally=tally, now=NOW + GRACE - 1)
    assert running == {"compliant": 5, "pending": 3, "locked": 0, "exempt": 2, "not_required": 0}
    over = enforcement.status_counts(required=True, enforced_at=NOW, tally=tally, now=NOW + GRACE)
    assert over == {"compliant": 5, "pending": 0, "locked": 3, "exempt": 2, "not_required": 0}


def test_notices_fall_due_at_once_then_seven_three_and_one_day_before_and_at_the_deadline():
    deadline = NOW + GRACE
    assert enforcement.notice_time(NOW, enforcement.STARTED) == NOW
    assert enforcement.next_notice_at(NOW, -1) == NOW
    assert enforcement.next_notice_at(NOW, 0) == deadline - 7 * DAY
    assert enforcement.next_notice_at(NOW, 1) == deadline - 3 * DAY
    assert enforcement.next_notice_at(NOW, 2) == deadline - 1 * DAY
    assert enforcement.next_notice_at(NOW, 3) == deadline
    assert enforcement.next_notice_at(NOW, 4) is None


def test_notice_due_on_time():
    deadline = NOW + GRACE
    assert enforcement.notice_due(NOW, -1, NOW - 1) is None
    assert enforcement.notice_due(NOW, -1, NOW) == 0
    assert enforcement.notice_due(NOW, 0, NOW + DAY) is None  # already handed over
    assert enforcement.notice_due(NOW, 0, deadline - 7 * DAY - 1) is None
    assert enforcement.notice_due(NOW, 0, deadline - 7 * DAY) == 1
    assert enforcement.notice_due(NOW, 1, deadline - 4 * DAY) is None
    assert enforcement.notice_due(NOW, 1, deadline - 3 * DAY) == 2
    assert enforcement.notice_due(NOW, 2, deadline - 1 * DAY) == 3
    assert enforcement.notice_due(NOW, 3, deadline - 1) is None
    assert enforcement.notice_due(NOW, 3, deadline) == 4
    assert enforcement.notice_due(NOW, 4, deadline + 10 * DAY) is None


def test_after_missed_runs_only_the_most_urgent_notice_is_due():
    deadline = NOW + GRACE
    assert enforcement.notice_due(NOW, -1, deadline - 2 * DAY) == 2
    assert enforcement.notice_due(NOW, -1, deadline - DAY + 60) == 3
    assert enforcement.notice_due(NOW, -1, deadline + DAY) == 4
    assert enforcement.notice_due(NOW, 0, deadline + DAY) == 4


# -- tokens, passwords, time and randomness ----------------------------------------------------


def test_tokens_carry_the_user_id_and_32_random_bytes():
    user_id = tokens.new_id(SystemRandomness())
    token = tokens.new_token(user_id, SystemRandomness())
    head, _, secret = token.partition(".")
    assert head == user_id
    assert len(base64.urlsafe_b64decode(secret + "=")) == 32
    assert tokens.parse_token(token) == (user_id, hashlib.sha256(token.encode()).hexdigest())


@pytest.mark.parametrize(
    "token",
    ["", "abc", "not-a-uuid.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "00000000-0000-4000-8000-000000000000.short"],
)
def test_malformed_tokens_do_not_parse(token):
    assert tokens.parse_token(token) is None


CHEAP = Settings("t", "k", "s", argon2_memory_kib=64, argon2_time_cost=1)


def test_password_hash_is_salted_argon2id_at_the_configured_parameters_and_verifies():
    first = passwords.hash_password("correct horse", CHEAP, SystemRandomness())
    second = passwords.hash_password("correct horse", CHEAP, SystemRandomness())
    assert first.startswith("$argon2id$v=19$m=64,t=1,p=1$")
    assert first != second
    assert "correct horse" not in first
    assert passwords.verify_password("correct horse", first, CHEAP)
    assert not passwords.verify_password("correct horsf", first, CHEAP)
    assert not passwords.needs_upgrade(first, CHEAP)


def test_password_hashing_defaults_are_at_least_owasps_argon2id():
    settings = Settings("t", "k", "s")
    assert settings.argon2_memory_kib >= 19 * 1024
    assert settings.argon2_time_cost >= 2
    assert settings.argon2_parallelism == 1


def test_password_hashing_parameters_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("AEGIS_ARGON2_MEMORY_KIB", "128")
    monkeypatch.setenv("AEGIS_ARGON2_TIME_COST", "3")
    monkeypatch.setenv("AEGIS_ARGON2_PARALLELISM", "2")
    settings = Settings.from_environment()
    assert passwords.hash_password("pw", settings, SystemRandomness()).startswith("$argon2id$v=19$m=128,t=3,p=2$")


def test_a_hash_made_with_other_parameters_verifies_and_needs_an_upgrade():
    older = passwords.hash_password("correct horse", CHEAP, SystemRandomness())
    stronger = Settings("t", "k", "s", argon2_memory_kib=128, argon2_time_cost=2)
    assert passwords.verify_password("correct horse", older, stronger)
    assert passwords.needs_upgrade(older, stronger)


def test_scrypt_hashes_of_older_accounts_verify_and_need_an_upgrade():
    # made by the scrypt code this project used before Argon2id: scrypt$N$r$p$salt$digest
    stored = _scrypt_hash("correct horse", n=2**10)
    assert passwords.verify_password("correct horse", stored, CHEAP)
    assert not passwords.verify_password("correct horsf", stored, CHEAP)
    assert passwords.needs_upgrade(stored, CHEAP)


def test_a_malformed_argon2id_hash_verifies_nothing():
    assert not passwords.verify_password("x", "$argon2id$v=19$m=64,t=1,p=1$garbage", CHEAP)


def test_an_unknown_email_costs_one_hash_at_the_configured_parameters(monkeypatch):
    import argon2

    made = []
    real = argon2.PasswordHasher.hash
    monkeypatch.setattr(argon2.PasswordHasher, "hash", lambda self, *a, **k: made.append(self) or real(self, *a, **k))
    passwords.burn_equal_time("whatever", CHEAP)
    assert [(h.memory_cost, h.time_cost, h.parallelism) for h in made] == [(64, 1, 1)]


def _scrypt_hash(password: str, n: int) -> str:
    import base64
    import os

    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    salt = os.urandom(16)
    digest = Scrypt(salt=salt, length=32, n=n, r=8, p=1).derive(password.encode())
    return f"scrypt${n}$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def test_times_are_iso_8601_utc_with_z():
    assert format_time(parse_time("2026-11-27T22:51:56Z")) == "2026-11-27T22:51:56Z"
    assert format_time(None) is None
    clock = ManualClock("2026-11-27T09:00:00Z")
    clock.advance(90)
    assert format_time(clock.now()) == "2026-11-27T09:01:30Z"
    clock.set(0)
    assert clock.now() == 0
    clock.set("2026-11-27T09:00:00Z")
    assert format_time(clock.now()) == "2026-11-27T09:00:00Z"
    assert abs(SystemClock().now() - time.time()) <= 1


def test_seeded_randomness_repeats_and_system_randomness_does_not():
    assert SeededRandomness("s").token_bytes(70) == SeededRandomness("s").token_bytes(70)
    assert SeededRandomness("s").token_bytes(16) != SeededRandomness("t").token_bytes(16)
    assert len(SystemRandomness().token_bytes(40)) == 40
    assert SystemRandomness().token_bytes(16) != SystemRandomness().token_bytes(16)


def test_generated_codes_are_stored_as_hashes_that_the_typed_codes_find():
    from chalicelib.randomness import SeededRandomness

    codes = backup_codes.generate(SeededRandomness("hash-all"))
    salt = b"per-user salt 16"
    stored = backup_codes.hash_all(salt, codes)
    assert len(stored) == 8 and not set(codes) & stored
    for code in codes:
        assert backup_codes.find_hash(salt, backup_codes.normalise(code.lower()), set(stored)) is not None
    assert backup_codes.hash_all(b"another salt 16b", codes).isdisjoint(stored)
