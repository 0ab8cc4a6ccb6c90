"""Issue 11, realtime protocol items, probed from outside with plain `websockets` and httpx:

- item 1: a JSON number (1e300, -1e19) where the protocol wants a string gets an error reply
  naming the field, in vsn 1.0.0 and 2.0.0, and the process stays up;
- item 3: at most 10 postgres_changes bindings per channel;
- item 4: topic ownership, presence bounded (meta size, per key, per topic, the anon key may
  not track), sockets per address and per user;
- item 11: vsn 2.0.0 binary user-broadcast frames both ways, and the REST broadcast
  `POST /realtime/v1/api/broadcast` (+ the single-message form);
- idle sockets: closed with 1000 after `REALTIME_IDLE_TIMEOUT_SECONDS` of silence, and cut off
  15 s later by the server when the client never answers the close.

Limits too large to hit quickly on the shared server are hit on an extra instance (same
database, PostgreSQL bus) started with small `REALTIME_*` settings.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from conftest import _binary, _environment, _free_port, _stop, _wait_ready
from e2e_support import close_client, new_client, rpc, sign_in, within
from test_cross_instance import database_url

PHONES = {"alice": ("+15555550150", "150150"), "bob": ("+15555550151", "151151"),
          "carol": ("+15555550152", "152152"), "dave": ("+15555550153", "153153")}
HUGE_NUMBERS = [1e300, -1e19]


# --------------------------------------------------------------------------- helpers


def socket_url(base: str, key: str, vsn: str = "1.0.0") -> str:
    return f"{base.replace('http://', 'ws://')}/realtime/v1/websocket?apikey={key}&vsn={vsn}"


def frame(vsn: str, topic: str, event: str, payload: Any, ref: Any = None, join_ref: Any = None) -> str:
    if vsn == "2.0.0":
        return json.dumps([join_ref, ref, topic, event, payload])
    return json.dumps({"topic": topic, "event": event, "payload": payload, "ref": ref, "join_ref": join_ref})


def parsed(vsn: str, text: str) -> dict[str, Any]:
    value = json.loads(text)
    if vsn == "2.0.0":
        join_ref, ref, topic, event, payload = value
        return {"join_ref": join_ref, "ref": ref, "topic": topic, "event": event, "payload": payload}
    return value


async def receive(ws, vsn: str, predicate, timeout: float = 5.0) -> dict[str, Any]:
    """The first text frame (normalised to an object) for which predicate holds."""

    async def loop():
        while True:
            message = await ws.recv()
            if isinstance(message, bytes):
                continue
            item = parsed(vsn, message)
            if predicate(item):
                return item

    return await within(loop(), timeout)


async def receive_binary(ws, timeout: float = 5.0) -> bytes:
    async def loop():
        while True:
            message = await ws.recv()
            if isinstance(message, bytes):
                return message

    return await within(loop(), timeout)


def join_payload(token: str, **config) -> dict[str, Any]:
    base = {"broadcast": {"self": False, "ack": True}, "presence": {"key": "", "enabled": False}, "private": False}
    base.update(config)
    return {"config": base, "access_token": token}


async def join(ws, vsn: str, topic: str, token: str, ref: str = "1", **config) -> dict[str, Any]:
    await ws.send(frame(vsn, topic, "phx_join", join_payload(token, **config), ref=ref, join_ref=ref))
    return await receive(ws, vsn, lambda f: f["event"] == "phx_reply" and f["ref"] == ref)


def status(reply: dict[str, Any]) -> str:
    return reply["payload"]["status"]


def reason(reply: dict[str, Any]) -> str:
    return reply["payload"]["response"].get("reason", "")


async def heartbeat_answers(ws, vsn: str) -> None:
    await ws.send(frame(vsn, "phoenix", "heartbeat", {}, ref="hb"))
    assert status(await receive(ws, vsn, lambda f: f["ref"] == "hb")) == "ok"


async def health_answers(base: str) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        assert (await http.get(f"{base}/health")).status_code == 200


def user_broadcast_push(topic: str, event: str, payload: Any, *, ref: str = "", join_ref: str = "", encoding: int = 1) -> bytes:
    """A vsn 2.0.0 binary user-broadcast push (kind 3), as supabase-js/swift send it."""
    parts = [join_ref.encode(), ref.encode(), topic.encode(), event.encode(), b""]
    body = json.dumps(payload).encode() if encoding == 1 else payload
    header = struct.pack("7B", 3, *(len(part) for part in parts), encoding)
    return header + b"".join(parts) + body


def read_user_broadcast(data: bytes) -> dict[str, Any]:
    """A binary user broadcast (kind 4) as its parts."""
    kind, topic_size, event_size, meta_size, encoding = struct.unpack("5B", data[:5])
    offset = 5
    topic = data[offset:offset + topic_size].decode()
    offset += topic_size
    event = data[offset:offset + event_size].decode()
    offset += event_size + meta_size
    return {"kind": kind, "topic": topic, "event": event, "encoding": encoding, "payload": json.loads(data[offset:])}


class User:
    def __init__(self, client, token: str, user_id: str):
        self.client, self.token, self.id = client, token, user_id


@pytest.fixture(scope="module")
async def users(server):
    signed_in: dict[str, User] = {}
    for name, (phone, code) in PHONES.items():
        client = await new_client(server.url, server.anon_key)
        session = (await sign_in(client, phone, code)).session
        signed_in[name] = User(client, session.access_token, session.user.id)
    yield signed_in
    for user in signed_in.values():
        await close_client(user.client)


@pytest.fixture(scope="module")
async def dm(users) -> str:
    """A conversation of alice and bob (carol is not a member)."""
    return await rpc(users["alice"].client, "get_or_create_dm", {"target_user_id": users["bob"].id})


LIMITED_ENV = {
    "REALTIME_MAX_PRESENCES_PER_TOPIC": "3",
    "REALTIME_MAX_PRESENCES_PER_KEY": "2",
    "REALTIME_MAX_SOCKETS_PER_USER": "3",
    "REALTIME_MAX_SOCKETS_PER_ADDRESS": "6",
}


def instance_with(server, name: str, settings: dict[str, str]):
    """A second instance on the same database with `settings` on top; yields its base URL."""
    port = _free_port()
    env = _environment()
    env.update(settings)
    env["DATABASE_URL"] = database_url(server)
    env["MESSAGE_BUS"] = "postgres"
    log_path = Path(server.data_dir) / f"realtime-{name}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(_binary()), "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, log_path)
        yield url
    finally:
        if process.poll() is None and _stop(process) is None:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def limited(server):
    """A second instance on the same database with small realtime limits; its base URL."""
    yield from instance_with(server, "limited", LIMITED_ENV)


IDLE_TIMEOUT = 5


@pytest.fixture(scope="module")
def impatient(server):
    """A second instance that closes realtime sockets silent for IDLE_TIMEOUT seconds."""
    yield from instance_with(server, "impatient", {"REALTIME_IDLE_TIMEOUT_SECONDS": str(IDLE_TIMEOUT)})


# --------------------------------------------------------------------------- item 1


def item1_cases() -> list[tuple[str, Any]]:
    return [(field, number) for field in (
        "ref", "join_ref", "access_token", "config.presence.key", "postgres_changes[0].event", "postgres_changes[0].schema",
        "postgres_changes[0].table", "postgres_changes[0].filter", "payload.event", "access_token (refresh)",
    ) for number in HUGE_NUMBERS]


@pytest.mark.parametrize("vsn", ["1.0.0", "2.0.0"])
@pytest.mark.parametrize("field,number", item1_cases())
async def test_item1_a_huge_number_where_a_string_belongs_is_an_error_naming_the_field(server, vsn, field, number):
    topic = f"realtime:e2e-open-item1-{uuid.uuid4()}"
    async with websockets.connect(socket_url(server.url, server.anon_key, vsn)) as ws:
        if field == "ref":
            await ws.send(frame(vsn, "phoenix", "heartbeat", {}, ref=number))
            reply = await receive(ws, vsn, lambda f: f["event"] == "phx_reply")
        elif field == "join_ref":
            await ws.send(frame(vsn, "phoenix", "heartbeat", {}, ref="r", join_ref=number))
            reply = await receive(ws, vsn, lambda f: f["ref"] == "r")
        elif field in ("payload.event", "access_token (refresh)"):
            assert status(await join(ws, vsn, topic, server.anon_key)) == "ok"
            event, payload = ("presence", {"event": number}) if field == "payload.event" else ("access_token", {"access_token": number})
            await ws.send(frame(vsn, topic, event, payload, ref="r", join_ref="1"))
            reply = await receive(ws, vsn, lambda f: f["ref"] == "r")
        else:
            payload = join_payload(server.anon_key)
            if field == "access_token":
                payload["access_token"] = number
            elif field == "config.presence.key":
                payload["config"]["presence"]["key"] = number
            else:
                binding = {"event": "*", "schema": "public", "table": "messages"}
                binding[field.split(".")[1]] = number
                payload["config"]["postgres_changes"] = [binding]
            await ws.send(frame(vsn, topic, "phx_join", payload, ref="r", join_ref="r"))
            reply = await receive(ws, vsn, lambda f: f["ref"] == "r")
        assert status(reply) == "error"
        named = field.replace(" (refresh)", "")
        expected = f"Invalid postgres_changes: {named}" if named.startswith("postgres_changes") else named
        assert reason(reply) == f"{expected} must be a string", reply
        await heartbeat_answers(ws, vsn)
    await health_answers(server.url)


@pytest.mark.parametrize("vsn", ["1.0.0", "2.0.0"])
async def test_item1_presence_and_token_fields_are_typed_even_before_a_join(server, vsn):
    async with websockets.connect(socket_url(server.url, server.anon_key, vsn)) as ws:
        for index, (event, payload, field) in enumerate([("presence", {"event": 1e300}, "payload.event"),
                                                         ("access_token", {"access_token": -1e19}, "access_token")]):
            await ws.send(frame(vsn, "realtime:room", event, payload, ref=str(index), join_ref="1"))
            reply = await receive(ws, vsn, lambda f: f["ref"] == str(index))
            assert status(reply) == "error" and reason(reply) == f"{field} must be a string"
        await heartbeat_answers(ws, vsn)
    await health_answers(server.url)


async def test_item1_whole_number_refs_still_work_and_frames_of_the_wrong_shape_are_survived(server):
    async with websockets.connect(socket_url(server.url, server.anon_key)) as ws:
        await ws.send(json.dumps({"topic": "phoenix", "event": "heartbeat", "payload": {}, "ref": 7}))
        assert (await receive(ws, "1.0.0", lambda f: f["ref"] == "7"))["payload"]["status"] == "ok"
        for text in ['{"topic": 1e300, "event": "heartbeat"}', '{"topic": "phoenix", "event": -1e19}', "[1e300]", "1e300",
                     '{"topic":"phoenix","event":"heartbeat","payload":{},"ref":{"a":1}}']:
            await ws.send(text)
        await heartbeat_answers(ws, "1.0.0")
    async with websockets.connect(socket_url(server.url, server.anon_key, "2.0.0")) as ws:
        for data in [b"", b"\x03", b"\x03\xff\xff\xff\xff\xff\x01", b"\x00\x01\x02", b"\x04" + b"\x00" * 10]:
            await ws.send(data)
        await heartbeat_answers(ws, "2.0.0")
    await health_answers(server.url)


# --------------------------------------------------------------------------- item 3


async def test_item3_at_most_ten_postgres_changes_bindings_per_channel(server, users):
    alice = users["alice"]
    async with websockets.connect(socket_url(server.url, server.anon_key)) as ws:
        bindings = [{"event": "INSERT", "schema": "public", "table": "messages", "filter": f"seq=gt.{index}"} for index in range(11)]
        refused = await join(ws, "1.0.0", f"realtime:inbox-{uuid.uuid4()}", alice.token, ref="1", postgres_changes=bindings)
        assert status(refused) == "error"
        assert reason(refused) == "Invalid postgres_changes: postgres_changes may have at most 10 bindings per channel, not 11"
        accepted = await join(ws, "1.0.0", f"realtime:inbox-{uuid.uuid4()}", alice.token, ref="2", postgres_changes=bindings[:10])
        assert status(accepted) == "ok" and len(accepted["payload"]["response"]["postgres_changes"]) == 10


# --------------------------------------------------------------------------- item 4: topic owners


async def test_item4_topics_have_owners(server, users, dm):
    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    cases = [
        (f"user:{alice.id}", server.anon_key, "error"),
        (f"user:{alice.id}", bob.token, "error"),
        (f"user:{alice.id}", alice.token, "ok"),
        (f"user:{alice.id.upper()}", alice.token, "ok"),
        ("user:not-a-uuid", alice.token, "error"),
        ("online", server.anon_key, "error"),
        ("online", carol.token, "ok"),
        (f"conversation:{dm}", carol.token, "error"),
        (f"conversation:{dm}", bob.token, "ok"),
        (f"anything-{uuid.uuid4()}", server.anon_key, "error"),
        (f"anything-{uuid.uuid4()}", alice.token, "error"),
        (f"e2e-open-{uuid.uuid4()}", server.anon_key, "ok"),
        (f"user:{alice.id}", server.service_key, "ok"),
    ]
    async with websockets.connect(socket_url(server.url, server.anon_key)) as ws:
        for index, (name, token, expected) in enumerate(cases):
            reply = await join(ws, "1.0.0", f"realtime:{name}", token, ref=str(index))
            assert status(reply) == expected, (name, reply)
            if expected == "error":
                assert reason(reply).startswith("Unauthorized"), reply


async def test_item4_an_unowned_topic_carries_database_changes_only(server, users):
    alice = users["alice"]
    topic = f"realtime:inbox-{uuid.uuid4()}"
    async with websockets.connect(socket_url(server.url, server.anon_key)) as ws:
        binding = [{"event": "*", "schema": "public", "table": "messages"}]
        assert status(await join(ws, "1.0.0", topic, alice.token, postgres_changes=binding)) == "ok"
        await ws.send(frame("1.0.0", topic, "broadcast", {"type": "broadcast", "event": "x", "payload": {}}, ref="b", join_ref="1"))
        refused = await receive(ws, "1.0.0", lambda f: f["ref"] == "b")
        assert status(refused) == "error" and "database changes only" in reason(refused)
        await ws.send(frame("1.0.0", topic, "presence", {"event": "track", "payload": {}}, ref="p", join_ref="1"))
        refused = await receive(ws, "1.0.0", lambda f: f["ref"] == "p")
        assert status(refused) == "error" and "database changes only" in reason(refused)


# --------------------------------------------------------------------------- item 4: presence bounded


async def test_item4_the_anon_key_may_not_track_presence(server):
    topic = f"realtime:e2e-open-presence-{uuid.uuid4()}"
    async with websockets.connect(socket_url(server.url, server.anon_key)) as ws:
        assert status(await join(ws, "1.0.0", topic, server.anon_key, presence={"key": "me", "enabled": True})) == "ok"
        await ws.send(frame("1.0.0", topic, "presence", {"event": "track", "payload": {"x": 1}}, ref="t", join_ref="1"))
        refused = await receive(ws, "1.0.0", lambda f: f["ref"] == "t")
        assert status(refused) == "error" and reason(refused).startswith("Unauthorized: sign in to track presence")


async def test_item4_presence_metas_are_at_most_one_kib(server, users):
    alice = users["alice"]
    topic = "realtime:online"
    async with websockets.connect(socket_url(server.url, server.anon_key)) as ws:
        assert status(await join(ws, "1.0.0", topic, alice.token)) == "ok"
        big = {"status": "x" * 1100}
        await ws.send(frame("1.0.0", topic, "presence", {"event": "track", "payload": big}, ref="big", join_ref="1"))
        refused = await receive(ws, "1.0.0", lambda f: f["ref"] == "big")
        assert status(refused) == "error" and reason(refused) == "Presence meta too large (max 1024 bytes of JSON)"
        await ws.send(frame("1.0.0", topic, "presence", {"event": "track", "payload": {"status": "x" * 900}}, ref="ok", join_ref="1"))
        assert status(await receive(ws, "1.0.0", lambda f: f["ref"] == "ok")) == "ok"


async def test_item4_presence_keys_are_at_most_256_bytes(server, users):
    topic = f"realtime:e2e-open-key-{uuid.uuid4()}"
    async with websockets.connect(socket_url(server.url, server.anon_key)) as ws:
        refused = await join(ws, "1.0.0", topic, users["alice"].token, presence={"key": "k" * 257, "enabled": True})
        assert status(refused) == "error" and reason(refused) == "config.presence.key must be at most 256 bytes"


async def open_socket(url: str, anon_key: str, timeout: float = 5.0):
    """A new socket that answers a heartbeat. Sockets closed by an earlier test may not be
    forgotten by the server yet (a per-address or per-user cap would refuse this one): retry
    until they are."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        ws = await websockets.connect(socket_url(url, anon_key))
        try:
            await heartbeat_answers(ws, "1.0.0")
            return ws
        except websockets.ConnectionClosed:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)


