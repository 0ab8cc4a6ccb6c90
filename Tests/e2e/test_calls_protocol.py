"""The calls signalling protocol (calls-ws, ../shared/specs/calls-protocol.md) with a plain
WebSocket client: handshake, envelope validation, ordering, idempotent retries, device
binding, resume, rooms, ringing, p2p relay, rate limits and close codes, two instances on one
database, and TURN credentials. Every defect of the earlier service listed at the end of the
spec is a `test_defect_…` test.

The session server runs with the defaults (30 s resume grace, 10 s auth deadline, …). Behaviour
that needs small timings or limits runs on extra instances on the same database with the
PostgreSQL message bus, started once per module:

  pair (A, B)  CALLS_AUTH_TIMEOUT_SECONDS=2, CALLS_RESUME_GRACE_SECONDS=2,
               CALLS_ROOM_LINGER_SECONDS=1, CALLS_MAX_ROOM_PEERS=2
  limits       CALLS_MAX_CONNECTIONS_PER_ADDRESS=3, CALLS_JOIN_TOKEN_TTL_SECONDS=10 (the minimum), no TURN
  heartbeat    CALLS_HEARTBEAT_SECONDS=1
  calls_only   `serve --roles calls`, CALLS_REQUIRE_SECURE_TRANSPORT=true behind a trusted proxy
               (TRUST_PROXY=true: `X-Forwarded-Proto: https` counts as TLS)
  secure       CALLS_REQUIRE_SECURE_TRANSPORT=true without TRUST_PROXY
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from types import SimpleNamespace

import httpx
import pytest

from calls_support import (
    FRAME_TIMEOUT,
    Frame,
    CallsClient,
    TokenMinter,
    User,
    assert_strictly_increasing,
    describe,
    new_device_id,
    new_msg_id,
    now_ms,
    peers_of,
    room_with,
    start_instance,
    stop_instance,
    turn_credential,
)
from conftest import SERVER_ENV
from e2e_support import close_client, new_client, rpc, sign_in, within

PHONES = {
    "alice": "+15555550120",
    "bob": "+15555550121",
    "carol": "+15555550122",
    "dave": "+15555550123",   # the outsider of alice's rooms
    "erin": "+15555550124",   # blocks frank
    "frank": "+15555550125",
    "gina": "+15555550126",   # never connected to the session server: the offline callee
    "heidi": "+15555550127",  # spends her TURN credential budget
    # Callees whose `delivered` count is asserted: each is rung in one test only, so no device of
    # theirs from another test is still within its resume grace period (those count as online).
    "ivan": "+15555550128",
    "judy": "+15555550129",
    "kate": "+15555550130",
    "leo": "+15555550131",
}

TURN_SECRET = SERVER_ENV["TURN_SHARED_SECRET"]
TURN_URLS = SERVER_ENV["TURN_URLS"].split(",")
TURN_TTL = 3600

PAIR_ENV = {
    "CALLS_AUTH_TIMEOUT_SECONDS": "2",
    "CALLS_RESUME_GRACE_SECONDS": "2",
    "CALLS_ROOM_LINGER_SECONDS": "1",
    "CALLS_MAX_ROOM_PEERS": "2",
}
GRACE = 2.0  # CALLS_RESUME_GRACE_SECONDS of the pair
HTTPS_PROXIED = {"X-Forwarded-Proto": "https"}  # what a TLS-terminating proxy adds
LINGER = 1.0  # CALLS_ROOM_LINGER_SECONDS of the pair


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
async def users(server):
    people = {name: User(name, phone) for name, phone in PHONES.items()}

    async def sign(user: User) -> None:
        user.client = await new_client(server.url, server.anon_key)
        session = (await sign_in(user.client, user.phone)).session
        user.id, user.token = session.user.id, session.access_token

    try:
        await asyncio.gather(*(sign(user) for user in people.values()))
        yield SimpleNamespace(**people)
    finally:
        for user in people.values():
            if user.client is not None:
                await close_client(user.client)


@pytest.fixture(scope="module")
def minter(server) -> TokenMinter:
    return TokenMinter(server)


@pytest.fixture
async def calls(server):
    """`await calls(base_url=None, name=...)` -> a connected CallsClient, closed when the test ends."""
    opened: list[CallsClient] = []

    async def open_client(base_url: str | None = None, name: str = "client", **connect_options) -> CallsClient:
        client = await CallsClient.connect(base_url or server.url, name, **connect_options)
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        await client.close()


@pytest.fixture(scope="module")
def pair(server):
    started = []
    try:
        started.append(start_instance(server, "a", PAIR_ENV))
        started.append(start_instance(server, "b", PAIR_ENV))
        yield tuple(started)
    finally:
        for instance in started:
            stop_instance(instance)


def instance_fixture(name: str, env: dict[str, str], **options):
    """A module-scoped extra server instance with these settings."""
    @pytest.fixture(scope="module")
    def fixture(server):
        instance = start_instance(server, name, env, **options)
        yield instance
        stop_instance(instance)
    return fixture


limits = instance_fixture(
    "limits", {"CALLS_MAX_CONNECTIONS_PER_ADDRESS": "3", "CALLS_JOIN_TOKEN_TTL_SECONDS": "10"},
    without=("TURN_URLS", "TURN_SHARED_SECRET"))
heartbeat = instance_fixture("heartbeat", {"CALLS_HEARTBEAT_SECONDS": "1"})
calls_only = instance_fixture(
    "calls-only", {"CALLS_REQUIRE_SECURE_TRANSPORT": "true", "TRUST_PROXY": "true"}, args=("--roles", "calls"))
secure = instance_fixture("secure", {"CALLS_REQUIRE_SECURE_TRANSPORT": "true"})


async def logged_in(calls, user: User, base_url: str | None = None, device_id: str | None = None) -> CallsClient:
    client = await calls(base_url, name=f"{user.name}{'@' + base_url.rsplit(':', 1)[1] if base_url else ''}")
    await client.login(user, device_id)
    return client


def is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
        return True
    except ValueError:
        return False


def urls_of(entry: dict) -> list[str]:
    urls = entry.get("urls")
    return urls if isinstance(urls, list) else [urls]


def assert_turn_username(username: str, user_id: str, ttl: int = TURN_TTL) -> int:
    expiry, _, who = username.partition(":")
    assert who == user_id, f"TURN username {username!r} is not '<expiry>:{user_id}'"
    assert expiry.isdigit(), f"TURN username {username!r} does not start with unix seconds"
    assert abs(int(expiry) - (time.time() + ttl)) < 120, f"TURN expiry {expiry} is not now + {ttl}s"
    return int(expiry)


def assert_ice_servers(ice_servers: list, user_id: str) -> None:
    assert isinstance(ice_servers, list) and ice_servers, f"no iceServers: {ice_servers!r}"
    every_url = [url for entry in ice_servers for url in urls_of(entry)]
    assert set(TURN_URLS) <= set(every_url), f"iceServers {every_url} lack the configured {TURN_URLS}"
    turn_entries = [e for e in ice_servers if any(u.startswith(("turn:", "turns:")) for u in urls_of(e))]
    assert turn_entries, f"no TURN entry in {ice_servers}"
    for entry in turn_entries:
        assert_turn_username(entry["username"], user_id)
        assert entry["credential"] == turn_credential(TURN_SECRET, entry["username"]), \
            f"TURN credential is not base64(HMAC-SHA1(secret, username)): {entry}"


def tamper(token: str) -> str:
    """The token with one character in the middle of its last segment changed."""
    head, dot, tail = token.rpartition(".")
    index = len(tail) // 2
    replacement = "A" if tail[index] != "A" else "B"
    return head + dot + tail[:index] + replacement + tail[index + 1:]


# --------------------------------------------------------------------------- handshake


async def test_hello_welcome_auth_ok_and_their_acks(server, users, calls):
    client = await calls(name="alice")
    welcome = await client.hello()
    assert welcome["v"] == 1 and is_uuid(welcome["msgId"]) and isinstance(welcome["ts"], int)
    assert isinstance(welcome["seq"], int) and welcome["seq"] >= 1
    payload = welcome["payload"]
    assert abs(payload["serverTime"] - now_ms()) < 60_000, payload
    assert payload["heartbeatSec"] == 25, payload
    assert isinstance(payload["resumeToken"], str) and len(payload["resumeToken"]) >= 16, payload
    assert payload["resumed"] is False, payload
    assert {"resume", "p2p", "ringing", "turn"} <= set(payload["features"]), payload

    hello_ack = await client.reply_to(client.hello_msg_id)
    hello_ack.expect_ok()
    assert client.frames.index(welcome) < client.frames.index(hello_ack.ack_frame), "HELLO's ACK came before WELCOME"

    reply = await client.auth(users.alice.token)
    reply.expect_ok()
    auth_ok = reply.response("AUTH_OK")
    assert auth_ok["payload"]["userId"] == users.alice.id
    assert auth_ok["payload"]["deviceId"] == client.device_id
    ack = reply.ack_frame
    assert ack["v"] == 1 and is_uuid(ack["msgId"]) and ack["msgId"] != reply.msg_id
    assert "seq" not in ack, f"ACK frames carry no seq: {ack}"
    assert isinstance(ack["ts"], int) and isinstance(ack["payload"], dict)
    (await client.ping()).expect_ok()
    assert_strictly_increasing(client.server_frames(), "alice")


async def test_only_ping_is_served_before_hello_and_auth(users, calls):
    client = await calls(name="alice")
    (await client.ping()).expect_ok()
    (await client.request("ROOM_CREATE", {"allowedUserIds": [], "mode": "p2p"})).expect_error("UNAUTHENTICATED")
    (await client.auth(users.alice.token)).expect_error("UNAUTHENTICATED")

    await client.hello()
    for kind, payload in [
        ("ROOM_CREATE", {"allowedUserIds": [], "mode": "p2p"}),
        ("ROOM_JOIN", {"roomId": str(uuid.uuid4()), "joinToken": "x"}),
        ("call.invite", {"to": users.bob.id, "callId": str(uuid.uuid4()), "callType": "audio"}),
        ("webrtc.offer", {"roomId": str(uuid.uuid4()), "to": {"userId": users.bob.id, "deviceId": "d"}, "sdp": "v=0"}),
    ]:
        reply = await client.request(kind, payload)
        reply.expect_error("UNAUTHENTICATED")
        assert not [f for f in reply.before if f.get("type") in ("ROOM_CREATED", "ROOM_JOIN_OK")]
    (await client.ping()).expect_ok()
    (await client.auth(users.alice.token)).expect_ok()
    await client.create_room()


@pytest.mark.parametrize("kind", ["garbage", "forged_signature", "expired", "anon_key", "service_role_key",
                                  "wrong_audience", "no_subject"])
async def test_bad_access_tokens_get_auth_fail_and_the_socket_stays_usable(server, users, minter, calls, kind):
    alice = users.alice
    token = {
        "garbage": lambda: "not-a-jwt",
        "forged_signature": lambda: minter.forged(alice),
        "expired": lambda: minter.mint(alice, expires_in=-3600),
        "anon_key": lambda: server.anon_key,
        "service_role_key": lambda: server.service_key,
        "wrong_audience": lambda: minter.mint(alice, expires_in=3600, aud="somebody-else"),
        "no_subject": lambda: minter.mint(alice, expires_in=3600, drop=("sub",)),
    }[kind]()
    client = await calls(name="alice")
    await client.hello()
    reply = await client.auth(token)
    reply.expect_error("UNAUTHENTICATED")
    fail = reply.response("AUTH_FAIL")
    assert fail["payload"]["code"] == "UNAUTHENTICATED" and isinstance(fail["payload"]["message"], str), fail
    assert not [f for f in client.frames if f.get("type") == "AUTH_OK"]
    (await client.request("ROOM_CREATE", {"allowedUserIds": [], "mode": "p2p"})).expect_error("UNAUTHENTICATED")
    (await client.ping()).expect_ok()
    # A good token afterwards on the same socket works.
    (await client.auth(alice.token)).expect_ok()


async def test_minted_valid_token_is_accepted(users, minter, calls):
    """Control for the token cases above: the test's own signing of a token is right."""
    client = await calls(name="alice")
    await client.hello()
    (await client.auth(minter.mint(users.alice, expires_in=600))).expect_ok()


