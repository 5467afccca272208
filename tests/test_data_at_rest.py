"""What a database dump shows: no secret, backup code, password, token or data key in any
form, and encrypted secrets that only decrypt for the user they belong to."""

import base64
import os

from chalicelib import aws
from devkit import stack

VERIFY = "/v1/sessions/verify"
OTHER_PASSWORD = "a different passphrase 42"


def forms_of_bytes(raw):
    """A secret byte string and the ways it could be written down as text."""
    return [
        raw.hex(),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        base64.b32encode(raw).decode().rstrip("="),
    ]


def flatten(value):
    """Every string and byte string inside a DynamoDB attribute value."""
    if isinstance(value, dict):
        for kind, inner in value.items():
            if kind == "B":
                yield bytes(inner)
            elif kind in ("S", "N"):
                yield inner
            elif kind == "BS":
                yield from (bytes(b) for b in inner)
            elif kind in ("SS", "NS"):
                yield from inner
            elif kind == "M":
                yield from inner  # attribute names too
                for nested in inner.values():
                    yield from flatten(nested)
            elif kind == "L":
                for nested in inner:
                    yield from flatten(nested)
    elif isinstance(value, list):
        for nested in value:
            yield from flatten(nested)


def dump(h):
    texts, blobs = [], []
    for item in h.table_items():
        for name, value in item.items():
            texts.append(name)
            for leaf in flatten(value):
                (blobs if isinstance(leaf, bytes) else texts).append(leaf)
    return "\n".join(texts).lower(), blobs


def assert_absent(h, texts=(), raws=()):
    haystack, blobs = dump(h)
    assert haystack  # the dump is not empty
    for text in texts:
        assert text.lower() not in haystack, text
        assert not any(text.encode() in blob for blob in blobs), text
    for raw in raws:
        assert not any(raw in blob for blob in blobs), raw
        for form in forms_of_bytes(raw):
            assert form.lower() not in haystack, form


def capture_data_keys():
    keys = []

    def record(parsed, **kwargs):
        if "Plaintext" in parsed:
            keys.append(parsed["Plaintext"])

    aws.client("kms").meta.events.register("after-call.kms.GenerateDataKey", record)
    aws.client("kms").meta.events.register("after-call.kms.Decrypt", record)
    return keys


def test_no_secret_code_password_token_or_data_key_is_stored_in_plaintext(h):
    data_keys = capture_data_keys()
    secrets, codes, tokens, passwords = [], [], [], ["correct horse battery staple", OTHER_PASSWORD]

    h.sign_up("alice@example.com")
    session = h.session("alice@example.com")
    tokens.append(session)
    # A pending enrollment replaced by a second one, then confirmed.
    secrets.append(h.post("/v1/me/two-factor/enrollment", token=session).body["secret"])
    secret, backup = h.enroll(session)
    secrets.append(secret)
    codes += backup
    # Sign in with a code, with a backup code, fail once, regenerate.
    challenge = h.sign_in("alice@example.com").body["challenge_token"]
    tokens.append(challenge)
    tokens.append(h.post(VERIFY, {"code": h.code(secret)}, token=challenge).body["session_token"])
    challenge = h.sign_in("alice@example.com").body["challenge_token"]
    tokens.append(challenge)
    reply = h.post(VERIFY, {"backup_code": backup[0].lower()}, token=challenge)
    tokens.append(reply.body["session_token"])
    challenge = h.sign_in("alice@example.com").body["challenge_token"]
    tokens.append(challenge)  # left unused in the table
    h.post(VERIFY, {"backup_code": "ZZZZZZZZ-ZZZZZZZZ"}, token=challenge)
    h.clock.advance(30)
    codes += h.post("/v1/me/two-factor/backup-codes", {"code": h.code(secret)}, token=session).body["backup_codes"]
    # A second user who signs in with a long password and stays without 2FA.
    h.sign_up("bob@example.com", OTHER_PASSWORD)
    tokens.append(h.session("bob@example.com", OTHER_PASSWORD))

    assert len(data_keys) >= 2
    assert_absent(
        h,
        texts=[
            *secrets,
            *passwords,
            *codes,
            *(code.replace("-", "") for code in codes),
            *tokens,
            *(token.split(".")[1] for token in tokens),
        ],
        raws=[
            *(base64.b32decode(s) for s in secrets),
            *(p.encode() for p in passwords),
            *(base64.urlsafe_b64decode(t.split(".")[1] + "=") for t in tokens),
            *data_keys,
        ],
    )


