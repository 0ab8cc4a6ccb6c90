"""Three instances on Redis behind Debian's nginx (round robin, WebSocket upgrade, no sticky
sessions), as docs/deployment.md describes: clients that only know the balancer's address
chat in realtime whichever instances their requests and sockets land on, and when an
instance is killed they reconnect through nginx and catch up by seq with no gap and no
duplicate.

Users +15555550382 and +15555550383."""

from __future__ import annotations

import asyncio
import signal
import uuid

import pytest

from cluster_support import LoadBalancer, close_all, instances, redis  # noqa: F401 (redis is a fixture)
from e2e_support import new_client, rpc, sign_in
from test_realtime import collector, subscribed, wait_for

ALICE, BOB = "+15555550382", "+15555550383"


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

