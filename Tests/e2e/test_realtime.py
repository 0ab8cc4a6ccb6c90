"""Realtime over the official supabase/realtime Python client: postgres_changes for chat
tables, broadcast and presence (compat spec §4, chat spec "Realtime")."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from e2e_support import close_client, new_client, rpc, sign_in, within

ALICE, BOB, CAROL = "+15555550105", "+15555550106", "+15555550107"


async def user(server, phone: str):
    client = await new_client(server.url, server.anon_key)
    session = await sign_in(client, phone)
    return client, session.user.id


async def subscribed(channel, timeout: float = 10.0) -> None:
    """Subscribes and waits for SUBSCRIBED (raises on CHANNEL_ERROR / TIMED_OUT)."""
    done: asyncio.Future = asyncio.get_running_loop().create_future()

    def on_state(state, error=None):
        name = getattr(state, "value", str(state))
        if done.done():
            return
        if name == "SUBSCRIBED":
            done.set_result(None)
        elif name in ("CHANNEL_ERROR", "TIMED_OUT", "CLOSED"):
            done.set_exception(RuntimeError(f"{name}: {error}"))

    await channel.subscribe(on_state)
    await within(done, timeout)


def collector() -> tuple[list[dict[str, Any]], asyncio.Event, Any]:
    items: list[dict[str, Any]] = []
    arrived = asyncio.Event()

    def callback(payload):
        items.append(payload)
        arrived.set()

    return items, arrived, callback


async def wait_for(items: list, count: int, timeout: float = 5.0) -> None:
    async def poll():
        while len(items) < count:
            await asyncio.sleep(0.05)

    await within(poll(), timeout)


@pytest.fixture
async def pair(server):
    alice, alice_id = await user(server, ALICE)
    bob, bob_id = await user(server, BOB)
    conversation = await rpc(alice, "get_or_create_dm", {"target_user_id": bob_id})
    yield alice, alice_id, bob, bob_id, conversation
    for client in (alice, bob):
        await client.remove_all_channels()
        await close_client(client)


async def test_message_insert_update_and_reaction_delete_arrive_with_the_record(pair):
    alice, alice_id, bob, bob_id, conversation = pair
    items, _, callback = collector()
    reactions, _, on_reaction = collector()
    channel = bob.channel(f"messages-{uuid.uuid4()}")
    channel.on_postgres_changes("*", callback, table="messages", schema="public", filter=f"conversation_id=eq.{conversation}")
    channel.on_postgres_changes("*", on_reaction, table="reactions", schema="public", filter=f"conversation_id=eq.{conversation}")
    await subscribed(channel)

    sent = await rpc(alice, "send_message_v1", {"conversation_id": conversation, "client_msg_id": str(uuid.uuid4()), "body": "rt hello"})
    await wait_for(items, 1)
    data = items[0]["data"]
    assert data["type"] == "INSERT" and data["table"] == "messages" and data["schema"] == "public"
    assert data["errors"] is None and data["columns"]
    record = data["record"]
    assert record["body"] == "rt hello" and record["id"] == sent["message_id"] and record["seq"] == sent["seq"]
    assert record["sender_id"] == alice_id and record["conversation_id"] == conversation
    for key in ("kind", "reply_to_id", "edited_at", "deleted_at", "created_at", "updated_at"):
        assert key in record

    await rpc(alice, "edit_message", {"message_id": sent["message_id"], "body": "rt edited"})
    await wait_for(items, 2)
    assert items[1]["data"]["type"] == "UPDATE"
    assert items[1]["data"]["record"]["body"] == "rt edited" and items[1]["data"]["record"]["edited_at"]

    await rpc(alice, "delete_message", {"message_id": sent["message_id"]})
    await wait_for(items, 3)
    tombstone = items[2]["data"]["record"]
    assert tombstone["body"] == "" and tombstone["deleted_at"]

    await rpc(bob, "set_reaction", {"message_id": sent["message_id"], "emoji": "👍"})
    await rpc(bob, "set_reaction", {"message_id": sent["message_id"], "emoji": None})
    await wait_for(reactions, 2)
    assert [r["data"]["type"] for r in reactions] == ["INSERT", "DELETE"]
    assert reactions[1]["data"]["old_record"]["message_id"] == sent["message_id"]
    assert "record" not in reactions[1]["data"] or reactions[1]["data"].get("record") in (None, {})


async def test_a_non_member_cannot_subscribe_to_a_conversation(server, pair):
    _, _, _, _, conversation = pair
    carol, _ = await user(server, CAROL)
    try:
        channel = carol.channel(f"spy-{uuid.uuid4()}")
        channel.on_postgres_changes("INSERT", lambda _: None, table="messages", schema="public", filter=f"conversation_id=eq.{conversation}")
        with pytest.raises(RuntimeError, match="CHANNEL_ERROR"):
            await subscribed(channel)
    finally:
        await carol.remove_all_channels()
        await close_client(carol)


async def test_unfiltered_subscribers_only_see_their_own_conversations(server, pair):
    alice, _, bob, bob_id, conversation = pair
    carol, _ = await user(server, CAROL)
    try:
        items, _, callback = collector()
        channel = carol.channel(f"all-{uuid.uuid4()}")
        channel.on_postgres_changes("INSERT", callback, table="messages", schema="public")
        await subscribed(channel)
        await rpc(alice, "send_message_v1", {"conversation_id": conversation, "client_msg_id": str(uuid.uuid4()), "body": "private"})
        await asyncio.sleep(1.5)
        assert items == []
    finally:
        await carol.remove_all_channels()
        await close_client(carol)


async def test_broadcast_round_trip_and_self_and_ack(pair):
    alice, _, bob, _, _ = pair
    room = f"e2e-open-room-{uuid.uuid4()}"
    got_a, _, on_a = collector()
    got_b, _, on_b = collector()
    a = alice.channel(room, {"config": {"broadcast": {"self": True, "ack": True}, "presence": {"key": "", "enabled": False}, "private": False}})
    a.on_broadcast("ping", on_a)
    b = bob.channel(room)
    b.on_broadcast("ping", on_b)
    await subscribed(a)
    await subscribed(b)
    await within(a.send_broadcast("ping", {"n": 1}))
    await wait_for(got_b, 1)
    await wait_for(got_a, 1)
    assert got_b[0]["event"] == "ping" and got_b[0]["payload"] == {"n": 1}
    # Without `self`, a sender does not hear itself.
    await within(b.send_broadcast("ping", {"n": 2}))
    await wait_for(got_a, 2)
    await asyncio.sleep(0.5)
    assert [m["payload"]["n"] for m in got_b] == [1]


async def test_typing_in_a_conversation_carries_the_real_sender(pair):
    alice, alice_id, bob, bob_id, conversation = pair
    got, _, on_typing = collector()
    topic = f"conversation:{conversation}"
    a = alice.channel(topic)
    b = bob.channel(topic)
    b.on_broadcast("typing", on_typing)
    await subscribed(a)
    await subscribed(b)
    await within(a.send_broadcast("typing", {"user_id": bob_id, "typing": True}))
    await wait_for(got, 1)
    assert got[0]["payload"]["user_id"] == alice_id


async def test_presence_sync_join_and_leave(pair):
    alice, _, bob, _, _ = pair
    lobby = f"e2e-open-lobby-{uuid.uuid4()}"
    syncs = []
    watcher = bob.channel(lobby)
    watcher.on_presence_sync(lambda: syncs.append(dict(watcher.presence_state())))
    await subscribed(watcher)
    tracker = alice.channel(lobby, {"config": {"broadcast": None, "presence": {"key": "alice", "enabled": True}, "private": False}})
    await subscribed(tracker)
    await within(tracker.track({"status": "online"}))

    async def present():
        while "alice" not in watcher.presence_state():
            await asyncio.sleep(0.05)

    await within(present(), 5)
    meta = watcher.presence_state()["alice"][0]
    assert meta["status"] == "online" and isinstance(meta["presence_ref"], str)
    await within(tracker.untrack())

    async def gone():
        while "alice" in watcher.presence_state():
            await asyncio.sleep(0.05)

    await within(gone(), 5)
    assert len(syncs) >= 3


async def test_a_removed_member_stops_receiving_at_once(server):
    alice, alice_id = await user(server, ALICE)
    carol, carol_id = await user(server, CAROL)
    try:
        group = await rpc(alice, "create_group_chat", {"title": "rt group", "member_ids": [carol_id]})
        items, _, callback = collector()
        channel = carol.channel(f"group-{uuid.uuid4()}")
        channel.on_postgres_changes("INSERT", callback, table="messages", schema="public", filter=f"conversation_id=eq.{group}")
        await subscribed(channel)
        await rpc(alice, "send_message_v1", {"conversation_id": group, "client_msg_id": str(uuid.uuid4()), "body": "before"})
        await wait_for(items, 1)
        await rpc(alice, "remove_chat_member", {"conversation_id": group, "user_id": carol_id})
        await rpc(alice, "send_message_v1", {"conversation_id": group, "client_msg_id": str(uuid.uuid4()), "body": "after"})
        await asyncio.sleep(1.5)
        assert [i["data"]["record"]["body"] for i in items] == ["before"]
    finally:
        for client in (alice, carol):
            await client.remove_all_channels()
            await close_client(client)


async def test_token_refresh_keeps_a_live_subscription(pair):
    alice, _, bob, _, conversation = pair
    items, _, callback = collector()
    channel = bob.channel(f"refresh-{uuid.uuid4()}")
    channel.on_postgres_changes("INSERT", callback, table="messages", schema="public", filter=f"conversation_id=eq.{conversation}")
    await subscribed(channel)
    # The client pushes the new access token to every joined channel.
    await within(bob.auth.refresh_session())
    await asyncio.sleep(0.5)
    await rpc(alice, "send_message_v1", {"conversation_id": conversation, "client_msg_id": str(uuid.uuid4()), "body": "after refresh"})
    await wait_for(items, 1)
    assert items[0]["data"]["record"]["body"] == "after refresh"


async def test_online_presence_is_keyed_by_user_and_cleared_on_disconnect(server, pair):
    alice, alice_id, bob, bob_id, _ = pair
    watcher = alice.channel("online")
    await subscribed(watcher)
    carol, carol_id = await user(server, CAROL)
    try:
        mine = carol.channel("online", {"config": {"broadcast": None, "presence": {"key": "pretend-to-be-bob", "enabled": True}, "private": False}})
        await subscribed(mine)
        await within(mine.track({"status": "online"}))

        async def present():
            while carol_id not in watcher.presence_state():
                await asyncio.sleep(0.05)

        await within(present(), 5)
        assert "pretend-to-be-bob" not in watcher.presence_state()
        assert watcher.presence_state()[carol_id][0]["user_id"] == carol_id
    finally:
        await carol.remove_all_channels()
        await close_client(carol)

    async def gone():
        while carol_id in watcher.presence_state():
            await asyncio.sleep(0.05)

    await within(gone(), 5)


async def test_a_new_member_hears_of_their_own_addition(server):
    alice, _ = await user(server, ALICE)
    carol, carol_id = await user(server, CAROL)
    try:
        items, _, callback = collector()
        channel = carol.channel(f"inbox-{uuid.uuid4()}")
        channel.on_postgres_changes("INSERT", callback, table="participants", schema="public", filter=f"user_id=eq.{carol_id}")
        await subscribed(channel)
        group = await rpc(alice, "create_group_chat", {"title": "warm-up", "member_ids": []})
        await rpc(alice, "send_message_v1", {"conversation_id": group, "client_msg_id": str(uuid.uuid4()), "body": "cache the members"})
        await rpc(alice, "add_chat_members", {"conversation_id": group, "member_ids": [carol_id]})
        await wait_for(items, 1)
        assert items[0]["data"]["record"]["conversation_id"] == group
    finally:
        for client in (alice, carol):
            await client.remove_all_channels()
            await close_client(client)


async def test_read_receipts_arrive_on_the_cursors_table(pair):
    alice, _, bob, bob_id, conversation = pair
    items, _, callback = collector()
    channel = alice.channel(f"cursors-{uuid.uuid4()}")
    channel.on_postgres_changes("UPDATE", callback, table="cursors", schema="public", filter=f"conversation_id=eq.{conversation}")
    await subscribed(channel)
    sent = await rpc(alice, "send_message_v1", {"conversation_id": conversation, "client_msg_id": str(uuid.uuid4()), "body": "read me"})
    await rpc(bob, "ack_read_v1", {"conversation_id": conversation, "up_to_seq": sent["seq"]})
    await wait_for(items, 1)
    data = items[0]["data"]
    assert data["table"] == "cursors" and data["type"] == "UPDATE"
    assert data["record"]["user_id"] == bob_id and data["record"]["read_up_to_seq"] == sent["seq"]
