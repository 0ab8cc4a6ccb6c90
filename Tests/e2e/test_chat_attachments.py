"""Chat attachments through the official client (supabase-py: storage3, postgrest, realtime):
a photo uploaded to `attachments` and sent as an image message reaches the other member with
its metadata (history and postgres_changes), who downloads it (authenticated download, the
client's download and a signed URL); a non-member cannot; a member removed from a group
loses access; deleting the message deletes the object and its thumbnail; a voice message
carries duration and waveform (issue 13, items 4 and 5; contract B).
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import shutil
import struct
import subprocess
import tempfile
import uuid
import zlib
from typing import Any

import httpx
import pytest
from storage3.exceptions import StorageApiError

from e2e_support import close_client, expect_api_error, new_client, rpc, sign_in, within

ALICE, BOB, CAROL = "+15555550192", "+15555550193", "+15555550194"
BUCKET = "attachments"


def png(width: int, height: int) -> bytes:
    """A valid RGB PNG of noise (uploads of images are sniffed and re-encoded)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + os.urandom(width * 3) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


class User:
    def __init__(self, client, user_id: str, token: str):
        self.client, self.id, self.token = client, user_id, token

    @property
    def files(self):
        return self.client.storage.from_(BUCKET)


@pytest.fixture(scope="module")
async def trio(server):
    users: list[User] = []
    try:
        for phone in (ALICE, BOB, CAROL):
            client = await new_client(server.url, server.anon_key)
            session = await sign_in(client, phone)
            users.append(User(client, session.user.id, session.session.access_token))
        yield users
    finally:
        for user in users:
            await user.client.remove_all_channels()
            await close_client(user.client)


def headers(server, user: User) -> dict[str, str]:
    return {"apikey": server.anon_key, "Authorization": f"Bearer {user.token}"}


async def subscribed(channel, timeout: float = 10.0) -> None:
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


async def wait_for(items: list, count: int, timeout: float = 5.0) -> None:
    async def poll():
        while len(items) < count:
            await asyncio.sleep(0.05)

    await within(poll(), timeout)


async def upload_photo(user: User, name: str, width: int = 64, height: int = 48) -> str:
    path = f"{user.id}/{name}"
    uploaded = await within(user.files.upload(path, png(width, height), {"content-type": "image/png"}))
    assert uploaded.path == path
    return path


async def send(user: User, conversation: str, kind: str, attachment: Any, body: str | None = None) -> dict[str, Any]:
    args: dict[str, Any] = {"conversation_id": conversation, "client_msg_id": str(uuid.uuid4()), "kind": kind, "attachment": attachment}
    if body is not None:
        args["body"] = body
    return await rpc(user.client, "send_message_v1", args)


async def expect_storage_error(awaitable) -> StorageApiError:
    try:
        result = await within(awaitable)
    except StorageApiError as error:
        return error
    raise AssertionError(f"expected StorageApiError, the call returned {result!r}")


async def can_read(server, http: httpx.AsyncClient, user: User, path: str) -> bool:
    """Authenticated download, the client's download, info and signed URL agree: all or none."""
    response = await http.get(f"/storage/v1/object/authenticated/{BUCKET}/{path}", headers=headers(server, user))
    allowed = response.status_code == 200
    if not allowed:
        assert response.status_code in (400, 404), response.text
        assert (await expect_storage_error(user.files.download(path))).status in (400, 404, "400", "404")
        assert (await expect_storage_error(user.files.info(path))).status in (400, 404, "400", "404")
        assert (await expect_storage_error(user.files.create_signed_url(path, 60))).status in (400, 404, "400", "404")
        return False
    assert await within(user.files.download(path)) == response.content
    assert (await within(user.files.info(path)))["size"] == len(response.content)
    signed = await within(user.files.create_signed_url(path, 60))
    async with httpx.AsyncClient(timeout=20) as bare:
        fetched = await bare.get(signed["signedURL"])
    assert fetched.status_code == 200 and fetched.content == response.content
    return True


async def test_a_photo_reaches_the_other_member_with_its_metadata(server, http, trio):
    alice, bob, carol = trio
    dm = await rpc(alice.client, "get_or_create_dm", {"target_user_id": bob.id})
    path = await upload_photo(alice, "photo.png")
    stored = await within(alice.files.download(path))
    info = await within(alice.files.info(path))
    # Uploaded but not sent: only its owner reads it.
    assert not await can_read(server, http, bob, path)

    items: list[dict[str, Any]] = []
    channel = bob.client.channel(f"attachments-{uuid.uuid4()}")
    channel.on_postgres_changes("INSERT", items.append, table="messages", schema="public", filter=f"conversation_id=eq.{dm}")
    await subscribed(channel)
    sent = await send(alice, dm, "image", {"path": path}, body="  a photo  ")
    await wait_for(items, 1)
    await bob.client.remove_channel(channel)

    record = items[0]["data"]["record"]
    assert record["id"] == sent["message_id"] and record["kind"] == "image" and record["body"] == "a photo"
    history = await rpc(bob.client, "get_messages", {"conversation_id": dm})
    message = next(item for item in history["items"] if item["id"] == sent["message_id"])
    for attachment in (record["attachment"], message["attachment"]):
        assert attachment["bucket"] == BUCKET and attachment["path"] == path and attachment["name"] == "photo.png"
        assert attachment["mime_type"] == "image/png" and attachment["size"] == len(stored) == info["size"]
        assert attachment["object_id"]
        assert attachment["width"] == 64 and attachment["height"] == 48
    inbox = await rpc(bob.client, "chat_get_inbox_v2", {})
    preview = next(item for item in inbox["items"] if item["conversation_id"] == dm)["last_message"]
    assert preview["kind"] == "image" and preview["attachment"]["mime_type"] == "image/png"

    # Bob, a member, reads it every way; the bytes are what Alice stored.
    assert await can_read(server, http, bob, path)
    response = await http.get(f"/storage/v1/object/authenticated/{BUCKET}/{path}", headers=headers(server, bob))
    assert response.content == stored
    # The server-made thumbnail is readable the same way, by members only.
    thumbnail = message["attachment"]["thumbnail_path"]
    assert thumbnail and thumbnail.startswith(path)
    assert await can_read(server, http, bob, thumbnail)
    assert not await can_read(server, http, carol, thumbnail)
    # Carol is no member: 400/404 everywhere, as for any object she may not read.
    assert not await can_read(server, http, carol, path)
    # Bob cannot change or remove Alice's object.
    removed = await within(bob.files.remove([path]))
    assert removed == []
    assert await can_read(server, http, alice, path)

    # Deleting the message deletes the object, for its owner too.
    await rpc(alice.client, "delete_message", {"message_id": sent["message_id"]})
    for user in (alice, bob):
        for name in (path, thumbnail):
            assert (await expect_storage_error(user.files.info(name))).status in (400, 404, "400", "404")
    history = await rpc(bob.client, "get_messages", {"conversation_id": dm})
    tombstone = next(item for item in history["items"] if item["id"] == sent["message_id"])
    assert tombstone["deleted_at"] and tombstone["attachment"] is None