async def test_no_auth_within_the_deadline_closes_4008(users, pair, calls):
    a, _ = pair
    started = time.monotonic()
    silent = await calls(a.url, "silent")
    hello_only = await calls(a.url, "hello-only")
    await hello_only.hello()
    bad = await calls(a.url, "bad-token")
    await bad.hello()
    (await bad.auth("not-a-jwt")).expect_error("UNAUTHENTICATED")
    good = await logged_in(calls, users.alice, a.url)

    for client in (silent, hello_only, bad):
        code, _ = await client.expect_close(timeout=6)
        assert code == 4008, f"{client.name}: closed {code} {client.close_reason!r}, expected 4008"
    assert time.monotonic() - started >= 1.5, "closed before the 2 s auth deadline"
    assert not good.closed.is_set()
    (await good.ping()).expect_ok()


async def test_expiring_token_gets_auth_fail_then_4001_unless_renewed(users, minter, calls):
    expiring = await calls(name="expiring")
    await expiring.hello()
    (await expiring.auth(minter.mint(users.alice, expires_in=2))).expect_ok()
    renewed = await calls(name="renewed")
    await renewed.hello()
    (await renewed.auth(minter.mint(users.alice, expires_in=2))).expect_ok()
    (await renewed.auth(users.alice.token)).expect_ok()  # a fresh AUTH at any time

    fail = await expiring.expect("AUTH_FAIL", timeout=8)
    assert fail["payload"]["code"] == "UNAUTHENTICATED", fail
    code, _ = await expiring.expect_close(timeout=3)
    assert code == 4001, f"closed {code} {expiring.close_reason!r}, expected 4001"

    assert not renewed.closed.is_set(), f"renewed session closed {renewed.close_code}"
    (await renewed.ping()).expect_ok()
    assert not [f for f in renewed.frames if f.get("type") == "AUTH_FAIL"]


# --------------------------------------------------------------------------- envelope


async def test_invalid_envelopes_are_answered_and_the_socket_stays_open(users, calls):
    client = await calls(name="alice")
    await client.login(users.alice)

    def without(frame: dict, key: str) -> dict:
        frame = dict(frame)
        frame.pop(key)
        return frame

    acked = {  # built when sent, so each takes the next client seq
        "v=2": lambda: client.envelope("PING", v=2),
        "v missing": lambda: without(client.envelope("PING"), "v"),
        "type missing": lambda: without(client.envelope("PING"), "type"),
        "type not a string": lambda: client.envelope(7),
        "unknown type": lambda: client.envelope("NO_SUCH_FRAME"),
        "payload not an object": lambda: client.envelope("ROOM_CREATE", "allowedUserIds"),
        "bad ROOM_CREATE mode": lambda: client.envelope("ROOM_CREATE", {"allowedUserIds": [], "mode": "mesh"}),
        "seq missing": lambda: without(client.envelope("PING"), "seq"),
        "ts missing": lambda: without(client.envelope("PING"), "ts"),
    }
    for name, build in acked.items():
        frame = build()
        start = len(client.frames)
        await client.send_frame(frame)
        reply = await client.reply_to(frame["msgId"], start=start)
        error = reply.expect_error("VALIDATION_FAILED")
        assert error["retryable"] is False, f"{name}: {error}"
        (await client.ping()).expect_ok()

    for name, text in {
        "invalid JSON": "{not json",
        "JSON array": "[1, 2, 3]",
        "JSON string": '"HELLO"',
        "no msgId": lambda: json.dumps(without(client.envelope("PING"), "msgId")),
    }.items():
        start = len(client.frames)
        await client.send_raw(text() if callable(text) else text)
        error = await client.expect("ERROR", start=start)
        assert error["payload"]["code"] == "VALIDATION_FAILED", f"{name}: {error}"
        assert error["payload"]["retryable"] is False and isinstance(error["payload"]["message"], str), f"{name}: {error}"
        assert isinstance(error["seq"], int), f"{name}: ERROR without seq: {error}"
        (await client.ping()).expect_ok()

    # Text frames only: a binary frame is answered with an ERROR.
    start = len(client.frames)
    await client.send_raw(json.dumps(client.envelope("PING")).encode())
    error = await client.expect("ERROR", start=start)
    assert error["payload"]["code"] == "VALIDATION_FAILED", error
    (await client.ping()).expect_ok()

    # A msgId that is not a UUID: an ACK for it or an ERROR frame, but an answer either way.
    start = len(client.frames)
    await client.send_frame(client.envelope("PING", msg_id="not-a-uuid"))
    answer = await client.next(lambda f: f.get("type") == "ERROR" or (f.get("type") == "ACK" and f["ack"].get("ackOfMsgId") == "not-a-uuid"),
                               start=start, what="ERROR or ACK for a non-UUID msgId")
    code = answer["payload"]["code"] if answer["type"] == "ERROR" else answer["ack"]["error"]["code"]
    assert code == "VALIDATION_FAILED", answer
    assert not client.closed.is_set()
    (await client.ping()).expect_ok()
    assert_strictly_increasing(client.server_frames(), "alice")


# --------------------------------------------------------------------------- ordering


async def test_client_seq_repeats_and_decreases_are_refused(users, calls):
    client = await calls(name="alice")
    await client.login(users.alice)
    (await client.request("PING", seq=10)).expect_ok()
    (await client.request("PING", seq=10)).expect_error("SEQ_OUT_OF_ORDER")
    (await client.request("PING", seq=7)).expect_error("SEQ_OUT_OF_ORDER")
    refused = await client.request("ROOM_CREATE", {"allowedUserIds": [], "mode": "p2p"}, seq=3)
    refused.expect_error("SEQ_OUT_OF_ORDER")
    assert not [f for f in refused.before if f.get("type") == "ROOM_CREATED"]
    (await client.request("PING", seq=11)).expect_ok()
    (await client.request("PING", seq=5000)).expect_ok()  # gaps are allowed
    await client.quiet(lambda f: f.get("type") == "ROOM_CREATED", 0.3, "ROOM_CREATED for a refused request")