async def track_on(url: str, anon_key: str, user: User, topic: str, key: str = "") -> tuple[Any, dict[str, Any]]:
    """A new socket that joins `topic` as `user` and tracks; returns it and the track reply."""
    ws = await open_socket(url, anon_key)
    joined = await join(ws, "1.0.0", topic, user.token, presence={"key": key, "enabled": True})
    if status(joined) != "ok":
        return ws, joined
    await ws.send(frame("1.0.0", topic, "presence", {"event": "track", "payload": {"n": 1}}, ref="t", join_ref="1"))
    return ws, await receive(ws, "1.0.0", lambda f: f["ref"] == "t")


async def test_item4_presences_per_key_and_sockets_per_user_are_capped(server, users, limited):
    alice = users["alice"]
    sockets = []
    try:
        replies = []
        for _ in range(3):
            ws, reply = await track_on(limited, server.anon_key, alice, "realtime:online")
            sockets.append(ws)
            replies.append(reply)
        assert [status(reply) for reply in replies] == ["ok", "ok", "error"]
        assert reason(replies[2]) == "presence limit: at most 2 presences per key on a topic"
        fourth = await open_socket(limited, server.anon_key)
        sockets.append(fourth)
        refused = await join(fourth, "1.0.0", f"realtime:user:{alice.id}", alice.token)
        assert status(refused) == "error"
        assert reason(refused) == "ClientJoinRateLimitReached: at most 3 connections per user"
        # A socket already joined as alice may join more of her channels.
        assert status(await join(sockets[0], "1.0.0", f"realtime:user:{alice.id}", alice.token, ref="2")) == "ok"
    finally:
        for ws in sockets:
            await ws.close()


