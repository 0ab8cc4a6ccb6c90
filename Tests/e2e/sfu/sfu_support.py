"""Helpers of the SFU suite's tests: rooms, feeds, two publishing devices, and a raw socket
on a Janus node's API for the checks that bypass calls-ws."""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import asynccontextmanager

import websockets

from sfu_peer import SfuPeer


async def sfu_room(owner, *others, also=()):
    """`owner` creates an sfu room for everyone (and `also`, who do not join yet); all join.
    Returns (room, {client: ROOM_JOIN_OK payload})."""
    allowed = sorted({o.user_id for o in (*others, *also) if o.user_id != owner.user_id})
    room = await owner.create_room(allowed, mode="sfu")
    joined = {}
    for client in (owner, *others):
        reply = await client.request("ROOM_JOIN", {"roomId": room["roomId"], "joinToken": room["joinToken"]}, timeout=10)
        reply.expect_ok()
        joined[client] = reply.response("ROOM_JOIN_OK")["payload"]
    return room, joined


async def feed_id_of(client, other, timeout: float = 10.0) -> str:
    """The feedId `client` was told for `other`'s device (sfu.feeds snapshot or added)."""
    def has(frame):
        if frame.get("type") != "sfu.feeds":
            return False
        entries = (frame["payload"].get("feeds") or []) + (frame["payload"].get("added") or [])
        return any(feed["deviceId"] == other.device_id for feed in entries)
    frame = await client.next(has, timeout=timeout, what=f"the feed of {other.name}")
    entries = (frame["payload"].get("feeds") or []) + (frame["payload"].get("added") or [])
    return next(feed["feedId"] for feed in entries if feed["deviceId"] == other.device_id)


async def janus_request(ws, body: dict, api_secret: str | None) -> dict:
    """One request on a raw Janus API socket; the first answer that is not an ack."""
    transaction = f"t{time.monotonic_ns()}"
    message = {**body, "transaction": transaction}
    if api_secret:
        message["apisecret"] = api_secret
    await ws.send(json.dumps(message))
    while True:
        answer = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if answer.get("transaction") == transaction and answer.get("janus") != "ack":
            return answer


@asynccontextmanager
async def janus_handle(node):
    """A session with a VideoRoom handle on `node`'s API, as an outsider holding its api_secret
    would have: yields `request(body)` (a VideoRoom message, its reply), destroyed after."""
    async with websockets.connect(node.url, subprotocols=["janus-protocol"]) as ws:
        session = (await janus_request(ws, {"janus": "create"}, node.api_secret))["data"]["id"]
        handle = (await janus_request(ws, {"janus": "attach", "session_id": session, "plugin": "janus.plugin.videoroom"},
                                      node.api_secret))["data"]["id"]

        async def request(body: dict) -> dict:
            return await janus_request(ws, {"janus": "message", "session_id": session, "handle_id": handle, "body": body},
                                       node.api_secret)

        try:
            yield request
        finally:
            await janus_request(ws, {"janus": "destroy", "session_id": session}, node.api_secret)


async def two_publishing(devices, sfu_users):
    ann, ben = await asyncio.gather(devices(sfu_users.ann), devices(sfu_users.ben))
    room, _ = await sfu_room(ann, ben)
    a, b = SfuPeer(ann, room["roomId"], 1), SfuPeer(ben, room["roomId"], 1)
    for peer in (a, b):
        await peer.publish()
        peer.follow_offers()
        await peer.subscribe_all()
    ann_feed, ben_feed = await feed_id_of(ben, ann), await feed_id_of(ann, ben)
    await b.wait_frames(ann_feed)
    await a.wait_frames(ben_feed)
    return room, (ann, ben), (a, b), (ann_feed, ben_feed)