async def test_server_seq_increases_and_every_request_gets_exactly_one_ack_after_its_responses(users, calls):
    alice = await logged_in(calls, users.alice)
    bob = await logged_in(calls, users.bob)
    room = await alice.create_room([users.bob.id])
    for client in (alice, bob):
        reply = await client.request("ROOM_JOIN", {"roomId": room["roomId"], "joinToken": room["joinToken"]})
        reply.expect_ok()
        kinds = [f["type"] for f in reply.before if f.get("type") in ("ROOM_JOIN_OK", "ROOM_SNAPSHOT")]
        assert kinds == ["ROOM_JOIN_OK", "ROOM_SNAPSHOT"], f"{client.name}: before the ACK: {describe(reply.before)}"
    await alice.expect("PEER_JOINED", deviceId=bob.device_id)
    for _ in range(3):
        await alice.send("webrtc.ice", {"roomId": room["roomId"], "to": bob.peer, "candidate": {"candidate": "c"}})
        await bob.send("PING")
    await alice.ping()
    await bob.ping()
    await asyncio.sleep(0.5)
    for client in (alice, bob):
        for frame in client.sent:
            count = len(client.acks_of(frame["msgId"]))
            assert count == 1, f"{client.name}: {count} ACKs for {frame['type']} {frame['msgId']}"
        assert_strictly_increasing(client.server_frames(), client.name)


# --------------------------------------------------------------------------- retries


async def test_retried_room_create_returns_the_same_room(users, calls):
    client = await calls(name="alice")
    await client.login(users.alice)
    msg_id = new_msg_id()
    first = await client.request("ROOM_CREATE", {"allowedUserIds": [users.bob.id], "mode": "p2p"}, msg_id=msg_id)
    first.expect_ok()
    room = first.response("ROOM_CREATED")["payload"]
    retry = await client.request("ROOM_CREATE", {"allowedUserIds": [users.bob.id], "mode": "p2p"}, msg_id=msg_id)
    retry.expect_ok()
    assert retry.ack == first.ack and retry.payload == first.payload, f"retry ACK {retry.ack_frame} != {first.ack_frame}"
    await client.quiet(lambda f: f.get("type") == "ROOM_CREATED" and f["payload"].get("roomId") != room["roomId"], 0.3,
                       "a second room for a retry")
    again = [f["payload"]["roomId"] for f in retry.before if f.get("type") == "ROOM_CREATED"]
    returned = again + ([retry.payload["roomId"]] if "roomId" in retry.payload else [])
    assert returned, f"the retry returned no roomId (neither ROOM_CREATED nor ACK payload): {describe(retry.before)} {retry.ack_frame}"
    assert set(returned) == {room["roomId"]}, f"retry returned {returned}, first {room['roomId']}"
    assert len(client.acks_of(msg_id)) == 2  # one per delivery


async def test_retry_after_a_resume_gets_the_original_result(users, calls):
    """The usual retry: the socket dropped before the ACK came; the device resumes and sends it again."""
    alice = await logged_in(calls, users.alice)
    msg_id = new_msg_id()
    first = await alice.request("ROOM_CREATE", {"allowedUserIds": [], "mode": "p2p"}, msg_id=msg_id)
    first.expect_ok()
    room = first.response("ROOM_CREATED")["payload"]
    resume = {"resumeToken": alice.welcome["payload"]["resumeToken"], "lastServerSeq": alice.last_server_seq()}
    await alice.abort()
    back = await calls(name="alice-again")
    assert (await back.hello(alice.device_id, resume=resume))["payload"]["resumed"] is True
    retry = await back.request("ROOM_CREATE", {"allowedUserIds": [], "mode": "p2p"}, msg_id=msg_id)
    assert retry.ack == first.ack and retry.payload == first.payload, f"{retry.ack_frame} != {first.ack_frame}"
    created = [f["payload"]["roomId"] for f in retry.before if f.get("type") == "ROOM_CREATED"]
    assert set(created) <= {room["roomId"]}, f"the retry created another room: {created}"


async def test_retried_invite_is_not_delivered_again(users, calls):
    alice = await logged_in(calls, users.alice)
    bob = await logged_in(calls, users.ivan)
    msg_id = new_msg_id()
    invite = {"to": users.ivan.id, "callId": str(uuid.uuid4()), "callType": "audio"}
    first = await alice.request("call.invite", invite, msg_id=msg_id)
    first.expect_ok()
    assert first.payload.get("delivered") == 1, first.ack_frame
    await bob.expect("call.invite", callId=invite["callId"])
    retry = await alice.request("call.invite", invite, msg_id=msg_id)
    assert retry.ack == first.ack and retry.payload == first.payload, f"{retry.ack_frame} != {first.ack_frame}"
    await bob.quiet(lambda f: f.get("type") == "call.invite", 0.7, "second delivery of a retried invite")


async def test_defect_rejected_frame_retry_was_falsely_acknowledged(users, calls):
    client = await calls(name="alice")
    await client.hello()
    create = {"allowedUserIds": [], "mode": "p2p"}

    # Refused before AUTH, then retried after AUTH: executed this time.
    unauthenticated = new_msg_id()
    (await client.request("ROOM_CREATE", create, msg_id=unauthenticated)).expect_error("UNAUTHENTICATED")
    (await client.auth(users.alice.token)).expect_ok()
    retry = await client.request("ROOM_CREATE", create, msg_id=unauthenticated)
    retry.expect_ok()
    retry.response("ROOM_CREATED")

    # Refused for its seq, retried with a fresh seq.
    out_of_order = new_msg_id()
    (await client.request("ROOM_CREATE", create, msg_id=out_of_order, seq=1)).expect_error("SEQ_OUT_OF_ORDER")
    retry = await client.request("ROOM_CREATE", create, msg_id=out_of_order)
    retry.expect_ok()
    retry.response("ROOM_CREATED")

    # Refused as invalid, sent again corrected under the same msgId.
    invalid = new_msg_id()
    (await client.request("ROOM_CREATE", {"allowedUserIds": [], "mode": "mesh"}, msg_id=invalid)).expect_error("VALIDATION_FAILED")
    retry = await client.request("ROOM_CREATE", create, msg_id=invalid)
    retry.expect_ok()
    retry.response("ROOM_CREATED")


# --------------------------------------------------------------------------- devices


async def test_same_device_again_replaces_the_old_socket_4009(users, calls):
    device = new_device_id("alice")
    old = await logged_in(calls, users.alice, device_id=device)
    new = await logged_in(calls, users.alice, device_id=device)
    code, reason = await old.expect_close()
    assert code == 4009 and "DEVICE_REPLACED" in reason, f"old socket closed {code} {reason!r}"
    (await new.ping()).expect_ok()
    assert not new.closed.is_set()


async def test_another_users_device_id_is_refused(users, calls):
    device = new_device_id("alice")
    owner = await logged_in(calls, users.alice, device_id=device)
    intruder = await calls(name="bob")
    await intruder.hello(device)
    reply = await intruder.auth(users.bob.token)
    reply.expect_error("UNAUTHORIZED")
    assert not [f for f in intruder.frames if f.get("type") == "AUTH_OK"]
    (await intruder.request("ROOM_CREATE", {"allowedUserIds": [], "mode": "p2p"})).expect_error("UNAUTHENTICATED")
    assert not owner.closed.is_set()
    (await owner.ping()).expect_ok()

    # Nor can another user's token take over an authenticated socket (and its device).
    takeover = await owner.auth(users.bob.token)
    takeover.expect_error("UNAUTHORIZED")
    assert not [f for f in takeover.before if f.get("type") == "AUTH_OK"]
    room = await owner.create_room([users.bob.id])
    join_ok, snapshot = await owner.join_room(room)
    assert peers_of(snapshot) == {(users.alice.id, device)}, "the socket no longer acts for its own user"


# --------------------------------------------------------------------------- resume


async def test_resume_within_grace_replays_every_frame_after_last_server_seq(users, calls):
    alice = await logged_in(calls, users.alice)
    bob = await logged_in(calls, users.bob)
    room = await room_with(alice, bob)

    async def ice(text: str) -> None:
        (await alice.request("webrtc.ice", {"roomId": room["roomId"], "to": bob.peer, "candidate": {"candidate": text}})).expect_ok()

    for text in ("c1", "c2", "c3"):
        await ice(text)
    seen = [await bob.expect("webrtc.ice") for _ in range(3)]
    assert [f["payload"]["candidate"]["candidate"] for f in seen] == ["c1", "c2", "c3"]
    resume_token = bob.welcome["payload"]["resumeToken"]
    await bob.abort()
    await asyncio.sleep(0.3)
    await ice("c4")  # the device session keeps it for the resume
    (await alice.request("webrtc.offer", {"roomId": room["roomId"], "to": bob.peer, "sdp": "offer-while-away"})).expect_ok()

    back = await calls(name="bob-again")
    welcome = await back.hello(bob.device_id, resume={"resumeToken": resume_token, "lastServerSeq": seen[0]["seq"]})
    assert welcome["payload"]["resumed"] is True, welcome
    replayed = [await back.expect("webrtc.ice") for _ in range(3)]
    offer = await back.expect("webrtc.offer")
    assert [f["payload"]["candidate"]["candidate"] for f in replayed] == ["c2", "c3", "c4"]
    assert [f["seq"] for f in replayed[:2]] == [f["seq"] for f in seen[1:]], "replayed frames changed their seq"
    assert seen[2]["seq"] < replayed[2]["seq"] < offer["seq"]
    assert offer["payload"]["sdp"] == "offer-while-away" and offer["from"] == alice.peer
    await back.quiet(lambda f: f.get("type") == "webrtc.ice" and f["payload"]["candidate"]["candidate"] == "c1", 0.2,
                     "a frame at or before lastServerSeq")

    # Still authenticated and in the room without AUTH or ROOM_JOIN; seq continues.
    back.user_id = users.bob.id
    (await back.request("webrtc.answer", {"roomId": room["roomId"], "to": alice.peer, "sdp": "answer"})).expect_ok()
    answer = await alice.expect("webrtc.answer")
    assert answer["from"] == back.peer
    await ice("c5")
    after = await back.expect("webrtc.ice")
    assert after["payload"]["candidate"]["candidate"] == "c5" and after["seq"] > offer["seq"]
    # Strictly increasing on the wire over the whole resumed connection, WELCOME included.
    assert_strictly_increasing(back.server_frames(), "bob after resume")


