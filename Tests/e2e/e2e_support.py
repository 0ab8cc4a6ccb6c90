"""Helpers shared by the black-box Supabase-compatibility tests.

Everything here talks to the server only through the official `supabase` client (or plain
httpx where the client cannot express the request), so the suite checks wire behaviour,
not implementation details.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any, Awaitable, TypeVar

import httpx
import jwt
from postgrest.exceptions import APIError
from supabase import AsyncClient, AsyncClientOptions, acreate_client
from supabase_auth.errors import AuthApiError

T = TypeVar("T")

# Test numbers configured through AUTH_SMS_TEST_OTP in conftest.py (phone -> fixed code).
TEST_OTPS = {
    "+15555550100": "123456",
    "+15555550101": "654321",
    "+15555550102": "111111",
    "+15555550103": "222222",
    "+15555550104": "333333",
    "+15555550105": "555555",
    "+15555550106": "666666",
    "+15555550107": "777777",
    # Browser suite (Tests/e2e/web) only.
    "+15555550110": "110110",
    "+15555550111": "111011",
    "+15555550112": "112112",
    "+15555550113": "113113",
    # Calls protocol suite (test_calls_protocol.py) only.
    "+15555550120": "120120",
    "+15555550121": "121121",
    "+15555550122": "122122",
    "+15555550123": "123123",
    "+15555550124": "124124",
    "+15555550125": "125125",
    "+15555550126": "126126",
    "+15555550127": "127127",
    "+15555550128": "128128",
    "+15555550129": "129129",
    "+15555550130": "130130",
    "+15555550131": "131131",
    # Browser calls suite (Tests/e2e/web/test_calls.py) only.
    "+15555550140": "140140",
    "+15555550141": "141141",
    # Browser sign-in suite (Tests/e2e/web/test_sign_in.py) only.
    "+15555550210": "210210",
    "+15555550211": "211211",
    "+15555550212": "212212",
    "+15555550213": "213213",
    "+15555550214": "214214",
    "+15555550215": "215215",
    "+15555550216": "216216",
    "+15555550217": "217217",
    "+15555550218": "218218",
    "+15555550219": "219219",
    # Out-of-range numbers suite (test_hardening_numbers.py) only.
    "+15555550160": "160160",
    # Storage suite (test_storage.py) only.
    "+15555550170": "170170",
    "+15555550171": "171171",
    # Storage suite over the S3 backend (test_storage_s3.py) only.
    "+15555550180": "180180",
    "+15555550181": "181181",
    # Storage media suite (test_storage_media.py) only.
    "+15555550188": "188188",
    "+15555550189": "189189",
    # Chat attachments suite (test_chat_attachments.py) only.
    "+15555550192": "192192",
    "+15555550193": "193193",
    "+15555550194": "194194",
    # Resumable (TUS) uploads suite (test_storage_resumable.py) only.
    "+15555550195": "195195",
    "+15555550196": "196196",
    # Browser attachments suite (Tests/e2e/web/test_attachments.py) only.
    "+15555550197": "197197",
    "+15555550198": "198198",
    "+15555550199": "199199",
    # Browser daily-use suite (Tests/e2e/web/test_daily_use.py) only.
    "+15555550200": "200200",
    "+15555550201": "201201",
    "+15555550202": "202202",
    "+15555550203": "203203",
    "+15555550204": "204204",
    "+15555550205": "205205",
    "+15555550206": "206206",
    "+15555550207": "207207",
    "+15555550208": "208208",
    "+15555550209": "209209",
}
# Issues 14's to 17's suites (ranges in conftest.py SERVER_ENV).
TEST_OTPS.update({f"+15555550{n}": f"{n}{n}" for n in range(220, 400)})

# Upper bound for any single network operation of a test.
NETWORK_TIMEOUT = 20.0
# How long sign_in keeps retrying an OTP request that is rate limited.
OTP_RETRY_BUDGET = 45.0


async def within(awaitable: Awaitable[T], seconds: float = NETWORK_TIMEOUT) -> T:
    """Awaits with a hard timeout so a hung server fails the test instead of hanging it."""
    return await asyncio.wait_for(awaitable, timeout=seconds)


# --------------------------------------------------------------------------- clients


async def new_client(url: str, key: str) -> AsyncClient:
    """A fresh async supabase client that records every auth HTTP response it receives."""
    options = AsyncClientOptions(postgrest_client_timeout=int(NETWORK_TIMEOUT))
    client = await within(acreate_client(url, key, options=options))
    _attach_auth_recorder(client)
    return client


def _attach_auth_recorder(client: AsyncClient) -> None:
    responses: list[httpx.Response] = []

    async def on_response(response: httpx.Response) -> None:
        try:
            await response.aread()
        except Exception:  # pragma: no cover - body read failures surface in the test itself
            pass
        responses.append(response)

    http = client.auth._http_client
    hooks = dict(http.event_hooks)
    hooks["response"] = [*hooks.get("response", []), on_response]
    http.event_hooks = hooks
    client._e2e_auth_responses = responses  # type: ignore[attr-defined]
    ALL_AUTH_RESPONSES.append(responses)


# Every list of recorded auth responses, for the suite-wide error-shape sweep.
ALL_AUTH_RESPONSES: list[list[httpx.Response]] = []


def auth_responses(client: AsyncClient) -> list[httpx.Response]:
    return client._e2e_auth_responses  # type: ignore[attr-defined]


def last_auth_response(client: AsyncClient) -> httpx.Response:
    responses = auth_responses(client)
    assert responses, "the client has not received any auth response yet"
    return responses[-1]


async def close_client(client: AsyncClient) -> None:
    """Stops the client's refresh timer and closes its HTTP connections."""
    timer = getattr(client.auth, "_refresh_token_timer", None)
    if timer is not None:
        timer.cancel()
        client.auth._refresh_token_timer = None
    for task in list(getattr(client, "_background_tasks", ())):
        task.cancel()
    try:
        await asyncio.wait_for(client.auth.close(), 5)
    except Exception:
        pass
    postgrest = getattr(client, "_postgrest", None)
    if postgrest is not None:
        try:
            await asyncio.wait_for(postgrest.aclose(), 5)
        except Exception:
            pass


