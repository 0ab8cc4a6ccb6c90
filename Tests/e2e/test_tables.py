"""Tables over PostgREST's protocol with the official supabase-py client (issue 19,
docs/tables.md): `supabase.table("messages").insert()` as the seed's chat flow does it,
reads with filters, order, counts and embedding, the chat rules whichever door a write
comes through, and the other member's realtime event."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from e2e_support import close_client, expect_api_error, new_client, rpc, sign_in, within
from reels_support import sql
from test_realtime import collector, subscribed, wait_for

ALICE, BOB, CAROL = "+15555550386", "+15555550387", "+15555550388"


async def user(server, phone: str):
    client = await new_client(server.url, server.anon_key)
    session = await sign_in(client, phone)
    return client, session.user.id, session.session.access_token


@pytest.fixture
async def trio(server):
    alice, alice_id, alice_token = await user(server, ALICE)
    bob, bob_id, _ = await user(server, BOB)
    carol, carol_id, _ = await user(server, CAROL)
    conversation = await rpc(alice, "get_or_create_dm", {"target_user_id": bob_id})
    yield {
        "alice": alice, "alice_id": alice_id, "alice_token": alice_token, "bob": bob, "bob_id": bob_id,
        "carol": carol, "carol_id": carol_id, "conversation": conversation,
    }
    for client in (alice, bob, carol):
        await client.remove_all_channels()
        await close_client(client)


async def test_a_direct_insert_reaches_the_other_member_as_a_realtime_insert(trio):
    alice, bob, conversation = trio["alice"], trio["bob"], trio["conversation"]
    items, _, callback = collector()
    channel = bob.channel(f"table-{uuid.uuid4()}")
    channel.on_postgres_changes("INSERT", callback, table="messages", schema="public", filter=f"conversation_id=eq.{conversation}")
    await subscribed(channel)

    inserted = await within(alice.table("messages").insert({"conversation_id": conversation, "body": "straight into the table"}).execute())
    row = inserted.data[0]
    assert row["body"] == "straight into the table"
    assert row["sender_id"] == trio["alice_id"] and row["seq"] >= 1 and row["client_msg_id"]

    await wait_for(items, 1)
    record = items[0]["data"]["record"]
    assert items[0]["data"]["type"] == "INSERT"
    assert record["id"] == row["id"] and record["body"] == "straight into the table" and record["seq"] == row["seq"]

    # The next message through the RPC continues the same sequence.
    sent = await rpc(alice, "send_message_v1", {"conversation_id": conversation, "client_msg_id": str(uuid.uuid4()), "body": "rpc"})
    assert sent["seq"] == row["seq"] + 1


async def test_an_operators_sql_writes_reach_subscribers_and_a_rollback_reaches_nobody(server, trio):
    alice, bob, conversation = trio["alice"], trio["bob"], trio["conversation"]
    items, _, callback = collector()
    channel = bob.channel(f"operator-{uuid.uuid4()}")
    channel.on_postgres_changes("*", callback, table="messages", schema="public", filter=f"conversation_id=eq.{conversation}")
    await subscribed(channel)
    sent = await rpc(alice, "send_message_v1", {"conversation_id": conversation, "client_msg_id": str(uuid.uuid4()), "body": "before"})
    await wait_for(items, 1)

    # The edit rules ask who edits: the operator acts for the sender.
    as_alice = f"SELECT set_config('request.jwt.claims', '{{\"sub\":\"{trio['alice_id']}\",\"role\":\"authenticated\"}}', true);"
    sql(server, f"BEGIN; {as_alice} UPDATE public.messages SET body = 'never committed' WHERE id = '{sent['message_id']}'; ROLLBACK;")
    sql(server, f"BEGIN; {as_alice} UPDATE public.messages SET body = 'edited by an operator' WHERE id = '{sent['message_id']}'; COMMIT;")
    await wait_for(items, 2)
    update = items[1]["data"]
    assert update["type"] == "UPDATE" and update["record"]["id"] == sent["message_id"]
    assert update["record"]["body"] == "edited by an operator"

    sql(server, f"INSERT INTO public.messages (conversation_id, sender_id, body) "
                f"VALUES ('{conversation}', '{trio['alice_id']}', 'inserted by an operator')")
    await wait_for(items, 3)
    insert = items[2]["data"]
    assert insert["type"] == "INSERT" and insert["record"]["body"] == "inserted by an operator"
    await asyncio.sleep(0.5)
    assert len(items) == 3, [item["data"]["record"].get("body") for item in items]


async def bob_watches_reactions(trio, body: str):
    """Bob subscribed to the DM's reactions, and a message of Alice's to react to: (events, message)."""
    items, _, callback = collector()
    channel = trio["bob"].channel(f"reactions-{uuid.uuid4()}")
    channel.on_postgres_changes("*", callback, table="reactions", schema="public", filter=f"conversation_id=eq.{trio['conversation']}")
    await subscribed(channel)
    sent = await rpc(trio["alice"], "send_message_v1", {"conversation_id": trio["conversation"], "client_msg_id": str(uuid.uuid4()), "body": body})
    return items, sent


async def test_reactions_written_to_the_table_or_by_an_operator_reach_the_other_member(server, trio):
    alice, conversation = trio["alice"], trio["conversation"]
    items, sent = await bob_watches_reactions(trio, "react")
    reaction = {"message_id": sent["message_id"], "user_id": trio["alice_id"], "emoji": "👍"}

    await within(alice.table("reactions").insert(reaction).execute())
    await wait_for(items, 1)
    assert items[0]["data"]["type"] == "INSERT"
    assert items[0]["data"]["record"]["emoji"] == "👍" and items[0]["data"]["record"]["conversation_id"] == conversation

    # An upsert that finds the reaction changes it: an UPDATE, not a second INSERT.
    await within(alice.table("reactions").upsert({**reaction, "emoji": "🔥"}, on_conflict="message_id,user_id").execute())
    await wait_for(items, 2)
    assert items[1]["data"]["type"] == "UPDATE" and items[1]["data"]["record"]["emoji"] == "🔥"

    sql(server, f"DELETE FROM public.reactions WHERE message_id = '{sent['message_id']}'")
    await wait_for(items, 3)
    deleted = items[2]["data"]
    assert deleted["type"] == "DELETE"
    assert deleted["old_record"]["message_id"] == sent["message_id"] and deleted["old_record"]["user_id"] == trio["alice_id"]
    await asyncio.sleep(0.5)
    assert len(items) == 3, [item["data"]["type"] for item in items]


async def test_a_reaction_written_and_removed_at_once_through_the_table_arrives_as_both(trio):
    alice, conversation = trio["alice"], trio["conversation"]
    items, sent = await bob_watches_reactions(trio, "burst")
    reaction = {"message_id": sent["message_id"], "user_id": trio["alice_id"], "emoji": "🎉"}
    for _ in range(5):
        await within(alice.table("reactions").insert(reaction).execute())
        await within(alice.table("reactions").delete().eq("message_id", sent["message_id"]).eq("user_id", trio["alice_id"]).execute())

    await wait_for(items, 10)
    assert [item["data"]["type"] for item in items] == ["INSERT", "DELETE"] * 5
    for inserted in items[::2]:
        record = inserted["data"]["record"]
        assert set(record) == {"message_id", "user_id", "conversation_id", "emoji", "created_at", "updated_at"}
        assert record["emoji"] == "🎉" and record["conversation_id"] == conversation


async def test_max_affected_refuses_a_delete_that_would_touch_more_rows_and_changes_nothing(trio):
    alice, conversation = trio["alice"], trio["conversation"]
    ids = []
    for body in ("one", "two"):
        sent = await rpc(alice, "send_message_v1", {"conversation_id": conversation, "client_msg_id": str(uuid.uuid4()), "body": body})
        ids.append(sent["message_id"])
        await within(alice.table("reactions").insert({"message_id": sent["message_id"], "user_id": trio["alice_id"], "emoji": "👍"}).execute())

    error = await expect_api_error(alice.table("reactions").delete().in_("message_id", ids).max_affected(1).execute())
    assert error.code == "PGRST124", error
    left = await within(alice.table("reactions").select("message_id").in_("message_id", ids).execute())
    assert sorted(row["message_id"] for row in left.data) == sorted(ids)

    removed = await within(alice.table("reactions").delete().eq("message_id", ids[0]).max_affected(1).execute())
    assert [row["message_id"] for row in removed.data] == [ids[0]]


async def test_reads_filter_order_count_and_embed_as_the_caller(trio):
    alice, bob, carol, conversation = trio["alice"], trio["bob"], trio["carol"], trio["conversation"]
    tag = uuid.uuid4().hex[:8]
    a, b = f"{tag}-a", f"{tag}-b"
    for body in (a, a, a, b):
        await rpc(alice, "send_message_v1", {"conversation_id": conversation, "client_msg_id": str(uuid.uuid4()), "body": body})

    latest = await within(
        bob.table("messages").select("*").eq("conversation_id", conversation).eq("body", a).order("seq", desc=True).limit(2).execute())
    assert [row["body"] for row in latest.data] == [a, a]
    assert latest.data[0]["seq"] > latest.data[1]["seq"]

    counted = await within(bob.table("messages").select("id", count="exact").like("body", f"{tag}-*").execute())
    assert counted.count == 4 and len(counted.data) == 4

    embedded = await within(
        bob.table("messages").select("body, sender:profiles(id)").eq("conversation_id", conversation).eq("body", b).single().execute())
    assert embedded.data == {"body": b, "sender": {"id": trio["alice_id"]}}

    missing = await expect_api_error(bob.table("messages").select("*").eq("body", "never sent").single().execute())
    assert missing.code == "PGRST116"
    assert await within(bob.table("messages").select("*").eq("body", "never sent").maybe_single().execute()) is None

    # Spread and many-to-many: the sender's id beside the body; the members through participants.
    spread = await within(
        bob.table("messages").select("body, ...profiles!messages_sender_id_fkey(sender:id)").eq("conversation_id", conversation).eq("body", b).execute())
    assert spread.data == [{"body": b, "sender": trio["alice_id"]}]
    members = await within(bob.table("conversations").select("id, profiles!participants(id)").eq("id", conversation).execute())
    assert sorted(p["id"] for p in members.data[0]["profiles"]) == sorted([trio["alice_id"], trio["bob_id"]])

    # Carol is no member: she reads nothing of the conversation, embedded or not.
    assert (await within(carol.table("messages").select("*").eq("conversation_id", conversation).execute())).data == []
    embedded_for_carol = await within(carol.table("conversations").select("id, messages!messages_conversation_id_fkey(body)").eq("id", conversation).execute())
    assert embedded_for_carol.data == []


async def test_chat_rules_hold_for_direct_writes(trio):
    alice, carol, conversation = trio["alice"], trio["carol"], trio["conversation"]

    outsider = await expect_api_error(carol.table("messages").insert({"conversation_id": conversation, "body": "let me in"}).execute())
    assert outsider.code == "42501"
    impersonated = await expect_api_error(
        alice.table("messages").insert({"conversation_id": conversation, "body": "as bob", "sender_id": trio["bob_id"]}).execute())
    assert impersonated.code == "42501"
    forged_seq = await expect_api_error(alice.table("messages").insert({"conversation_id": conversation, "body": "x", "seq": 999}).execute())
    assert forged_seq.code == "42501"
    too_long = await expect_api_error(alice.table("messages").insert({"conversation_id": conversation, "body": "x" * 4001}).execute())
    assert too_long.code == "23514"
    unknown = await expect_api_error(alice.table("messages").insert({"conversation_id": conversation, "nope": 1}).execute())
    assert unknown.code == "PGRST204"

    # A retry with the same client_msg_id is one message.
    key = str(uuid.uuid4())
    for _ in range(2):
        await within(alice.table("messages").upsert(
            {"conversation_id": conversation, "body": "once", "client_msg_id": key},
            on_conflict="conversation_id,sender_id,client_msg_id", ignore_duplicates=True).execute())
    once = await within(alice.table("messages").select("id").eq("client_msg_id", key).execute())
    assert len(once.data) == 1

    # The sliding-minute limit of send_message_v1 (60 a sender) holds for a bulk insert too,
    # and a refused insert writes nothing.
    flood = [{"conversation_id": conversation, "body": f"flood {n}"} for n in range(61)]
    limited = await expect_api_error(alice.table("messages").insert(flood).execute())
    assert limited.code == "PT429"
    left = await within(alice.table("messages").select("id", count="exact").like("body", "flood*").execute())
    assert left.count == 0

    # Messages are never deleted through the table (no grant): tombstones go through delete_message.
    refused = await expect_api_error(alice.table("messages").delete().eq("client_msg_id", key).execute())
    assert refused.code == "42501"


async def test_unknown_tables_columns_and_profiles_answer_postgrest_errors(server, trio):
    alice = trio["alice"]
    missing = await expect_api_error(alice.table("no_such_table").select("*").execute())
    assert missing.code == "PGRST205"
    column = await expect_api_error(alice.table("messages").select("nope").execute())
    assert column.code == "42703"
    async with httpx.AsyncClient(base_url=server.url) as http:
        headers = {"apikey": server.anon_key, "Authorization": f"Bearer {trio['alice_token']}"}
        wrong_profile = await http.get("/rest/v1/messages", headers={**headers, "Accept-Profile": "auth"})
        assert wrong_profile.status_code == 406 and wrong_profile.json()["code"] == "PGRST106"
        ranged = await http.get("/rest/v1/profiles?select=id", headers={**headers, "Range": "0-0", "Prefer": "count=exact"})
        assert ranged.status_code in (200, 206) and ranged.headers["content-range"].startswith("0-0/")
        csv = await http.get("/rest/v1/profiles?select=id&limit=1", headers={**headers, "Accept": "text/csv"})
        assert csv.status_code == 200 and csv.text.startswith("id\n")
        anon = await http.get("/rest/v1/messages", headers={"apikey": server.anon_key})
        assert anon.status_code == 401 and anon.json()["code"] == "42501"


async def test_the_description_lists_tables_and_rpcs_for_the_callers_role(server, trio):
    async with httpx.AsyncClient(base_url=server.url) as http:
        signed_in = await http.get("/rest/v1/", headers={"apikey": server.anon_key, "Authorization": f"Bearer {trio['alice_token']}"})
        assert signed_in.status_code == 200
        document = signed_in.json()
        assert document["swagger"] == "2.0"
        assert set(document["paths"]["/messages"]) == {"get", "post", "patch"}
        assert "/rpc/send_message_v1" in document["paths"]
        assert document["definitions"]["messages"]["properties"]["seq"] == {"type": "integer", "format": "bigint"}
        anonymous = (await http.get("/rest/v1/", headers={"apikey": server.anon_key})).json()
        assert "/messages" not in anonymous["paths"]