async def test_resume_with_an_unknown_token_or_another_device_is_a_fresh_session(users, calls):
    alice = await logged_in(calls, users.alice)
    token = alice.welcome["payload"]["resumeToken"]

    stranger = await calls(name="forged-resume")
    welcome = await stranger.hello(new_device_id("x"), resume={"resumeToken": "forged-" + token[::-1], "lastServerSeq": 1})
    assert welcome["payload"]["resumed"] is False, welcome
    (await stranger.request("ROOM_CREATE", {"allowedUserIds": [], "mode": "p2p"})).expect_error("UNAUTHENTICATED")

    other_device = await calls(name="other-device")
    welcome = await other_device.hello(new_device_id("y"), resume={"resumeToken": token, "lastServerSeq": 1})
    assert welcome["payload"]["resumed"] is False, welcome
    (await other_device.request("ROOM_CREATE", {"allowedUserIds": [], "mode": "p2p"})).expect_error("UNAUTHENTICATED")
    assert not alice.closed.is_set()


async def test_resume_after_grace_is_refused_and_the_peer_sees_disconnected(users, pair, calls):
    a, _ = pair
    alice = await logged_in(calls, users.alice, a.url)
    bob = await logged_in(calls, users.bob, a.url)
    room = await room_with(alice, bob)
    resume = {"resumeToken": bob.welcome["payload"]["resumeToken"], "lastServerSeq": bob.last_server_seq()}
    await bob.abort()
    dropped = time.monotonic()
    await alice.quiet(lambda f: f.get("type") == "PEER_LEFT", GRACE - 0.8, "PEER_LEFT before the grace period ended")
    left = await alice.expect("PEER_LEFT", timeout=GRACE + 4)
    assert time.monotonic() - dropped >= GRACE - 0.5
    assert left["payload"] == {**left["payload"], "roomId": room["roomId"], "userId": users.bob.id,
                               "deviceId": bob.device_id, "reason": "disconnected"}, left

    back = await calls(a.url, "bob-late")
    welcome = await back.hello(bob.device_id, resume=resume)
    assert welcome["payload"]["resumed"] is False, welcome
    (await back.request("ROOM_JOIN", {"roomId": room["roomId"], "joinToken": room["joinToken"]})).expect_error("UNAUTHENTICATED")
    (await back.auth(users.bob.token)).expect_ok()
    # The join token may be re-used by a member who rejoins after a drop.
    join_ok, _ = await back.join_room(room)
    assert (users.alice.id, alice.device_id) in peers_of(join_ok)
    await alice.expect("PEER_JOINED", userId=users.bob.id, deviceId=bob.device_id)


async def test_defect_resume_ignored_and_seq_never_reset(users, calls):
    """Reconnects start their own seq again at 1 and resume really resumes."""
    alice = await logged_in(calls, users.alice)
    bob = await logged_in(calls, users.bob)
    room = await room_with(alice, bob)
    for _ in range(5):  # push bob's client seq well past what a reconnect starts with
        await bob.ping()
    token, last = bob.welcome["payload"]["resumeToken"], bob.last_server_seq()
    await bob.abort()
    (await alice.request("webrtc.offer", {"roomId": room["roomId"], "to": bob.peer, "sdp": "s"})).expect_ok()

    back = await calls(name="bob-again")  # client seq starts at 1 again on the new connection
    welcome = await back.hello(bob.device_id, resume={"resumeToken": token, "lastServerSeq": last})
    assert back.sent[0]["seq"] == 1
    assert welcome["payload"]["resumed"] is True, welcome
    offer = await back.expect("webrtc.offer")
    assert offer["seq"] > last
    back.user_id = users.bob.id
    (await back.ping()).expect_ok()
    (await back.request("webrtc.answer", {"roomId": room["roomId"], "to": alice.peer, "sdp": "a"})).expect_ok()
    await alice.expect("webrtc.answer")


# --------------------------------------------------------------------------- rooms


async def test_room_create_join_snapshot_peer_joined_leave_peer_left(users, calls):
    alice = await logged_in(calls, users.alice)
    bob = await logged_in(calls, users.bob)
    reply = await alice.request("ROOM_CREATE", {"allowedUserIds": [users.bob.id], "mode": "p2p"})
    reply.expect_ok()
    room = reply.response("ROOM_CREATED")["payload"]
    assert isinstance(room["roomId"], str) and room["roomId"] and isinstance(room["callId"], str) and room["callId"]
    assert isinstance(room["joinToken"], str) and len(room["joinToken"]) >= 16
    assert abs(room["expiresAt"] - (now_ms() + 600_000)) < 60_000, f"expiresAt {room['expiresAt']} is not now + 10 min (ms)"

    join_ok, snapshot = await alice.join_room(room)
    assert join_ok["roomId"] == room["roomId"] and join_ok["callId"] == room["callId"] and join_ok["mode"] == "p2p"
    assert isinstance(join_ok["iceServers"], list)
    assert peers_of(join_ok) - {(users.alice.id, alice.device_id)} == set()
    assert snapshot["roomId"] == room["roomId"] and snapshot["callId"] == room["callId"] and snapshot["mode"] == "p2p"
    assert peers_of(snapshot) == {(users.alice.id, alice.device_id)}
    assert all("joinedAt" in peer for peer in snapshot["peers"]), snapshot
    first_version = snapshot["roomVersion"]
    assert isinstance(first_version, int)

    join_ok, snapshot = await bob.join_room(room)
    assert (users.alice.id, alice.device_id) in peers_of(join_ok)
    assert all("joinedAt" in peer for peer in join_ok["peers"]), join_ok
    assert peers_of(snapshot) == {(users.alice.id, alice.device_id), (users.bob.id, bob.device_id)}
    assert snapshot["roomVersion"] > first_version
    joined = await alice.expect("PEER_JOINED", roomId=room["roomId"])
    assert joined["payload"]["userId"] == users.bob.id and joined["payload"]["deviceId"] == bob.device_id
    await bob.quiet(lambda f: f.get("type") == "PEER_JOINED", 0.2, "PEER_JOINED about itself")

    leave = await bob.request("ROOM_LEAVE", {"roomId": room["roomId"]})
    leave.expect_ok()
    assert leave.response("ROOM_LEFT")["payload"]["roomId"] == room["roomId"]
    left = await alice.expect("PEER_LEFT", roomId=room["roomId"])
    assert left["payload"]["userId"] == users.bob.id and left["payload"]["deviceId"] == bob.device_id
    assert left["payload"]["reason"] == "left"
    # No longer a member: relaying from bob into the room is refused.
    (await bob.request("webrtc.offer", {"roomId": room["roomId"], "to": alice.peer, "sdp": "x"})).expect_error("UNAUTHORIZED")


async def test_room_join_refusals(users, calls):
    alice = await logged_in(calls, users.alice)
    bob = await logged_in(calls, users.bob)
    dave = await logged_in(calls, users.dave)
    room = await alice.create_room([users.bob.id])
    other = await alice.create_room([users.carol.id, users.bob.id])
    await alice.join_room(room)

    async def refused(client: CallsClient, room_id: str, token: str, *codes: str) -> None:
        reply = await client.request("ROOM_JOIN", {"roomId": room_id, "joinToken": token})
        reply.expect_error(*codes)
        assert not [f for f in reply.before if f.get("type") in ("ROOM_JOIN_OK", "ROOM_SNAPSHOT")]

    await refused(dave, room["roomId"], room["joinToken"], "UNAUTHORIZED")       # not allowed
    await refused(bob, room["roomId"], tamper(room["joinToken"]), "UNAUTHORIZED")  # forged
    await refused(bob, room["roomId"], other["joinToken"], "UNAUTHORIZED")        # another room's token
    await refused(bob, room["roomId"], "not-a-token", "UNAUTHORIZED", "VALIDATION_FAILED")
    await refused(bob, str(uuid.uuid4()), room["joinToken"], "ROOM_NOT_FOUND", "UNAUTHORIZED")
    await alice.quiet(lambda f: f.get("type") == "PEER_JOINED", 0.3, "PEER_JOINED after a refused join")
    await bob.join_room(room)  # the real token still works


