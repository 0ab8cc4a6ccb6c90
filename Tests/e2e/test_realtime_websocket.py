"""The realtime socket's WebSocket layer (served by NIO channel handlers, docs/realtime.md §11),
probed with plain `websockets` and raw sockets: fragments are joined, pings answered, the
close handshake echoes the client's code, oversized messages are closed with 1009, a burst
is answered in order while the server holds reads back, upgrades it refuses get 400, and a
server shutting down closes its sockets with 1000 before it exits.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
from pathlib import Path

import pytest
import websockets

from conftest import STOP_TIMEOUT, _binary, _environment, _free_port, _wait_ready
from e2e_support import within
from test_cross_instance import database_url

LIMIT = 256 * 1024  # RealtimeLimits.maximumFrameBytes


def socket_url(base: str, key: str) -> str:
    return f"{base.replace('http://', 'ws://')}/realtime/v1/websocket?apikey={key}&vsn=1.0.0"


def heartbeat(ref: str) -> str:
    return json.dumps({"topic": "phoenix", "event": "heartbeat", "payload": {}, "ref": ref, "join_ref": None})


async def reply_to(ws, ref: str) -> dict:
    async def loop():
        while True:
            item = json.loads(await ws.recv())
            if item.get("ref") == ref:
                return item

    return await within(loop(), 5)


async def test_a_message_in_fragments_is_joined_and_answered(server):
    async with websockets.connect(socket_url(server.url, server.anon_key)) as ws:
        text = heartbeat("frag")
        await ws.send(iter([text[:10], text[10:20], text[20:]]))
        assert (await reply_to(ws, "frag"))["payload"]["status"] == "ok"


async def test_a_ping_is_answered_with_its_payload(server):
    async with websockets.connect(socket_url(server.url, server.anon_key), ping_interval=None) as ws:
        latency = await within(await ws.ping(b"are you there"), 5)
        assert latency >= 0
        await ws.send(heartbeat("after"))
        assert (await reply_to(ws, "after"))["payload"]["status"] == "ok"


@pytest.mark.parametrize("fragmented", [False, True])
async def test_a_message_over_the_limit_closes_the_socket_with_1009(server, fragmented):
    async with websockets.connect(socket_url(server.url, server.anon_key), max_size=None) as ws:
        big = "x" * (LIMIT + 1)
        await ws.send(iter([big[: LIMIT // 2], big[LIMIT // 2:]]) if fragmented else big)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await within(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009, closed.value


@pytest.mark.parametrize("fragments", [["", "x"], ["x"] * 1025], ids=["empty-fragment-before-the-last", "1025-fragments"])
async def test_a_broken_fragment_sequence_closes_the_socket_with_1002(server, fragments):
    async with websockets.connect(socket_url(server.url, server.anon_key)) as ws:
        await ws.send(iter(fragments))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await within(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1002, closed.value


async def test_1024_fragments_make_one_message(server):
    async with websockets.connect(socket_url(server.url, server.anon_key)) as ws:
        text = heartbeat("many")
        pieces = [text[:1]] + [" "] * 1022 + [text[1:]]
        await ws.send(iter(pieces))
        assert (await reply_to(ws, "many"))["payload"]["status"] == "ok"


async def test_a_message_at_the_limit_is_read(server):
    async with websockets.connect(socket_url(server.url, server.anon_key), max_size=None) as ws:
        text = heartbeat("big")
        padded = text[:-1] + ", " + json.dumps("pad") + ": " + json.dumps("y" * (LIMIT - len(text) - 20)) + "}"
        assert len(padded.encode()) <= LIMIT
        await ws.send(padded)
        assert (await reply_to(ws, "big"))["payload"]["status"] == "ok"


async def test_the_client_close_code_is_echoed(server):
    ws = await websockets.connect(socket_url(server.url, server.anon_key))
    await ws.close(code=4000, reason="bye")
    assert ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == 4000, ws.protocol.close_rcvd


async def test_a_burst_is_answered_in_order_while_reads_wait(server):
    async with websockets.connect(socket_url(server.url, server.anon_key)) as ws:
        refs = [f"b{index}" for index in range(150)]  # within the burst the rate limit allows (2 × 100/s)
        for ref in refs:
            await ws.send(heartbeat(ref))
        answered = []
        while len(answered) < len(refs):
            item = json.loads(await within(ws.recv(), 10))
            if item.get("topic") == "phoenix":
                assert item["payload"]["status"] == "ok", item
                answered.append(item["ref"])
        assert answered == refs


def raw_upgrade(url: str, target: str, headers: str) -> tuple[bytes, bytes]:
    """Sends an upgrade request; returns the status line and the body (read to the close)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n{headers}\r\n".encode())
        received = b""
        while chunk := sock.recv(4096):
            received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        return head.split(b"\r\n")[0], body


