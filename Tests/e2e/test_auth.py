"""Phone-OTP auth (GoTrue subset) through supabase-py 2.34.1.

Rows #1-#13 of the conformance plan in docs/specs supabase-compat.md §7, plus sign-out,
the API-key gate and phone normalisation. Test numbers (fixed codes, no SMS) come from
AUTH_SMS_TEST_OTP; each number may request a code at most every 5 s, so every scenario
uses its own number and the helpers wait out a 429 when a number is reused.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from supabase_auth.types import AuthOtpResponse

from e2e_support import (
    ALL_AUTH_RESPONSES,
    assert_gotrue_error_shape,
    auth_responses,
    close_client,
    expect_auth_error,
    jwt_claims,
    jwt_header,
    last_auth_response,
    new_client,
    request_otp,
    sign_in,
    within,
)

MAIN_PHONE, MAIN_CODE = "+15555550100", "123456"
REFRESH_PHONE, REFRESH_CODE = "+15555550101", "654321"
SIGNOUT_PHONE, SIGNOUT_CODE = "+15555550104", "333333"
RU_INPUT, RU_E164 = "8 (999) 123-45-67", "79991234567"
API_VERSION = {"X-Supabase-Api-Version": "2024-01-01"}


def _result(value: Any) -> Any:
    """Re-raises an exception captured by the flow fixture, else returns the value."""
    if isinstance(value, BaseException):
        raise value
    return value


async def _outcome(awaitable) -> Any:
    try:
        return await within(awaitable)
    except Exception as error:  # captured; asserted by the tests
        return error


@dataclass
class Flow:
    """Rows #1-#5 on MAIN_PHONE, executed once in order; each test asserts one row."""

    client: Any
    otp: Any = None
    repeat: Any = None
    repeat_response: httpx.Response | None = None
    wrong: Any = None
    wrong_response: httpx.Response | None = None
    verify: Any = None
    verified_at: float = 0.0

    def session(self):
        result = _result(self.verify)
        assert result.session is not None, "verify_otp returned no session"
        return result


@pytest.fixture(scope="module")
async def flow(server):
    sb = await new_client(server.url, server.anon_key)
    f = Flow(client=sb)
    try:
        f.otp = await _outcome(request_otp(sb, MAIN_PHONE))  # 1 (waits out a cooldown from earlier runs)
        f.repeat = await _outcome(sb.auth.sign_in_with_otp({"phone": MAIN_PHONE}))  # 3: immediately again
        f.repeat_response = last_auth_response(sb) if auth_responses(sb) else None
        f.wrong = await _outcome(sb.auth.verify_otp({"phone": MAIN_PHONE, "token": "000000", "type": "sms"}))  # 4
        f.wrong_response = last_auth_response(sb) if auth_responses(sb) else None
        f.verify = await _outcome(sb.auth.verify_otp({"phone": MAIN_PHONE, "token": MAIN_CODE, "type": "sms"}))  # 5
        f.verified_at = time.time()
        yield f
    finally:
        await close_client(sb)


# ----------------------------------------------------------------- #1-#5: request and verify


async def test_01_sign_in_with_otp_returns_no_user_and_no_session(flow):
    response = _result(flow.otp)
    assert isinstance(response, AuthOtpResponse)
    assert response.user is None
    assert response.session is None


async def test_02_invalid_phone_is_validation_failed(supabase_factory):
    sb = await supabase_factory()
    error = await expect_auth_error(sb.auth.sign_in_with_otp({"phone": "12ab"}))
    assert error.status == 400, error
    assert error.code == "validation_failed", error
    assert_gotrue_error_shape(last_auth_response(sb))


async def test_03_immediate_repeat_is_rate_limited(flow):
    _result(flow.otp)
    error = flow.repeat
    assert isinstance(error, Exception), f"second OTP request within 5 s succeeded: {error!r}"
    assert getattr(error, "status", None) == 429, repr(error)
    assert getattr(error, "code", None) == "over_sms_send_rate_limit", repr(error)
    body = assert_gotrue_error_shape(flow.repeat_response)
    match = re.search(r"after (\d+) seconds", body["message"])
    assert match, f"message does not say when to retry: {body['message']!r}"
    assert 1 <= int(match.group(1)) <= 5, body["message"]


async def test_04_wrong_code_is_otp_expired(flow):
    error = flow.wrong
    assert isinstance(error, Exception), f"a wrong code was accepted: {error!r}"
    assert getattr(error, "status", None) == 403, repr(error)
    assert getattr(error, "code", None) == "otp_expired", repr(error)
    assert_gotrue_error_shape(flow.wrong_response)


async def test_05_correct_code_returns_session(flow):
    r = flow.session()
    s = r.session
    assert len(s.access_token.split(".")) == 3
    assert s.token_type == "bearer"
    assert s.expires_in > 0
    assert s.expires_at is not None
    assert abs(s.expires_at - (flow.verified_at + s.expires_in)) < 5
    assert s.refresh_token
    assert r.user is not None and s.user is not None
    assert r.user.phone == "15555550100"
    assert r.user.aud == "authenticated"
    assert r.user.phone_confirmed_at is not None
    uuid.UUID(r.user.id)
    # The client switched every sub-client to the user token.
    assert flow.client.options.headers["Authorization"] == f"Bearer {s.access_token}"