async def test_expired_join_token_is_refused(users, limits, calls):
    alice = await logged_in(calls, users.alice, limits.url)
    bob = await logged_in(calls, users.bob, limits.url)
    room = await alice.create_room([users.bob.id])
    assert abs(room["expiresAt"] - (now_ms() + 10_000)) < 1500, room
    await bob.join_room(room)  # the room stays open; only the token runs out
    await asyncio.sleep(max(0.0, (room["expiresAt"] - now_ms()) / 1000) + 1.2)
    reply = await alice.request("ROOM_JOIN", {"roomId": room["roomId"], "joinToken": room["joinToken"]})
    reply.expect_error("UNAUTHORIZED")


async def test_a_member_refreshes_the_join_token_of_a_long_call(users, limits, calls):
    """ROOM_TOKEN_REFRESH (docs/calls.md): a device in the room gets a join token with a new
    expiry for the same room, call and allowed users, which still lets an allowed user in
    once the first token has run out; a device not in the room gets none."""
    alice = await logged_in(calls, users.alice, limits.url)
    bob = await logged_in(calls, users.bob, limits.url)
    room = await alice.create_room([users.bob.id])
    # Not in the room (the creator too, before joining): no token.
    (await alice.request("ROOM_TOKEN_REFRESH", {"roomId": room["roomId"]})).expect_error("UNAUTHORIZED")
    await alice.join_room(room)
    await asyncio.sleep(4)
    reply = await alice.request("ROOM_TOKEN_REFRESH", {"roomId": room["roomId"]})
    reply.expect_ok()
    fresh = reply.response("ROOM_TOKEN_REFRESHED")["payload"]
    assert fresh["roomId"] == room["roomId"] and fresh["callId"] == room["callId"], fresh
    assert fresh["joinToken"] != room["joinToken"] and fresh["expiresAt"] >= room["expiresAt"] + 3000, (fresh, room)
    assert abs(fresh["expiresAt"] - (now_ms() + 10_000)) < 1500, fresh
    assert reply.payload["joinToken"] == fresh["joinToken"]
    error = (await alice.request("ROOM_TOKEN_REFRESH", {"roomId": "nope"})).expect_error("VALIDATION_FAILED")
    assert "roomId" in error["message"], error
    (await bob.request("ROOM_TOKEN_REFRESH", {"roomId": room["roomId"]})).expect_error("UNAUTHORIZED")
    # Past the first token's expiry: it is refused, the refreshed one lets Bob in.
    await asyncio.sleep(max(0.0, (room["expiresAt"] - now_ms()) / 1000) + 1.2)
    (await bob.request("ROOM_JOIN", {"roomId": room["roomId"], "joinToken": room["joinToken"]})).expect_error("UNAUTHORIZED")
    await bob.join_room({**room, "joinToken": fresh["joinToken"]})


async def test_defect_no_peer_joined_and_no_peer_left_on_socket_close(users, pair, calls):
    a, _ = pair
    alice = await logged_in(calls, users.alice, a.url)
    bob = await logged_in(calls, users.bob, a.url)
    room = await alice.create_room([users.bob.id])
    await alice.join_room(room)
    await bob.join_room(room)
    joined = await alice.expect("PEER_JOINED", roomId=room["roomId"])
    assert joined["payload"]["deviceId"] == bob.device_id
    await bob.close()  # the socket closes; no ROOM_LEAVE
    left = await alice.expect("PEER_LEFT", roomId=room["roomId"], timeout=GRACE + 4)
    assert left["payload"]["deviceId"] == bob.device_id and left["payload"]["reason"] == "disconnected", left


async def test_defect_empty_rooms_never_deleted(users, pair, calls):
    """The room stays for the linger after its last peer leaves, then closes and its token stops working."""
    a, _ = pair
    alice = await logged_in(calls, users.alice, a.url)
    bob = await logged_in(calls, users.bob, a.url)
    room = await alice.create_room([users.bob.id])
    await alice.join_room(room)
    (await alice.request("ROOM_LEAVE", {"roomId": room["roomId"]})).expect_ok()
    await alice.join_room(room)  # within the linger: still open
    (await alice.request("ROOM_LEAVE", {"roomId": room["roomId"]})).expect_ok()
    # Closed within the linger plus the server's periodic sweep (2 s here): allow 3 s.
    await asyncio.sleep(LINGER + 3)
    reply = await alice.request("ROOM_JOIN", {"roomId": room["roomId"], "joinToken": room["joinToken"]})
    reply.expect_error("ROOM_CLOSED", "ROOM_NOT_FOUND")
    reply = await bob.request("ROOM_JOIN", {"roomId": room["roomId"], "joinToken": room["joinToken"]})
    reply.expect_error("ROOM_CLOSED", "ROOM_NOT_FOUND")


async def test_room_full_beyond_the_configured_maximum(users, pair, calls):
    a, _ = pair
    alice = await logged_in(calls, users.alice, a.url)
    bob = await logged_in(calls, users.bob, a.url)
    carol = await logged_in(calls, users.carol, a.url)
    room = await room_with(alice, bob, allowed=[users.carol.id])
    reply = await carol.request("ROOM_JOIN", {"roomId": room["roomId"], "joinToken": room["joinToken"]})
    reply.expect_error("ROOM_FULL")
    (await bob.request("ROOM_LEAVE", {"roomId": room["roomId"]})).expect_ok()
    await carol.join_room(room)


async def test_p2p_room_holds_eight_devices_by_default(users, calls):
    people = [users.alice, users.bob, users.carol]
    devices = [await logged_in(calls, people[index % 3]) for index in range(9)]
    room = await devices[0].create_room([users.bob.id, users.carol.id])
    for device in devices[:8]:
        await device.join_room(room)
    reply = await devices[8].request("ROOM_JOIN", {"roomId": room["roomId"], "joinToken": room["joinToken"]})
    reply.expect_error("ROOM_FULL")


# --------------------------------------------------------------------------- ringing


async def test_invite_reaches_every_device_of_the_callee_stamped_with_the_caller(users, calls):
    alice = await logged_in(calls, users.alice)
    alice2 = await logged_in(calls, users.alice)
    bobs = [await logged_in(calls, users.judy) for _ in range(2)]
    room = await alice.create_room([users.judy.id])
    call_id = str(uuid.uuid4())
    spoofed = {"userId": users.carol.id, "deviceId": "spoofed-device"}
    invite = {"to": users.judy.id, "callId": call_id, "callType": "video", "roomId": room["roomId"],
              "joinToken": room["joinToken"], "from": spoofed}
    last_seqs = [bob.last_server_seq() for bob in bobs]
    reply = await alice.request("call.invite", invite, **{"from": spoofed})
    reply.expect_ok()
    assert reply.payload.get("delivered") == 2, reply.ack_frame
    for bob, last in zip(bobs, last_seqs):
        frame = await bob.expect("call.invite", callId=call_id)
        assert frame["from"] == alice.peer, f"{bob.name}: from {frame.get('from')}"
        assert frame["payload"].get("from", alice.peer) == alice.peer, f"spoofed payload.from delivered: {frame}"
        assert frame["payload"]["callType"] == "video" and frame["payload"]["roomId"] == room["roomId"]
        assert frame["payload"]["joinToken"] == room["joinToken"]
        assert frame["msgId"] != reply.msg_id and frame["seq"] > last
    for device in (alice, alice2):
        await device.quiet(lambda f: f.get("type") == "call.invite", 0.2, "the caller's own invite")

    # An answer addressed to one device of the caller reaches only that device.
    accept = await bobs[0].request("call.accept", {"to": users.alice.id, "callId": call_id, "toDevice": alice2.device_id})
    accept.expect_ok()
    assert accept.payload.get("delivered") == 1, accept.ack_frame
    accepted = await alice2.expect("call.accept", callId=call_id)
    assert accepted["from"] == bobs[0].peer
    await alice.quiet(lambda f: f.get("type") == "call.accept", 0.5, "call.accept for another device")

    # Without toDevice: every device of the callee.
    hangup = await alice2.request("call.hangup", {"to": users.judy.id, "callId": call_id})
    hangup.expect_ok()
    assert hangup.payload.get("delivered") == 2, hangup.ack_frame
    for bob in bobs:
        assert (await bob.expect("call.hangup", callId=call_id))["from"] == alice2.peer


async def test_invite_to_an_offline_user_delivers_nothing(users, calls):
    alice = await logged_in(calls, users.alice)
    reply = await alice.request("call.invite", {"to": users.gina.id, "callId": str(uuid.uuid4()), "callType": "audio"})
    reply.expect_ok()
    assert reply.payload.get("delivered") == 0, reply.ack_frame


async def test_invalid_call_frames_are_refused(users, calls):
    alice = await logged_in(calls, users.alice)
    bob = await logged_in(calls, users.bob)
    for payload in ({"callId": str(uuid.uuid4()), "callType": "audio"},
                    {"to": users.bob.id, "callType": "audio"},
                    {"to": users.bob.id, "callId": str(uuid.uuid4()), "callType": "hologram"}):
        (await alice.request("call.invite", payload)).expect_error("VALIDATION_FAILED")
    await bob.quiet(lambda f: f.get("type", "").startswith("call."), 0.3, "an invalid call frame")