KEY = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
HANDSHAKE = "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" + KEY


@pytest.mark.parametrize("query,headers,rule", [
    ("apikey=not-a-key&vsn=1.0.0", HANDSHAKE, "apikey: "),
    ("vsn=1.0.0", HANDSHAKE, "apikey: "),
    ("apikey={key}&vsn=9.9.9", HANDSHAKE, "vsn: "),
    ("apikey={key}&vsn=1.0.0", "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n", "Sec-WebSocket-Key: "),
    ("apikey={key}&vsn=1.0.0", "Connection: Upgrade\r\nSec-WebSocket-Version: 8\r\n" + KEY, "Sec-WebSocket-Version: "),
    ("apikey={key}&vsn=1.0.0", "Connection: keep-alive\r\nSec-WebSocket-Version: 13\r\n" + KEY, "Connection: "),
])
async def test_an_upgrade_the_server_refuses_gets_400_naming_the_rule(server, query, headers, rule):
    target = "/realtime/v1/websocket?" + query.format(key=server.anon_key)
    status, body = await asyncio.to_thread(raw_upgrade, server.url, target, headers)
    assert status.startswith(b"HTTP/1.1 400"), status
    error = json.loads(body)
    assert error["code"] == "bad_websocket_upgrade" and error["error"].startswith(rule), error


async def test_a_valid_upgrade_gets_101_with_the_accept_key(server):
    host, port = server.url.removeprefix("http://").split(":")

    def upgrade() -> bytes:
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall((f"GET /realtime/v1/websocket?apikey={server.anon_key}&vsn=1.0.0 HTTP/1.1\r\nHost: {host}\r\n"
                          "Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n").encode())
            received = b""
            while b"\r\n\r\n" not in received:
                received += sock.recv(4096)
            return received.split(b"\r\n\r\n")[0]

    head = (await asyncio.to_thread(upgrade)).decode().lower()
    assert head.startswith("http/1.1 101"), head
    # RFC 6455 §1.3's example key and answer.
    assert "sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=" in head, head


async def test_a_server_shutting_down_closes_its_sockets_with_1000_and_exits(server):
    port = _free_port()
    env = _environment()
    env["DATABASE_URL"] = database_url(server)
    env["MESSAGE_BUS"] = "postgres"
    url = f"http://127.0.0.1:{port}"
    log_path = Path(server.data_dir) / "realtime-shutdown.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(_binary()), "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        await asyncio.to_thread(_wait_ready, url, process, log_path)
        sockets = [await websockets.connect(socket_url(url, server.anon_key)) for _ in range(3)]
        for index, ws in enumerate(sockets):
            await ws.send(heartbeat(f"s{index}"))
            assert (await reply_to(ws, f"s{index}"))["payload"]["status"] == "ok"
        process.send_signal(signal.SIGTERM)
        for ws in sockets:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await within(ws.recv(), 30)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000, closed.value
        code = await asyncio.to_thread(process.wait, STOP_TIMEOUT)
        assert code == 0, log_path.read_text()[-2000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
