"""Helpers for the calls signalling (calls-ws) protocol suite.

A `CallsClient` is one device's WebSocket: it numbers its own frames (`seq`), records every
frame the server sends in arrival order and lets a test wait for a frame, for the ACK of a
request, or for the close code. Nothing here knows the server's internals; the only
out-of-band step is `TokenMinter`, which reads the deployment's token signing key from the
database to mint access tokens with chosen expiry/claims (expired and short-lived tokens
cannot be had from the auth API within a test's time budget).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import jwt
import websockets
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from websockets.exceptions import ConnectionClosed

from conftest import EXTRA_SERVER_LOGS, _binary, _environment, _free_port, _stop, _wait_ready
from e2e_support import jwt_claims

# Wait for one expected frame at most this long.
FRAME_TIMEOUT = 5.0

Frame = dict[str, Any]
Predicate = Callable[[Frame], bool]


def now_ms() -> int:
    return int(time.time() * 1000)


def new_msg_id() -> str:
    return str(uuid.uuid4())


def new_device_id(label: str = "dev") -> str:
    """A device id no other test (or earlier run on a kept database) has bound to a user."""
    return f"e2e-{label}-{uuid.uuid4()}"


def calls_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://").replace("https://", "wss://") + "/calls/v1/ws"


def turn_credential(secret: str, username: str) -> str:
    """coturn REST credential: base64(HMAC-SHA1(secret, username))."""
    return base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()


def describe(frames: Iterable[Frame]) -> str:
    parts = []
    for frame in frames:
        kind = frame.get("type")
        if kind == "ACK":
            ack = frame.get("ack") or {}
            code = (ack.get("error") or {}).get("code")
            parts.append(f"ACK({str(ack.get('ackOfMsgId'))[:8]},{'ok' if ack.get('ok') else code})")
        else:
            parts.append(f"{kind}#{frame.get('seq')}")
    return " ".join(parts) or "(nothing)"


# --------------------------------------------------------------------------- replies


@dataclass
class Reply:
    """The ACK of one request and the frames that arrived between the request and its ACK."""

    msg_id: str
    ack_frame: Frame
    before: list[Frame]
    client: "CallsClient" = field(repr=False)

    @property
    def ack(self) -> dict[str, Any]:
        return self.ack_frame.get("ack") or {}

    @property
    def ok(self) -> bool:
        return self.ack.get("ok") is True

    @property
    def error(self) -> dict[str, Any]:
        return self.ack.get("error") or {}

    @property
    def code(self) -> str | None:
        return self.error.get("code")

    @property
    def payload(self) -> dict[str, Any]:
        return self.ack_frame.get("payload") or {}

    def response(self, kind: str) -> Frame:
        """The response frame of type `kind` that preceded the ACK (claimed, so `expect` skips it)."""
        for frame in self.before:
            if frame.get("type") == kind:
                self.client.claim(frame)
                return frame
        raise AssertionError(f"{self.client.name}: no {kind} before the ACK of {self.msg_id}; got {describe(self.before)}; "
                             f"ACK: {self.ack}")

    def expect_ok(self) -> "Reply":
        assert self.ok, f"{self.client.name}: request {self.msg_id} failed: {self.ack}"
        return self

    def expect_error(self, *codes: str) -> dict[str, Any]:
        assert not self.ok, f"{self.client.name}: request {self.msg_id} succeeded, expected {codes}: {self.ack_frame}"
        assert self.code in codes, f"{self.client.name}: expected error {codes}, got {self.error}"
        assert isinstance(self.error.get("retryable"), bool), f"error without boolean retryable: {self.error}"
        assert isinstance(self.error.get("message"), str), f"error without message: {self.error}"
        return self.error


# --------------------------------------------------------------------------- client


class CallsClient:
    """One device's calls-ws connection."""

    def __init__(self, ws, name: str):
        self.ws = ws
        self.name = name
        self.seq = 0
        self.frames: list[Frame] = []
        self._claimed: set[int] = set()
        self._cond = asyncio.Condition()
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.closed = asyncio.Event()
        self.device_id: str | None = None
        self.welcome: Frame | None = None
        self.user_id: str | None = None
        self.hello_msg_id: str | None = None
        self.sent: list[Frame] = []
        # When each of `frames` arrived (time.monotonic()).
        self.arrived: list[float] = []
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, base_url: str, name: str = "client", **kwargs) -> "CallsClient":
        ws = await asyncio.wait_for(websockets.connect(calls_url(base_url), open_timeout=FRAME_TIMEOUT,
                                                       max_size=2**21, **kwargs), FRAME_TIMEOUT)
        return cls(ws, name)

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                try:
                    frame = json.loads(message)
                except ValueError:
                    frame = {"type": "(unparseable)", "raw": message}
                if not isinstance(frame, dict):
                    frame = {"type": "(not an object)", "raw": frame}
                async with self._cond:
                    self.frames.append(frame)
                    self.arrived.append(time.monotonic())
                    self._cond.notify_all()
        except ConnectionClosed:
            pass
        except Exception:  # pragma: no cover - surfaced through close_code 1006
            pass
        finally:
            self.close_code = self.ws.close_code if self.ws.close_code is not None else 1006
            self.close_reason = self.ws.close_reason or ""
            self.closed.set()
            async with self._cond:
                self._cond.notify_all()

    # ---------------------------------------------------------------- sending

    def envelope(self, kind: Any, payload: Any = None, *, msg_id: Any = None, seq: Any = None, v: Any = 1,
                 ts: Any = None, **extra) -> Frame:
        if seq is None:
            self.seq += 1
            seq = self.seq
        elif isinstance(seq, int) and seq > self.seq:
            self.seq = seq
        frame = {"v": v, "type": kind, "msgId": msg_id or new_msg_id(), "ts": ts if ts is not None else now_ms(),
                 "seq": seq, "payload": payload if payload is not None else {}}
        frame.update(extra)
        return frame

    async def send_raw(self, text: str | bytes) -> None:
        await self.ws.send(text)

    async def send_frame(self, frame: Frame) -> str:
        await self.ws.send(json.dumps(frame))
        self.sent.append(frame)
        return frame.get("msgId")

    async def send(self, kind: str, payload: Any = None, **kwargs) -> str:
        """Sends a frame without waiting; returns its msgId."""
        return await self.send_frame(self.envelope(kind, payload, **kwargs))

    async def request(self, kind: str, payload: Any = None, *, timeout: float = FRAME_TIMEOUT, **kwargs) -> Reply:
        """Sends a frame and waits for its ACK."""
        start = len(self.frames)
        msg_id = await self.send(kind, payload, **kwargs)
        return await self.reply_to(msg_id, start=start, timeout=timeout)

    async def reply_to(self, msg_id: str, *, start: int = 0, timeout: float = FRAME_TIMEOUT) -> Reply:
        index = await self._wait(lambda: self._find(lambda f: is_ack_of(f, msg_id), start), timeout,
                                 f"the ACK of {msg_id}")
        self._claimed.add(index)
        before = [f for i, f in enumerate(self.frames[start:index], start) if i not in self._claimed]
        return Reply(msg_id, self.frames[index], before, self)

    # ---------------------------------------------------------------- session

    async def hello(self, device_id: str | None = None, *, resume: dict | None = None, timeout: float = FRAME_TIMEOUT,
                    **client_fields) -> Frame:
        """HELLO → the WELCOME frame (its ACK is left for tests that look at it)."""
        self.device_id = device_id or self.device_id or new_device_id(self.name)
        payload: dict[str, Any] = {"client": {"deviceId": self.device_id, "platform": "e2e", "appVersion": "1.0",
                                              **client_fields}}
        if resume is not None:
            payload["resume"] = resume
        start = len(self.frames)
        self.hello_msg_id = await self.send("HELLO", payload)
        self.welcome = await self.expect("WELCOME", timeout=timeout, start=start)
        return self.welcome

    async def auth(self, token: str, *, timeout: float = FRAME_TIMEOUT) -> Reply:
        return await self.request("AUTH", {"accessToken": token}, timeout=timeout)

    async def login(self, user: "User", device_id: str | None = None) -> Frame:
        """HELLO + AUTH as `user`; returns the AUTH_OK frame."""
        await self.hello(device_id)
        reply = await self.auth(user.token)
        reply.expect_ok()
        self.user_id = user.id
        return reply.response("AUTH_OK")

    @property
    def peer(self) -> dict[str, str]:
        """This device as a `to`/`from` object."""
        return {"userId": self.user_id, "deviceId": self.device_id}

    # ---------------------------------------------------------------- rooms

    async def create_room(self, allowed: Iterable[str] = (), mode: str = "p2p", **extra) -> Frame:
        reply = await self.request("ROOM_CREATE", {"allowedUserIds": list(allowed), "mode": mode, **extra})
        reply.expect_ok()
        return reply.response("ROOM_CREATED")["payload"]

    async def join_room(self, room: Frame) -> tuple[Frame, Frame]:
        """ROOM_JOIN → (ROOM_JOIN_OK payload, ROOM_SNAPSHOT payload)."""
        reply = await self.request("ROOM_JOIN", {"roomId": room["roomId"], "joinToken": room["joinToken"]})
        reply.expect_ok()
        return reply.response("ROOM_JOIN_OK")["payload"], reply.response("ROOM_SNAPSHOT")["payload"]

    # ---------------------------------------------------------------- receiving

    def claim(self, frame: Frame) -> None:
        for index, candidate in enumerate(self.frames):
            if candidate is frame:
                self._claimed.add(index)

    def _find(self, predicate: Predicate, start: int = 0) -> int | None:
        for index in range(start, len(self.frames)):
            if index not in self._claimed and predicate(self.frames[index]):
                return index
        return None

    async def _wait(self, check: Callable[[], Any], timeout: float, what: str) -> Any:
        async def loop():
            async with self._cond:
                while True:
                    value = check()
                    if value is not None:
                        return value
                    if self.closed.is_set():
                        raise AssertionError(f"{self.name}: connection closed ({self.close_code} {self.close_reason!r}) "
                                             f"while waiting for {what}; received {describe(self.frames)}")
                    await self._cond.wait()

        try:
            return await asyncio.wait_for(loop(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"{self.name}: no {what} within {timeout}s; received {describe(self.frames)}") from None

    async def next(self, predicate: Predicate, *, timeout: float = FRAME_TIMEOUT, what: str = "matching frame",
                   start: int = 0) -> Frame:
        """The first unclaimed frame matching `predicate` (claimed by this call)."""
        index = await self._wait(lambda: self._find(predicate, start), timeout, what)
        self._claimed.add(index)
        return self.frames[index]

    async def expect(self, kind: str, *, timeout: float = FRAME_TIMEOUT, start: int = 0, **payload_fields) -> Frame:
        """The next unclaimed frame of type `kind` whose payload has the given fields."""

        def matches(frame: Frame) -> bool:
            if frame.get("type") != kind:
                return False
            payload = frame.get("payload") or {}
            return all(payload.get(key) == value for key, value in payload_fields.items())

        return await self.next(matches, timeout=timeout, what=f"{kind} {payload_fields or ''}", start=start)

    async def quiet(self, predicate: Predicate, seconds: float = 0.7, what: str = "frame") -> None:
        """Asserts that no unclaimed frame matching `predicate` arrives within `seconds`."""
        await asyncio.sleep(seconds)
        index = self._find(predicate)
        assert index is None, f"{self.name}: unexpected {what}: {self.frames[index]}"

    async def expect_close(self, timeout: float = FRAME_TIMEOUT) -> tuple[int, str]:
        try:
            await asyncio.wait_for(self.closed.wait(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"{self.name}: still open after {timeout}s; received {describe(self.frames)}") from None
        return self.close_code, self.close_reason

    async def ping(self, timeout: float = FRAME_TIMEOUT) -> Reply:
        return await self.request("PING", {}, timeout=timeout)

    def server_frames(self) -> list[Frame]:
        """Every received frame except ACKs, in arrival order."""
        return [f for f in self.frames if f.get("type") != "ACK"]

    def last_server_seq(self) -> int:
        seqs = [f["seq"] for f in self.server_frames() if isinstance(f.get("seq"), int)]
        return max(seqs) if seqs else 0

    def acks_of(self, msg_id: str) -> list[Frame]:
        return [f for f in self.frames if is_ack_of(f, msg_id)]

    # ---------------------------------------------------------------- closing

    async def abort(self) -> None:
        """Drops the TCP connection without a close handshake (a network loss)."""
        self.ws.transport.abort()
        await asyncio.wait_for(self.closed.wait(), FRAME_TIMEOUT)

    async def close(self) -> None:
        if not self.closed.is_set():
            try:
                await asyncio.wait_for(self.ws.close(), 3)
            except Exception:
                self.ws.transport.abort()
        self._reader.cancel()
        try:
            await self._reader
        except (asyncio.CancelledError, Exception):
            pass


async def room_with(owner: CallsClient, *others: CallsClient, allowed=()) -> dict:
    """`owner` creates a p2p room allowing the users of `others` (+ `allowed`); everyone joins."""
    ids = sorted({o.user_id for o in others if o.user_id != owner.user_id} | set(allowed))
    room = await owner.create_room(ids)
    await owner.join_room(room)
    for other in others:
        await other.join_room(room)
        await owner.expect("PEER_JOINED", roomId=room["roomId"], deviceId=other.device_id)
    return room


def is_ack_of(frame: Frame, msg_id: str) -> bool:
    return frame.get("type") == "ACK" and (frame.get("ack") or {}).get("ackOfMsgId") == msg_id


def assert_strictly_increasing(frames: list[Frame], who: str = "") -> list[int]:
    seqs = [f.get("seq") for f in frames]
    assert all(isinstance(s, int) for s in seqs), f"{who}: server frame without integer seq: {describe(frames)}"
    assert all(a < b for a, b in zip(seqs, seqs[1:])), f"{who}: server seq not strictly increasing: {seqs}"
    return seqs


def peers_of(payload: Frame) -> set[tuple[str, str]]:
    return {(p["userId"], p["deviceId"]) for p in payload.get("peers") or []}


# --------------------------------------------------------------------------- users and tokens


@dataclass
class User:
    name: str
    phone: str
    client: Any = None
    id: str = ""
    token: str = ""


def database_url(server) -> str:
    """The session server's database: E2E_DATABASE_URL or its embedded cluster."""
    configured = os.environ.get("E2E_DATABASE_URL")
    if configured:
        return configured
    pid_file = Path(server.data_dir) / "postgres" / "postmaster.pid"
    port = pid_file.read_text().splitlines()[3].strip()
    password = (Path(server.data_dir) / "postgres.password").read_text().strip()
    return f"postgres://postgres:{password}@127.0.0.1:{port}/ecomansoni"


class TokenMinter:
    """Signs access tokens with the deployment's own key (read from auth.instance_secrets)."""

    def __init__(self, server):
        def secret(name: str) -> str:
            result = subprocess.run(["psql", database_url(server), "-At", "-c",
                                     f"SELECT value FROM auth.instance_secrets WHERE name = '{name}'"],
                                    capture_output=True, text=True, timeout=30)
            assert result.returncode == 0 and result.stdout.strip(), f"could not read {name}: {result.stderr}"
            return result.stdout.strip()

        self.key_pem = secret("es256_signing_key")
        self.kid = secret("es256_key_id")

    def mint(self, user: User, *, expires_in: int, key_pem: str | None = None, drop: Iterable[str] = (), **claims) -> str:
        body = dict(jwt_claims(user.token))
        now = int(time.time())
        body["iat"] = min(now, now + expires_in)
        body["exp"] = now + expires_in
        body.update(claims)
        for name in drop:
            body.pop(name, None)
        return jwt.encode(body, key_pem or self.key_pem, algorithm="ES256", headers={"kid": self.kid})

    def forged(self, user: User) -> str:
        """A well-formed token for `user` signed with a key the server has never seen."""
        other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
        return self.mint(user, expires_in=3600, key_pem=other)


# --------------------------------------------------------------------------- extra instances


@dataclass
class Instance:
    name: str
    url: str
    process: subprocess.Popen
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def start_instance(server, name: str, env: dict[str, str] | None = None, *, args: Iterable[str] = (),
                   without: Iterable[str] = ()) -> Instance:
    """Another server process on the session server's database (PostgreSQL message bus)."""
    port = _free_port()
    environment = _environment()
    environment["DATABASE_URL"] = database_url(server)
    environment["MESSAGE_BUS"] = "postgres"
    for variable in without:
        environment.pop(variable, None)
    environment.update(env or {})
    log_path = Path(server.data_dir) / f"calls-{name}.log"
    log = open(log_path, "wb")
    process = subprocess.Popen(
        [str(_binary()), "serve", "--port", str(port), *args], env=environment, stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True)
    log.close()
    url = f"http://127.0.0.1:{port}"
    instance = Instance(name, url, process, log_path)
    EXTRA_SERVER_LOGS[f"instance {name}"] = log_path
    try:
        _wait_ready(url, process, log_path)
    except Exception as error:
        stop_instance(instance)
        raise RuntimeError(f"instance {name} did not start: {error}\n{instance.log_tail()}") from error
    return instance


def stop_instance(instance: Instance) -> None:
    EXTRA_SERVER_LOGS.pop(f"instance {instance.name}", None)
    if instance.process.poll() is None and _stop(instance.process) is None:
        instance.process.kill()
        instance.process.wait(timeout=10)
