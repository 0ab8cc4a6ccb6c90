"""A device's Janus participant moving between calls-ws instances (spec sfu-janus.md §3.4
"Resume elsewhere", §9 test 9's two-instance variant; docs/sfu.md "Moving between
instances"): the instance the device comes back through takes the participant over by
compare-and-set on its row and claims its Janus session, so the device's PeerConnections
keep their media and nobody in the room sees it leave — whether the old instance was killed
or is alive and let it go (`DEVICE_REPLACED`)."""

from __future__ import annotations

import asyncio
import time

import pytest

from calls_support import CallsClient, start_instance, stop_instance
from sfu_fixtures import *  # noqa: F403 (the suite's fixtures)
from sfu_fixtures import requires_media_namespace, sfu_environment, sql
from sfu_peer import SfuPeer
from sfu_support import feed_id_of, sfu_room

pytestmark = requires_media_namespace

# Janus's reclaim_session_timeout in the suite's nodes: a session whose socket closed and
# that nobody claims is gone after this (janus_nodes.py).
RECLAIM_SECONDS = 10
# How long an instance waits for another to take over a participant it let go (SfuCoordinator.handOverSeconds).
HAND_OVER_SECONDS = 10


@pytest.fixture
def two_instances(sfu_server, janus_nodes):
    """Instances a and b on the suite server's database, driving the same Janus nodes."""
    environment = {**sfu_environment(janus_nodes), "SFU_ROOM_KEY": sfu_server.sfu_room_key}
    started = []
    try:
        started.append(start_instance(sfu_server, "sfu-a", environment))
        started.append(start_instance(sfu_server, "sfu-b", environment))
        yield started
    finally:
        for instance in started:
            stop_instance(instance)


async def connect(url: str, user, name: str) -> CallsClient:
    client = await CallsClient.connect(url, name)
    await client.login(user)
    return client


async def move(client: CallsClient, user, url: str, room: dict) -> tuple[CallsClient, dict, dict]:
    """The device comes back through `url`: HELLO with its resume token (another instance
    cannot replay the frames, so `resumed:false`), AUTH, ROOM_JOIN. Returns the new client,
    ROOM_JOIN_OK and the sfu.feeds snapshot."""
    moved = await CallsClient.connect(url, f"{client.name.split('@')[0]}@moved")
    welcome = await moved.hello(client.device_id, resume={
        "resumeToken": client.welcome["payload"]["resumeToken"], "lastServerSeq": client.last_server_seq()})
    assert welcome["payload"]["resumed"] is False
    (await moved.auth(user.token)).expect_ok()
    moved.user_id = user.id
    reply = await moved.request("ROOM_JOIN", {"roomId": room["roomId"], "joinToken": room["joinToken"]}, timeout=10)
    reply.expect_ok()
    return moved, reply.response("ROOM_JOIN_OK")["payload"], reply.response("sfu.feeds")["payload"]


