"""Storage media through the official client (supabase-py, storage3) on a server of its own
started with a small per-user quota: the avatar's server-made 64/256 px sizes are public
objects of the right dimensions (checked with ffprobe), an attachment image's info carries
its measured width/height and thumbnail, renditions stay out of the list, unreadable video
is refused with `invalid_media`, and the quota error is the exact 413 body.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import httpx
import pytest
from storage3.exceptions import StorageApiError

from conftest import EXTRA_SERVER_LOGS, launched_server
from e2e_support import close_client, new_client, sign_in, within

ALICE, BOB = "+15555550188", "+15555550189"
QUOTA = 400_000

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None, reason="needs ffmpeg and ffprobe")


def ffmpeg(arguments: list[str], suffix: str) -> bytes:
    """Bytes of a file ffmpeg makes from `arguments` (inputs and codecs)."""
    with tempfile.TemporaryDirectory() as directory:
        output = Path(directory) / f"out{suffix}"
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *arguments, str(output)], check=True)
        return output.read_bytes()


def jpeg(width: int, height: int) -> bytes:
    return ffmpeg(["-f", "lavfi", "-i", f"testsrc=size={width}x{height}", "-frames:v", "1"], ".jpg")


def dimensions(data: bytes) -> tuple[int, int]:
    """Width and height of an image as ffprobe reads them."""
    with tempfile.NamedTemporaryFile(suffix=".jpg") as file:
        file.write(data)
        file.flush()
        probe = subprocess.run(
            ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "json", file.name],
            check=True, capture_output=True)
    stream = json.loads(probe.stdout)["streams"][0]
    return stream["width"], stream["height"]


async def expect_storage_error(awaitable) -> StorageApiError:
    try:
        result = await within(awaitable, 60)
    except StorageApiError as error:
        return error
    raise AssertionError(f"expected StorageApiError, the call returned {result!r}")


@pytest.fixture(scope="module")
def media_server():
    """A server of its own with a 400 kB per-user quota and a janitor pass every second."""
    settings = {"STORAGE_USER_QUOTA_BYTES": str(QUOTA), "STORAGE_JANITOR_INTERVAL_SECONDS": "1"}
    with launched_server("storage media server", settings) as launched:
        EXTRA_SERVER_LOGS["storage media server"] = launched.log_path
        try:
            yield launched
        finally:
            EXTRA_SERVER_LOGS.pop("storage media server", None)


@pytest.fixture(scope="module")
async def users(media_server):
    """alice and bob, signed in on the media server."""
    clients = []
    try:
        for phone in (ALICE, BOB):
            client = await new_client(media_server.url, media_server.anon_key)
            clients.append(client)
            await sign_in(client, phone)
        yield clients
    finally:
        for client in clients:
            await close_client(client)


async def test_avatar_gets_public_64_and_256_renditions(media_server, users):
    alice, bob = users
    user_id = (await alice.auth.get_user()).user.id
    avatars = alice.storage.from_("avatars")
    name = f"{user_id}/avatar-1.jpg"
    await within(avatars.upload(name, jpeg(640, 480), {"content-type": "image/jpeg", "upsert": "true"}), 60)
    info = await within(avatars.info(name))
    media = info["media"]
    assert media["width"] == 640 and media["height"] == 480
    assert media["sizes"] == {"64": f"{name}.64.jpg", "256": f"{name}.256.jpg"}
    async with httpx.AsyncClient(timeout=20) as bare:
        for size in (64, 256):
            response = await bare.get(f"{media_server.url}/storage/v1/object/public/avatars/{name}.{size}.jpg")
            assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
            assert dimensions(response.content) == (size, size)
    # The renditions are not listed; another user lists the avatar alone.
    listed = await within(bob.storage.from_("avatars").list(user_id))
    assert [item["name"] for item in listed] == ["avatar-1.jpg"]
    # Removing the avatar removes its sizes; the three rows' blob keys were queued and the
    # server's janitor clears the queue on its next pass.
    log_start = media_server.log_size()
    await within(avatars.remove([name]))
    async with httpx.AsyncClient(timeout=20) as bare:
        gone = await bare.get(f"{media_server.url}/storage/v1/object/public/avatars/{name}.64.jpg")
        assert gone.status_code in (400, 404)
    await media_server.wait_for_log(r"blobs_deleted=3 .*storage janitor pass", start=log_start, timeout=15)


async def test_attachment_image_info_and_unreadable_video(media_server, users):
    alice, bob = users
    user_id = (await alice.auth.get_user()).user.id
    attachments = alice.storage.from_("attachments")
    name = f"{user_id}/photo.jpg"
    await within(attachments.upload(name, jpeg(800, 400), {"content-type": "image/jpeg", "upsert": "true"}), 60)
    info = await within(attachments.info(name))
    assert info["media"]["width"] == 800 and info["media"]["height"] == 400
    assert info["media"]["thumbnail"] == f"{name}.thumb.jpg"
    thumbnail = await within(attachments.download(f"{name}.thumb.jpg"))
    assert dimensions(thumbnail) == (320, 160)
    # Private: bob sees neither.
    hidden = await expect_storage_error(bob.storage.from_("attachments").download(f"{name}.thumb.jpg"))
    assert str(hidden.status) == "404"
    assert [item["name"] for item in await within(attachments.list(user_id))] == ["photo.jpg"]
    # A "video" ffprobe cannot read: 400 invalid_media, nothing stored.
    real = ffmpeg(["-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p"], ".mp4")
    broken = real[:32] + b"\x5a" * 4096
    refused = await expect_storage_error(attachments.upload(f"{user_id}/broken.mp4", broken, {"content-type": "video/mp4"}))
    assert str(refused.status) == "400" and refused.code == "invalid_media" and refused.message.startswith("media: ")
    assert await within(attachments.exists(f"{user_id}/broken.mp4")) is False
    await within(attachments.remove([name]))


async def test_quota_exceeded_is_a_413_with_the_bytes_used(media_server, users):
    alice = users[0]
    user_id = (await alice.auth.get_user()).user.id
    files = alice.storage.from_("attachments")
    first = os.urandom(300_000)
    await within(files.upload(f"{user_id}/q1.bin", first, {"content-type": "application/octet-stream"}))
    try:
        async with httpx.AsyncClient(base_url=media_server.url, timeout=30) as http:
            token = (await alice.auth.get_session()).access_token
            response = await http.post(
                f"/storage/v1/object/attachments/{user_id}/q2.bin", content=os.urandom(QUOTA - 300_000 + 1),
                headers={"Authorization": f"Bearer {token}", "apikey": media_server.anon_key, "Content-Type": "application/octet-stream"})
        assert response.status_code == 413
        assert response.json() == {
            "statusCode": "413", "error": "quota_exceeded", "message": f"storage quota exceeded: 300000 of {QUOTA} bytes used"}
        assert await within(files.exists(f"{user_id}/q2.bin")) is False
        # Exactly at the quota is fine.
        await within(files.upload(f"{user_id}/q3.bin", os.urandom(QUOTA - 300_000), {"content-type": "application/octet-stream"}))
        await within(files.remove([f"{user_id}/q3.bin"]))
    finally:
        await within(files.remove([f"{user_id}/q1.bin"]))
