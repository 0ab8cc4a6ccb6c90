"""Issue 14's chat-server contract through the official client (supabase-py): message search
with Russian and English stemming and `next` pages, pins in the inbox, "delete for me",
forwarding, call events written by the server when a 1:1 call ends over the calls socket,
and DMs that reach the other user's inbox only with their first message. Security: a
non-member cannot search, pin, hide or forward another conversation's messages, and a client
sending kind `call` gets a 400 naming `kind`.
"""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from calls_support import CallsClient, User
from e2e_support import close_client, expect_api_error, new_client, rpc, sign_in, within

PHONES = {
    "alice": "+15555550230", "bob": "+15555550231", "carol": "+15555550232", "dave": "+15555550233", "erin": "+15555550234",
}


@pytest.fixture(scope="module")
async def people(server):
    users = {name: User(name, phone) for name, phone in PHONES.items()}

    async def sign(user: User) -> None:
        user.client = await new_client(server.url, server.anon_key)
        session = (await sign_in(user.client, user.phone)).session
        user.id, user.token = session.user.id, session.access_token

    try:
        for user in users.values():
            await sign(user)
        yield SimpleNamespace(**users)
    finally:
        for user in users.values():
            if user.client is not None:
                await user.client.remove_all_channels()
                await close_client(user.client)


async def send(user: User, conversation: str, body: str, **extra: Any) -> dict[str, Any]:
    return await rpc(user.client, "send_message_v1",
                     {"conversation_id": conversation, "client_msg_id": str(uuid.uuid4()), "body": body, **extra})


async def messages(user: User, conversation: str) -> list[dict[str, Any]]:
    return (await rpc(user.client, "get_messages", {"conversation_id": conversation, "limit": 200}))["items"]


async def inbox_row(user: User, conversation: str) -> dict[str, Any] | None:
    items = (await rpc(user.client, "chat_get_inbox_v2", {"p_limit": 200}))["items"]
    return next((item for item in items if item["conversation_id"] == conversation), None)


def assert_bad_field(error, field: str) -> None:
    assert str(error.code) == "22023", error
    assert error.message.startswith(field + ":"), error.message


async def test_search_stems_russian_and_english_newest_first_with_pages(people):
    alice, bob = people.alice, people.bob
    dm = await rpc(alice.client, "get_or_create_dm", {"target_user_id": bob.id})
    tag = uuid.uuid4().hex[:8]
    car = (await send(alice, dm, f"Вчера купил красную машину {tag}"))["message_id"]
    cars = (await send(bob, dm, f"we saw two red cars {tag}"))["message_id"]
    more = [(await send(alice, dm, f"машины {tag} номер {n}"))["message_id"] for n in range(4)]

    found = await rpc(bob.client, "search_messages", {"query": f"машины {tag}"})
    assert [r["id"] for r in found["results"]] == more[::-1] + [car] and found["next"] is None
    first = found["results"][-1]
    assert set(first) == {"id", "conversation_id", "seq", "sender_id", "kind", "body", "created_at", "headline"}
    assert first["conversation_id"] == dm and first["sender_id"] == alice.id and first["kind"] == "text"
    assert "машину" in first["headline"] and len(first["headline"]) <= 160 and "<" not in first["headline"]

    english = await rpc(alice.client, "search_messages", {"query": f"car {tag}", "conversation_id": dm})
    assert [r["id"] for r in english["results"]] == [cars]

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        args: dict[str, Any] = {"query": f"машина {tag}", "limit": 2}
        if cursor:
            args["before"] = cursor
        page = await rpc(bob.client, "search_messages", args)
        assert len(page["results"]) <= 2
        seen += [r["id"] for r in page["results"]]
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == more[::-1] + [car] and pages == 3


async def test_search_arguments_are_checked(people):
    alice = people.alice
    for args, field in [
        ({"query": "  "}, "query"), ({"query": "я" * 201}, "query"),
        ({"query": "x", "limit": 0}, "limit"), ({"query": "x", "limit": 51}, "limit"),
        ({"query": "x", "before": "not a cursor"}, "before"), ({"query": "x", "before": "QUJD.QUJD"}, "before"),
        ({"query": "x", "conversation_id": "nope"}, "conversation_id"),
    ]:
        error = await expect_api_error(alice.client.rpc("search_messages", args).execute())
        assert_bad_field(error, field)
    assert (await rpc(alice.client, "search_messages", {"query": "я" * 200, "limit": 50}))["results"] == []