async def test_a_member_removed_from_a_group_loses_access(server, http, trio):
    alice, bob, carol = trio
    group = await rpc(alice.client, "create_group_chat", {"title": "photos", "member_ids": [bob.id, carol.id]})
    path = await upload_photo(alice, f"group-{uuid.uuid4()}.png")
    await send(alice, group, "image", f"{BUCKET}/{path}")
    assert await can_read(server, http, bob, path)
    assert await can_read(server, http, carol, path)
    await rpc(alice.client, "remove_chat_member", {"conversation_id": group, "user_id": bob.id})
    assert not await can_read(server, http, bob, path)
    assert await can_read(server, http, carol, path)


async def test_refusals_name_the_field(trio):
    alice, bob, _ = trio
    dm = await rpc(alice.client, "get_or_create_dm", {"target_user_id": bob.id})
    bobs = await upload_photo(bob, f"bobs-{uuid.uuid4()}.png")
    mine = await upload_photo(alice, f"mine-{uuid.uuid4()}.png")
    cases: list[tuple[str, Any, str]] = [
        ("image", None, "attachment"),
        ("image", {"path": bobs}, "attachment: no such object among your uploads"),
        ("video", {"path": mine}, "kind: a video message needs a video attachment (this one is image/png)"),
        ("text", {"path": mine}, "attachment"),
        ("image", {"bucket": "avatars", "path": mine}, "attachment"),
        ("image", 1e300, "attachment"),
        ("image", {"id": "not-a-uuid"}, "attachment"),
        ("image", "a\u0000b", "attachment"),
        ("sticker", {"path": mine}, "kind"),
    ]
    for kind, attachment, message in cases:
        args: dict[str, Any] = {"conversation_id": dm, "client_msg_id": str(uuid.uuid4()), "kind": kind, "body": "x"}
        if attachment is not None:
            args["attachment"] = attachment
        error = await expect_api_error(alice.client.rpc("send_message_v1", args).execute())
        assert error.code == "22023", (kind, attachment, error)
        assert error.message.startswith(message), (kind, attachment, error.message)
    # The refusals claimed nothing: the photo can still be sent, once.
    await send(alice, dm, "image", {"path": mine})
    error = await expect_api_error(alice.client.rpc("send_message_v1", {
        "conversation_id": dm, "client_msg_id": str(uuid.uuid4()), "kind": "image", "attachment": {"path": mine}}).execute())
    assert error.message == "attachment: is already attached to a message"


async def test_an_avatar_may_be_a_relative_public_storage_url(trio):
    alice, _, _ = trio
    url = f"/storage/v1/object/public/avatars/{alice.id}/avatar-1.jpg"
    profile = await rpc(alice.client, "update_my_profile", {"avatar_url": url})
    assert profile["avatar_url"] == url
    error = await expect_api_error(alice.client.rpc("update_my_profile", {"avatar_url": "/storage/v1/object/public/avatars/../x.jpg"}).execute())
    assert error.message.startswith("avatar_url:")


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg to make the recording")
async def test_a_voice_message_carries_duration_and_waveform(server, http, trio):
    alice, bob, carol = trio
    dm = await rpc(alice.client, "get_or_create_dm", {"target_user_id": bob.id})
    with tempfile.TemporaryDirectory() as directory:
        output = pathlib.Path(directory) / "voice.ogg"
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi", "-i",
                        "sine=frequency=440:duration=2", "-c:a", "libopus", str(output)], check=True)
        recording = output.read_bytes()
    path = f"{alice.id}/voice-{uuid.uuid4()}.ogg"
    await within(alice.files.upload(path, recording, {"content-type": "audio/ogg"}))
    sent = await send(alice, dm, "voice", {"path": path})
    history = await rpc(bob.client, "get_messages", {"conversation_id": dm})
    message = next(item for item in history["items"] if item["id"] == sent["message_id"])
    attachment = message["attachment"]
    assert message["kind"] == "voice" and message["body"] == ""
    assert attachment["mime_type"] == "audio/ogg" and attachment["size"] == len(recording)
    assert 1500 <= attachment["duration_ms"] <= 2500
    assert attachment["waveform"] and all(0 <= value <= 255 for value in attachment["waveform"])
    assert attachment["width"] is None and attachment["height"] is None
    assert await can_read(server, http, bob, path)
    assert not await can_read(server, http, carol, path)