# --------------------------------------------------------------------------- errors


async def expect_auth_error(awaitable: Awaitable[Any]) -> AuthApiError:
    """Awaits a call that must fail with AuthApiError and returns the error."""
    try:
        result = await within(awaitable)
    except AuthApiError as error:
        return error
    raise AssertionError(f"expected AuthApiError, the call returned {result!r}")


async def expect_api_error(awaitable: Awaitable[Any]) -> APIError:
    """Awaits a PostgREST call that must fail with postgrest.APIError and returns the error."""
    try:
        result = await within(awaitable)
    except APIError as error:
        return error
    raise AssertionError(f"expected postgrest APIError, the call returned {getattr(result, 'data', result)!r}")


def assert_gotrue_error_shape(response: httpx.Response) -> dict[str, Any]:
    """Asserts the GoTrue 2024-01-01 error shape (compat spec §2.2) and returns the body."""
    where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
    assert response.status_code >= 400, f"{where}: not an error response"
    try:
        body = json.loads(response.content)
    except ValueError as error:
        raise AssertionError(f"{where}: error body is not JSON: {response.content[:300]!r}") from error
    assert isinstance(body, dict), f"{where}: error body is not a JSON object: {body!r}"
    assert isinstance(body.get("code"), str), f"{where}: error body has no string 'code': {body!r}"
    assert isinstance(body.get("message"), str), f"{where}: error body has no string 'message': {body!r}"
    version = response.headers.get("X-Supabase-Api-Version")
    assert version, f"{where}: response lacks the X-Supabase-Api-Version header"
    assert version >= "2024-01-01", f"{where}: X-Supabase-Api-Version is {version!r}"
    return body


def retry_delay(error: AuthApiError, client: AsyncClient | None = None) -> float:
    """Seconds to wait before repeating a rate-limited auth request."""
    match = re.search(r"after (\d+) seconds?", error.message or "")
    if match:
        return float(match.group(1))
    if client is not None and auth_responses(client):
        header = last_auth_response(client).headers.get("Retry-After")
        if header and header.strip().isdigit():
            return float(header.strip())
    return 5.0


# --------------------------------------------------------------------------- sign-in


async def request_otp(client: AsyncClient, phone: str, *, budget: float = OTP_RETRY_BUDGET):
    """`sign_in_with_otp` for `phone`, waiting out the per-phone resend cooldown (429)."""
    deadline = time.monotonic() + budget
    while True:
        try:
            return await within(client.auth.sign_in_with_otp({"phone": phone}))
        except AuthApiError as error:
            retryable = error.status == 429 and error.code in ("over_sms_send_rate_limit", "over_request_rate_limit")
            delay = retry_delay(error, client) + 0.3
            if not retryable or time.monotonic() + delay > deadline:
                raise
            await asyncio.sleep(delay)


async def sign_in(client: AsyncClient, phone: str, code: str | None = None):
    """Requests an OTP for `phone` and verifies `code`; returns the AuthResponse.

    Retries the request after the server's delay when it answers 429 (the 5 s max
    frequency per phone of the test configuration).
    """
    code = code or TEST_OTPS[phone]
    await request_otp(client, phone)
    response = await within(client.auth.verify_otp({"phone": phone, "token": code, "type": "sms"}))
    assert response.session is not None, f"verify_otp for {phone} returned no session"
    return response


# --------------------------------------------------------------------------- JWT


def jwt_header(token: str) -> dict[str, Any]:
    return jwt.get_unverified_header(token)


def jwt_claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


async def rpc(client: AsyncClient, name: str, args: dict[str, Any] | None = None) -> Any:
    """`client.rpc(name, args).execute().data` with a timeout."""
    response = await within(client.rpc(name, args if args is not None else {}).execute())
    return response.data