async def test_item4_presences_per_topic_are_capped(server, users, limited):
    topic = f"realtime:e2e-open-crowd-{uuid.uuid4()}"
    sockets = []
    try:
        replies = []
        for name in ("alice", "bob", "carol", "dave"):
            ws, reply = await track_on(limited, server.anon_key, users[name], topic, key=name)
            sockets.append(ws)
            replies.append(reply)
        assert [status(reply) for reply in replies] == ["ok", "ok", "ok", "error"]
        assert reason(replies[3]) == "presence limit: at most 3 presences on a topic"
    finally:
        for ws in sockets:
            await ws.close()


async def test_item4_a_client_gone_without_a_close_frame_frees_its_place_at_once(server, limited):
    """Sockets whose clients drop the TCP connection (no close frame) stop counting against
    the per-address cap right away, not at the idle timeout."""
    for _ in range(2):
        sockets = [await open_socket(limited, server.anon_key) for _ in range(6)]
        for ws in sockets:
            ws.transport.abort()
        await asyncio.sleep(1)
    replacement = await open_socket(limited, server.anon_key)
    await replacement.close()


async def test_item4_sockets_per_address_are_capped(server, limited):
    sockets = [await open_socket(limited, server.anon_key) for _ in range(6)]
    try:
        extra = await websockets.connect(socket_url(limited, server.anon_key))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await within(extra.recv(), 5)
        assert closed.value.rcvd.code == 1008 and "at most 6" in closed.value.rcvd.reason
        await sockets[0].close()
        sockets.append(await open_socket(limited, server.anon_key))
    finally:
        for ws in sockets:
            await ws.close()