def test_the_assertion_would_see_a_leak(h):
    """The checks above are not vacuous: a secret written into the table is found."""
    h.sign_up("alice@example.com")
    raw = b"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x10"
    stack.client("dynamodb").put_item(
        TableName=os.environ["AEGIS_TABLE_NAME"],
        Item={"pk": {"S": "LEAK"}, "sk": {"S": "LEAK"}, "blob": {"M": {"x": {"S": raw.hex()}}}},
    )
    try:
        assert_absent(h, raws=[raw])
    except AssertionError:
        return
    raise AssertionError("a hex-encoded secret in a nested map went unnoticed")


def swap_secrets(h, first_id, second_id):
    dynamodb = stack.client("dynamodb")
    table = os.environ["AEGIS_TABLE_NAME"]
    key = {first_id: {"pk": {"S": f"USER#{first_id}"}, "sk": {"S": "TOTP"}}}
    key[second_id] = {"pk": {"S": f"USER#{second_id}"}, "sk": {"S": "TOTP"}}
    sealed = {uid: dynamodb.get_item(TableName=table, Key=key[uid])["Item"]["secret"] for uid in key}
    for uid, other in ((first_id, second_id), (second_id, first_id)):
        dynamodb.update_item(
            TableName=table,
            Key=key[uid],
            UpdateExpression="SET secret = :sealed",
            ExpressionAttributeValues={":sealed": sealed[other]},
        )


def test_swapped_encrypted_secrets_verify_for_neither_user(h, caplog):
    alice_token, alice_secret, _ = h.user_with_two_factor("alice@example.com")
    bob_token, bob_secret, _ = h.user_with_two_factor("bob@example.com")
    alice = h.get("/v1/me/security", token=alice_token).body["user_id"]
    bob = h.get("/v1/me/security", token=bob_token).body["user_id"]
    h.clock.advance(30)
    swap_secrets(h, alice, bob)

    for email, secret in (
        ("alice@example.com", alice_secret),
        ("alice@example.com", bob_secret),
        ("bob@example.com", bob_secret),
        ("bob@example.com", alice_secret),
    ):
        reply = h.sign_in_with_code(email, secret)
        assert reply.status == 401 and reply.body["error"]["code"] == "invalid_code", (email, reply)
    assert any("does not decrypt under its own context" in r.getMessage() for r in caplog.records)
    # Swapping them back restores both: nothing else was damaged.
    swap_secrets(h, alice, bob)
    assert h.sign_in_with_code("alice@example.com", alice_secret).status == 200
    assert h.sign_in_with_code("bob@example.com", bob_secret).status == 200


def test_a_tampered_ciphertext_verifies_nothing(h):
    token, secret, _ = h.user_with_two_factor("alice@example.com")
    user_id = h.get("/v1/me/security", token=token).body["user_id"]
    dynamodb, table = stack.client("dynamodb"), os.environ["AEGIS_TABLE_NAME"]
    key = {"pk": {"S": f"USER#{user_id}"}, "sk": {"S": "TOTP"}}
    ciphertext = bytearray(dynamodb.get_item(TableName=table, Key=key)["Item"]["secret"]["M"]["ciphertext"]["B"])
    ciphertext[0] ^= 1
    dynamodb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET secret.ciphertext = :tampered",
        ExpressionAttributeValues={":tampered": {"B": bytes(ciphertext)}},
    )
    reply = h.sign_in_with_code("alice@example.com", secret)
    assert (reply.status, reply.body["error"]["code"]) == (401, "invalid_code")
