"""Three instances on Redis behind Debian's nginx (round robin, WebSocket upgrade, no sticky
sessions), as docs/deployment.md describes: clients that only know the balancer's address
chat in realtime whichever instances their requests and sockets land on, and when an
instance is killed they reconnect through nginx and catch up by seq with no gap and no
duplicate. Calls signalling works the same way: a caller rings every device of the callee
wherever each socket landed, relays reach them, and after an instance dies the devices it
held come back through nginx and are rung and relayed to again.

Users +15555550382 and +15555550383 (chat), +15555550384 and +15555550385 (calls)."""

from __future__ import annotations

import asyncio
import signal
import uuid

import pytest

from calls_support import CallsClient, User, assert_strictly_increasing, room_with
from cluster_support import LoadBalancer, close_all, instances, redis  # noqa: F401 (redis is a fixture)
from e2e_support import new_client, rpc, sign_in
from test_realtime import collector, subscribed, wait_for

ALICE, BOB = "+15555550382", "+15555550383"
CALLER, CALLEE = "+15555550384", "+15555550385"


@pytest.fixture
def cluster(server, redis, tmp_path):
    with instances(server, 3, {"REDIS_URL": redis.url, "TRUST_PROXY": "true"}) as started:
        balancer = LoadBalancer(tmp_path / "nginx", [process.url.removeprefix("http://") for process in started])
        try:
            yield started, balancer
        finally:
            balancer.stop()


async def test_chat_through_the_balancer_survives_an_instance_dying(server, cluster):
    started, balancer = cluster
    alice = await new_client(balancer.url, server.anon_key)
    bob = await new_client(balancer.url, server.anon_key)
    clients = [alice, bob]
    try:
        await sign_in(alice, ALICE)
        bob_session = (await sign_in(bob, BOB)).session
        conversation = await rpc(alice, "get_or_create_dm", {"target_user_id": (await bob.auth.get_user()).user.id})

        # Three sockets of Bob's through the balancer: round robin spreads them over instances.
        watchers = []
        for _ in range(3):
            client = await new_client(balancer.url, server.anon_key)
            clients.append(client)
            await client.auth.set_session(bob_session.access_token, bob_session.refresh_token)
            items, _, on_insert = collector()
            channel = client.channel(f"lb-{uuid.uuid4()}")
            channel.on_postgres_changes("INSERT", on_insert, table="messages", schema="public", filter=f"conversation_id=eq.{conversation}")
            await subscribed(channel)
            watchers.append(items)

        async def send(body: str) -> int:
            result = await rpc(alice, "send_message_v1", {"conversation_id": conversation, "client_msg_id": str(uuid.uuid4()), "body": body})
            return result["seq"]

        sent = [await send(f"before {index}") for index in range(3)]
        for items in watchers:
            await wait_for(items, 3)
            assert [item["data"]["record"]["seq"] for item in items] == sent, "each socket gets every message once, in order"

        # One instance dies without warning; the balancer sends new requests to the others.
        victim = started[0]
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        sent += [await send(f"after {index}") for index in range(3)]

        # Sockets on the live instances get everything (consecutive upgrades went to
        # consecutive instances, so two of the three are live); the one on the dead instance
        # stopped early and its client catches up by seq, with no gap and no repeat.
        complete = 0
        for _ in range(100):
            complete = sum(len(items) == len(sent) for items in watchers)
            if complete >= 2:
                break
            await asyncio.sleep(0.05)
        assert complete >= 2, [len(items) for items in watchers]
        reader = await new_client(balancer.url, server.anon_key)
        clients.append(reader)
        await reader.auth.set_session(bob_session.access_token, bob_session.refresh_token)
        for items in watchers:
            seen = [item["data"]["record"]["seq"] for item in items]
            assert seen == sorted(set(seen)), f"a socket saw a message twice or out of order: {seen}"
            assert set(seen) <= set(sent), f"a socket saw a message nobody sent: {seen}"
            # The socket on the dead instance stopped early; its client may also have rejoined
            # through nginx by itself and missed what was sent meanwhile. Either way it catches
            # up by seq from the end of what it saw without a gap.
            contiguous = 0
            while contiguous < len(seen) and seen[contiguous] == sent[contiguous]:
                contiguous += 1
            page = await rpc(reader, "get_messages", {"conversation_id": conversation, "after_seq": sent[contiguous - 1], "limit": 100})
            caught_up = [message["seq"] for message in page["items"]]
            assert caught_up == sent[contiguous:], f"catch-up after {sent[contiguous - 1]} gave {caught_up}, want {sent[contiguous:]}"
            assert sorted(set(seen[:contiguous]) | set(caught_up)) == sent, "gap after catching up"

        # A fresh subscription through the balancer receives what is sent next.
        items, _, on_insert = collector()
        channel = reader.channel(f"lb-{uuid.uuid4()}")
        channel.on_postgres_changes("INSERT", on_insert, table="messages", schema="public", filter=f"conversation_id=eq.{conversation}")
        await subscribed(channel)
        last = await send("after the reconnect")
        await wait_for(items, 1)
        assert [item["data"]["record"]["seq"] for item in items] == [last]
    finally:
        await close_all(clients)


