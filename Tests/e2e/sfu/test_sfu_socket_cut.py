"""The socket between calls-ws and Janus cut under a call (spec sfu-janus.md §9 test 9):
calls-ws reconnects and claims its sessions; media goes on and nobody is told anything."""

from __future__ import annotations

import asyncio
import time

import pytest

from conftest import launched_server
from sfu_fixtures import *  # noqa: F403 (the suite's fixtures)
from sfu_fixtures import requires_media_namespace, sfu_environment
from sfu_peer import SfuPeer
from calls_support import CallsClient, User
from e2e_support import close_client, new_client, sign_in
from tcp_cut import CuttableRelay
from sfu_support import feed_id_of, sfu_room

pytestmark = requires_media_namespace


@pytest.fixture(scope="module")
async def relayed(janus_nodes):
    """A server whose node janus-a is reached through a relay the test can cut (janus-b is
    left out, so the room stays on janus-a)."""
    relay = CuttableRelay(janus_nodes[0].port)
    await relay.start()
    environment = sfu_environment(janus_nodes)
    environment["SFU_NODES"] = f"{janus_nodes[0].node_id}=ws://127.0.0.1:{relay.port}"
    with launched_server("sfu relayed server", environment) as server:
        yield server, relay
    await relay.close()


async def test_a_cut_janus_socket_is_reconnected_and_claimed(relayed):
    server, relay = relayed
    users = [User(name, phone) for name, phone in (("ann", "+15555550120"), ("ben", "+15555550121"))]
    clients = []
    peers = []
    try:
        for user in users:
            user.client = await new_client(server.url, server.anon_key)
            session = (await sign_in(user.client, user.phone)).session
            user.id, user.token = session.user.id, session.access_token
            client = await CallsClient.connect(server.url, user.name)
            await client.login(user)
            clients.append(client)
        ann, ben = clients
        room, _ = await sfu_room(ann, ben)
        a, b = SfuPeer(ann, room["roomId"], 1), SfuPeer(ben, room["roomId"], 1)
        peers = [a, b]
        await a.publish()
        b.follow_offers()
        ann_feed = await feed_id_of(ben, ann)
        await b.subscribe_all()
        video = await b.wait_frames(ann_feed, count=10)

        relay.cut()
        cut_at = time.monotonic()
        # Past the nodes' reclaim_session_timeout (10 s): sessions nobody claimed would be gone.
        await asyncio.sleep(12)
        # Media never stopped: no gap over a second after the cut.
        gaps = [later - earlier for earlier, later in zip(video.times, video.times[1:]) if later >= cut_at]
        assert gaps and max(gaps) < 1.0, f"largest gap after the cut {max(gaps or [0]):.2f} s"
        assert video.rate(2) >= 20, f"video at {video.rate(2):.1f} fps 12 s after the cut"
        # Nothing changed for the clients: no interruption, no restart, no feed change.
        told = [f["type"] for f in ann.frames + ben.frames
                if f.get("type") in ("sfu.interrupted", "sfu.restart") or (f.get("type") == "sfu.feeds" and f["payload"].get("removed"))]
        assert not told, told
        # The claimed sessions still work: an ICE restart is answered with a new offer.
        offers = len(b.offers)
        (await ben.request("sfu.restartIce", {"roomId": room["roomId"], "epoch": 1, "pc": "sub"}, timeout=10)).expect_ok()
        deadline = time.monotonic() + 5
        while len(b.offers) == offers and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert len(b.offers) > offers and b.offers[-1].get("iceRestart") is True
        assert relay.cuts == 1
        assert "sfu: claiming a session failed" not in server.read_log()
    finally:
        await asyncio.gather(*(p.close() for p in peers))
        for client in clients:
            await client.close()
        for user in users:
            if user.client is not None:
                await close_client(user.client)