# --------------------------------------------------------------------------- item 11: binary broadcasts


async def test_item11_binary_user_broadcasts_both_ways(server):
    topic = f"realtime:e2e-open-binary-{uuid.uuid4()}"
    anon = server.anon_key
    async with websockets.connect(socket_url(server.url, anon, "2.0.0")) as sender, \
            websockets.connect(socket_url(server.url, anon, "2.0.0")) as listener, \
            websockets.connect(socket_url(server.url, anon, "1.0.0")) as old_listener:
        for ws, vsn in ((sender, "2.0.0"), (listener, "2.0.0"), (old_listener, "1.0.0")):
            assert status(await join(ws, vsn, topic, anon)) == "ok"
        await sender.send(user_broadcast_push(topic, "cursor", {"x": 1, "name": "ü"}, ref="5", join_ref="1"))
        ack = await receive(sender, "2.0.0", lambda f: f["ref"] == "5")
        assert status(ack) == "ok" and ack["join_ref"] == "1"
        received = read_user_broadcast(await receive_binary(listener))
        assert received == {"kind": 4, "topic": topic, "event": "cursor", "encoding": 1, "payload": {"x": 1, "name": "ü"}}
        # A 1.0.0 socket gets the same broadcast as JSON.
        old = await receive(old_listener, "1.0.0", lambda f: f["event"] == "broadcast")
        assert old["payload"] == {"type": "broadcast", "event": "cursor", "payload": {"x": 1, "name": "ü"}}
        # JSON broadcasts stay JSON, for 2.0.0 sockets too.
        await sender.send(frame("2.0.0", topic, "broadcast", {"type": "broadcast", "event": "t", "payload": {"n": 2}}, ref="6", join_ref="1"))
        text = await receive(listener, "2.0.0", lambda f: f["event"] == "broadcast")
        assert text["payload"]["payload"] == {"n": 2}
        # Raw-bytes payloads are refused with a reason; the socket stays.
        await sender.send(user_broadcast_push(topic, "blob", b"\x00\x01", ref="7", join_ref="1", encoding=0))
        refused = await receive(sender, "2.0.0", lambda f: f["ref"] == "7")
        assert status(refused) == "error" and "payload encoding must be JSON" in reason(refused)
        await heartbeat_answers(sender, "2.0.0")


