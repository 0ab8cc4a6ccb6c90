"""Issue 11, items 7 and 9 (auth, U+0000 in input, calls deviceId), probed from outside.

Runs against one extra server instance on the session database with small limits,
`TRUST_PROXY=true` (so each test uses its own `X-Forwarded-For` address and the per-address
limits of different tests do not mix) and codes delivered to its log (real, non-test
numbers). The official supabase client is used where it can express the request; httpx for
raw bodies.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from supabase import AsyncClientOptions, acreate_client
from supabase_auth.errors import AuthApiError

from calls_support import CallsClient, start_instance, stop_instance
from e2e_support import close_client, jwt_claims, within

REPO_ROOT = Path(__file__).resolve().parents[2]
COOLDOWN = 3
ADDRESS_CAP = 3
PHONE_CHANGE_BURST = 2
METADATA_MAX = 4096

ENV = {
    "TRUST_PROXY": "true",
    "AUTH_SMS_MAX_FREQUENCY": str(COOLDOWN),
    "AUTH_SMS_MAX_PER_ADDRESS_PER_HOUR": str(ADDRESS_CAP),
    "AUTH_PHONE_CHANGE_BURST": str(PHONE_CHANGE_BURST),
    "AUTH_PHONE_CHANGE_PER_HOUR": "1",
}


@pytest.fixture(scope="module")
def instance(server):
    started = start_instance(server, "auth-hardening", ENV)
    yield started
    stop_instance(started)


def new_phone() -> str:
    """A random number outside every configured test number (codes go to the log)."""
    return f"+1666{random.randint(1_000_000, 9_999_999)}"


def new_address() -> str:
    return f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


class Api:
    """Raw HTTP against the instance as one client address."""

    def __init__(self, instance, server, address: str | None = None):
        self.instance = instance
        self.server = server
        self.address = address or new_address()

    def headers(self, token: str | None = None, **extra: str) -> dict[str, str]:
        headers = {"apikey": self.server.anon_key, "X-Forwarded-For": self.address,
                   "X-Supabase-Api-Version": "2024-01-01", "Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        headers.update(extra)
        return headers

    async def request(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
                      token: str | None = None, **extra: str) -> httpx.Response:
        content = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        async with httpx.AsyncClient(timeout=20) as http:
            return await http.request(method, f"{self.instance.url}{path}", content=content, headers=self.headers(token, **extra))

    def log_size(self) -> int:
        return len(self.instance.log_path.read_text(encoding="utf-8", errors="replace"))

    async def code_for(self, phone: str, start: int) -> str:
        pattern = re.compile(re.escape(f"one-time code for {phone}: ") + r"(\d{6})\b")
        for _ in range(100):
            found = pattern.findall(self.instance.log_path.read_text(encoding="utf-8", errors="replace")[start:])
            if found:
                return found[-1]
            await asyncio.sleep(0.1)
        raise AssertionError(f"no code for {phone} in the instance log")

    async def sign_in(self, phone: str | None = None, data: dict | None = None) -> dict:
        """Requests and verifies a code; returns the Session JSON."""
        phone = phone or new_phone()
        start = self.log_size()
        body: dict[str, Any] = {"phone": phone}
        if data is not None:
            body["data"] = data
        response = await self.request("POST", "/auth/v1/otp", body)
        assert response.status_code == 200, response.text
        code = await self.code_for(phone, start)
        verified = await self.request("POST", "/auth/v1/verify", {"phone": phone, "token": code, "type": "sms"})
        assert verified.status_code == 200, verified.text
        return verified.json()


async def official_client(instance, server, address: str):
    options = AsyncClientOptions(headers={"X-Forwarded-For": address})
    return await within(acreate_client(instance.url, server.anon_key, options=options))


def error_text(response: httpx.Response) -> str:
    """The values of a JSON error body (any surface's shape), joined."""
    try:
        body = response.json()
    except ValueError:
        return response.text
    return " ".join(str(value) for value in body.values()) if isinstance(body, dict) else response.text


def assert_field_error(response: httpx.Response, field: str, rule: str) -> None:
    text = error_text(response)
    assert response.status_code == 400, f"{response.request.url.path}: {response.status_code} {text}"
    assert field in text and rule in text, f"{response.request.url.path}: {text}"


# --------------------------------------------------------------------------- item 7


async def test_item7_user_metadata_is_size_limited_on_otp_and_update_user(instance, server):
    api = Api(instance, server)
    big = {"blob": "x" * (METADATA_MAX + 1)}
    client = await official_client(instance, server, api.address)
    try:
        with pytest.raises(AuthApiError) as refused:
            await within(client.auth.sign_in_with_otp({"phone": new_phone(), "options": {"data": big}}))
        assert refused.value.status == 400 and refused.value.code == "validation_failed"
        assert "data" in refused.value.message and f"{METADATA_MAX} bytes" in refused.value.message

        session = await api.sign_in()
        await within(client.auth.set_session(session["access_token"], session["refresh_token"]))
        fitting = await within(client.auth.update_user({"data": {"nick": "ann", "pad": "y" * 3000}}))
        assert fitting.user.user_metadata["nick"] == "ann"
        with pytest.raises(AuthApiError) as too_big:
            # The merged result counts: 3000 + 2000 bytes is over the limit.
            await within(client.auth.update_user({"data": {"more": "z" * 2000}}))
        assert too_big.value.status == 400 and too_big.value.code == "validation_failed"
        assert "data" in too_big.value.message
        user = (await api.request("GET", "/auth/v1/user", token=session["access_token"])).json()
        assert "more" not in user["user_metadata"]
    finally:
        await close_client(client)


async def test_item7_otp_data_for_an_unconfirmed_number_is_not_stored(instance, server):
    victim = new_phone()
    stranger = Api(instance, server)
    padding = {"junk": "j" * 3500}
    response = await stranger.request("POST", "/auth/v1/otp", {"phone": victim, "data": padding})
    assert response.status_code == 200, response.text
    await asyncio.sleep(COOLDOWN + 0.3)
    # The owner signs in with the official client and their own data.
    owner = Api(instance, server)
    client = await official_client(instance, server, owner.address)
    try:
        start = owner.log_size()
        await within(client.auth.sign_in_with_otp({"phone": victim, "options": {"data": {"nick": "owner"}}}))
        code = await owner.code_for(victim, start)
        verified = await within(client.auth.verify_otp({"phone": victim, "token": code, "type": "sms"}))
        assert verified.user.user_metadata == {"nick": "owner"}
        assert jwt_claims(verified.session.access_token)["user_metadata"] == {"nick": "owner"}
        assert len(verified.session.access_token) < 2000
    finally:
        await close_client(client)


async def test_item7_phone_change_answers_the_same_for_taken_and_free_numbers_and_is_rate_limited(instance, server):
    taken_owner = await Api(instance, server).sign_in()
    taken = "+" + taken_owner["user"]["phone"]
    asker = await Api(instance, server).sign_in()
    token = asker["access_token"]

    def shape(response: httpx.Response) -> tuple:
        body = response.json()
        return response.status_code, sorted(body), body.get("phone"), bool(body.get("new_phone")), bool(body.get("phone_change_sent_at"))

    on_taken = await Api(instance, server).request("PUT", "/auth/v1/user", {"phone": taken}, token=token)
    on_free = await Api(instance, server).request("PUT", "/auth/v1/user", {"phone": new_phone()}, token=token)
    assert on_taken.status_code == 200, on_taken.text
    assert shape(on_taken) == shape(on_free)

    # Per user: the burst (2) is spent, whatever the address.
    limited = await Api(instance, server).request("PUT", "/auth/v1/user", {"phone": new_phone()}, token=token)
    assert limited.status_code == 429, limited.text
    assert limited.json()["code"] == "over_request_rate_limit" and int(limited.headers["Retry-After"]) >= 1
    # Metadata-only updates are not limited.
    assert (await Api(instance, server).request("PUT", "/auth/v1/user", {"data": {"k": 1}}, token=token)).status_code == 200

    # Per address: other users from one address spend it; the next one is refused (before
    # the hourly code cap of the address, which is larger, could answer).
    address = new_address()
    others = [await Api(instance, server).sign_in() for _ in range(PHONE_CHANGE_BURST + 1)]
    statuses = []
    for other in others:
        response = await Api(instance, server, address).request(
            "PUT", "/auth/v1/user", {"phone": new_phone()}, token=other["access_token"])
        statuses.append((response.status_code, response.json().get("code")))
    assert statuses[-1] == (429, "over_request_rate_limit"), statuses


async def test_item7_lookups_with_create_user_false_count_against_the_address_cap(instance, server):
    address = new_address()
    client = await official_client(instance, server, address)
    try:
        for _ in range(ADDRESS_CAP):
            with pytest.raises(AuthApiError) as disabled:
                await within(client.auth.sign_in_with_otp({"phone": new_phone(), "options": {"should_create_user": False}}))
            assert disabled.value.status == 422 and disabled.value.code == "otp_disabled"
        with pytest.raises(AuthApiError) as capped:
            await within(client.auth.sign_in_with_otp({"phone": new_phone(), "options": {"should_create_user": False}}))
        assert capped.value.status == 429 and capped.value.code == "over_request_rate_limit"
    finally:
        await close_client(client)


async def test_item7_voiding_a_code_keeps_the_resend_cooldown(instance, server):
    api = Api(instance, server)
    phone = new_phone()
    start = api.log_size()
    assert (await api.request("POST", "/auth/v1/otp", {"phone": phone})).status_code == 200
    sent = time.monotonic()
    code = await api.code_for(phone, start)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(6):
        response = await api.request("POST", "/auth/v1/verify", {"phone": phone, "token": wrong, "type": "sms"})
        assert response.status_code == 403 and response.json()["code"] == "otp_expired"
    again = await api.request("POST", "/auth/v1/otp", {"phone": phone})
    if time.monotonic() - sent >= COOLDOWN - 0.2:
        pytest.skip("the machine was too slow to void the code within the test cooldown")
    assert again.status_code == 429, again.text
    assert again.json()["code"] == "over_sms_send_rate_limit"


async def test_item7_revoked_session_access_token_behaviour_is_gotrue_and_documented(instance, server):
    api = Api(instance, server)
    session = await api.sign_in()
    token = session["access_token"]
    assert (await api.request("POST", "/auth/v1/logout?scope=global", token=token)).status_code == 204
    user = await api.request("GET", "/auth/v1/user", token=token)
    assert user.status_code == 403 and user.json()["code"] == "session_not_found"
    # GoTrue: the JWT itself stays valid until exp for the data API.
    whoami = await api.request("POST", "/rest/v1/rpc/whoami", {}, token=token)
    assert whoami.status_code == 200, whoami.text
    docs = (REPO_ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert "until it expires" in docs or "until its `exp`" in docs


# --------------------------------------------------------------------------- item 9: U+0000


def registered_rpcs() -> dict[str, list[str]]:
    """Every RPC name and its parameters, read from the registries in Sources/*/*RPCs.swift."""
    found: dict[str, list[str]] = {}
    for path in sorted(REPO_ROOT.glob("Sources/*/*RPCs.swift")):
        text = path.read_text(encoding="utf-8")
        for name, params in re.findall(r'RPCFunction\(\s*"(\w+)",\s*parameters:\s*\[([^\]]*)\]', text):
            found[name] = re.findall(r'"(\w+)"', params)
        for name in re.findall(r'listFunction\(\s*"(\w+)"', text):
            found.setdefault(name, ["cursor", "limit"])
    assert len(found) >= 20, f"RPC registry scan found only {sorted(found)}"
    return found


async def test_item9_nul_in_any_rpc_argument_is_400_naming_the_field(instance, server):
    api = Api(instance, server)
    token = (await api.sign_in())["access_token"]
    failures = []
    for name, params in sorted(registered_rpcs().items()):
        probes: list[tuple[dict, str]] = [({"bad\u0000key": 1}, "bad\\u0000key")]
        probes += [({param: "x\u0000y"}, param) for param in params]
        probes += [({param: {"nested": ["ok", "\u0000"]}}, f"{param}.nested[1]") for param in params[:1]]
        for body, field in probes:
            response = await api.request("POST", f"/rest/v1/rpc/{name}", body, token=token)
            text = error_text(response)
            if response.status_code != 400 or "U+0000" not in text or field not in text:
                failures.append(f"{name} {json.dumps(body)} -> {response.status_code} {text[:200]}")
    assert not failures, "\n".join(failures)


async def test_item9_nul_in_auth_and_function_bodies_is_400(instance, server):
    api = Api(instance, server)
    session = await api.sign_in()
    token = session["access_token"]
    cases = [
        ("POST", "/auth/v1/otp", {"phone": "+1666\u00001234567"}, None, "phone"),
        ("POST", "/auth/v1/otp", {"phone": new_phone(), "data": {"nick": "a\u0000"}}, None, "data.nick"),
        ("POST", "/auth/v1/otp", {"phone": new_phone(), "data": {"k\u0000": 1}}, None, "data.k\\u0000"),
        ("POST", "/auth/v1/verify", {"phone": new_phone(), "token": "12\u00003456", "type": "sms"}, None, "token"),
        ("POST", "/auth/v1/token?grant_type=refresh_token", {"refresh_token": "a\u0000"}, None, "refresh_token"),
        ("PUT", "/auth/v1/user", {"data": {"nick": "\u0000"}}, token, "data.nick"),
        ("PUT", "/auth/v1/user", {"data": {"list": [1, {"x": "\u0000"}]}}, token, "data.list[1].x"),
        ("POST", "/functions/v1/osago-quote", {"region": "\u0000"}, token, "region"),
    ]
    for method, path, body, bearer, field in cases:
        response = await api.request(method, path, body, token=bearer)
        assert_field_error(response, field, "must not contain U+0000")
        if path.startswith("/auth/v1"):
            assert response.json()["code"] == "validation_failed"
    # A raw NUL byte (invalid JSON) is a 400 too.
    raw = await api.request("POST", "/auth/v1/otp", raw=b'{"phone":"+1666\x001234567"}')
    assert raw.status_code == 400, raw.text


async def test_item9_nul_in_query_strings_and_headers_is_not_a_500(instance, server):
    api = Api(instance, server)
    session = await api.sign_in()
    for path in ("/auth/v1/logout?scope=%00", "/auth/v1/token?grant_type=%00"):
        response = await api.request("POST", path, {}, token=session["access_token"])
        assert response.status_code == 400, f"{path}: {response.status_code} {response.text}"
    # NUL in headers the server stores: User-Agent (auth.sessions) and, behind a trusted
    # proxy, X-Forwarded-For (the client address in auth.otp_requests and auth.sessions).
    host, port = instance.url.removeprefix("http://").split(":")
    probes = [
        ("/auth/v1/verify", {"phone": new_phone(), "token": "123456", "type": "sms"},
         b"User-Agent: a\x00b\r\nX-Forwarded-For: " + new_address().encode()),
        ("/auth/v1/otp", {"phone": new_phone()}, b"X-Forwarded-For: 10.0.0.1\x00x"),
    ]
    for path, payload, header in probes:
        body = json.dumps(payload).encode()
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\napikey: " + server.anon_key.encode()
                     + b"\r\n" + header + b"\r\nContent-Type: application/json\r\nContent-Length: "
                     + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        writer.close()
        # The HTTP parser may refuse the header (400) or drop the connection; never a 5xx.
        if status_line:
            assert int(status_line.split()[1]) < 500, (path, status_line)
    health = await api.request("GET", "/health")
    assert health.status_code == 200


# --------------------------------------------------------------------------- item 9: calls deviceId


@pytest.mark.parametrize("device_id, why", [
    ("e" + "\u0301" * 128, "one grapheme, 129 code points"),
    ("dev\u0000ice", "U+0000"),
    ("x" * 129, "129 characters"),
    ("", "empty"),
])
async def test_item9_calls_device_id_is_validated_at_hello(instance, server, device_id, why):
    client = await CallsClient.connect(instance.url, name="device-id")
    try:
        msg_id = await client.send("HELLO", {"client": {"deviceId": device_id, "platform": "e2e"}})
        reply = await client.reply_to(msg_id)
        error = reply.expect_error("VALIDATION_FAILED")
        assert error["message"].startswith("client.deviceId:"), (why, error)
        assert error["retryable"] is False
        # The socket stays usable: a valid HELLO and AUTH now succeed.
        session = await Api(instance, server).sign_in()
        # 128 code points (a device id is bound to its first user, so each run has its own).
        await client.hello("😀" * 96 + uuid.uuid4().hex)
        (await client.auth(session["access_token"])).expect_ok()
    finally:
        await client.close()
