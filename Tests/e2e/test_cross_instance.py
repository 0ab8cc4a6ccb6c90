"""Two server instances on one database with the PostgreSQL message bus: realtime fans out
across instances, survives the death of one, and a reconnecting client catches up by seq."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

from conftest import _binary, _environment, _free_port, _stop, _wait_ready
from e2e_support import close_client, new_client, rpc, sign_in, within
from test_realtime import collector, subscribed, wait_for

ALICE, BOB = "+15555550105", "+15555550106"


def database_url(server) -> str:
    """The session server's database: E2E_DATABASE_URL or its embedded cluster."""
    configured = os.environ.get("E2E_DATABASE_URL")
    if configured:
        return configured
    pid_file = Path(server.data_dir) / "postgres" / "postmaster.pid"
    port = pid_file.read_text().splitlines()[3].strip()
    password = (Path(server.data_dir) / "postgres.password").read_text().strip()
    return f"postgres://postgres:{password}@127.0.0.1:{port}/ecomansoni"


def start_instance(server, log_path: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = _environment()
    env["DATABASE_URL"] = database_url(server)
    env["MESSAGE_BUS"] = "postgres"
    log = open(log_path, "wb")
    process = subprocess.Popen(
        [str(_binary()), "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    _wait_ready(url, process, log_path)
    return process, url


@pytest.fixture
def instances(server):
    started = []
    for name in ("a", "b"):
        started.append(start_instance(server, Path(server.data_dir) / f"instance-{name}.log"))
    yield started
    for process, _ in started:
        if process.poll() is None and _stop(process) is None:
            process.kill()
            process.wait(timeout=10)


async def test_changes_reach_subscribers_on_both_instances_and_survive_one_dying(server, instances):
    (process_a, url_a), (_, url_b) = instances
    # The same database means the same keys: the session server's anon key works on both.
    alice_b = await new_client(url_b, server.anon_key)
    bob_a = await new_client(url_a, server.anon_key)
    bob_b = await new_client(url_b, server.anon_key)
    clients = [alice_b, bob_a, bob_b]
    try:
        alice_id = (await sign_in(alice_b, ALICE)).user.id
        bob_session = (await sign_in(bob_a, BOB)).session
        await within(bob_b.auth.set_session(bob_session.access_token, bob_session.refresh_token))
        conversation = await rpc(alice_b, "get_or_create_dm", {"target_user_id": (await bob_a.auth.get_user()).user.id})

        on_a, _, callback_a = collector()
        on_b, _, callback_b = collector()
        for client, callback in ((bob_a, callback_a), (bob_b, callback_b)):
            channel = client.channel(f"x-{uuid.uuid4()}")
            channel.on_postgres_changes("INSERT", callback, table="messages", schema="public", filter=f"conversation_id=eq.{conversation}")
            await subscribed(channel)

        async def send(body: str) -> int:
            result = await rpc(alice_b, "send_message_v1", {"conversation_id": conversation, "client_msg_id": str(uuid.uuid4()), "body": body})
            return result["seq"]

        first = await send("to both instances")
        await wait_for(on_a, 1)
        await wait_for(on_b, 1)
        assert on_a[0]["data"]["record"]["seq"] == first == on_b[0]["data"]["record"]["seq"]

        # Instance A dies without warning while messages keep flowing through B.
        sent = [first]
        for index in range(3):
            sent.append(await send(f"during {index}"))
        process_a.send_signal(signal.SIGKILL)
        process_a.wait(timeout=10)
        for index in range(3):
            sent.append(await send(f"after {index}"))
        await wait_for(on_b, len(sent), timeout=10)
        assert [item["data"]["record"]["seq"] for item in on_b] == sent

        # The client that was on A reconnects to B and catches up from its last seen seq.
        seen = sorted({item["data"]["record"]["seq"] for item in on_a})
        page = await rpc(bob_b, "get_messages", {"conversation_id": conversation, "after_seq": seen[-1], "limit": 200})
        caught_up = [message["seq"] for message in page["items"]]
        assert not set(caught_up) & set(seen), "catch-up repeated a message the client already had"
        assert seen + caught_up == list(range(seen[0], sent[-1] + 1)), "gap between realtime and catch-up"
        assert alice_id
    finally:
        for client in clients:
            try:
                await client.remove_all_channels()
            except Exception:
                pass
            await close_client(client)


async def test_a_message_too_large_to_carry_on_the_bus_still_arrives_whole_on_the_other_instance(server, instances):
    """A sent message's row travels in the bus envelope; one too long for a NOTIFY payload
    (3 900 Cyrillic letters are ~7.8 KB of UTF-8) travels by key and is read by the receiving
    instance. Either way the subscriber on the other instance gets the whole record, and an
    edit arrives with the new body."""
    (_, url_a), (_, url_b) = instances
    alice_a = await new_client(url_a, server.anon_key)
    bob_b = await new_client(url_b, server.anon_key)
    clients = [alice_a, bob_b]
    try:
        await sign_in(alice_a, ALICE)
        await sign_in(bob_b, BOB)
        conversation = await rpc(alice_a, "get_or_create_dm", {"target_user_id": (await bob_b.auth.get_user()).user.id})
        inserts, _, on_insert = collector()
        updates, _, on_update = collector()
        channel = bob_b.channel(f"x-{uuid.uuid4()}")
        channel.on_postgres_changes("INSERT", on_insert, table="messages", schema="public", filter=f"conversation_id=eq.{conversation}")
        channel.on_postgres_changes("UPDATE", on_update, table="messages", schema="public", filter=f"conversation_id=eq.{conversation}")
        await subscribed(channel)

        short, long = "короткое", "я" * 3900
        for body in (short, long):
            await rpc(alice_a, "send_message_v1", {"conversation_id": conversation, "client_msg_id": str(uuid.uuid4()), "body": body})
        await wait_for(inserts, 2)
        assert [item["data"]["record"]["body"] for item in inserts] == [short, long]
        record = inserts[1]["data"]["record"]
        assert record["conversation_id"] == conversation and record["seq"] == inserts[0]["data"]["record"]["seq"] + 1
        assert record["client_msg_id"] is None, "another member must not see the sender's idempotency key"

        edited = await rpc(alice_a, "edit_message", {"message_id": record["id"], "body": "исправлено"})
        await wait_for(updates, 1)
        assert updates[0]["data"]["record"]["body"] == "исправлено" == edited["body"]
        assert updates[0]["data"]["record"]["edited_at"] is not None
    finally:
        for client in clients:
            try:
                await client.remove_all_channels()
            except Exception:
                pass
            await close_client(client)