async def test_06_access_token_header_and_claims(flow):
    r = flow.session()
    token, session = r.session.access_token, r.session
    header = jwt_header(token)
    assert header["alg"] == "ES256", header
    assert header.get("kid"), header
    assert header.get("typ", "JWT") == "JWT", header
    claims = jwt_claims(token)
    assert claims["sub"] == r.user.id
    assert claims["aud"] == "authenticated"  # a string, not a list
    assert claims["role"] == "authenticated"
    assert claims["aal"] == "aal1"
    amr = claims["amr"]
    assert isinstance(amr, list) and amr, claims
    assert isinstance(amr[0], dict) and amr[0].get("method") == "otp", amr
    assert isinstance(amr[0].get("timestamp"), int) and not isinstance(amr[0]["timestamp"], bool), amr
    uuid.UUID(claims["session_id"])
    assert claims["is_anonymous"] is False
    assert claims["phone"] == "15555550100"
    assert isinstance(claims["exp"], int) and isinstance(claims["iat"], int)
    assert abs((claims["exp"] - claims["iat"]) - session.expires_in) <= 2, (claims["exp"], claims["iat"], session.expires_in)
    assert claims.get("iss", "").endswith("/auth/v1"), claims.get("iss")


async def test_07_get_claims_verifies_with_jwks(flow, server):
    r = flow.session()
    sb = flow.client

    def jwks_requests() -> int:
        return sum(1 for resp in auth_responses(sb) if resp.request.url.path.endswith("/auth/v1/.well-known/jwks.json"))

    before = jwks_requests()
    claims_response = await within(sb.auth.get_claims())
    assert claims_response is not None
    assert claims_response["claims"]["sub"] == r.user.id
    assert jwks_requests() == before + 1, "get_claims must fetch the JWKS exactly once (asymmetric token)"
    again = await within(sb.auth.get_claims())
    assert again["claims"]["sub"] == r.user.id
    assert jwks_requests() == before + 1, "the JWKS is cached by the client for 10 minutes"

    # Verify the signature independently with PyJWT and the published key.
    token = r.session.access_token
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(f"{server.url}/auth/v1/.well-known/jwks.json", headers={"apikey": server.anon_key})
    assert response.status_code == 200, response.text
    keys = response.json()["keys"]
    kid = jwt_header(token)["kid"]
    matching = [k for k in keys if k.get("kid") == kid]
    assert len(matching) == 1, f"kid {kid!r} not (uniquely) in JWKS {keys!r}"
    jwk = matching[0]
    assert jwk["kty"] == "EC" and jwk["crv"] == "P-256", jwk
    assert "d" not in jwk, "JWKS must not publish the private key"
    key = jwt.PyJWK(jwk, algorithm="ES256").key
    verified = jwt.decode(token, key=key, algorithms=["ES256"], audience="authenticated")
    assert verified["sub"] == r.user.id
    # The same signature over a changed payload must not verify.
    head, _, signature = token.split(".")
    forged_claims = {**jwt_claims(token), "role": "service_role"}
    forged_payload = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=").decode()
    tampered = f"{head}.{forged_payload}.{signature}"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(tampered, key=key, algorithms=["ES256"], audience="authenticated")


async def test_08_get_user(flow):
    r = flow.session()
    u = await within(flow.client.auth.get_user())
    assert u is not None
    assert u.user.id == r.user.id
    assert u.user.phone == "15555550100"
    assert u.user.identities, "user has no identities"
    assert u.user.identities[0].provider == "phone"


async def test_09_update_user_merges_and_deletes_metadata(flow):
    flow.session()
    sb = flow.client
    first = await within(sb.auth.update_user({"data": {"nick": "bob", "tmp": 1}}))
    assert first.user.user_metadata.get("nick") == "bob"
    assert first.user.user_metadata.get("tmp") == 1
    second = await within(sb.auth.update_user({"data": {"tmp": None}}))
    assert second.user.user_metadata == {"nick": "bob"}
    fetched = await within(sb.auth.get_user())
    assert fetched.user.user_metadata == {"nick": "bob"}


# ----------------------------------------------------------------- #10-#13: refresh tokens