async def test_calls_through_the_balancer_ring_relay_and_come_back_after_an_instance_dies(server, cluster):
    started, balancer = cluster
    people = {"caller": User("caller", CALLER), "callee": User("callee", CALLEE)}
    sockets: list[CallsClient] = []
    try:
        for user in people.values():
            user.client = await new_client(balancer.url, server.anon_key)
            session = (await sign_in(user.client, user.phone)).session
            user.id, user.token = session.user.id, session.access_token
        caller, callee = people["caller"], people["callee"]

        async def device(user: User, name: str) -> CallsClient:
            client = await CallsClient.connect(balancer.url, name)
            sockets.append(client)
            await client.login(user)
            return client

        # Four consecutive upgrades through one nginx worker's round robin: every instance holds
        # at least one of these sockets, so the caller and some callee device are on different ones.
        ringer = await device(caller, "caller")
        phones = [await device(callee, f"callee-{index}") for index in range(3)]

        async def ring_and_relay(room: dict) -> None:
            call_id = str(uuid.uuid4())
            reply = await ringer.request("call.invite", {"to": callee.id, "callId": call_id, "callType": "video"})
            reply.expect_ok()
            assert reply.payload.get("delivered") == len(phones), reply.ack_frame
            for phone in phones:
                assert (await phone.expect("call.invite", callId=call_id))["from"] == ringer.peer
            for phone in phones:
                sdp = f"offer to {phone.device_id} {call_id}"
                (await ringer.request("webrtc.offer", {"roomId": room["roomId"], "to": phone.peer, "sdp": sdp})).expect_ok()
                offer = await phone.next(lambda f: f.get("type") == "webrtc.offer" and f["payload"].get("sdp") == sdp)
                assert offer["from"] == ringer.peer

        room = await room_with(ringer, *phones)
        await ring_and_relay(room)

        # One instance dies without warning: the sockets it held drop, and their devices connect
        # again through the balancer (which now skips the dead instance), resuming when they can.
        victim = started[0]
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        for _ in range(100):
            if any(client.closed.is_set() for client in [ringer, *phones]):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        dropped = [client for client in [ringer, *phones] if client.closed.is_set()]
        assert dropped, "no socket was on the killed instance"
        for client in [ringer, *phones]:
            assert_strictly_increasing(client.server_frames(), client.name)
        for old in dropped:
            user = caller if old is ringer else callee
            again = await CallsClient.connect(balancer.url, old.name + "-again")
            sockets.append(again)
            resume = {"resumeToken": old.welcome["payload"]["resumeToken"], "lastServerSeq": old.last_server_seq()}
            welcome = await again.hello(old.device_id, resume=resume)
            again.user_id = user.id
            if welcome["payload"].get("resumed") is not True:
                (await again.auth(user.token)).expect_ok()
                await again.join_room(room)
            if old is ringer:
                ringer = again
            else:
                phones[phones.index(old)] = again
        await ring_and_relay(room)
        for client in [ringer, *phones]:
            assert_strictly_increasing(client.server_frames(), client.name)
    finally:
        for client in sockets:
            await client.close()
        await close_all([user.client for user in people.values() if user.client is not None])