async def test_item11_binary_typing_in_a_conversation_carries_the_real_sender(server, users, dm):
    alice, bob = users["alice"], users["bob"]
    topic = f"realtime:conversation:{dm}"
    async with websockets.connect(socket_url(server.url, server.anon_key, "2.0.0")) as a, \
            websockets.connect(socket_url(server.url, server.anon_key, "2.0.0")) as b:
        assert status(await join(a, "2.0.0", topic, alice.token)) == "ok"
        assert status(await join(b, "2.0.0", topic, bob.token)) == "ok"
        await a.send(user_broadcast_push(topic, "typing", {"typing": True, "user_id": bob.id}, ref="2", join_ref="1"))
        received = read_user_broadcast(await receive_binary(b))
        assert received["event"] == "typing" and received["payload"] == {"typing": True, "user_id": alice.id}


async def test_item11_upper_case_ids_meet_lower_case_ones_on_owned_topics(server, users, dm):
    """supabase-swift writes UUIDs in upper case: `conversation:<ID>` and `conversation:<id>` are
    one room for broadcast and presence, each socket hearing it under the topic it joined."""
    alice, bob = users["alice"], users["bob"]
    lower, upper = f"realtime:conversation:{dm}", f"realtime:conversation:{dm.upper()}"
    async with websockets.connect(socket_url(server.url, server.anon_key)) as a, \
            websockets.connect(socket_url(server.url, server.anon_key, "2.0.0")) as b:
        assert status(await join(a, "1.0.0", lower, alice.token)) == "ok"
        assert status(await join(b, "2.0.0", upper, bob.token)) == "ok"
        await b.send(user_broadcast_push(upper, "typing", {"typing": True}, ref="2", join_ref="1"))
        got = await receive(a, "1.0.0", lambda f: f["event"] == "broadcast")
        assert got["topic"] == lower and got["payload"]["payload"] == {"typing": True, "user_id": bob.id}
        await a.send(frame("1.0.0", lower, "presence", {"event": "track", "payload": {"here": 1}}, ref="3", join_ref="1"))
        diff = await receive(b, "2.0.0", lambda f: f["event"] == "presence_diff")
        assert diff["topic"] == upper and alice.id in diff["payload"]["joins"]
        async with httpx.AsyncClient(timeout=5) as http:
            sent = await http.post(f"{server.url}/realtime/v1/api/broadcast", json={"messages": [
                {"topic": f"conversation:{dm.upper()}", "event": "rest", "payload": {}}]},
                headers={"apikey": server.anon_key, "Authorization": f"Bearer {bob.token}"})
        assert sent.status_code == 202
        got = await receive(a, "1.0.0", lambda f: f["event"] == "broadcast" and f["payload"]["event"] == "rest")
        assert got["topic"] == lower