async def test_a_non_member_cannot_search_pin_hide_or_forward(people):
    alice, bob, carol = people.alice, people.bob, people.carol
    dm = await rpc(alice.client, "get_or_create_dm", {"target_user_id": bob.id})
    tag = uuid.uuid4().hex[:8]
    secret = (await send(alice, dm, f"секрет {tag}"))["message_id"]
    assert (await rpc(carol.client, "search_messages", {"query": f"секрет {tag}"}))["results"] == []
    error = await expect_api_error(carol.client.rpc("search_messages", {"query": "секрет", "conversation_id": dm}).execute())
    assert str(error.code) == "PGRST116"
    assert str((await expect_api_error(carol.client.rpc("pin_message", {"message_id": secret}).execute())).code) == "PGRST116"
    assert str((await expect_api_error(carol.client.rpc("unpin_message", {"conversation_id": dm}).execute())).code) == "PGRST116"
    assert str((await expect_api_error(carol.client.rpc("hide_message", {"message_id": secret}).execute())).code) == "PGRST116"
    own = await rpc(carol.client, "get_or_create_dm", {"target_user_id": alice.id})
    error = await expect_api_error(send(carol, own, f"секрет {tag}", forwarded_from_id=secret))
    assert_bad_field(error, "forwarded_from_id")


async def test_pins_show_in_the_inbox(people):
    alice, bob = people.alice, people.bob
    dm = await rpc(alice.client, "get_or_create_dm", {"target_user_id": bob.id})
    message = await send(alice, dm, "закреплю это")
    pinned = await rpc(bob.client, "pin_message", {"message_id": message["message_id"]})
    assert pinned["conversation_id"] == dm and pinned["pinned_message"]["id"] == message["message_id"]
    row = await inbox_row(alice, dm)
    assert row["pinned_message"] == {"id": message["message_id"], "seq": message["seq"], "kind": "text",
                                     "body": "закреплю это", "sender_id": alice.id}
    assert (await rpc(alice.client, "unpin_message", {"conversation_id": dm}))["pinned_message"] is None
    assert (await inbox_row(bob, dm))["pinned_message"] is None


async def test_hide_message_is_for_the_caller_only(people):
    alice, bob = people.alice, people.bob
    dm = await rpc(alice.client, "get_or_create_dm", {"target_user_id": bob.id})
    tag = uuid.uuid4().hex[:8]
    message = (await send(bob, dm, f"спрячу {tag}"))["message_id"]
    assert (await rpc(alice.client, "hide_message", {"message_id": message}))["hidden"] is True
    assert message not in [m["id"] for m in await messages(alice, dm)]
    assert message in [m["id"] for m in await messages(bob, dm)]
    assert (await inbox_row(alice, dm))["last_message"]["id"] != message
    assert (await inbox_row(bob, dm))["last_message"]["id"] == message
    assert (await rpc(alice.client, "search_messages", {"query": f"спрячу {tag}"}))["results"] == []
    assert len((await rpc(bob.client, "search_messages", {"query": f"спрячу {tag}"}))["results"]) == 1


async def test_forwarding_names_the_original(people):
    alice, bob, dave = people.alice, people.bob, people.dave
    dm = await rpc(alice.client, "get_or_create_dm", {"target_user_id": bob.id})
    other = await rpc(bob.client, "get_or_create_dm", {"target_user_id": dave.id})
    await rpc(alice.client, "update_my_profile", {"display_name": "Алиса"})
    original = await send(alice, dm, "перешли это")
    sent = await send(bob, other, "перешли это", forwarded_from_id=original["message_id"])
    forwarded = next(m for m in await messages(dave, other) if m["id"] == sent["message_id"])
    assert forwarded["body"] == "перешли это" and forwarded["sender_id"] == bob.id
    assert forwarded["forwarded_from"]["message_id"] == original["message_id"]
    assert forwarded["forwarded_from"]["sender_id"] == alice.id and forwarded["forwarded_from"]["sender_name"] == "Алиса"
    error = await expect_api_error(send(bob, other, "", kind="image", attachment={"path": f"{bob.id}/x.png"},
                                        forwarded_from_id=original["message_id"]))
    assert_bad_field(error, "forwarded_from_id")


async def test_clients_cannot_send_call_messages(people):
    alice, bob = people.alice, people.bob
    dm = await rpc(alice.client, "get_or_create_dm", {"target_user_id": bob.id})
    error = await expect_api_error(send(alice, dm, "", kind="call"))
    assert_bad_field(error, "kind")
    error = await expect_api_error(send(alice, dm, "x", kind="system"))
    assert_bad_field(error, "kind")
    assert all(m["kind"] != "call" or m["call"] for m in await messages(alice, dm))


