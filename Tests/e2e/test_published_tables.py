"""Realtime for the tables of the `supabase_realtime` publication (docs/realtime.md,
"Published tables"), with the official supabase-py client: an operator creates a table with
its policies and publishes it as on Supabase, and every committed write to it (through the
table API or psql) reaches the subscribers whose row-level security lets them read the row,
with `old_record` per the table's replica identity, and none is lost while the server restarts."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from pathlib import Path

import pytest

from conftest import _binary, _environment, _free_port, _stop, _wait_ready
from e2e_support import close_client, new_client, rpc, sign_in, within
from reels_support import database_url, sql
from test_realtime import collector, subscribed, wait_for

ALICE, BOB = "+15555550391", "+15555550392"


def publish_notes(server) -> str:
    """A new table of notes, each readable and writable by its owner only, published; its name.
    `secret` is not granted to anyone: no change may show it."""
    table = f"notes_{uuid.uuid4().hex[:8]}"
    sql(server, f"""
        CREATE TABLE public.{table} (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            owner uuid NOT NULL DEFAULT auth.uid(),
            body text NOT NULL,
            secret text
        );
        ALTER TABLE public.{table} ENABLE ROW LEVEL SECURITY;
        CREATE POLICY own ON public.{table} FOR ALL TO authenticated USING (owner = auth.uid()) WITH CHECK (owner = auth.uid());
        GRANT SELECT (id, owner, body), INSERT (body), UPDATE (body), DELETE ON public.{table} TO authenticated;
        ALTER PUBLICATION supabase_realtime ADD TABLE public.{table};
    """)
    return table


async def signed_in(url: str, anon_key: str, phone: str):
    client = await new_client(url, anon_key)
    session = await sign_in(client, phone)
    return client, session.user.id, session.session


@pytest.fixture
async def pair(server):
    alice, alice_id, _ = await signed_in(server.url, server.anon_key, ALICE)
    bob, bob_id, _ = await signed_in(server.url, server.anon_key, BOB)
    yield alice, alice_id, bob, bob_id
    for client in (alice, bob):
        await client.remove_all_channels()
        await close_client(client)


async def listen(client, table: str):
    items, _, callback = collector()
    channel = client.channel(f"{table}-{uuid.uuid4()}")
    channel.on_postgres_changes("*", callback, table=table, schema="public")
    await subscribed(channel)
    return items


async def test_published_writes_reach_only_subscribers_whose_policies_let_them_read_the_row(server, pair):
    alice, alice_id, bob, bob_id = pair
    table = publish_notes(server)
    # Binding to a table published a moment ago works at once (the join re-reads the publication).
    to_alice, to_bob = await listen(alice, table), await listen(bob, table)

    inserted = (await within(alice.table(table).insert({"body": "hello"}).execute())).data[0]
    await wait_for(to_alice, 1)
    change = to_alice[0]["data"]
    assert change["type"] == "INSERT" and change["table"] == table and change["schema"] == "public"
    assert change["record"] == {"id": inserted["id"], "owner": alice_id, "body": "hello"}, "secret is not granted: never shown"
    assert [column["name"] for column in change["columns"]] == ["id", "owner", "body"]
    assert {"name": "id", "type": "int8"} in change["columns"]

    # An operator's write reaches the owner; the default replica identity gives the key as old_record.
    sql(server, f"UPDATE public.{table} SET body = 'edited', secret = 's3cret' WHERE id = {inserted['id']}")
    await wait_for(to_alice, 2)
    assert to_alice[1]["data"]["type"] == "UPDATE"
    assert to_alice[1]["data"]["record"]["body"] == "edited"
    assert to_alice[1]["data"]["old_record"] == {"id": inserted["id"]}

    # REPLICA IDENTITY FULL: the whole previous row, still without the column nobody may read.
    sql(server, f"ALTER TABLE public.{table} REPLICA IDENTITY FULL; UPDATE public.{table} SET body = 'again' WHERE id = {inserted['id']}")
    await wait_for(to_alice, 3)
    assert to_alice[2]["data"]["old_record"] == {"id": inserted["id"], "owner": alice_id, "body": "edited"}

    # Bob's row reaches Bob only; a rolled-back write reaches nobody.
    sql(server, f"INSERT INTO public.{table} (owner, body) VALUES ('{bob_id}', 'bob''s')")
    sql(server, f"BEGIN; INSERT INTO public.{table} (owner, body) VALUES ('{alice_id}', 'never'); ROLLBACK;")
    await wait_for(to_bob, 1)
    assert to_bob[0]["data"]["record"]["body"] == "bob's"

    # A delete cannot be checked against a row that is gone: it carries the key only.
    await within(alice.table(table).delete().eq("id", inserted["id"]).execute())
    await wait_for(to_alice, 4)
    assert to_alice[3]["data"]["type"] == "DELETE" and to_alice[3]["data"]["old_record"] == {"id": inserted["id"]}
    assert "record" not in to_alice[3]["data"]
    await asyncio.sleep(1.0)
    assert [item["data"]["type"] for item in to_alice] == ["INSERT", "UPDATE", "UPDATE", "DELETE"]
    assert [item["data"].get("record", {}).get("body") for item in to_bob if item["data"]["type"] != "DELETE"] == ["bob's"]


async def test_a_chat_row_an_operator_writes_and_removes_at_once_still_arrives_with_its_record(server, pair):
    """The chat's writes made outside the server are logged with their rows (migration 0047):
    a message and a reaction deleted by the next statement, before any instance reads the log,
    still arrive as INSERT with their records, then as DELETE."""
    alice, alice_id, bob, bob_id = pair
    conversation = await rpc(alice, "get_or_create_dm", {"target_user_id": bob_id})
    messages, _, on_message = collector()
    reactions, _, on_reaction = collector()
    channel = bob.channel(f"operator-{uuid.uuid4()}")
    channel.on_postgres_changes("*", on_message, table="messages", schema="public", filter=f"conversation_id=eq.{conversation}")
    channel.on_postgres_changes("*", on_reaction, table="reactions", schema="public", filter=f"conversation_id=eq.{conversation}")
    await subscribed(channel)

    message = str(uuid.uuid4())
    statements = [
        f"INSERT INTO public.messages (id, conversation_id, sender_id, body) VALUES ('{message}', '{conversation}', '{alice_id}', 'from psql')",
        f"INSERT INTO public.reactions (message_id, user_id, emoji) VALUES ('{message}', '{bob_id}', '🔥')",
        f"DELETE FROM public.reactions WHERE message_id = '{message}'",
        f"DELETE FROM public.messages WHERE id = '{message}'",
    ]
    # One psql, each -c its own transaction: all four commit within milliseconds.
    result = subprocess.run(["psql", database_url(server), "-qAt", "-v", "ON_ERROR_STOP=1",
                             *[argument for statement in statements for argument in ("-c", statement)]],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr

    await wait_for(messages, 2)
    await wait_for(reactions, 2)
    await asyncio.sleep(0.5)
    assert [item["data"]["type"] for item in messages] == ["INSERT", "DELETE"]
    record = messages[0]["data"]["record"]
    assert record["id"] == message and record["body"] == "from psql" and record["sender_id"] == alice_id and record["seq"] >= 1
    assert messages[1]["data"]["old_record"]["id"] == message
    assert [item["data"]["type"] for item in reactions] == ["INSERT", "DELETE"]
    reaction = reactions[0]["data"]["record"]
    assert reaction["emoji"] == "🔥" and reaction["user_id"] == bob_id and reaction["conversation_id"] == conversation
    assert reactions[1]["data"]["old_record"]["message_id"] == message


async def test_a_filter_narrows_a_published_table_and_an_unknown_table_is_refused(server, pair):
    alice, alice_id, _, _ = pair
    table = publish_notes(server)
    items, _, callback = collector()
    channel = alice.channel(f"filtered-{uuid.uuid4()}")
    channel.on_postgres_changes("INSERT", callback, table=table, schema="public", filter="body=like.keep*")
    await subscribed(channel)
    await within(alice.table(table).insert([{"body": "drop me"}, {"body": "keep me"}]).execute())
    await wait_for(items, 1)
    await asyncio.sleep(0.5)
    assert [item["data"]["record"]["body"] for item in items] == ["keep me"]

    # A column the subscriber's role may not read cannot be filtered on.
    hidden = alice.channel(f"hidden-{uuid.uuid4()}")
    hidden.on_postgres_changes("INSERT", lambda _: None, table=table, schema="public", filter="secret=eq.x")
    with pytest.raises(RuntimeError, match="secret"):
        await subscribed(hidden)

    refused = alice.channel(f"unknown-{uuid.uuid4()}")
    refused.on_postgres_changes("*", lambda _: None, table=f"never_published_{uuid.uuid4().hex[:6]}", schema="public")
    with pytest.raises(RuntimeError, match="table must be one of"):
        await subscribed(refused)


async def test_a_table_taken_out_of_the_publication_stops_being_captured(server):
    table = publish_notes(server)
    trigger = f"SELECT count(*) FROM pg_trigger WHERE tgname = 'realtime_capture' AND tgrelid = 'public.{table}'::regclass"

    async def captured(expected: str):
        for _ in range(100):
            if sql(server, trigger) == expected:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"capture trigger count on {table} never became {expected}")

    await captured("1")
    sql(server, f"ALTER PUBLICATION supabase_realtime DROP TABLE public.{table}")
    await captured("0")


def start_instance(server, log_path: Path, name: str) -> tuple[subprocess.Popen, str]:
    env = _environment()
    env.update({"DATABASE_URL": database_url(server), "MESSAGE_BUS": "postgres", "REALTIME_INSTANCE_NAME": name,
                "REALTIME_RESUME_GRACE_MS": "10000"})
    port = _free_port()
    process = subprocess.Popen(
        [str(_binary()), "serve", "--port", str(port)], env=env, stdout=open(log_path, "ab"), stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    _wait_ready(url, process, log_path)
    return process, url


async def test_changes_committed_while_an_instance_is_down_reach_its_subscribers_once_when_it_is_back(server):
    table = publish_notes(server)
    name = f"restart-{uuid.uuid4().hex[:8]}"
    log_path = Path(server.data_dir) / f"{name}.log"
    process, url = start_instance(server, log_path, name)
    clients = []
    try:
        alice, alice_id, session = await signed_in(url, server.anon_key, "+15555550393")
        bob, bob_id, _ = await signed_in(url, server.anon_key, "+15555550394")
        clients += [alice, bob]
        conversation = await rpc(alice, "get_or_create_dm", {"target_user_id": bob_id})
        before = await listen(alice, table)
        await within(alice.table(table).insert({"body": "before"}).execute())
        await wait_for(before, 1)

        await alice.remove_all_channels()
        await close_client(alice)
        clients.remove(alice)
        assert _stop(process) is not None, "the instance did not stop in time"
        sql(server, f"INSERT INTO public.{table} (owner, body) VALUES ('{alice_id}', 'while down')")
        # The chat's writes made outside the server go through the same log.
        sql(server, f"INSERT INTO public.messages (conversation_id, sender_id, body) VALUES ('{conversation}', '{bob_id}', 'sent while down')")

        process, url = start_instance(server, log_path, name)
        again = await new_client(url, server.anon_key)
        clients.append(again)
        await within(again.auth.set_session(session.access_token, session.refresh_token))
        after = await listen(again, table)
        messages, _, callback = collector()
        channel = again.channel(f"dm-{uuid.uuid4()}")
        channel.on_postgres_changes("INSERT", callback, table="messages", schema="public", filter=f"conversation_id=eq.{conversation}")
        await subscribed(channel)
        await wait_for(after, 1, timeout=20)
        await wait_for(messages, 1, timeout=5)
        await asyncio.sleep(1.0)
        assert [item["data"]["record"]["body"] for item in after] == ["while down"], "nothing lost, nothing sent twice"
        assert [item["data"]["record"]["body"] for item in messages] == ["sent while down"]
    finally:
        for client in clients:
            await close_client(client)
        if process.poll() is None and _stop(process) is None:
            process.kill()
            process.wait(timeout=10)