async def test_blocked_users_cannot_ring_each_other(users, calls):
    erin = await logged_in(calls, users.erin)
    frank = await logged_in(calls, users.frank)
    assert await rpc(users.erin.client, "block_user", {"target_user_id": users.frank.id}) == {"blocked": True}
    try:
        for caller, callee in ((frank, users.erin), (erin, users.frank)):
            reply = await caller.request("call.invite", {"to": callee.id, "callId": str(uuid.uuid4()), "callType": "audio"})
            reply.expect_error("UNAUTHORIZED")
        for client in (erin, frank):
            await client.quiet(lambda f: f.get("type") == "call.invite", 0.3, "an invite across a block")
    finally:
        await rpc(users.erin.client, "unblock_user", {"target_user_id": users.frank.id})
    reply = await frank.request("call.invite", {"to": users.erin.id, "callId": str(uuid.uuid4()), "callType": "audio"})
    reply.expect_ok()
    assert reply.payload.get("delivered") == 1
    assert (await erin.expect("call.invite"))["from"] == frank.peer


async def test_defect_call_sender_not_stamped(users, calls):
    carol = await logged_in(calls, users.carol)
    alice = await logged_in(calls, users.alice)
    bob = await logged_in(calls, users.bob)
    impersonated = alice.peer
    for kind, extra in (("call.invite", {"callType": "audio"}), ("call.hangup", {}), ("call.cancel", {})):
        call_id = str(uuid.uuid4())
        reply = await carol.request(kind, {"to": users.bob.id, "callId": call_id, "from": impersonated, **extra},
                                    **{"from": impersonated})
        reply.expect_ok()
        frame = await bob.expect(kind, callId=call_id)
        assert frame["from"] == carol.peer, f"{kind}: from {frame.get('from')} (carol sent it)"
        assert frame["payload"].get("from", carol.peer) == carol.peer, f"{kind}: spoofed payload.from delivered: {frame}"


# --------------------------------------------------------------------------- p2p relay


async def test_webrtc_relay_only_between_members_of_the_same_room(users, calls):
    alice = await logged_in(calls, users.alice)
    bob = await logged_in(calls, users.bob)
    carol = await logged_in(calls, users.carol)
    bob_elsewhere = await logged_in(calls, users.bob)  # bob's second device, not in the room
    room = await room_with(alice, bob)
    other_room = await room_with(carol)

    last = bob.last_server_seq()
    offer = await alice.request("webrtc.offer", {"roomId": room["roomId"], "to": bob.peer, "sdp": "v=0 offer"})
    offer.expect_ok()
    relayed = await bob.expect("webrtc.offer")
    assert relayed["from"] == alice.peer and relayed["payload"]["sdp"] == "v=0 offer"
    assert relayed["payload"]["roomId"] == room["roomId"]
    assert relayed["msgId"] != offer.msg_id and is_uuid(relayed["msgId"]) and relayed["seq"] > last

    (await bob.request("webrtc.answer", {"roomId": room["roomId"], "to": alice.peer, "sdp": "v=0 answer"})).expect_ok()
    assert (await alice.expect("webrtc.answer"))["payload"]["sdp"] == "v=0 answer"
    candidate = {"candidate": "candidate:1 1 udp 2122260223 10.0.0.1 5000 typ host", "sdpMid": "0", "sdpMLineIndex": 0}
    (await bob.request("webrtc.ice", {"roomId": room["roomId"], "to": alice.peer, "candidate": candidate})).expect_ok()
    assert (await alice.expect("webrtc.ice"))["payload"]["candidate"] == candidate

    # Target outside the room (another user, or another device of a member).
    (await alice.request("webrtc.offer", {"roomId": room["roomId"], "to": carol.peer, "sdp": "x"})).expect_error("PEER_NOT_FOUND")
    (await alice.request("webrtc.offer", {"roomId": room["roomId"], "to": bob_elsewhere.peer, "sdp": "x"})).expect_error("PEER_NOT_FOUND")
    # Sender outside the room, even as a member of another room.
    (await carol.request("webrtc.offer", {"roomId": room["roomId"], "to": alice.peer, "sdp": "x"})).expect_error("UNAUTHORIZED")
    (await carol.request("webrtc.ice", {"roomId": other_room["roomId"], "to": alice.peer, "candidate": candidate})).expect_error("PEER_NOT_FOUND")
    for client in (alice, carol, bob_elsewhere):
        await client.quiet(lambda f: f.get("type", "").startswith("webrtc."), 0.3, "a relay across rooms")


async def test_defect_relayed_frames_kept_sender_seq(users, calls):
    bob = await logged_in(calls, users.bob)
    room = await bob.create_room([users.alice.id])
    await bob.join_room(room)
    for _ in range(3):
        await bob.ping()
    alice = await logged_in(calls, users.alice)  # fresh socket: its seq is low
    await alice.join_room(room)
    joined = await bob.expect("PEER_JOINED", deviceId=alice.device_id)
    start = len(alice.sent)
    reply = await alice.request("webrtc.offer", {"roomId": room["roomId"], "to": bob.peer, "sdp": "low-seq"})
    reply.expect_ok()
    sender_seq = alice.sent[start]["seq"]
    relayed = await bob.expect("webrtc.offer")
    assert relayed["seq"] > joined["seq"], f"relayed seq {relayed['seq']} does not follow bob's {joined['seq']}"
    assert sender_seq < joined["seq"], "test set-up: the sender's seq should be below the recipient's"
    assert relayed["msgId"] != reply.msg_id
    assert_strictly_increasing(bob.server_frames(), "bob")

    # And the other way round with a sender seq far above the recipient's.
    (await bob.request("webrtc.answer", {"roomId": room["roomId"], "to": alice.peer, "sdp": "high-seq"}, seq=10**6)).expect_ok()
    answer = await alice.expect("webrtc.answer")
    assert answer["seq"] < 10**6 and answer["seq"] == max(f["seq"] for f in alice.server_frames())
    assert_strictly_increasing(alice.server_frames(), "alice")


# --------------------------------------------------------------------------- limits


async def test_sixth_room_create_within_a_minute_is_rate_limited(users, calls):
    client = await logged_in(calls, users.carol)
    for _ in range(5):
        await client.create_room()
    reply = await client.request("ROOM_CREATE", {"allowedUserIds": [], "mode": "p2p"})
    error = reply.expect_error("RATE_LIMITED")
    assert error["retryable"] is True, error
    retry_after = error.get("details", {}).get("retryAfterMs")
    assert isinstance(retry_after, int) and 0 < retry_after <= 60_000, error
    assert not [f for f in reply.before if f.get("type") == "ROOM_CREATED"]
    (await client.ping()).expect_ok()


async def test_eleventh_invite_or_join_within_a_minute_is_rate_limited(users, calls):
    client = await logged_in(calls, users.heidi)
    for kind in ("call.invite", "ROOM_JOIN"):
        if kind == "ROOM_JOIN":
            room = await client.create_room()
        codes = []
        for _ in range(11):
            if kind == "call.invite":  # gina is never online: nobody is rung
                payload = {"to": users.gina.id, "callId": str(uuid.uuid4()), "callType": "audio"}
            else:  # re-joining the same room
                payload = {"roomId": room["roomId"], "joinToken": room["joinToken"]}
            reply = await client.request(kind, payload)
            codes.append("ok" if reply.ok else reply.code)
        assert codes == ["ok"] * 10 + ["RATE_LIMITED"], f"{kind}: {codes}"
        assert reply.error["retryable"] is True and reply.error["details"]["retryAfterMs"] > 0, reply.error


async def test_hello_and_auth_are_limited_to_three_per_minute(users, calls):
    client = await calls(name="alice")
    await client.hello()
    replies = [await client.auth(users.alice.token) for _ in range(4)]
    assert replies[0].ok
    limited = [r for r in replies if not r.ok]
    assert limited and all(r.code == "RATE_LIMITED" for r in limited), [r.ack for r in replies]
    assert limited[-1] is replies[-1]
    assert limited[0].error["retryable"] is True


async def test_flooding_at_four_times_the_limit_closes_4029(users, calls):
    client = await logged_in(calls, users.dave)
    # Lock-step (each PING waits for its ACK) so that no unread frames are pending at the
    # server when it closes: the close frame then arrives instead of a TCP reset (1006).
    sent = 0
    while sent < 1000 and not client.closed.is_set():
        sent += 1
        try:
            await client.ping(timeout=3)
        except AssertionError:
            break
    code, reason = await client.expect_close(timeout=3)
    assert code == 4029, f"closed {code} {reason!r} after {sent} frames"
    acks = [f["ack"] for f in client.frames if f.get("type") == "ACK"]
    assert sum(1 for a in acks if a.get("ok")) >= 40, "the first frames within the limit should be served"
    assert any((a.get("error") or {}).get("code") == "RATE_LIMITED" for a in acks), "no RATE_LIMITED before the close"
    # Every frame counts against the 60-per-10-s bucket, HELLO and AUTH included: sent at
    # once, the 240th frame (60 served, 180 refused) is the one that closes.
    assert sent + 2 >= 240, f"closed after only {sent} PINGs besides HELLO and AUTH (the limit is 60 per 10 s)"


