"""Storage through the official client (supabase-py 2.34.1, storage3): the compat spec's
§7 steps 18-21, the §5.1 error table, row-level security between users, public buckets,
and the HTTP validators (Range 206/416, If-None-Match 304) with plain httpx.
"""

from __future__ import annotations

import asyncio
import os
import struct
import urllib.parse
import zlib

import httpx
import pytest
from storage3.exceptions import StorageApiError

from e2e_support import close_client, new_client, sign_in, within

ALICE, BOB = "+15555550170", "+15555550171"
BUCKET = "test-bucket"


def png(width: int, height: int) -> bytes:
    """A valid RGB PNG of noise (image uploads are sniffed and re-encoded, so they must decode)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + os.urandom(width * 3) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


async def expect_storage_error(awaitable) -> StorageApiError:
    try:
        result = await within(awaitable)
    except StorageApiError as error:
        return error
    raise AssertionError(f"expected StorageApiError, the call returned {result!r}")


@pytest.fixture(scope="module")
async def users(server):
    """Two signed-in clients (alice, bob) and a service-role client; test-bucket exists."""
    clients = []
    try:
        for phone in (ALICE, BOB):
            client = await new_client(server.url, server.anon_key)
            clients.append(client)
            await sign_in(client, phone)
        service = await new_client(server.url, server.service_key)
        clients.append(service)
        try:
            await within(service.storage.create_bucket(BUCKET, options={"public": False}))
        except StorageApiError as error:
            assert error.code == "Duplicate", error
        yield clients
    finally:
        for client in clients:
            await close_client(client)


def auth_headers(server, token: str | None = None) -> dict[str, str]:
    return {"apikey": server.anon_key, "Authorization": f"Bearer {token or server.anon_key}"}


async def access_token(client) -> str:
    session = await client.auth.get_session()
    assert session is not None
    return session.access_token


async def test_steps_18_to_21(server, users):
    alice = users[0]
    files = alice.storage.from_(BUCKET)

    # 18: upload, duplicate, upsert.
    uploaded = await within(files.upload("dir/a b.txt", b"hello", {"content-type": "text/plain"}))
    assert uploaded.full_path == f"{BUCKET}/dir/a b.txt"
    assert uploaded.path == "dir/a b.txt"
    duplicate = await expect_storage_error(files.upload("dir/a b.txt", b"hello", {"content-type": "text/plain"}))
    assert str(duplicate.status) == "409" and duplicate.code == "Duplicate"
    assert duplicate.message == "The resource already exists"
    again = await within(files.upload("dir/a b.txt", b"hello", {"content-type": "text/plain", "upsert": "true"}))
    assert again.full_path == f"{BUCKET}/dir/a b.txt"

    # 19: download, missing, exists.
    assert await within(files.download("dir/a b.txt")) == b"hello"
    missing = await expect_storage_error(files.download("missing.txt"))
    assert str(missing.status) == "404" and missing.code == "not_found"
    assert await within(files.exists("missing.txt")) is False
    assert await within(files.exists("dir/a b.txt")) is True
    info = await within(files.info("dir/a b.txt"))
    assert info["name"] == "dir/a b.txt" and info["size"] == 5 and info["bucket_id"] == BUCKET
    assert info["content_type"] == "text/plain" and info["cache_control"] == "max-age=3600"
    assert info["etag"] == '"5d41402abc4b2a76b9719d911017c592"'

    # 20: signed URLs, no headers needed; expiry; many with a missing path.
    signed = await within(files.create_signed_url("dir/a b.txt", 60))
    assert signed["signedURL"].startswith(f"{server.url}/storage/v1/object/sign/{BUCKET}/dir/a%20b.txt?token=")
    async with httpx.AsyncClient(timeout=20) as bare:
        fetched = await bare.get(signed["signedURL"])
        assert fetched.status_code == 200 and fetched.content == b"hello"
        short = await within(files.create_signed_url("dir/a b.txt", 1))
        await asyncio.sleep(2.1)
        expired = await bare.get(short["signedURL"])
        assert 400 <= expired.status_code < 500
        body = expired.json()
        assert "error" in body and body["error"] == "InvalidJWT" and body["message"] == "jwt expired"
        tampered = await bare.get(signed["signedURL"][:-3] + ("AAA" if not signed["signedURL"].endswith("AAA") else "BBB"))
        assert tampered.status_code == 400 and tampered.json()["error"] in ("InvalidSignature", "InvalidJWT")
        # A token for one object does not open another.
        token = urllib.parse.parse_qs(urllib.parse.urlparse(signed["signedURL"]).query)["token"][0]
        other = await bare.get(f"{server.url}/storage/v1/object/sign/{BUCKET}/dir/other.txt", params={"token": token})
        assert other.status_code == 400 and other.json()["error"] == "InvalidSignature"
    many = await within(files.create_signed_urls(["dir/a b.txt", "nope"], 60))
    assert len(many) == 2
    assert many[0]["error"] is None and many[0]["signedURL"]
    assert many[1]["error"] and many[1]["signedURL"] is None and many[1]["path"] == "nope"

    # 21: list, remove, list empty, bucket.
    listed = await within(files.list("dir"))
    entry = next(item for item in listed if item["name"] == "a b.txt")
    assert entry["metadata"]["size"] == 5 and entry["metadata"]["mimetype"] == "text/plain"
    removed = await within(files.remove(["dir/a b.txt"]))
    assert isinstance(removed, list) and [item["name"] for item in removed] == ["dir/a b.txt"]
    assert await within(files.list("dir")) == []
    bucket = await within(alice.storage.get_bucket(BUCKET))
    assert bucket.public is False and isinstance(bucket.owner, str)


async def test_error_table(server, users, http):
    alice, _, service = users
    files = alice.storage.from_(BUCKET)
    # bucket not found
    no_bucket = await expect_storage_error(alice.storage.from_("no-such-bucket").download("x.txt"))
    assert str(no_bucket.status) == "404" and no_bucket.code == "Bucket not found"
    raw = await http.get("/storage/v1/object/no-such-bucket/x.txt", headers=auth_headers(server))
    assert raw.status_code == 400 and raw.json() == {"statusCode": "404", "error": "Bucket not found", "message": "Bucket not found"}
    # object not found: HTTP 400, statusCode "404"
    raw = await http.get(f"/storage/v1/object/{BUCKET}/missing.txt", headers=auth_headers(server, await access_token(alice)))
    assert raw.status_code == 400
    assert raw.json() == {"statusCode": "404", "error": "not_found", "message": "Object not found"}
    # no API key: refused before anything else
    raw = await http.get("/storage/v1/bucket")
    assert raw.status_code == 401 and set(raw.json()) == {"statusCode", "error", "message"}
    # invalid JWT
    raw = await http.get("/storage/v1/bucket", headers={"apikey": server.anon_key, "Authorization": "Bearer not.a.jwt"})
    assert raw.status_code == 400 and raw.json()["error"] == "InvalidJWT"
    # anonymous writes: refused by the policies
    anon = await new_client(server.url, server.anon_key)
    try:
        refused = await expect_storage_error(anon.storage.from_(BUCKET).upload("anon.txt", b"x"))
        assert str(refused.status) == "403" and refused.code == "Unauthorized"
        not_admin = await expect_storage_error(alice.storage.create_bucket("alice-bucket"))
        assert str(not_admin.status) == "403"
    finally:
        await close_client(anon)
    # payload too large: the bucket's limit
    await within(service.storage.update_bucket(BUCKET, {"public": False, "file_size_limit": 10}))
    try:
        large = await expect_storage_error(files.upload("big.txt", b"x" * 11, {"content-type": "text/plain"}))
        assert str(large.status) == "413" and large.code == "Payload too large"
        assert await within(files.exists("big.txt")) is False
        small = await within(files.upload("small.txt", b"x" * 10, {"content-type": "text/plain"}))
        assert small.path == "small.txt"
    finally:
        await within(service.storage.update_bucket(BUCKET, {"public": False, "file_size_limit": None}))
    await within(files.remove(["small.txt"]))
    # path rules: precise 400s naming the rule
    raw = await http.post(
        f"/storage/v1/object/{BUCKET}/a//b.txt", content=b"x",
        headers={**auth_headers(server, await access_token(alice)), "Content-Type": "text/plain"})
    assert raw.status_code == 400
    body = raw.json()
    assert body["statusCode"] == "400" and "empty segment" in body["message"]
    raw = await http.post(
        f"/storage/v1/object/{BUCKET}/a/%2e%2e/b.txt", content=b"x",
        headers={**auth_headers(server, await access_token(alice)), "Content-Type": "text/plain"})
    assert raw.status_code == 400 and "'..'" in raw.json()["message"]
    raw = await http.post(
        f"/storage/v1/object/{BUCKET}/a%00b.txt", content=b"x",
        headers={**auth_headers(server, await access_token(alice)), "Content-Type": "text/plain"})
    assert raw.status_code == 400 and "control characters" in raw.json()["message"]
    # image transformations are not served: a storage error naming the option, not a parse failure
    transform = await expect_storage_error(files.download("x.png", {"transform": {"width": 10}}))
    assert str(transform.status) == "400" and transform.code == "InvalidRequest" and "transform" in transform.message
    # bucket MIME rules (avatars: images only, under the user's folder)
    user_id = (await alice.auth.get_user()).user.id
    avatars = alice.storage.from_("avatars")
    wrong_type = await expect_storage_error(avatars.upload(f"{user_id}/a.txt", b"hello", {"content-type": "text/plain"}))
    assert wrong_type.code == "invalid_mime_type" and str(wrong_type.status) == "415"
    not_own_folder = await expect_storage_error(avatars.upload("someone-else/a.png", png(2, 2), {"content-type": "image/png"}))
    assert str(not_own_folder.status) == "403"
    # the declared type must be what the bytes are: HTML is not a PNG, and nothing is stored
    mismatch = await expect_storage_error(
        files.upload("fake.png", b"<!doctype html><script>alert(1)</script>", {"content-type": "image/png"}))
    assert str(mismatch.status) == "415" and mismatch.code == "invalid_mime_type"
    assert mismatch.message == "content-type: declared image/png but the bytes are text/plain"
    assert await within(files.exists("fake.png")) is False


async def test_other_users_private_object_is_not_found(server, users, http):
    alice, bob, _ = users
    await within(alice.storage.from_(BUCKET).upload("secret.txt", b"alice only", {"content-type": "text/plain", "upsert": "true"}))
    try:
        as_bob = bob.storage.from_(BUCKET)
        hidden = await expect_storage_error(as_bob.download("secret.txt"))
        assert str(hidden.status) == "404" and hidden.code == "not_found"
        assert await within(as_bob.exists("secret.txt")) is False
        assert all(item["name"] != "secret.txt" for item in await within(as_bob.list("")))
        signed = await expect_storage_error(as_bob.create_signed_url("secret.txt", 60))
        assert str(signed.status) == "404"
        assert await within(as_bob.remove(["secret.txt"])) == []
        # bob cannot take the name over with an upsert either
        taken = await expect_storage_error(as_bob.upload("secret.txt", b"bob", {"content-type": "text/plain", "upsert": "true"}))
        assert str(taken.status) == "403"
        assert await within(alice.storage.from_(BUCKET).download("secret.txt")) == b"alice only"
    finally:
        await within(alice.storage.from_(BUCKET).remove(["secret.txt"]))


async def test_an_object_whose_bytes_are_gone_is_not_found_not_cut_off(server, users, http):
    """A row whose blob disappeared from the backend answers the storage 404 before any
    status or header is sent (not a 200 whose body breaks off), for GET, Range and HEAD."""
    alice = users[0]
    marker = os.urandom(64)
    await within(alice.storage.from_(BUCKET).upload("lost.bin", marker * 4, {"content-type": "application/octet-stream", "upsert": "true"}))
    try:
        blobs = [path for path in server.data_dir.rglob("*") if path.is_file() and path.stat().st_size == 256
                 and path.read_bytes() == marker * 4]
        assert len(blobs) == 1, blobs
        blobs[0].unlink()
        headers = auth_headers(server, await access_token(alice))
        url = f"/storage/v1/object/authenticated/{BUCKET}/lost.bin"
        for extra in ({}, {"Range": "bytes=0-9"}):
            gone = await http.get(url, headers={**headers, **extra})
            assert gone.status_code == 400, (extra, gone.status_code, gone.content[:200])
            assert gone.json() == {"statusCode": "404", "error": "not_found", "message": "Object not found"}
        head = await http.head(url, headers=headers)
        assert head.status_code == 400 and "content-range" not in head.headers
    finally:
        await within(alice.storage.from_(BUCKET).remove(["lost.bin"]))


async def test_public_bucket_and_http_validators(server, users, http):
    alice = users[0]
    user_id = (await alice.auth.get_user()).user.id
    avatars = alice.storage.from_("avatars")
    # Images are stored re-encoded (no metadata), so the stored bytes are the server's PNG.
    await within(avatars.upload(f"{user_id}/face.png", png(48, 48), {"content-type": "image/png", "upsert": "true"}))
    url = await avatars.get_public_url(f"{user_id}/face.png")
    assert url == f"{server.url}/storage/v1/object/public/avatars/{user_id}/face.png"
    async with httpx.AsyncClient(timeout=20) as bare:
        whole = await bare.get(url)
        content = whole.content
        assert whole.status_code == 200 and content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) > 1000
        assert (await within(avatars.info(f"{user_id}/face.png")))["size"] == len(content)
        assert whole.headers["content-type"] == "image/png"
        assert whole.headers["content-length"] == str(len(content))
        assert whole.headers["cache-control"] == "max-age=3600"
        assert whole.headers["last-modified"].endswith("GMT")
        etag = whole.headers["etag"]
        assert etag.startswith('"') and etag.endswith('"')
        head = await bare.head(url)
        assert head.status_code == 200 and head.headers["content-length"] == str(len(content)) and head.content == b""
        assert head.headers["etag"] == etag
        cached = await bare.get(url, headers={"If-None-Match": etag})
        assert cached.status_code == 304 and cached.content == b""
        part = await bare.get(url, headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == content[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(content)}"
        suffix = await bare.get(url, headers={"Range": "bytes=-10"})
        assert suffix.status_code == 206 and suffix.content == content[-10:]
        unsatisfiable = await bare.get(url, headers={"Range": f"bytes={len(content)}-"})
        assert unsatisfiable.status_code == 416 and unsatisfiable.headers["content-range"] == f"bytes */{len(content)}"
        # private buckets are not served publicly
        await within(alice.storage.from_(BUCKET).upload("private.txt", b"p", {"content-type": "text/plain", "upsert": "true"}))
        private = await bare.get(f"{server.url}/storage/v1/object/public/{BUCKET}/private.txt")
        assert private.status_code == 400 and private.json()["error"] == "not_found"
    await within(alice.storage.from_(BUCKET).remove(["private.txt"]))
    await within(avatars.remove([f"{user_id}/face.png"]))


async def test_move_copy_and_signed_upload(server, users):
    alice = users[0]
    files = alice.storage.from_(BUCKET)
    await within(files.upload("m/one.txt", b"one", {"content-type": "text/plain", "upsert": "true"}))
    await within(files.move("m/one.txt", "m/two.txt"))
    assert await within(files.exists("m/one.txt")) is False
    assert await within(files.download("m/two.txt")) == b"one"
    await within(files.copy("m/two.txt", "m/three.txt"))
    assert await within(files.download("m/three.txt")) == b"one"
    listed = await within(files.list("m"))
    assert [item["name"] for item in listed] == ["three.txt", "two.txt"]
    root = await within(files.list(""))
    folder = next(item for item in root if item["name"] == "m")
    assert folder["id"] is None and folder["metadata"] is None
    signed = await within(files.create_signed_upload_url("m/uploaded.txt"))
    async with httpx.AsyncClient(timeout=20) as bare:
        put = await bare.put(signed["signed_url"], content=b"via token", headers={"Content-Type": "text/plain"})
        assert put.status_code == 200, put.text
        assert put.json()["Key"] == f"{BUCKET}/m/uploaded.txt"
        again = await bare.put(signed["signed_url"], content=b"again", headers={"Content-Type": "text/plain"})
        assert again.status_code == 400 and again.json()["error"] == "Duplicate"
    assert await within(files.download("m/uploaded.txt")) == b"via token"
    await within(files.remove(["m/two.txt", "m/three.txt", "m/uploaded.txt"]))
    assert await within(files.list("m")) == []


async def test_bucket_lifecycle_and_update(server, users):
    alice, _, service = users
    name = "e2e-lifecycle"
    created = await within(service.storage.create_bucket(name, options={"public": True, "allowed_mime_types": ["text/*"]}))
    assert created == {"name": name}
    duplicate = await expect_storage_error(service.storage.create_bucket(name))
    assert str(duplicate.status) == "409" and duplicate.code == "Duplicate"
    bucket = await within(service.storage.get_bucket(name))
    assert bucket.public is True and bucket.allowed_mime_types == ["text/*"] and bucket.owner == ""
    assert name in [b.id for b in await within(alice.storage.list_buckets())]
    files = alice.storage.from_(name)
    await within(files.upload("u.txt", b"first", {"content-type": "text/plain"}))
    updated = await within(files.update("u.txt", b"second", {"content-type": "text/markdown"}))
    assert updated.path == "u.txt"
    assert await within(files.download("u.txt")) == b"second"
    assert (await within(files.info("u.txt")))["content_type"] == "text/markdown"
    missing = await expect_storage_error(files.update("never.txt", b"x", {"content-type": "text/plain"}))
    assert str(missing.status) == "404" and missing.code == "not_found"
    refused = await expect_storage_error(files.upload("img.png", b"x", {"content-type": "image/png"}))
    assert refused.code == "invalid_mime_type"
    not_empty = await expect_storage_error(service.storage.delete_bucket(name))
    assert str(not_empty.status) == "409"
    assert "message" in await within(service.storage.empty_bucket(name))
    assert await within(files.list("")) == []
    assert await within(service.storage.delete_bucket(name)) == {"message": "Successfully deleted"}
    gone = await expect_storage_error(service.storage.get_bucket(name))
    assert str(gone.status) == "404" and gone.code == "Bucket not found"


async def test_bad_uploads_are_precise_and_leave_nothing(server, users, http):
    alice = users[0]
    headers = auth_headers(server, await access_token(alice))
    form = (
        b"--XyZ\r\nContent-Disposition: form-data; name=\"cacheControl\"\r\n\r\n3600\r\n"
        b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"t.txt\"\r\nContent-Type: text/plain\r\n\r\n"
        b"hello"
    )
    # The body ends inside the file part: no closing boundary.
    truncated = await http.post(
        f"/storage/v1/object/{BUCKET}/truncated.txt", content=form,
        headers={**headers, "Content-Type": "multipart/form-data; boundary=XyZ"})
    assert truncated.status_code == 400, truncated.text
    assert truncated.json()["error"] == "InvalidRequest" and "boundary" in truncated.json()["message"]
    # No file part at all.
    no_file = await http.post(
        f"/storage/v1/object/{BUCKET}/nofile.txt",
        content=b"--XyZ\r\nContent-Disposition: form-data; name=\"cacheControl\"\r\n\r\n3600\r\n--XyZ--\r\n",
        headers={**headers, "Content-Type": "multipart/form-data; boundary=XyZ"})
    assert no_file.status_code == 400 and "file" in no_file.json()["message"]
    # A multipart Content-Type without a boundary.
    no_boundary = await http.post(
        f"/storage/v1/object/{BUCKET}/nob.txt", content=b"x", headers={**headers, "Content-Type": "multipart/form-data"})
    assert no_boundary.status_code == 400 and "boundary" in no_boundary.json()["message"]
    # A bad Content-Type on a raw body.
    bad_type = await http.post(f"/storage/v1/object/{BUCKET}/t.txt", content=b"x", headers={**headers, "Content-Type": "nonsense"})
    assert bad_type.status_code == 400 and bad_type.json()["message"].startswith("contentType:")
    files = alice.storage.from_(BUCKET)
    for name in ("truncated.txt", "nofile.txt", "nob.txt", "t.txt"):
        assert await within(files.exists(name)) is False
    # A well-formed raw upload works, with its Cache-Control header.
    raw = await http.post(
        f"/storage/v1/object/{BUCKET}/raw.bin", content=b"\x00\x01\x02",
        headers={**headers, "Content-Type": "application/octet-stream", "Cache-Control": "no-store"})
    assert raw.status_code == 200 and raw.json()["Key"] == f"{BUCKET}/raw.bin"
    info = await within(files.info("raw.bin"))
    assert info["size"] == 3 and info["cache_control"] == "no-store"
    await within(files.remove(["raw.bin"]))


async def test_uploads_larger_than_the_json_body_limit_stream(server, users):
    """Upload bodies are not held to the 1 MiB JSON limit: 3 MiB through the client's form, back whole."""
    files = users[0].storage.from_(BUCKET)
    content = bytes(range(256)) * (3 * 4096)
    await within(files.upload("big/three.bin", content, {"content-type": "application/octet-stream", "upsert": "true"}), 60)
    assert await within(files.download("big/three.bin"), 60) == content
    await within(files.remove(["big/three.bin"]))
