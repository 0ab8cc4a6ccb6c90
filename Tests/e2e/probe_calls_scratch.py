import asyncio, json, time, uuid
import pytest
from test_calls_protocol import users, minter, calls, heartbeat, logged_in, room_with  # noqa
from calls_support import describe, new_device_id

async def test_probe(server, users, calls, heartbeat):
    alice = await logged_in(calls, users.alice)
    bob = await logged_in(calls, users.bob)
    room = await alice.create_room([users.bob.id])
    jo, snap = await alice.join_room(room)
    print("\nfirst joiner peers", jo["peers"], "snapshot", snap)
    await bob.join_room(room)
    await alice.expect("PEER_JOINED")
    tok, last = bob.welcome["payload"]["resumeToken"], bob.last_server_seq()
    await bob.abort()
    await asyncio.sleep(0.2)
    r = await alice.request("webrtc.ice", {"roomId": room["roomId"], "to": bob.peer, "candidate": {"candidate": "x"}})
    print("ice while away", r.ok, r.ack)
    r = await alice.request("call.invite", {"to": users.bob.id, "callId": str(uuid.uuid4()), "callType": "audio"})
    print("invite to bob with only a dropped device:", r.payload)
    back = await calls(name="back")
    await back.hello(bob.device_id, resume={"resumeToken": tok, "lastServerSeq": last})
    await asyncio.sleep(0.5)
    print("last before drop", last, "resumed frames:", describe(back.frames))
    # switch user on an authenticated socket
    r = await alice.auth(users.bob.token)
    print("alice socket AUTH as bob:", r.ok, r.ack, describe(r.before))
    r = await alice.request("ROOM_CREATE", {"allowedUserIds": [], "mode": "p2p"})
    print("create after:", r.ok, [f["payload"] for f in r.before])
    # binary
    c = await logged_in(calls, users.carol)
    await c.ws.send(b"\x00\x01")
    await asyncio.sleep(0.3)
    print("binary ->", describe(c.frames[-1:]), c.frames[-1])
    # no seq / no ts
    f = c.envelope("PING"); f.pop("seq")
    await c.send_frame(f); await asyncio.sleep(0.3); print("no seq ->", c.frames[-1].get("ack"))
    f = c.envelope("PING"); f.pop("ts")
    await c.send_frame(f); await asyncio.sleep(0.3); print("no ts ->", c.frames[-1].get("ack"))
    # outsider create with roomId
    r = await c.request("ROOM_CREATE", {"allowedUserIds": [], "mode": "sfu", "roomId": room["roomId"]})
    print("sfu create:", r.ack, describe(r.before))
    r = await c.request("ROOM_CREATE", {"allowedUserIds": [], "mode": "p2p", "roomId": room["roomId"]})
    print("p2p create w/ roomId:", r.ack, [f["payload"].get("roomId") == room["roomId"] for f in r.before])
    # heartbeat close code
    h = await logged_in(calls, users.dave, heartbeat.url)
    code = await h.expect_close(timeout=5)
    print("idle close", code, describe(h.frames))
    # flood count
    fl = await logged_in(calls, users.erin)
    n = 0
    try:
        for _ in range(1000):
            await fl.send("PING"); n += 1
            await asyncio.sleep(0)
    except Exception: pass
    await fl.expect_close(10)
    acks = [f["ack"] for f in fl.frames if f.get("type") == "ACK"]
    firstlim = next(i for i, a in enumerate(acks) if not a["ok"])
    print("flood: sent", n, "acks", len(acks), "first limited at", firstlim, "close", fl.close_code, fl.close_reason)