async def test_devices_moving_to_another_instance_keep_their_media(sfu_server, sfu_users, two_instances):
    a, b = two_instances
    ann = await connect(a.url, sfu_users.ann, "ann@a")
    ben = await connect(a.url, sfu_users.ben, "ben@a")
    cat = await connect(b.url, sfu_users.cat, "cat@b")
    clients = [ann, ben, cat]
    peers: list[SfuPeer] = []
    try:
        room, _ = await sfu_room(ann, ben, cat)
        for client, loud in ((ann, True), (ben, False), (cat, False)):
            peer = SfuPeer(client, room["roomId"], 1, loud=loud)
            peers.append(peer)
            await peer.publish()
            peer.follow_offers()
            await peer.subscribe_all()
        pa, pb, pc = peers
        feed = {"ann": await feed_id_of(ben, ann), "ben": await feed_id_of(ann, ben), "cat": await feed_id_of(ann, cat)}
        for peer, others in ((pa, ("ben", "cat")), (pb, ("ann", "cat")), (pc, ("ann", "ben"))):
            for other in others:
                await peer.wait_frames(feed[other], count=10)

        # Ben moves to b while a lives: a lets his participant go, b takes it over.
        ben2, joined, snapshot = await move(ben, sfu_users.ben, b.url, room)
        clients.append(ben2)
        pb.move_to(ben2)
        assert joined["sfu"]["resumed"] is True and joined["sfu"]["epoch"] == 1
        assert {f["feedId"] for f in snapshot["feeds"]} == {feed["ann"], feed["cat"]}
        # a ends what it let go only if nobody took it over: past that wait Ben still plays.
        await asyncio.sleep(HAND_OVER_SECONDS + 1)
        await pa.wait_frames(feed["ben"], count=pa.streams_of(feed["ben"], "video")[0].frames + 20, timeout=3)

        # a is killed: Ann comes back through b and gets her participant back.
        a.process.kill()
        a.process.wait(timeout=10)
        killed = time.monotonic()
        ann2, joined, snapshot = await move(ann, sfu_users.ann, b.url, room)
        clients.append(ann2)
        pa.move_to(ann2)
        assert joined["sfu"]["resumed"] is True
        assert {f["feedId"] for f in snapshot["feeds"]} == {feed["ben"], feed["cat"]}

        holders = sql(sfu_server, f"SELECT device_id, instance_id FROM calls.sfu_participants WHERE room_id = '{room['roomId']}'")
        assert len(holders) == 3 and len({instance for _, instance in holders}) == 1, holders

        # Past Janus's reclaim timeout an unclaimed session would be gone with its feed:
        # every video and audio still plays, and nobody was told a feed went away. The rates
        # are over the 4 s past that point: a starved event loop takes frames in bursts (in a
        # clean-clone run of .ci/run here, seven audio frames at one instant, 36.5 a second
        # over 2 s).
        await asyncio.sleep(max(0.0, killed + RECLAIM_SECONDS + 4 - time.monotonic()))
        for peer, others in ((pa, ("ben", "cat")), (pb, ("ann", "cat")), (pc, ("ann", "ben"))):
            for other in others:
                video, audio = peer.streams_of(feed[other], "video"), peer.streams_of(feed[other], "audio")
                assert video and video[0].rate(4) >= 20, f"{peer.client.name} ← {other}: video {video and video[0].rate(4)} fps"
                assert audio and audio[0].rate(4) >= 40, f"{peer.client.name} ← {other}: audio {audio and audio[0].rate(4)} frames/s"
        for client in (cat, ann2, ben2):
            removed = [f for f in client.server_frames() if f.get("type") == "sfu.feeds" and f["payload"].get("removed")]
            assert not removed, f"{client.name} was told feeds went away: {removed}"

        # b drives the sessions it took over: Ann's mute reaches the SFU and the others.
        start = len(cat.frames)
        (await ann2.request("sfu.mute", {"roomId": room["roomId"], "epoch": 1, "kind": "video", "muted": True})).expect_ok()
        await cat.next(lambda f: f.get("type") == "sfu.media" and f["payload"].get("feedId") == feed["ann"]
                       and f["payload"].get("kind") == "video" and f["payload"].get("muted") is True,
                       start=start, timeout=5, what="sfu.media of Ann's camera muted")
        await asyncio.sleep(0.5)
        [ann_video] = pc.streams_of(feed["ann"], "video")
        frozen = ann_video.frames
        await asyncio.sleep(1.5)
        assert ann_video.frames - frozen <= 2, "the SFU still relays Ann's muted camera"
        (await ann2.request("sfu.mute", {"roomId": room["roomId"], "epoch": 1, "kind": "video", "muted": False})).expect_ok()
        await pc.wait_frames(feed["ann"], count=frozen + 10, timeout=5)

        # Leaving through b ends the session for everyone.
        start = len(cat.frames)
        (await ben2.request("sfu.leave", {"roomId": room["roomId"]})).expect_ok()
        gone = await cat.next(lambda f: f.get("type") == "sfu.feeds" and any(
            r["feedId"] == feed["ben"] for r in f["payload"].get("removed") or []), timeout=5, what="Ben's feed removed", start=start)
        assert gone["payload"]["removed"][0]["reason"] == "left"
    finally:
        for peer in peers:
            await peer.close()
        for client in clients:
            await client.close()
