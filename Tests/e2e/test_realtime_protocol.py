"""The realtime wire protocol with a plain WebSocket client: frames, errors and limits."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from e2e_support import within


def socket_url(server, key: str | None = None, vsn: str = "1.0.0") -> str:
    base = server.url.replace("http://", "ws://")
    return f"{base}/realtime/v1/websocket?apikey={key if key is not None else server.anon_key}&vsn={vsn}"


async def receive(ws, predicate, timeout: float = 5.0) -> Any:
    """The first frame (parsed) for which predicate holds."""

    async def loop():
        while True:
            frame = json.loads(await ws.recv())
            if predicate(frame):
                return frame

    return await within(loop(), timeout)


def join(topic: str, ref: str, token: str, **config) -> str:
    payload = {"config": {"broadcast": {"self": False, "ack": True}, "presence": {"key": "", "enabled": False},
                          "private": False, "postgres_changes": [], **config}, "access_token": token}
    return json.dumps({"event": "phx_join", "payload": payload, "topic": topic, "ref": ref, "join_ref": ref})


async def test_upgrade_needs_a_project_key(server):
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(socket_url(server, key="forged")):
            pass
    assert 400 <= refused.value.response.status_code < 500


async def test_heartbeat_join_reply_and_leave(server):
    async with websockets.connect(socket_url(server)) as ws:
        await ws.send(json.dumps({"event": "heartbeat", "payload": {}, "topic": "phoenix", "ref": None, "join_ref": None}))
        reply = await receive(ws, lambda f: f["topic"] == "phoenix")
        assert reply == {"event": "phx_reply", "payload": {"response": {}, "status": "ok"}, "ref": None, "topic": "phoenix"}

        await ws.send(join("realtime:e2e-open-room1", "1", server.anon_key))
        joined = await receive(ws, lambda f: f["event"] == "phx_reply" and f["ref"] == "1")
        assert joined["payload"] == {"response": {"postgres_changes": []}, "status": "ok"}

        await ws.send(json.dumps({"event": "phx_leave", "payload": {}, "topic": "realtime:e2e-open-room1", "ref": "2", "join_ref": "1"}))
        assert (await receive(ws, lambda f: f["ref"] == "2"))["payload"]["status"] == "ok"
        closed = await receive(ws, lambda f: f["event"] == "phx_close")
        assert closed["topic"] == "realtime:e2e-open-room1"


async def test_version_two_speaks_arrays(server):
    async with websockets.connect(socket_url(server, vsn="2.0.0")) as ws:
        await ws.send(json.dumps(["1", "1", "realtime:e2e-open-arrays", "phx_join", {"config": {}, "access_token": server.anon_key}]))
        reply = await receive(ws, lambda f: isinstance(f, list) and f[3] == "phx_reply")
        assert reply[:3] == ["1", "1", "realtime:e2e-open-arrays"] and reply[4]["status"] == "ok"


@pytest.mark.parametrize("topic,token,reason", [
    ("realtime:", None, "TopicNameRequired"),
    ("realtime:room", "not-a-jwt", "InvalidJWTToken"),
    ("realtime:online", None, "Unauthorized"),
    ("realtime:conversation:00000000-0000-0000-0000-000000000000", None, "Unauthorized"),
])
async def test_refused_joins_say_why(server, topic, token, reason):
    async with websockets.connect(socket_url(server)) as ws:
        await ws.send(join(topic, "1", token or server.anon_key))
        reply = await receive(ws, lambda f: f["ref"] == "1")
        assert reply["payload"]["status"] == "error"
        assert reply["payload"]["response"]["reason"].startswith(reason)


async def test_database_changes_need_a_signed_in_user(server):
    async with websockets.connect(socket_url(server)) as ws:
        binding = [{"event": "INSERT", "schema": "public", "table": "messages"}]
        await ws.send(join("realtime:anon-db", "1", server.anon_key, postgres_changes=binding))
        assert (await receive(ws, lambda f: f["ref"] == "1"))["payload"]["status"] == "error"


async def test_bad_input_gets_error_replies_and_the_socket_stays_open(server):
    async with websockets.connect(socket_url(server)) as ws:
        await ws.send(json.dumps({"event": "nonsense", "payload": {}, "topic": "realtime:x", "ref": "1"}))
        assert (await receive(ws, lambda f: f["ref"] == "1"))["payload"]["status"] == "error"
        await ws.send(join("realtime:e2e-open-b", "2", server.anon_key))
        await receive(ws, lambda f: f["ref"] == "2")
        await ws.send(json.dumps({"event": "broadcast", "payload": {"type": "broadcast", "event": "x", "payload": [1, 2]},
                                  "topic": "realtime:e2e-open-b", "ref": "3", "join_ref": "2"}))
        assert (await receive(ws, lambda f: f["ref"] == "3"))["payload"]["status"] == "error"
        await ws.send("{not json")
        await ws.send(json.dumps({"event": "heartbeat", "payload": {}, "topic": "phoenix", "ref": "4"}))
        assert (await receive(ws, lambda f: f["ref"] == "4"))["payload"]["status"] == "ok"


async def test_flooding_is_refused_with_replies_not_a_dropped_socket(server):
    async with websockets.connect(socket_url(server)) as ws:
        for index in range(400):
            await ws.send(json.dumps({"event": "heartbeat", "payload": {}, "topic": "phoenix", "ref": str(index)}))
        replies = []

        async def collect():
            while len(replies) < 400:
                replies.append(json.loads(await ws.recv()))

        await within(collect(), 10)
        refused = [r for r in replies if r["payload"]["status"] == "error"]
        assert refused and "rate limited" in refused[0]["payload"]["response"]["reason"]
        await asyncio.sleep(2)
        await ws.send(json.dumps({"event": "heartbeat", "payload": {}, "topic": "phoenix", "ref": "after"}))
        assert (await receive(ws, lambda f: f["ref"] == "after"))["payload"]["status"] == "ok"


async def test_at_most_one_hundred_channels_per_socket(server):
    async with websockets.connect(socket_url(server)) as ws:
        for index in range(101):
            await ws.send(join(f"realtime:e2e-open-many-{index}", str(index), server.anon_key))
            if index % 50 == 49:
                await asyncio.sleep(1.1)  # stay under the frame rate limit
        last = await receive(ws, lambda f: f["ref"] == "100", timeout=10)
        assert last["payload"]["status"] == "error"
        assert last["payload"]["response"]["reason"].startswith("ClientJoinRateLimitReached")


async def test_large_broadcasts_get_a_clear_answer(server):
    async with websockets.connect(socket_url(server), max_size=2**20) as ws:
        await ws.send(join("realtime:e2e-open-big", "1", server.anon_key))
        await receive(ws, lambda f: f["ref"] == "1")

        def broadcast(ref: str, size: int) -> str:
            return json.dumps({"event": "broadcast", "payload": {"type": "broadcast", "event": "blob", "payload": {"data": "x" * size}},
                               "topic": "realtime:e2e-open-big", "ref": ref, "join_ref": "1"})

        # Bigger than one default WebSocket frame (16 KiB) but within the broadcast limit.
        await ws.send(broadcast("2", 20_000))
        assert (await receive(ws, lambda f: f["ref"] == "2"))["payload"]["status"] == "ok"
        await ws.send(broadcast("3", 70_000))
        too_big = await receive(ws, lambda f: f["ref"] == "3")
        assert too_big["payload"]["status"] == "error" and "too large" in too_big["payload"]["response"]["reason"]


async def test_retracking_replaces_the_presence_instead_of_piling_up(server):
    async with websockets.connect(socket_url(server)) as tracker, websockets.connect(socket_url(server)) as watcher:
        config = {"presence": {"key": "k", "enabled": True}}
        # The anon key may not track presence; the service-role key may.
        await tracker.send(join("realtime:e2e-open-retrack", "1", server.service_key, **config))
        await receive(tracker, lambda f: f["ref"] == "1")
        for index in range(5):
            await tracker.send(json.dumps({"event": "presence", "payload": {"event": "track", "payload": {"n": index}},
                                           "topic": "realtime:e2e-open-retrack", "ref": f"t{index}", "join_ref": "1"}))
        await receive(tracker, lambda f: f["ref"] == "t4")
        await asyncio.sleep(0.5)
        await watcher.send(join("realtime:e2e-open-retrack", "9", server.anon_key, **config))
        state = await receive(watcher, lambda f: f["event"] == "presence_state")
        assert [meta["n"] for meta in state["payload"]["k"]["metas"]] == [4]
