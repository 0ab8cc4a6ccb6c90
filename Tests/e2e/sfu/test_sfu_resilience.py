"""What Janus drops without being asked, and sessions that must outlive their idle time
(spec sfu-janus.md §2.3 "Client recovery", §3.3, §9 test 7)."""

from __future__ import annotations

import asyncio
import json
import uuid

from sfu_fixtures import *  # noqa: F403 (the suite's fixtures)
from sfu_fixtures import requires_media_namespace, room_secret, sql
from sfu_support import janus_handle, sfu_room, two_publishing

pytestmark = requires_media_namespace


async def test_a_closed_subscriber_connection_is_replaced(devices, sfu_users):
    room, (ann, ben), (a, b), (ann_feed, _) = await two_publishing(devices, sfu_users)
    try:
        # The device closes its subscriber PeerConnection: the SFU says so, and the next
        # sfu.subscribe gets a new one (a new subscriber handle behind it).
        await b.sub.close()
        await ben.expect("sfu.connection", timeout=10, roomId=room["roomId"], pc="sub", state="down")
        b.sub = None
        b.received, b.offer_streams = {}, {}
        await b.subscribe_all()
        await b.wait_frames(ann_feed, timeout=10)
    finally:
        await asyncio.gather(a.close(), b.close())


async def test_a_janus_room_destroyed_underneath_is_placed_again(devices, sfu_users, sfu_server, janus_nodes):
    room, (ann, ben), (a, b), (ann_feed, ben_feed) = await two_publishing(devices, sfu_users)
    room_id = room["roomId"]
    try:
        janus_room, node_id = sql(sfu_server, f"SELECT janus_room_id, node_id FROM calls.sfu_rooms WHERE room_id = '{room_id}'")[0]
        node = next(n for n in janus_nodes if n.node_id == node_id)
        async with janus_handle(node) as request:
            destroyed = await request({"request": "destroy", "room": int(janus_room), "secret": room_secret(sfu_server, room_id, 1)})
            assert destroyed["plugindata"]["data"].get("videoroom") == "destroyed", destroyed
        for client in (ann, ben):
            await client.expect("sfu.interrupted", timeout=5, roomId=room_id)
            restart = await client.expect("sfu.restart", timeout=10, roomId=room_id)
            assert restart["payload"]["epoch"] == 2
        for peer in (a, b):
            await peer.restart(2)
            await peer.publish()
            await peer.subscribe_all()
        await b.wait_frames(ann_feed, timeout=10)
        await a.wait_frames(ben_feed, timeout=10)
    finally:
        await asyncio.gather(a.close(), b.close())


async def test_sessions_outlive_janus_session_timeout(devices, sfu_users, sfu_server, janus_nodes):
    """The suite's nodes end a session idle for 15 s; calls-ws keeps its sessions alive."""
    room, (ann, ben), (a, b), (ann_feed, _) = await two_publishing(devices, sfu_users)
    room_id = room["roomId"]
    try:
        await asyncio.sleep(22)
        # Measured first: psql below blocks this event loop (and so aiortc's receivers) a moment.
        video = b.streams_of(ann_feed, "video")[0]
        assert video.rate(2) >= 20, f"video at {video.rate(2):.1f} fps after 22 s"
        janus_room, node_id = sql(sfu_server, f"SELECT janus_room_id, node_id FROM calls.sfu_rooms WHERE room_id = '{room_id}'")[0]
        node = next(n for n in janus_nodes if n.node_id == node_id)
        async with janus_handle(node) as request:
            listed = await request({"request": "listparticipants", "room": int(janus_room)})
        participants = listed["plugindata"]["data"]["participants"]
        displays = sorted(json.loads(p["display"])["d"] for p in participants)
        assert displays == sorted([ann.device_id, ben.device_id]), participants
        assert not [f for f in ann.frames + ben.frames if f.get("type") == "sfu.interrupted"]
    finally:
        await asyncio.gather(a.close(), b.close())


async def test_the_sweep_destroys_janus_rooms_no_placement_names(devices, sfu_users, sfu_server, janus_nodes):
    """A Janus room of this service that calls.sfu_rooms does not name (a close that failed,
    a node declared dead while it lived) is destroyed by the sweep; placed rooms stay."""
    ann = await devices(sfu_users.ann)
    room, _ = await sfu_room(ann)
    placed, node_id = sql(sfu_server, f"SELECT janus_room_id, node_id FROM calls.sfu_rooms WHERE room_id = '{room['roomId']}'")[0]
    node = next(n for n in janus_nodes if n.node_id == node_id)
    stray_room, stray = str(uuid.uuid4()), 4_200_000_000_001
    async with janus_handle(node) as request:
        created = await request({"request": "create", "room": stray, "admin_key": node.admin_key, "is_private": True,
                                 "description": f"{stray_room} 1", "secret": room_secret(sfu_server, stray_room, 1)})
        assert created["plugindata"]["data"].get("videoroom") == "created", created

        async def rooms() -> set[int]:
            listed = await request({"request": "list", "admin_key": node.admin_key})
            return {r["room"] for r in listed["plugindata"]["data"]["list"]}

        assert stray in await rooms()
        deadline = asyncio.get_running_loop().time() + 10
        while stray in await rooms() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.2)
        present = await rooms()
        assert stray not in present, "the sweep left a Janus room no placement names"
        assert int(placed) in present, "the sweep destroyed a placed room"