# --------------------------------------------------------------------------- item 11: REST broadcast


async def test_item11_rest_broadcast_reaches_sockets_and_is_authorised_like_a_socket(server, users, dm):
    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    url = f"{server.url}/realtime/v1/api/broadcast"

    def headers(token: str | None = None) -> dict[str, str]:
        return {"apikey": server.anon_key, "Authorization": f"Bearer {token or server.anon_key}"}

    open_topic = f"e2e-open-rest-{uuid.uuid4()}"
    async with websockets.connect(socket_url(server.url, server.anon_key)) as listener, httpx.AsyncClient(timeout=5) as http:
        assert status(await join(listener, "1.0.0", f"realtime:{open_topic}", server.anon_key, ref="1")) == "ok"
        assert status(await join(listener, "1.0.0", f"realtime:conversation:{dm}", alice.token, ref="2")) == "ok"
        assert status(await join(listener, "1.0.0", f"realtime:user:{alice.id}", alice.token, ref="3")) == "ok"

        sent = await http.post(url, headers=headers(), json={"messages": [{"topic": open_topic, "event": "hi", "payload": {"n": 1}}]})
        assert sent.status_code == 202 and sent.content == b""
        got = await receive(listener, "1.0.0", lambda f: f["event"] == "broadcast" and f["topic"] == f"realtime:{open_topic}")
        assert got["payload"] == {"type": "broadcast", "event": "hi", "payload": {"n": 1}}

        # Members only on conversations; the sender's id is stamped, as on the socket.
        sent = await http.post(url, headers=headers(bob.token), json={"messages": [
            {"topic": f"conversation:{dm}", "event": "typing", "payload": {"user_id": "forged"}, "private": False}]})
        assert sent.status_code == 202
        got = await receive(listener, "1.0.0", lambda f: f["event"] == "broadcast" and f["topic"] == f"realtime:conversation:{dm}")
        assert got["payload"]["payload"] == {"user_id": bob.id}
        for token, topic in ((carol.token, f"conversation:{dm}"), (None, f"user:{alice.id}"), (bob.token, f"user:{alice.id}"),
                             (alice.token, f"unowned-{uuid.uuid4()}")):
            refused = await http.post(url, headers=headers(token), json={"messages": [{"topic": topic, "event": "x", "payload": {}}]})
            assert refused.status_code == 403, (topic, refused.text)
            assert refused.json()["error"].startswith("messages[0].topic: Unauthorized")

        # The single-message form of newer clients (`/broadcast/<topic>/events/<event>`).
        single = await http.post(f"{url}/user%3A{alice.id}/events/ping", headers=headers(alice.token), json={"n": 3})
        assert single.status_code == 202
        got = await receive(listener, "1.0.0", lambda f: f["event"] == "broadcast" and f["topic"] == f"realtime:user:{alice.id}")
        assert got["payload"]["event"] == "ping" and got["payload"]["payload"] == {"n": 3, "user_id": alice.id}


