"""Issue 11, realtime postgres_changes dispatch and filters, probed with plain WebSockets
against the real binary:

- item 3: like/ilike filters cannot stall the server; with 20 worst-case `like` bindings and a
  4 000-character message, another user's heartbeat is still answered within 1 s;
- item 11 (typed comparison): filter values compare by the column's type, so an upper-case
  UUID (supabase-swift) matches;
- bad filters are refused at the join naming the filter and the rule, and the socket lives on.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from typing import Any

import pytest
import websockets

from e2e_support import close_client, new_client, rpc, sign_in, within

ALICE, BOB = "+15555550105", "+15555550106"
# The realtime.md filter limit.
MAX_FILTER = 256


def socket_url(server, vsn: str = "1.0.0") -> str:
    return f"{server.url.replace('http://', 'ws://')}/realtime/v1/websocket?apikey={server.anon_key}&vsn={vsn}"


def join_frame(topic: str, ref: str, token: str, bindings: list[dict[str, Any]]) -> str:
    payload = {"config": {"broadcast": {"self": False, "ack": False}, "presence": {"key": "", "enabled": False},
                          "private": False, "postgres_changes": bindings}, "access_token": token}
    return json.dumps({"event": "phx_join", "payload": payload, "topic": topic, "ref": ref, "join_ref": ref})


def heartbeat(ref: str) -> str:
    return json.dumps({"event": "heartbeat", "payload": {}, "topic": "phoenix", "ref": ref, "join_ref": None})


async def receive(ws, predicate, timeout: float = 10.0) -> Any:
    async def loop():
        while True:
            frame = json.loads(await ws.recv())
            if predicate(frame):
                return frame

    return await within(loop(), timeout)


async def joined(ws, topic: str, ref: str, token: str, bindings: list[dict[str, Any]]) -> dict[str, Any]:
    await ws.send(join_frame(topic, ref, token, bindings))
    return await receive(ws, lambda f: f.get("event") == "phx_reply" and f.get("ref") == ref)


@pytest.fixture
async def pair(server):
    alice = await new_client(server.url, server.anon_key)
    bob = await new_client(server.url, server.anon_key)
    alice_session = await sign_in(alice, ALICE)
    bob_session = await sign_in(bob, BOB)
    conversation = await rpc(alice, "get_or_create_dm", {"target_user_id": bob_session.user.id})
    yield alice, alice_session.session.access_token, bob, bob_session.session.access_token, conversation
    for client in (alice, bob):
        await close_client(client)


async def send_message(client, conversation: str, body: str) -> dict[str, Any]:
    return await rpc(client, "send_message_v1", {"conversation_id": conversation, "client_msg_id": str(uuid.uuid4()), "body": body})


async def test_item3_worst_case_like_filters_do_not_delay_other_users_heartbeats(server, pair):
    alice, alice_token, bob, bob_token, conversation = pair
    # Patterns that take a backtracking matcher (or a regex) exponential or quadratic time on
    # a long run of "a", each as long as a filter may be. None matches a text without "b".
    prefix = "body=like."
    room = MAX_FILTER - len("body=ilike.")
    patterns = [
        ("%a" * room)[: room - 2] + "%b",
        "%" + "a" * (room - 2) + "b",
        ("_%" * room)[: room - 1] + "b",
        ("%a_" * room)[: room - 1] + "b",
    ]
    heavy = [{"event": "INSERT", "schema": "public", "table": "messages", "filter": prefix + patterns[i % len(patterns)]}
             for i in range(19)]
    heavy = [dict(b, filter=b["filter"].replace("like.", "ilike.", 1)) if i % 2 else b for i, b in enumerate(heavy)]
    # One binding that matches, to know when the hub got through the change.
    probe = {"event": "INSERT", "schema": "public", "table": "messages", "filter": prefix + "%a"}
    for binding in heavy + [probe]:
        assert len(binding["filter"]) <= MAX_FILTER

    async with websockets.connect(socket_url(server), max_size=None) as attacker, \
            websockets.connect(socket_url(server)) as bystander:
        # 20 bindings, on as few channels as the bindings-per-channel cap allows.
        bindings = heavy + [probe]
        reply = await joined(attacker, "realtime:flood", "1", alice_token, bindings)
        per_channel = len(bindings)
        if reply["payload"]["status"] != "ok":
            cap = re.search(r"at most (\d+) bindings", reply["payload"]["response"]["reason"])
            assert cap, reply
            per_channel = int(cap.group(1))
            for start in range(0, len(bindings), per_channel):
                reply = await joined(attacker, f"realtime:flood{start}", f"j{start}", alice_token, bindings[start:start + per_channel])
                assert reply["payload"]["status"] == "ok", reply
        probe_id = reply["payload"]["response"]["postgres_changes"][-1]["id"]
        # The bystander is another user's socket; it only needs heartbeats answered.

        await send_message(alice, conversation, "a" * 4000)
        worst = 0.0
        deadline = time.monotonic() + 4.0
        n = 0
        while time.monotonic() < deadline:
            n += 1
            started = time.monotonic()
            await bystander.send(heartbeat(f"hb{n}"))
            await receive(bystander, lambda f, ref=f"hb{n}": f.get("topic") == "phoenix" and f.get("ref") == ref, timeout=5.0)
            worst = max(worst, time.monotonic() - started)
            await asyncio.sleep(0.1)
        assert worst < 1.0, f"a heartbeat took {worst:.2f}s while the hub filtered the message"

        # The change was filtered: only the probe binding matched.
        change = await receive(attacker, lambda f: f.get("event") == "postgres_changes", timeout=30.0)
        assert change["payload"]["ids"] == [probe_id]


async def test_item3_filters_longer_than_the_limit_are_refused_at_join(server, pair):
    _, alice_token, _, _, _ = pair
    async with websockets.connect(socket_url(server)) as ws:
        at_limit = "body=like." + "x" * (MAX_FILTER - 10)
        ok = await joined(ws, "realtime:limit-ok", "1", alice_token, [{"event": "*", "schema": "public", "table": "messages", "filter": at_limit}])
        assert ok["payload"]["status"] == "ok", ok
        refused = await joined(ws, "realtime:limit-over", "2", alice_token,
                               [{"event": "*", "schema": "public", "table": "messages", "filter": at_limit + "x"}])
        assert refused["payload"]["status"] == "error"
        reason = refused["payload"]["response"]["reason"]
        assert "postgres_changes[0].filter" in reason and f"at most {MAX_FILTER}" in reason and "filter 'body=like.xxx" in reason


async def test_item11_filters_compare_by_column_type(server, pair):
    alice, alice_token, bob, bob_token, conversation = pair
    upper = conversation.upper()
    bindings = [
        # supabase-swift sends UUIDs upper-case.
        {"event": "INSERT", "schema": "public", "table": "messages", "filter": f"conversation_id=eq.{upper}"},
        {"event": "INSERT", "schema": "public", "table": "messages", "filter": "seq=gte.1.0"},
        {"event": "INSERT", "schema": "public", "table": "messages", "filter": "created_at=gt.2000-01-01T00:00:00+03:00"},
        {"event": "INSERT", "schema": "public", "table": "messages", "filter": f"sender_id=in.({str(uuid.uuid4()).upper()})"},
    ]
    async with websockets.connect(socket_url(server, vsn="2.0.0")) as ws:
        await ws.send(json.dumps(["1", "1", "realtime:typed", "phx_join", {
            "config": {"broadcast": {"self": False}, "presence": {"key": ""}, "private": False, "postgres_changes": bindings},
            "access_token": bob_token}]))
        reply = await receive(ws, lambda f: isinstance(f, list) and f[3] == "phx_reply" and f[1] == "1")
        assert reply[4]["status"] == "ok", reply
        ids = [b["id"] for b in reply[4]["response"]["postgres_changes"]]
        sent = await send_message(alice, conversation, "typed")
        change = await receive(ws, lambda f: isinstance(f, list) and f[3] == "postgres_changes")
        assert change[4]["data"]["record"]["id"] == sent["message_id"]
        assert sorted(change[4]["ids"]) == sorted(ids[:3])


@pytest.mark.parametrize("filter_text,rule", [
    ("conversation_id=eq.not-a-uuid", "conversation_id is a uuid column and 'not-a-uuid' is not a UUID"),
    ("seq=between.1", "operator 'between' is not supported"),
    ("seq=gt.many", "seq is a number column and 'many' is not a number"),
    ("created_at=gt.yesterday", "created_at is a timestamp column"),
    ("nope=eq.1", "invalid column for filter nope"),
    ("body=like.abc\\", "must not end with the escape character"),
    ("seq=like.1%", "like applies to text columns only"),
    ("seq=eq.1e300", None),
])
async def test_item11_bad_filter_values_are_refused_at_join_naming_filter_and_rule(server, pair, filter_text, rule):
    _, alice_token, _, _, _ = pair
    async with websockets.connect(socket_url(server)) as ws:
        reply = await joined(ws, "realtime:bad-filter", "1", alice_token,
                             [{"event": "*", "schema": "public", "table": "messages", "filter": filter_text}])
        if rule is None:
            assert reply["payload"]["status"] == "ok", reply
        else:
            assert reply["payload"]["status"] == "error", reply
            reason = reply["payload"]["response"]["reason"]
            assert reason.startswith("Invalid postgres_changes: postgres_changes[0].filter: filter '"), reason
            assert rule in reason, reason
        # The socket (and the server) lives on.
        await ws.send(heartbeat("after"))
        await receive(ws, lambda f: f.get("ref") == "after")


async def test_item1_number_filters_and_fields_do_not_crash(server, pair):
    _, alice_token, _, _, _ = pair
    async with websockets.connect(socket_url(server)) as ws:
        for n, value in enumerate([1e300, -1e19, 1.5]):
            reply = await joined(ws, f"realtime:numbers{n}", str(n), alice_token,
                                 [{"event": "*", "schema": "public", "table": "messages", "filter": value}])
            assert reply["payload"]["status"] == "error" and "filter" in reply["payload"]["response"]["reason"]
    async with websockets.connect(socket_url(server)) as ws:
        await ws.send(heartbeat("alive"))
        await receive(ws, lambda f: f.get("ref") == "alive")