async def test_single_frame_over_64_kib_closes_1009(users, calls):
    client = await logged_in(calls, users.dave)
    (await client.request("PING", {"padding": "x" * 60_000})).expect_ok()
    big = client.envelope("PING", {"padding": "x" * (64 * 1024)})
    await client.send_frame(big)
    code, reason = await client.expect_close()
    assert code == 1009, f"closed {code} {reason!r} (frames received: {describe(client.frames)})"


async def test_fragmented_message_over_64_kib_closes_1009(users, calls):
    client = await logged_in(calls, users.dave)
    text = json.dumps(client.envelope("PING", {"padding": "x" * (64 * 1024)}))
    await client.ws.send([text[:40_000], text[40_000:]])  # one message in two WebSocket frames
    code, reason = await client.expect_close()
    assert code == 1009, f"closed {code} {reason!r} (frames received: {describe(client.frames)})"


async def test_connections_per_address_are_capped_4029(users, limits, calls):
    await asyncio.sleep(0.5)  # sockets of earlier tests on this instance are gone
    first = [await calls(limits.url, f"c{index}") for index in range(3)]
    for client in first:
        await client.hello()
    try:
        extra = await calls(limits.url, "over-cap")
    except Exception as error:  # refused at the upgrade instead of the close code
        raise AssertionError(f"4th connection refused at upgrade ({error!r}), expected close 4029") from error
    code, reason = await extra.expect_close()
    assert code == 4029, f"closed {code} {reason!r}"
    for client in first:
        assert not client.closed.is_set()
    await first[0].close()
    await asyncio.sleep(0.5)
    again = await calls(limits.url, "after-one-closed")
    await again.hello()


async def test_server_pings_and_closes_a_silent_connection(users, heartbeat, calls):
    silent = await logged_in(calls, users.alice, heartbeat.url)
    talking = await logged_in(calls, users.bob, heartbeat.url)
    assert silent.welcome["payload"]["heartbeatSec"] == 1
    went_quiet = time.monotonic()
    ping = await silent.expect("PING", timeout=3)
    assert isinstance(ping["seq"], int)
    for _ in range(10):
        await asyncio.sleep(0.4)
        if silent.closed.is_set():
            break
        await talking.send("PING")
    code, reason = await silent.expect_close(timeout=3)
    assert time.monotonic() - went_quiet >= 1.5, "closed before two silent heartbeat intervals"
    assert not talking.closed.is_set(), f"a talking client was closed {talking.close_code}"
    for _ in range(6):  # still alive another 2.4 s while it keeps talking
        await asyncio.sleep(0.4)
        (await talking.ping()).expect_ok()
    assert code != 1006, f"the idle connection was dropped without a close frame ({code} {reason!r})"


# --------------------------------------------------------------------------- cross-instance


async def test_cross_instance_invite_reaches_the_callee_on_both_instances(users, pair, calls):
    a, b = pair
    alice = await logged_in(calls, users.alice, a.url)
    bob_b = await logged_in(calls, users.kate, b.url)
    bob_a = await logged_in(calls, users.kate, a.url)
    call_id = str(uuid.uuid4())
    reply = await alice.request("call.invite", {"to": users.kate.id, "callId": call_id, "callType": "video"})
    reply.expect_ok()
    assert reply.payload.get("delivered") == 2, reply.ack_frame
    for bob in (bob_a, bob_b):
        frame = await bob.expect("call.invite", callId=call_id)
        assert frame["from"] == alice.peer
    accept = await bob_b.request("call.accept", {"to": users.alice.id, "callId": call_id, "toDevice": alice.device_id})
    accept.expect_ok()
    assert (await alice.expect("call.accept", callId=call_id))["from"] == bob_b.peer
    assert_strictly_increasing(bob_b.server_frames(), "kate on B")


async def test_cross_instance_room_created_on_a_is_joinable_on_b_and_relays(users, pair, calls):
    a, b = pair
    alice = await logged_in(calls, users.alice, a.url)
    bob = await logged_in(calls, users.bob, b.url)
    room = await alice.create_room([users.bob.id])
    await alice.join_room(room)
    join_ok, snapshot = await bob.join_room(room)
    assert (users.alice.id, alice.device_id) in peers_of(join_ok)
    assert peers_of(snapshot) == {(users.alice.id, alice.device_id), (users.bob.id, bob.device_id)}
    assert_ice_servers(join_ok["iceServers"], users.bob.id)
    await alice.expect("PEER_JOINED", userId=users.bob.id, deviceId=bob.device_id, timeout=FRAME_TIMEOUT)

    last = bob.last_server_seq()
    (await alice.request("webrtc.offer", {"roomId": room["roomId"], "to": bob.peer, "sdp": "offer A->B"}, seq=alice.seq + 500)).expect_ok()
    offer = await bob.expect("webrtc.offer")
    assert offer["from"] == alice.peer and offer["payload"]["sdp"] == "offer A->B" and offer["seq"] > last
    (await bob.request("webrtc.answer", {"roomId": room["roomId"], "to": alice.peer, "sdp": "answer B->A"})).expect_ok()
    answer = await alice.expect("webrtc.answer")
    assert answer["from"] == bob.peer and answer["payload"]["sdp"] == "answer B->A"
    for client in (alice, bob):
        assert_strictly_increasing(client.server_frames(), client.name)

    (await bob.request("ROOM_LEAVE", {"roomId": room["roomId"]})).expect_ok()
    left = await alice.expect("PEER_LEFT", deviceId=bob.device_id)
    assert left["payload"]["reason"] == "left"


ICE = {"candidate": "candidate:1 1 udp 2122260223 10.0.0.1 5000 typ host", "sdpMid": "0", "sdpMLineIndex": 0}


def ice_to(client: CallsClient, room: dict, n: int) -> dict:
    return {"roomId": room["roomId"], "to": client.peer, "candidate": {**ICE, "n": n}}


def relays_after(client: CallsClient, seq: int) -> list[Frame]:
    return [f for f in client.frames if str(f.get("type", "")).startswith("webrtc.") and f.get("seq", 0) > seq]


async def test_cross_instance_removed_peer_gets_no_relay_after_leaving(users, pair, calls):
    """Each instance keeps the rooms' peers in memory, invalidated by room events on the bus.
    A peer that leaves through B receives nothing relayed after its ROOM_LEFT, even from a
    sender on A streaming frames across the leave; once A has seen the PEER_LEFT it refuses
    frames to that peer at once; a rejoin through B is relayed to again."""
    a, b = pair
    alice = await logged_in(calls, users.alice, a.url)
    bob = await logged_in(calls, users.bob, b.url)
    room = await room_with(alice, bob)
    (await alice.request("webrtc.ice", ice_to(bob, room, -1))).expect_ok()  # A now holds the room
    await bob.expect("webrtc.ice")

    sent = [await alice.send("webrtc.ice", ice_to(bob, room, n)) for n in range(5)]
    leave = asyncio.create_task(bob.request("ROOM_LEAVE", {"roomId": room["roomId"]}))
    for n in range(5, 25):
        sent.append(await alice.send("webrtc.ice", ice_to(bob, room, n)))
        await asyncio.sleep(0.005)
    (await leave).expect_ok()
    left = next(f for f in bob.frames if f.get("type") == "ROOM_LEFT")
    codes = [(await alice.reply_to(msg_id)).code for msg_id in sent]
    assert set(codes) <= {None, "PEER_NOT_FOUND"}, codes
    await alice.expect("PEER_LEFT", deviceId=bob.device_id)
    (await alice.request("webrtc.ice", ice_to(bob, room, 100))).expect_error("PEER_NOT_FOUND")
    await asyncio.sleep(0.5)
    assert relays_after(bob, left["seq"]) == [], describe(relays_after(bob, left["seq"]))
    assert_strictly_increasing(bob.server_frames(), "bob on B")

    await bob.join_room(room)
    await alice.expect("PEER_JOINED", deviceId=bob.device_id)
    (await alice.request("webrtc.ice", ice_to(bob, room, 200))).expect_ok()
    relayed = await bob.next(lambda f: f.get("type") == "webrtc.ice" and f["payload"]["candidate"].get("n") == 200)
    assert relayed["from"] == alice.peer


async def test_cross_instance_replaced_device_leaves_its_rooms_on_every_instance(users, pair, calls):
    """A new session of bob's device on A closes the one on B (4009) and starts outside every
    room: A's copy of the room follows at once, and the new session gets no relay of the old
    session's room."""
    a, b = pair
    alice = await logged_in(calls, users.alice, a.url)
    bob = await logged_in(calls, users.bob, b.url)
    room = await room_with(alice, bob)
    (await bob.request("webrtc.ice", ice_to(alice, room, 1))).expect_ok()  # B holds the room too
    await alice.expect("webrtc.ice")
    (await alice.request("webrtc.ice", ice_to(bob, room, 2))).expect_ok()
    await bob.expect("webrtc.ice")

    bob_again = await logged_in(calls, users.bob, a.url, device_id=bob.device_id)
    code, _ = await bob.expect_close()
    assert code == 4009
    left = await alice.expect("PEER_LEFT", deviceId=bob.device_id)
    assert left["payload"]["reason"] == "replaced"
    (await alice.request("webrtc.ice", ice_to(bob_again, room, 3))).expect_error("PEER_NOT_FOUND")
    (await bob_again.request("webrtc.ice", ice_to(alice, room, 4))).expect_error("UNAUTHORIZED")
    await bob_again.quiet(lambda f: str(f.get("type", "")).startswith("webrtc."), 0.5, "a relay of the old session's room")