@pytest.mark.parametrize("body,field", [
    ({}, "messages"),
    ({"messages": []}, "messages"),
    ({"messages": "x"}, "messages"),
    ({"messages": [1]}, "messages[0]"),
    ({"messages": [{"topic": 1e300, "event": "x", "payload": {}}]}, "messages[0].topic"),
    ({"messages": [{"topic": "e2e-open-v", "event": -1e19, "payload": {}}]}, "messages[0].event"),
    ({"messages": [{"topic": "e2e-open-v", "event": "x", "payload": [1]}]}, "messages[0].payload"),
    ({"messages": [{"topic": "e2e-open-v", "event": "x"}]}, "messages[0].payload"),
    ({"messages": [{"topic": "e2e-open-v", "event": "x", "payload": {}, "private": True}]}, "messages[0].private"),
    ({"messages": [{"topic": "e2e-open-v", "event": "x", "payload": {"d": "x" * 70_000}}]}, "messages[0].payload"),
    ({"messages": [{"topic": "e2e-open-v", "event": "x", "payload": {}}] * 101}, "messages"),
])
async def test_item11_rest_broadcast_validation_names_the_field(server, body, field):
    async with httpx.AsyncClient(timeout=5) as http:
        response = await http.post(f"{server.url}/realtime/v1/api/broadcast", json=body,
                                   headers={"apikey": server.anon_key, "Authorization": f"Bearer {server.anon_key}"})
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