async def test_an_empty_dm_reaches_the_other_inbox_with_its_first_message(people):
    carol, erin = people.carol, people.erin
    dm = await rpc(carol.client, "get_or_create_dm", {"target_user_id": erin.id})
    assert await inbox_row(carol, dm) is not None
    assert await inbox_row(erin, dm) is None
    await send(carol, dm, "привет")
    assert (await inbox_row(erin, dm))["last_message"]["body"] == "привет"


async def call_socket(server, user: User) -> CallsClient:
    client = await CallsClient.connect(server.url, user.name)
    await client.login(user)
    return client


async def wait_for_call(user: User, dm: str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    async def poll():
        while True:
            calls = [m for m in await messages(user, dm) if m["kind"] == "call"]
            if len(calls) >= count:
                return calls
            await asyncio.sleep(0.1)

    return await within(poll(), timeout)


async def test_call_events_are_written_when_a_call_ends(server, people):
    alice, bob = people.alice, people.bob
    dm = await rpc(alice.client, "get_or_create_dm", {"target_user_id": bob.id})
    before = len([m for m in await messages(alice, dm) if m["kind"] == "call"])
    events: list[dict[str, Any]] = []
    channel = bob.client.channel(f"calls-{uuid.uuid4()}")
    channel.on_postgres_changes("INSERT", events.append, table="messages", schema="public", filter=f"conversation_id=eq.{dm}")
    subscribed: asyncio.Future = asyncio.get_running_loop().create_future()
    await channel.subscribe(lambda state, error=None: subscribed.done() or (
        getattr(state, "value", str(state)) == "SUBSCRIBED" and subscribed.set_result(None)))
    await within(subscribed)
    caller, callee = await call_socket(server, alice), await call_socket(server, bob)
    try:
        # Declined.
        room = await caller.create_room([bob.id], conversationId=dm)
        invite = {"to": bob.id, "callId": room["callId"], "callType": "audio", "roomId": room["roomId"],
                  "joinToken": room["joinToken"], "conversationId": dm}
        (await caller.request("call.invite", invite)).expect_ok()
        await callee.expect("call.invite")
        (await callee.request("call.decline", {"to": alice.id, "callId": room["callId"]})).expect_ok()
        calls = await wait_for_call(alice, dm, before + 1)
        assert calls[-1]["call"] == {"outcome": "declined", "video": False, "duration_s": None, "caller_id": alice.id}
        assert calls[-1]["sender_id"] == alice.id and calls[-1]["body"] == ""

        # Answered, then both sides hang up: one "ended" event with its duration.
        room = await caller.create_room([bob.id], conversationId=dm)
        (await caller.request("call.invite", {**invite, "callId": room["callId"], "roomId": room["roomId"],
                                              "joinToken": room["joinToken"], "callType": "video"})).expect_ok()
        (await callee.request("call.accept", {"to": alice.id, "callId": room["callId"]})).expect_ok()
        await asyncio.sleep(1.1)
        await asyncio.gather(caller.request("call.hangup", {"to": bob.id, "callId": room["callId"]}),
                             callee.request("call.hangup", {"to": alice.id, "callId": room["callId"]}))
        calls = await wait_for_call(alice, dm, before + 2)
        ended = calls[-1]["call"]
        assert ended["outcome"] == "ended" and ended["video"] is True and ended["caller_id"] == alice.id
        assert isinstance(ended["duration_s"], int) and 1 <= ended["duration_s"] <= 5

        # Cancelled before an answer.
        room = await caller.create_room([bob.id], conversationId=dm)
        (await caller.request("call.invite", {**invite, "callId": room["callId"], "roomId": room["roomId"],
                                              "joinToken": room["joinToken"]})).expect_ok()
        (await caller.request("call.cancel", {"to": bob.id, "callId": room["callId"]})).expect_ok()
        (await caller.request("call.cancel", {"to": bob.id, "callId": room["callId"]})).expect_ok()
        calls = await wait_for_call(alice, dm, before + 3)
        assert calls[-1]["call"]["outcome"] == "cancelled"
        await asyncio.sleep(0.5)
        assert len(await wait_for_call(alice, dm, before + 3)) == before + 3

        # Realtime subscribers got each event like any message; it is unread for the callee.
        async def three():
            while len([e for e in events if e["data"]["record"]["kind"] == "call"]) < 3:
                await asyncio.sleep(0.05)

        await within(three(), 5)
        record = [e["data"]["record"] for e in events if e["data"]["record"]["kind"] == "call"][-1]
        assert record["call"]["outcome"] == "cancelled" and record["sender_id"] == alice.id
        error = await expect_api_error(alice.client.rpc("edit_message", {"message_id": record["id"], "body": "x"}).execute())
        assert error.code is not None
    finally:
        await caller.close()
        await callee.close()
        await bob.client.remove_channel(channel)
