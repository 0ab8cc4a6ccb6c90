"""Issue 11, item 1: numbers no decoder can hold (`1e300`, `-1e19`, fractions) are refused with
a precise error wherever a client may send a number, never a crash or a 5xx.

The realtime fields are probed in test_hardening_realtime_protocol.py; this file covers RPC
integer arguments, calls envelope fields, OSAGO requests and list cursors, deterministically
(the hypothesis suite only samples them)."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from calls_support import CallsClient, User
from e2e_support import close_client, new_client, sign_in
from insurance_support import quote_request

PHONE = "+15555550160"
HUGE = [1e300, -1e300, -1e19, 1e19, 9.5]


@pytest.fixture(scope="module")
async def member(server) -> User:
    user = User("numbers", PHONE)
    user.client = await new_client(server.url, server.anon_key)
    session = (await sign_in(user.client, PHONE)).session
    user.id, user.token = session.user.id, session.access_token
    yield user
    await close_client(user.client)


async def alive(server) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        assert (await http.get(f"{server.url}/health")).status_code == 200


# RPC name → its integer (or numeric) arguments, with the other arguments it needs.
RPC_NUMBERS = {
    "get_messages": ({"conversation_id": str(uuid.uuid4())}, ["limit", "before_seq", "after_seq"]),
    "chat_get_inbox_v2": ({}, ["p_limit"]),
    "search_profiles": ({"query": "ali"}, ["limit"]),
    "list_blocked_users": ({}, ["limit"]),
    "list_osago_calculations": ({}, ["limit"]),
    "ack_read_v1": ({"conversation_id": str(uuid.uuid4())}, ["up_to_seq"]),
}


@pytest.mark.parametrize("name", sorted(RPC_NUMBERS))
async def test_item1_rpc_numbers_out_of_range_are_400s(server, member, name):
    base, fields = RPC_NUMBERS[name]
    headers = {"apikey": server.anon_key, "Authorization": f"Bearer {member.token}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=10) as http:
        for field in fields:
            for value in HUGE:
                body = json.dumps({**base, field: value})
                response = await http.post(f"/rest/v1/rpc/{name}", content=body)
                # Unknown RPC parameters are a 404 PGRST202 (an RPC that does not take the
                # field); everything else a client sends wrong is a 400.
                assert response.status_code in (400, 404), f"{name}.{field}={value}: {response.status_code} {response.text}"
                if response.status_code == 400:
                    assert field in response.json()["message"], f"{name}.{field}={value}: {response.text}"
    await alive(server)


async def test_item1_forged_cursors_with_huge_offsets_are_400s(server, member):
    headers = {"apikey": server.anon_key, "Authorization": f"Bearer {member.token}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=10) as http:
        for cursor in ["MTk3MC0wMS0wMSAwMDowMDowMCs5OTk5OTl8MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAw",
                       "1e300", "-1e19", "x" * 5000]:
            response = await http.post("/rest/v1/rpc/chat_get_inbox_v2", json={"p_cursor": cursor})
            assert response.status_code == 400, response.text
            assert "p_cursor" in response.json()["message"]
    await alive(server)


async def test_item1_osago_quote_numbers_out_of_range_are_field_errors(server):
    def request(power=150, age=30, months=12, days=None) -> dict:
        body = quote_request(power=power, age=age, period=months)
        if days is not None:
            body["periodMonths"], body["termDays"] = None, days
        return body

    headers = {"apikey": server.anon_key, "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=10) as http:
        assert (await http.post("/functions/v1/osago-quote", content=json.dumps(request()))).status_code == 200
        for value in HUGE[:4]:  # 9.5 hp is a real engine
            for field, body in {"vehicle.powerHp": request(power=value), "drivers[0].age": request(age=value),
                                "periodMonths": request(months=value), "termDays": request(days=value)}.items():
                response = await http.post("/functions/v1/osago-quote", content=json.dumps(body))
                assert 400 <= response.status_code < 500, f"{field}={value}: {response.status_code} {response.text}"
                assert field.split("[")[0].split(".")[0] in response.text, f"{field}={value}: {response.text}"
    await alive(server)


@pytest.mark.parametrize("field", ["seq", "ts", "v"])
async def test_item1_calls_envelope_numbers_out_of_range_are_validation_errors(server, member, field):
    client = await CallsClient.connect(server.url, "numbers")
    try:
        await client.login(member)
        for value in HUGE:
            frame = client.envelope("PING", **{field: value})
            start = len(client.frames)
            await client.send_frame(frame)
            answer = await client.next(
                lambda f: f.get("type") == "ERROR" or (f.get("type") == "ACK" and f["ack"].get("ackOfMsgId") == frame["msgId"]),
                start=start, what=f"an answer to {field}={value}")
            code = answer["payload"]["code"] if answer["type"] == "ERROR" else answer["ack"]["error"]["code"]
            assert code == "VALIDATION_FAILED", f"{field}={value}: {answer}"
            assert not client.closed.is_set()
        (await client.ping()).expect_ok()
    finally:
        await client.close()
    await alive(server)