async def test_item11_rest_broadcast_is_rate_limited_per_caller(server, users):
    """As many messages as one socket may send frames: 100 a second, bursts of 200."""
    headers = {"apikey": server.anon_key, "Authorization": f"Bearer {users['dave'].token}"}
    batch = {"messages": [{"topic": "e2e-open-flood", "event": "x", "payload": {}}] * 100}
    async with httpx.AsyncClient(timeout=5) as http:
        # At once, so the bucket (refilled at 100 a second) cannot refill in between.
        statuses = await asyncio.gather(*[
            http.post(f"{server.url}/realtime/v1/api/broadcast", json=batch, headers=headers) for _ in range(4)])
    codes = sorted(r.status_code for r in statuses)
    assert codes.count(202) in (2, 3) and 429 in codes, codes
    limited = next(r for r in statuses if r.status_code == 429)
    assert limited.json()["code"] == "rate_limited" and int(limited.headers["Retry-After"]) >= 1


async def test_item11_rest_broadcast_needs_an_api_key_and_json(server):
    async with httpx.AsyncClient(timeout=5) as http:
        url = f"{server.url}/realtime/v1/api/broadcast"
        assert (await http.post(url, json={"messages": []})).status_code == 401
        bad = await http.post(url, content=b"{not json", headers={"apikey": server.anon_key, "Content-Type": "application/json"})
        assert bad.status_code == 400


# --------------------------------------------------------------------------- idle sockets


async def test_a_silent_socket_is_closed_with_1000_after_the_idle_timeout_and_heartbeats_keep_one_open(server, impatient):
    url = socket_url(impatient, server.anon_key)
    async with websockets.connect(url, ping_interval=None) as silent, websockets.connect(url, ping_interval=None) as beating:
        opened = asyncio.get_running_loop().time()

        async def beat():
            while True:
                await heartbeat_answers(beating, "1.0.0")
                await asyncio.sleep(1)

        beater = asyncio.create_task(beat())
        try:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await within(silent.recv(), IDLE_TIMEOUT + 10)
            lived = asyncio.get_running_loop().time() - opened
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000, closed.value
            assert lived >= IDLE_TIMEOUT - 0.5, f"closed after {lived:.1f}s, before the {IDLE_TIMEOUT}s idle timeout"
            await asyncio.sleep(1)
            assert not beater.done(), beater.exception() if beater.done() else None
            await heartbeat_answers(beating, "1.0.0")  # the socket that kept talking is still served
        finally:
            beater.cancel()


async def test_a_client_that_never_answers_the_close_is_cut_off(server, impatient):
    """The server's close frame (it also ends its side of the TCP stream) waits for the
    client's; a client that never sends one is disconnected 15 s later instead of being held
    for ever."""
    host, port = impatient.removeprefix("http://").split(":")

    def more(sock: socket.socket, received: bytes) -> bytes:
        chunk = sock.recv(4096)
        assert chunk, f"the server closed the connection early (after {received!r})"
        return received + chunk

    def silent_client() -> float:
        with socket.create_connection((host, int(port)), timeout=IDLE_TIMEOUT + 10) as sock:
            sock.sendall((f"GET /realtime/v1/websocket?apikey={server.anon_key}&vsn=1.0.0 HTTP/1.1\r\nHost: {host}\r\n"
                          "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n").encode())
            received = b""
            while b"\r\n\r\n" not in received:
                received = more(sock, received)
            head, _, received = received.partition(b"\r\n\r\n")
            assert b" 101 " in head.split(b"\r\n")[0], head
            while len(received) < 2:
                received = more(sock, received)
            assert received[0] & 0x0F == 0x8, f"expected the server's close frame, got opcode {received[0] & 0x0F}"
            while len(received) < 2 + (received[1] & 0x7F):
                received = more(sock, received)
            assert struct.unpack("!H", received[2:4])[0] == 1000
            sent_close = time.monotonic()
            # Never answer. The start of a 4 KiB text frame, then a byte at a time: the server
            # reads them without ever completing a frame; once it has closed the socket, a
            # write is refused.
            sock.sendall(b"\x81\xfe\x10\x00" + b"\0" * 4)
            while time.monotonic() - sent_close < 30:
                time.sleep(0.5)
                try:
                    sock.send(b"\0")
                except (BrokenPipeError, ConnectionResetError):
                    return time.monotonic() - sent_close
            return float("inf")

    waited = await asyncio.to_thread(silent_client)
    assert 10 <= waited <= 20, f"cut off {waited:.1f}s after the close frame (15 s expected)"
