"""Instances on one database over the Redis bus (`REDIS_URL`), and instances that could not
hear each other refused at start instead of silently splitting (docs/configuration.md,
"Several instances").

A private redis-server (Debian's) runs per test. Users +15555550380 and +15555550381."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from pathlib import Path

from calls_support import CallsClient, User, room_with
from cluster_support import close_all, instances, launch, redis, refused  # noqa: F401 (redis is a fixture)
from conftest import _stop, _wait_ready
from e2e_support import new_client, rpc, sign_in, within
from test_realtime import collector, subscribed, wait_for

ALICE, BOB = "+15555550380", "+15555550381"


async def test_messages_cross_instances_over_redis_and_survive_a_redis_restart(server, redis):
    with instances(server, 2, {"REDIS_URL": redis.url}) as (a, b):
        for process in (a, b):
            assert "redis" in Path(process.log_path).read_text(errors="replace"), "the instance chose another bus"
        alice = await new_client(a.url, server.anon_key)
        bob = await new_client(b.url, server.anon_key)
        try:
            await sign_in(alice, ALICE)
            await sign_in(bob, BOB)
            conversation = await rpc(alice, "get_or_create_dm", {"target_user_id": (await bob.auth.get_user()).user.id})
            received, _, on_insert = collector()
            channel = bob.channel(f"x-{uuid.uuid4()}")
            channel.on_postgres_changes("INSERT", on_insert, table="messages", schema="public", filter=f"conversation_id=eq.{conversation}")
            await subscribed(channel)

            async def send(body: str) -> int:
                result = await rpc(alice, "send_message_v1", {"conversation_id": conversation, "client_msg_id": str(uuid.uuid4()), "body": body})
                return result["seq"]

            first = await send("через redis")
            await wait_for(received, 1)
            assert received[0]["data"]["record"]["seq"] == first

            # Redis dies: sends are still acknowledged (stored); their events may be lost.
            redis.stop()
            during = await send("while redis is down")
            redis.start()
            # Both instances re-subscribe by themselves; then events flow again.
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                logs = [Path(p.log_path).read_text(errors="replace") for p in (a, b)]
                if all("Redis bus reconnected" in log for log in logs):
                    break
                time.sleep(0.1)
            else:
                raise AssertionError("an instance did not re-subscribe to Redis within 20 s")
            after = await send("after the restart")

            def seqs() -> list[int]:
                return [item["data"]["record"]["seq"] for item in received]

            async def until_after_arrives():
                while after not in seqs():
                    await asyncio.sleep(0.05)

            try:
                await within(until_after_arrives(), 10)
            except TimeoutError:
                tails = "\n\n".join(Path(p.log_path).read_text(errors="replace")[-3000:] for p in (a, b))
                raise AssertionError(f"the event after the restart did not arrive within 10 s; got {seqs()}\n{tails}")
            # The event of `during` is usually lost (its publish failed while Redis was down);
            # whatever arrived came once and in order.
            assert seqs() == sorted(set(seqs())), seqs()

            # The client catches up by seq: nothing acknowledged is lost.
            page = await rpc(bob, "get_messages", {"conversation_id": conversation, "after_seq": first, "limit": 50})
            assert [message["seq"] for message in page["items"]] == [during, after]
        finally:
            await close_all([alice, bob])


async def test_an_instance_is_not_ready_until_its_redis_bus_has_subscribed(server, redis):
    """Started while Redis is down, the instance serves /health but /ready says why it is not
    ready (it would miss what other instances publish); once Redis is up it subscribes by
    itself and becomes ready."""
    import httpx

    redis.stop()
    process = launch(server, Path(server.data_dir) / f"bus-ready-{uuid.uuid4().hex[:6]}.log", {"REDIS_URL": redis.url})
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, Path(process.log_path).read_text(errors="replace")[-2000:]
                try:
                    if (await http.get(f"{process.url}/health")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "the instance did not answer /health within 60 s"
                await asyncio.sleep(0.2)
            answer = await http.get(f"{process.url}/ready")
            assert answer.status_code == 503, answer.text
            assert answer.json() == {"status": "unavailable", "reason": "message bus not subscribed yet"}

            redis.start()
            deadline = time.monotonic() + 20
            while (answer := await http.get(f"{process.url}/ready")).status_code != 200:
                assert time.monotonic() < deadline, f"not ready 20 s after Redis came up: {answer.text}"
                await asyncio.sleep(0.2)
            assert answer.json() == {"status": "ready"}
    finally:
        if process.poll() is None and _stop(process) is None:
            process.kill()
            process.wait(timeout=10)


async def test_an_in_process_instance_is_refused_beside_a_live_one(server):
    # The session server is live on this database (it uses the embedded cluster's in-process bus).
    process = launch(server, Path(server.data_dir) / f"bus-inprocess-{uuid.uuid4().hex[:6]}.log", {"MESSAGE_BUS": "inprocess"})
    output = refused(process)
    assert "MESSAGE_BUS=inprocess" in output and "another server instance" in output, output


async def test_instances_on_different_shared_buses_are_refused(server, redis):
    with instances(server, 1, {"REDIS_URL": redis.url}):
        process = launch(server, Path(server.data_dir) / f"bus-postgres-{uuid.uuid4().hex[:6]}.log", {"MESSAGE_BUS": "postgres"})
        output = refused(process)
        assert f"redis at 127.0.0.1:{redis.port}/0" in output, output
        assert "Give every instance the same MESSAGE_BUS and REDIS_URL" in output, output


async def test_rate_limits_hold_across_instances_through_redis(server, redis):
    """A per-address limit of 6 requests counts requests to either instance together: of 10
    sent alternately to two instances well within a second, at most 7 pass (one token may
    refill meanwhile). Counted per instance, all 10 would pass."""
    import httpx

    limits = {"REDIS_URL": redis.url, "AUTH_RATE_LIMIT_BURST": "6", "AUTH_RATE_LIMIT_PER_SECOND": "1"}
    with instances(server, 2, limits) as (a, b):
        statuses = []
        async with httpx.AsyncClient(timeout=10) as http:
            for index in range(10):
                url = (a if index % 2 == 0 else b).url
                answer = await http.post(
                    f"{url}/auth/v1/token?grant_type=refresh_token", json={"refresh_token": "not-a-token"},
                    headers={"apikey": server.anon_key})
                statuses.append(answer.status_code)
                if answer.status_code == 429:
                    assert answer.json()["code"] == "over_request_rate_limit", answer.text
                    assert int(answer.headers["retry-after"]) >= 1
        passed = [status for status in statuses if status != 429]
        assert 6 <= len(passed) <= 7, statuses
        assert statuses[-1] == 429, statuses


async def test_presence_reaches_a_newcomer_and_leaves_with_a_dead_instance(server, redis):
    """Alice tracks presence on A. A watcher on B sees her; a watcher on C, started after she
    tracked, learns of her too (instances re-announce their presences to a newcomer). A is
    then killed without a goodbye: within the presence timeout (15 s) she is gone on B and C."""
    with instances(server, 2, {"REDIS_URL": redis.url}) as (a, b):
        alice = await new_client(a.url, server.anon_key)
        watcher_b = await new_client(b.url, server.anon_key)
        clients = [alice, watcher_b]
        late = None
        try:
            await sign_in(alice, ALICE)
            lobby = f"e2e-open-lobby-{uuid.uuid4()}"
            tracker = alice.channel(lobby, {"config": {"broadcast": None, "presence": {"key": "alice", "enabled": True}, "private": False}})
            await subscribed(tracker)
            await within(tracker.track({"status": "online"}))
            # Presence on, so the join brings the room's presence_state.
            watching = {"config": {"broadcast": None, "presence": {"key": "", "enabled": True}, "private": False}}
            on_b = watcher_b.channel(lobby, watching)
            await subscribed(on_b)

            async def until(condition, seconds: float):
                async def poll():
                    while not condition():
                        await asyncio.sleep(0.05)
                await within(poll(), seconds)

            await until(lambda: "alice" in on_b.presence_state(), 5)

            late = launch(server, Path(server.data_dir) / f"bus-late-{uuid.uuid4().hex[:6]}.log", {"REDIS_URL": redis.url})
            _wait_ready(late.url, late, late.log_path)
            watcher_c = await new_client(late.url, server.anon_key)
            clients.append(watcher_c)
            on_c = watcher_c.channel(lobby, watching)
            await subscribed(on_c)
            await until(lambda: "alice" in on_c.presence_state(), 10)

            a.send_signal(signal.SIGKILL)
            a.wait(timeout=10)
            started = time.monotonic()
            await until(lambda: "alice" not in on_b.presence_state() and "alice" not in on_c.presence_state(), 25)
            assert time.monotonic() - started < 25
        finally:
            await close_all(clients)
            if late is not None and late.poll() is None and _stop(late) is None:
                late.kill()


async def test_calls_ring_across_instances_on_redis_and_again_after_redis_restarts_empty(server, redis):
    """Call state in Redis (docs/calls.md, "State in Redis"): a callee's device on instance B is
    rung from instance A through Redis; Redis then restarts with nothing (no persistence), each
    instance's next heartbeat finds itself forgotten and binds its devices and their rooms
    again, so ringing works again within seconds and a peer leaving the room still reaches
    the other. Then the callee's instance is killed: its device is no longer rung once the
    instance's key expires."""
    with instances(server, 2, {"REDIS_URL": redis.url}) as (a, b):
        caller, callee = User("caller", ALICE), User("callee", BOB)
        sockets: list[CallsClient] = []
        try:
            for user in (caller, callee):
                user.client = await new_client(a.url, server.anon_key)
                session = (await sign_in(user.client, user.phone)).session
                user.id, user.token = session.user.id, session.access_token
            ringer = await CallsClient.connect(a.url, "ringer")
            phone = await CallsClient.connect(b.url, "phone")
            sockets += [ringer, phone]
            await ringer.login(caller)
            await phone.login(callee)
            room = await room_with(ringer, phone)

            async def ring(arrives: bool = True) -> int:
                call_id = str(uuid.uuid4())
                reply = await ringer.request("call.invite", {"to": callee.id, "callId": call_id, "callType": "audio"})
                reply.expect_ok()
                if arrives and reply.payload.get("delivered") == 1:
                    await phone.expect("call.invite", callId=call_id)
                return reply.payload.get("delivered")

            assert await ring() == 1

            redis.stop()
            redis.start()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                logs = [Path(p.log_path).read_text(errors="replace") for p in (a, b)]
                if all("binding its devices again" in log and "Redis bus reconnected" in log for log in logs):
                    break
                await asyncio.sleep(0.2)
            else:
                raise AssertionError("an instance did not restore its call devices within 30 s of Redis restarting")
            # The log line comes as the restore starts; a restore that meets Redis still starting
            # is retried at the next heartbeat (5 s), so ring until the binding is back.
            deadline = time.monotonic() + 15
            while await ring() != 1:
                assert time.monotonic() < deadline, "the callee's device was not bound again within 15 s of its restore"
                await asyncio.sleep(0.5)

            # The room's membership came back too: leaving is a real leave, seen by the other peer.
            (await phone.request("ROOM_LEAVE", {"roomId": room["roomId"]})).expect_ok()
            await ringer.expect("PEER_LEFT", roomId=room["roomId"], deviceId=phone.device_id, reason="left")

            # The callee's instance dies without a word: its device stops counting as online once
            # the instance's key expires (15 s), everywhere.
            b.send_signal(signal.SIGKILL)
            b.wait(timeout=10)
            killed = time.monotonic()
            await asyncio.sleep(12)
            # call.invite allows 10 a minute per device: a poll every 3 s stays under it.
            while await ring(arrives=False) != 0:
                assert time.monotonic() - killed < 22, "the dead instance's device was still rung 22 s after it died"
                await asyncio.sleep(3)
        finally:
            for client in sockets:
                await client.close()
            await close_all([user.client for user in (caller, callee) if user.client is not None])