async def test_cross_instance_drop_on_a_is_peer_left_on_b_after_grace(users, pair, calls):
    a, b = pair
    alice = await logged_in(calls, users.alice, a.url)
    bob = await logged_in(calls, users.bob, b.url)
    room = await room_with(bob, alice)
    await alice.abort()
    dropped = time.monotonic()
    await bob.quiet(lambda f: f.get("type") == "PEER_LEFT", GRACE - 0.8, "PEER_LEFT before the grace period ended")
    left = await bob.expect("PEER_LEFT", roomId=room["roomId"], timeout=GRACE + 4)
    assert time.monotonic() - dropped >= GRACE - 0.5
    assert left["payload"]["userId"] == users.alice.id and left["payload"]["deviceId"] == alice.device_id
    assert left["payload"]["reason"] == "disconnected"


async def test_cross_instance_resume_on_a_replays_frames_sent_from_b(users, pair, calls):
    a, b = pair
    alice = await logged_in(calls, users.alice, a.url)
    bob = await logged_in(calls, users.bob, b.url)
    room = await room_with(alice, bob)
    resume = {"resumeToken": alice.welcome["payload"]["resumeToken"], "lastServerSeq": alice.last_server_seq()}
    await alice.abort()
    await asyncio.sleep(0.2)
    candidate = {"candidate": "from-b", "sdpMid": "0", "sdpMLineIndex": 0}
    (await bob.request("webrtc.ice", {"roomId": room["roomId"], "to": alice.peer, "candidate": candidate})).expect_ok()
    back = await calls(a.url, "alice-again")
    welcome = await back.hello(alice.device_id, resume=resume)
    assert welcome["payload"]["resumed"] is True, welcome
    replayed = await back.expect("webrtc.ice")
    assert replayed["payload"]["candidate"] == candidate and replayed["from"] == bob.peer
    assert replayed["seq"] > resume["lastServerSeq"]
    await bob.quiet(lambda f: f.get("type") == "PEER_LEFT", GRACE + 0.5, "PEER_LEFT for a device that resumed")


async def test_defect_second_instance_could_not_see_rooms_devices_invites(users, pair, calls):
    a, b = pair
    carol = await logged_in(calls, users.leo, b.url)
    dave_on_a = await logged_in(calls, users.dave, a.url)
    # A room created on B, joined on A; an invite from A to the creator on B.
    room = await carol.create_room([users.dave.id])
    await carol.join_room(room)
    await dave_on_a.join_room(room)
    await carol.expect("PEER_JOINED", deviceId=dave_on_a.device_id)
    reply = await dave_on_a.request("call.invite", {"to": users.leo.id, "callId": str(uuid.uuid4()), "callType": "audio",
                                                    "roomId": room["roomId"]})
    reply.expect_ok()
    assert reply.payload.get("delivered") == 1, reply.ack_frame
    assert (await carol.expect("call.invite"))["from"] == dave_on_a.peer


# --------------------------------------------------------------------------- TURN


async def turn_post(base_url: str, apikey: str, bearer: str | None) -> httpx.Response:
    headers = {"apikey": apikey}
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    async with httpx.AsyncClient(timeout=10) as http:
        return await within(http.post(f"{base_url}/functions/v1/turn-credentials", headers=headers, json={}))


async def test_turn_credentials_over_http(server, users):
    response = await turn_post(server.url, server.anon_key, users.alice.token)
    assert response.status_code == 200, response.text
    assert "no-store" in response.headers.get("Cache-Control", ""), response.headers
    body = response.json()
    assert_turn_username(body["username"], users.alice.id)
    assert body["credential"] == turn_credential(TURN_SECRET, body["username"])
    assert body["ttl"] == TURN_TTL
    assert body["uris"] == TURN_URLS
    assert_ice_servers(body["iceServers"], users.alice.id)


async def test_turn_credentials_need_a_signed_in_user(server):
    assert (await turn_post(server.url, server.anon_key, server.anon_key)).status_code == 401
    assert (await turn_post(server.url, server.anon_key, None)).status_code == 401


async def test_turn_credentials_are_rate_limited_per_user(server, users):
    # All at once, so the per-minute budget cannot refill in between.
    headers = {"apikey": server.anon_key, "Authorization": f"Bearer {users.heidi.token}"}
    async with httpx.AsyncClient(timeout=20) as http:
        responses = await within(asyncio.gather(*(
            http.post(f"{server.url}/functions/v1/turn-credentials", headers=headers, json={}) for _ in range(31))))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * 30 + [429], statuses
    # The limit is per user: another user is still served.
    assert (await turn_post(server.url, server.anon_key, users.alice.token)).status_code == 200


async def test_turn_credentials_without_turn_configured_are_503(server, users, limits):
    response = await turn_post(limits.url, server.anon_key, users.alice.token)
    assert response.status_code == 503, response.text
    assert response.json().get("code") == "turn_unavailable", response.text


async def test_room_join_ok_ice_servers_carry_turn_credentials_for_the_joining_user(users, calls):
    alice = await logged_in(calls, users.alice)
    bob = await logged_in(calls, users.bob)
    room = await alice.create_room([users.bob.id])
    alice_join, _ = await alice.join_room(room)
    bob_join, _ = await bob.join_room(room)
    assert_ice_servers(alice_join["iceServers"], users.alice.id)
    assert_ice_servers(bob_join["iceServers"], users.bob.id)
    stun = [e for e in bob_join["iceServers"] if all(u.startswith("stun:") for u in urls_of(e))]
    assert stun and ["stun:127.0.0.1:3478"] in [urls_of(e) for e in stun]


# --------------------------------------------------------------------------- remaining defects


async def test_defect_sfu_reminted_join_tokens_for_any_room_id(users, calls):
    """Nobody outside a room gets a join token for it, whatever room id they name."""
    alice = await logged_in(calls, users.alice)
    dave = await logged_in(calls, users.dave)
    room = await alice.create_room([users.bob.id])
    await alice.join_room(room)
    for mode in ("sfu", "p2p"):
        reply = await dave.request("ROOM_CREATE", {"allowedUserIds": [], "mode": mode, "roomId": room["roomId"]})
        if reply.ok:
            created = reply.response("ROOM_CREATED")["payload"]
            assert created["roomId"] != room["roomId"], f"{mode}: ROOM_CREATE re-minted a token for an existing room"
            hijack = await dave.request("ROOM_JOIN", {"roomId": room["roomId"], "joinToken": created["joinToken"]})
            hijack.expect_error("UNAUTHORIZED")
    sfu = await dave.request("sfu.publish", {"roomId": room["roomId"], "epoch": 1, "sdp": "v=0", "streams": []})
    # No token either way; a deployment without a media server may say so first.
    sfu.expect_error("UNAUTHORIZED", "ROOM_NOT_FOUND", "VALIDATION_FAILED", "SFU_UNAVAILABLE")
    await alice.quiet(lambda f: f.get("type") == "PEER_JOINED", 0.3, "an outsider joining")


async def test_defect_jwts_checked_by_calling_auth_server(server, users, minter, calls_only, calls):
    """A calls-only instance has no auth server, yet verifies tokens itself."""
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.get(f"{calls_only.url}/health")).status_code == 200
        no_auth = await http.get(f"{calls_only.url}/auth/v1/user", headers={"apikey": server.anon_key,
                                                                            "Authorization": f"Bearer {users.alice.token}"})
        assert no_auth.status_code == 404, f"a calls-only instance serves /auth/v1/user: {no_auth.status_code}"
    client = await calls(calls_only.url, "alice", additional_headers=HTTPS_PROXIED)
    await client.hello()
    (await client.auth(users.alice.token)).expect_ok()
    other = await calls(calls_only.url, "forged", additional_headers=HTTPS_PROXIED)
    await other.hello()
    (await other.auth(minter.forged(users.alice))).expect_error("UNAUTHENTICATED")
    expired = await calls(calls_only.url, "expired", additional_headers=HTTPS_PROXIED)
    await expired.hello()
    (await expired.auth(minter.mint(users.alice, expires_in=-60))).expect_error("UNAUTHENTICATED")
    response = await turn_post(calls_only.url, server.anon_key, users.bob.token)
    assert response.status_code == 200, response.text


# --------------------------------------------------------------------------- secure transport


async def test_plain_connections_are_closed_4003_when_tls_is_required(users, calls_only, secure, calls):
    # Behind a trusted proxy: served when the proxy reports https, closed otherwise.
    proxied = await calls(calls_only.url, "via-tls-proxy", additional_headers=HTTPS_PROXIED)
    welcome = await proxied.hello()
    assert welcome["payload"]["resumed"] is False
    plain = await calls(calls_only.url, "plain")
    code, reason = await plain.expect_close()
    assert code == 4003, f"closed {code} {reason!r}"
    # Without TRUST_PROXY the header is anybody's to send: closed either way.
    for name, headers in (("plain", {}), ("claims-https", HTTPS_PROXIED)):
        client = await calls(secure.url, name, additional_headers=headers)
        code, reason = await client.expect_close()
        assert code == 4003, f"{name}: closed {code} {reason!r}"
