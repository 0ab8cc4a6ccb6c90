"""Fixtures of the SFU suite: two Janus nodes and a server placing rooms on them.

The suite needs Debian's janus and a network namespace whose veth carries 127.0.0.1
(`scripts/sfu-netns`, which `scripts/test` runs it in). Elsewhere it is skipped
(`requires_media_namespace`), unless `SFU_SUITE_REQUIRED=1` (set by `scripts/test`) makes
that a failure. A test module takes the fixtures with `from sfu_fixtures import *`.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

import subprocess

from calls_support import CallsClient, User, database_url
from conftest import launched_server
from e2e_support import close_client, new_client, sign_in
from janus_nodes import in_media_namespace, janus_binary, make_nodes


def _problem() -> str | None:
    if not janus_binary():
        return "janus is not installed"
    if not in_media_namespace():
        return "not inside the SFU namespace (run under scripts/sfu-netns)"
    return None


_PROBLEM = _problem()
if _PROBLEM and os.environ.get("SFU_SUITE_REQUIRED") == "1":
    raise RuntimeError(f"the SFU suite cannot run: {_PROBLEM}")
requires_media_namespace = pytest.mark.skipif(_PROBLEM is not None, reason=_PROBLEM or "")

__all__ = ["requires_media_namespace", "janus_nodes", "sfu_server", "sfu_users", "devices", "sfu_environment", "sql", "room_secret"]


@pytest.fixture(scope="session")
def janus_nodes():
    root = Path(tempfile.mkdtemp(prefix="ecom-janus-"))
    nodes = make_nodes(root, 2)
    try:
        for node in nodes:
            node.start()
        yield nodes
    finally:
        for node in nodes:
            node.stop()


def sfu_environment(nodes) -> dict[str, str]:
    return {
        "SFU_NODES": ",".join(f"{n.node_id}={n.url}" for n in nodes),
        "SFU_API_SECRET": nodes[0].api_secret,
        "SFU_ADMIN_KEY": nodes[0].admin_key,
        "SFU_ROOM_KEY": secrets.token_urlsafe(32),
        "CALLS_RESUME_GRACE_SECONDS": "3",
        # Join tokens live a minute, so the browser test sees the web app refresh its token.
        "CALLS_JOIN_TOKEN_TTL_SECONDS": "60",
        # Three live publishers a room, so the suite reaches the limit with four devices.
        "SFU_MAX_PUBLISHERS": "3",
        # The sweep of stray Janus rooms every 2 s, not 60, so a test sees it.
        "SFU_SWEEP_SECONDS": "2",
    }


@pytest.fixture(scope="session")
def sfu_server(janus_nodes):
    environment = sfu_environment(janus_nodes)
    with launched_server("sfu server", environment) as server:
        # The suite derives room secrets itself to act on Janus directly (spec §4.1).
        server.sfu_room_key = environment["SFU_ROOM_KEY"]
        yield server


# The calls protocol suite's test numbers: this server has a database of its own.
PHONES = {"ann": "+15555550120", "ben": "+15555550121", "cat": "+15555550122", "dan": "+15555550123"}


@pytest.fixture(scope="session")
async def sfu_users(sfu_server):
    people = {name: User(name, phone) for name, phone in PHONES.items()}
    try:
        for user in people.values():
            user.client = await new_client(sfu_server.url, sfu_server.anon_key)
            session = (await sign_in(user.client, user.phone)).session
            user.id, user.token = session.user.id, session.access_token
        yield SimpleNamespace(**people)
    finally:
        for user in people.values():
            if user.client is not None:
                await close_client(user.client)


async def keep_alive(client: CallsClient) -> None:
    """A frame every half heartbeat, as the app sends one when the server's PING finds it
    silent: a device that only listens (a test's long wait) is not closed as idle (4000)."""
    interval = client.welcome["payload"]["heartbeatSec"] / 2
    while not client.closed.is_set():
        await asyncio.sleep(interval)
        try:
            await client.send("PING", {})
        except Exception:  # the socket is gone (a test cut it): nothing more to keep
            return


@pytest.fixture
async def devices(sfu_server):
    """`await devices(user)` -> a logged-in CallsClient that keeps itself alive, closed when
    the test ends."""
    opened: list[CallsClient] = []
    alive: list[asyncio.Task] = []

    async def open_device(user: User) -> CallsClient:
        client = await CallsClient.connect(sfu_server.url, user.name)
        opened.append(client)
        await client.login(user)
        alive.append(asyncio.create_task(keep_alive(client)))
        return client

    yield open_device
    for task in alive:
        task.cancel()
    for client in opened:
        await client.close()


def room_secret(server, room_id: str, epoch: int) -> str:
    """The Janus room secret the server derives: b64url(HMAC-SHA256(key, "room|<roomId>|<epoch>"))."""
    import base64
    import hashlib
    import hmac
    mac = hmac.new(server.sfu_room_key.encode(), f"room|{room_id}|{epoch}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def sql(server, statement: str) -> list[list[str]]:
    """Rows of a query on the server's database (psql), each a list of text fields."""
    result = subprocess.run(["psql", database_url(server), "-At", "-F", "\t", "-c", statement],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, f"psql failed: {result.stderr}"
    return [line.split("\t") for line in result.stdout.splitlines() if line]