async def test_10_to_12_refresh_rotation_and_reuse(supabase_factory):
    sb = await supabase_factory()
    r = await sign_in(sb, REFRESH_PHONE, REFRESH_CODE)
    session_id = jwt_claims(r.session.access_token)["session_id"]

    # 10: rotation
    old = (await within(sb.auth.get_session())).refresh_token
    assert old == r.session.refresh_token
    n = await within(sb.auth.refresh_session())
    assert n.session is not None
    assert n.session.refresh_token != old, "#10: refresh must issue a new refresh token"
    assert n.session.access_token != r.session.access_token, "#10: refresh must issue a new access token"
    assert jwt_claims(n.session.access_token)["session_id"] == session_id, "#10: session_id must not change"
    assert sb.options.headers["Authorization"] == f"Bearer {n.session.access_token}"

    # 11: the parent of the active token gets the active token back
    again = await within(sb.auth.refresh_session(old))
    assert again.session.refresh_token == n.session.refresh_token, "#11: must return the current refresh token"
    assert jwt_claims(again.session.access_token)["session_id"] == session_id

    # 12: reuse outside the 2 s window revokes the whole session family
    await asyncio.sleep(3)
    n2 = await within(sb.auth.refresh_session())
    assert n2.session.refresh_token not in (old, n.session.refresh_token), "#12: refresh after 3 s must rotate"
    error = await expect_auth_error(sb.auth.refresh_session(old))
    assert error.status == 400, f"#12: reuse of {old!r}: {error!r}"
    assert error.code == "refresh_token_already_used", f"#12: {error!r}"
    assert_gotrue_error_shape(last_auth_response(sb))
    await asyncio.sleep(3)
    error = await expect_auth_error(sb.auth.refresh_session(n2.session.refresh_token))
    assert error.status == 400, f"#12: the newest token of a revoked family must fail: {error!r}"
    assert_gotrue_error_shape(last_auth_response(sb))


async def test_13_unknown_refresh_token(supabase_factory):
    sb = await supabase_factory()
    error = await expect_auth_error(sb.auth.refresh_session("does-not-exist"))
    assert error.status == 400, error
    assert error.code == "refresh_token_not_found", error
    assert_gotrue_error_shape(last_auth_response(sb))


# ----------------------------------------------------------------- sign-out, API key, phones


async def test_sign_out_global_ends_the_session(server, supabase_factory):
    sb = await supabase_factory()
    r = await sign_in(sb, SIGNOUT_PHONE, SIGNOUT_CODE)
    access, refresh = r.session.access_token, r.session.refresh_token
    await within(sb.auth.sign_out())
    assert await within(sb.auth.get_session()) is None
    logout = [resp for resp in auth_responses(sb) if resp.request.url.path.endswith("/auth/v1/logout")]
    assert logout and logout[-1].status_code == 204, [(x.status_code, x.text) for x in logout]
    assert logout[-1].request.url.params.get("scope") == "global"

    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(
            f"{server.url}/auth/v1/user",
            headers={"apikey": server.anon_key, "Authorization": f"Bearer {access}", **API_VERSION},
        )
    assert response.status_code == 403, response.text
    body = assert_gotrue_error_shape(response)
    assert body["code"] == "session_not_found", body

    other = await supabase_factory()
    error = await expect_auth_error(other.auth.refresh_session(refresh))
    assert error.status == 400, f"refresh token of a signed-out session: {error!r}"
    assert_gotrue_error_shape(last_auth_response(other))


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("POST", "/auth/v1/otp", {"phone": "+15555550103"}),
        ("GET", "/auth/v1/user", None),
        ("POST", "/rest/v1/rpc/whoami", {}),
    ],
)
@pytest.mark.parametrize("apikey", [None, "not-a-key"], ids=["no-apikey", "wrong-apikey"])
async def test_requests_without_valid_apikey_are_401(server, method, path, body, apikey):
    headers = {"Content-Type": "application/json", **API_VERSION}
    if apikey:
        headers["apikey"] = apikey
        headers["Authorization"] = f"Bearer {apikey}"
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.request(method, f"{server.url}{path}", headers=headers, json=body)
    assert response.status_code == 401, f"{method} {path}: {response.status_code} {response.text}"
    payload = response.json()
    assert isinstance(payload, dict) and isinstance(payload.get("message"), str), payload


async def test_russian_national_number_is_normalised(server_log, supabase_factory):
    sb = await supabase_factory()
    start = server_log.log_size()
    otp = await request_otp(sb, RU_INPUT)
    assert otp.user is None and otp.session is None
    match = await server_log.wait_for_log(r"one-time code for \+79991234567: (\d{6})\b", start=start, timeout=10)
    code = match.group(1)
    r = await within(sb.auth.verify_otp({"phone": "+" + RU_E164, "token": code, "type": "sms"}))
    assert r.session is not None
    assert r.user.phone == RU_E164
    assert jwt_claims(r.session.access_token)["phone"] == RU_E164
    # The code is single-use.
    error = await expect_auth_error(sb.auth.verify_otp({"phone": RU_INPUT, "token": code, "type": "sms"}))
    assert error.status == 403 and error.code == "otp_expired", error


async def test_zz_every_auth_error_has_gotrue_shape():
    """Sweep: every auth error any client of this module received had the GoTrue shape."""
    errors = [resp for responses in ALL_AUTH_RESPONSES for resp in responses if resp.status_code >= 400]
    if not errors:
        pytest.skip("no auth errors recorded: run together with the other tests of this module")
    for response in errors:
        assert_gotrue_error_shape(response)
