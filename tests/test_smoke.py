def test_sign_in_with_code_after_enrollment(h):
    token, secret, codes = h.user_with_two_factor("alice@example.com")
    reply = h.sign_in_with_code("alice@example.com", secret)
    assert reply.status == 200
    assert reply.body["backup_codes_remaining"] == 8
