"""Resumable uploads (TUS 1.0.0 at /storage/v1/upload/resumable, as Supabase serves it) with
plain httpx and raw sockets, the way tus-js-client talks to it, and one upload through the
tuspy client: create, PATCH, a connection killed in the middle of a PATCH, HEAD for the
stored offset, resume, and the object equal to the original bytes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import os
import socket
import struct
import subprocess
import time
import urllib.parse

import httpx
import pytest
from storage3.exceptions import StorageApiError

# At import time: once Tests/e2e/web is collected, the name conftest is web/conftest.py.
from conftest import _binary, _environment, _free_port, _stop, _wait_ready
from e2e_support import close_client, new_client, sign_in, within
from test_cross_instance import database_url

ALICE, BOB = "+15555550195", "+15555550196"
BUCKET = "tus-bucket"
SMALL_BUCKET = "tus-small"
ENDPOINT = "/storage/v1/upload/resumable"


def metadata(**pairs: str) -> str:
    return ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in pairs.items())


@pytest.fixture(scope="module")
async def users(server):
    """Alice's and Bob's (user id, access token) and the buckets: tus-bucket (private) and tus-small (1 MiB)."""
    clients = []
    try:
        found = []
        for phone in (ALICE, BOB):
            client = await new_client(server.url, server.anon_key)
            clients.append(client)
            response = await sign_in(client, phone)
            found.append((response.user.id, response.session.access_token))
        service = await new_client(server.url, server.service_key)
        clients.append(service)
        for bucket, options in ((BUCKET, {"public": False}), (SMALL_BUCKET, {"public": False, "file_size_limit": 1024 * 1024})):
            try:
                await within(service.storage.create_bucket(bucket, options=options))
            except StorageApiError as error:
                assert error.code == "Duplicate", error
        yield found
    finally:
        for client in clients:
            await close_client(client)


def headers(server, token: str, **extra: str) -> dict[str, str]:
    return {"apikey": server.anon_key, "Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0", **extra}


async def create(http, server, token: str, name: str, length: int, *, bucket: str = BUCKET, content_type: str = "application/octet-stream",
                 upsert: bool = False) -> httpx.Response:
    return await http.post(ENDPOINT, headers=headers(
        server, token, **{"Upload-Length": str(length), "x-upsert": "true" if upsert else "false",
                          "Upload-Metadata": metadata(bucketName=bucket, objectName=name, contentType=content_type, cacheControl="3600")}))


def upload_path(location: str) -> str:
    """The path of an upload URL (absolute, as Supabase answers it)."""
    parsed = urllib.parse.urlsplit(location)
    assert parsed.path.startswith(ENDPOINT + "/"), location
    return parsed.path


async def head_offset(http, server, token: str, path: str) -> int:
    response = await http.head(path, headers=headers(server, token))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return int(response.headers["upload-offset"])


async def patch(http, server, token: str, path: str, offset: int, body: bytes) -> httpx.Response:
    return await http.patch(path, content=body, headers=headers(
        server, token, **{"Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"}))


def cut_patch(url: str, server, token: str, path: str, offset: int, body: bytes, send: int) -> None:
    """A PATCH announcing all of `body` whose connection is killed (RST) after `send` bytes of it."""
    parsed = urllib.parse.urlsplit(url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=10) as sock:
        head = (
            f"PATCH {path} HTTP/1.1\r\nHost: {parsed.netloc}\r\napikey: {server.anon_key}\r\n"
            f"Authorization: Bearer {token}\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: {offset}\r\n"
            f"Content-Type: application/offset+octet-stream\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        sock.sendall(head.encode() + body[:send])
        time.sleep(1.0)  # let the server read and store what arrived
        # Abortive close: RST, as a phone losing its network mid-request looks to the server.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


async def download(http, server, token: str, bucket: str, name: str) -> httpx.Response:
    return await http.get(f"/storage/v1/object/authenticated/{bucket}/{urllib.parse.quote(name)}",
                          headers={"apikey": server.anon_key, "Authorization": f"Bearer {token}"})


async def test_options_advertises_the_protocol(http):
    response = await http.options(ENDPOINT)
    assert response.status_code == 204
    assert response.headers["tus-version"] == "1.0.0"
    assert response.headers["tus-resumable"] == "1.0.0"
    assert set(response.headers["tus-extension"].split(",")) >= {"creation", "creation-with-upload", "termination", "expiration"}
    assert response.headers["tus-max-size"].isdigit()


async def test_resume_after_a_killed_connection(server, users, http):
    (alice, token), (_, bob_token) = users
    data = os.urandom(3 * 1024 * 1024 + 12345)
    name = f"{alice}/movie-{os.urandom(4).hex()}.bin"
    created = await create(http, server, token, name, len(data))
    assert created.status_code == 201, created.text
    assert created.headers["location"].startswith("http"), created.headers
    assert "upload-expires" in created.headers
    path = upload_path(created.headers["location"])
    assert await head_offset(http, server, token, path) == 0

    half = len(data) // 2
    first = await patch(http, server, token, path, 0, data[:half])
    assert first.status_code == 204, first.text
    assert int(first.headers["upload-offset"]) == half

    # The connection dies a third of the way through the next PATCH.
    sent = (len(data) - half) // 3
    await asyncio.to_thread(cut_patch, server.url, server, token, path, half, data[half:], sent)
    offset = half
    for _ in range(50):  # the server records the stored prefix once it notices the cut
        offset = await head_offset(http, server, token, path)
        if offset > half:
            break
        await asyncio.sleep(0.1)
    assert half < offset <= half + sent, (half, offset, sent)

    # Bob cannot see or continue Alice's upload; a stale offset is a conflict.
    assert (await http.head(path, headers=headers(server, bob_token))).status_code == 404
    assert (await patch(http, server, bob_token, path, offset, data[offset:])).status_code == 404
    stale = await patch(http, server, token, path, half, data[half:])
    assert stale.status_code == 409, stale.text

    rest = await patch(http, server, token, path, offset, data[offset:])
    assert rest.status_code == 204, rest.text
    assert int(rest.headers["upload-offset"]) == len(data)
    assert rest.headers["tus-complete"] == "1"
    assert "tus-complete" not in first.headers
    assert await head_offset(http, server, token, path) == len(data)

    got = await download(http, server, token, BUCKET, name)
    assert got.status_code == 200, got.text
    assert hashlib.md5(got.content).hexdigest() == hashlib.md5(data).hexdigest()
    assert got.headers["cache-control"] == "max-age=3600"


async def test_creation_with_upload_and_termination(server, users, http):
    (alice, token), _ = users
    data = b"small file sent with its creation\n" * 10
    name = f"{alice}/with-creation.txt"
    response = await http.post(ENDPOINT, content=data, headers=headers(
        server, token, **{"Upload-Length": str(len(data)), "Content-Type": "application/offset+octet-stream",
                          "Upload-Metadata": metadata(bucketName=BUCKET, objectName=name, contentType="text/plain")}))
    assert response.status_code == 201, response.text
    assert int(response.headers["upload-offset"]) == len(data)
    got = await download(http, server, token, BUCKET, name)
    assert got.status_code == 200 and got.content == data

    # An existing name without x-upsert is refused at creation; with it, accepted.
    assert (await create(http, server, token, name, 5)).status_code == 409
    created = await create(http, server, token, name, 5, upsert=True)
    assert created.status_code == 201
    path = upload_path(created.headers["location"])
    assert (await patch(http, server, token, path, 0, b"ab")).status_code == 204
    deleted = await http.delete(path, headers=headers(server, token))
    assert deleted.status_code == 204, deleted.text
    assert (await http.head(path, headers=headers(server, token))).status_code == 404
    # The original object is untouched.
    assert (await download(http, server, token, BUCKET, name)).content == data


async def test_protocol_errors(server, users, http):
    (alice, token), _ = users
    base = headers(server, token)
    no_version = {key: value for key, value in base.items() if key != "Tus-Resumable"}
    refused = await http.post(ENDPOINT, headers={**no_version, "Upload-Length": "1",
                                                 "Upload-Metadata": metadata(bucketName=BUCKET, objectName=f"{alice}/a")})
    assert refused.status_code == 412 and refused.headers["tus-version"] == "1.0.0"
    bad_metadata = await http.post(ENDPOINT, headers={**base, "Upload-Length": "1", "Upload-Metadata": "bucketName !!!"})
    assert bad_metadata.status_code == 400 and "Upload-Metadata" in bad_metadata.text
    no_length = await http.post(ENDPOINT, headers={**base, "Upload-Metadata": metadata(bucketName=BUCKET, objectName=f"{alice}/a")})
    assert no_length.status_code == 400 and "Upload-Length" in no_length.text
    missing_name = await http.post(ENDPOINT, headers={**base, "Upload-Length": "1", "Upload-Metadata": metadata(bucketName=BUCKET)})
    assert missing_name.status_code == 400 and "objectName" in missing_name.text
    no_bucket = await create(http, server, token, f"{alice}/a", 1, bucket="no-such-bucket")
    assert no_bucket.status_code == 404
    too_big = await create(http, server, token, f"{alice}/big", 1024 * 1024 + 1, bucket=SMALL_BUCKET)
    assert too_big.status_code == 413, too_big.text
    traversal = await create(http, server, token, "../escape", 1)
    assert traversal.status_code == 400
    anonymous = await http.post(ENDPOINT, headers={**headers(server, server.anon_key), "Upload-Length": "1",
                                                   "Upload-Metadata": metadata(bucketName=BUCKET, objectName="anon.txt")})
    assert anonymous.status_code == 403
    no_key = await http.post(ENDPOINT, headers={"Tus-Resumable": "1.0.0", "Upload-Length": "1"})
    assert no_key.status_code == 401

    # Behind a TLS proxy (no PUBLIC_URL): the forwarded scheme and host make the upload URL.
    proxied = await http.post(ENDPOINT, headers={**base, "Upload-Length": "1", "X-Forwarded-Proto": "https",
                                                 "X-Forwarded-Host": "files.example:8443",
                                                 "Upload-Metadata": metadata(bucketName=BUCKET, objectName=f"{alice}/p.bin")})
    assert proxied.status_code == 201
    assert proxied.headers["location"].startswith("https://files.example:8443" + ENDPOINT + "/"), proxied.headers["location"]

    created = await create(http, server, token, f"{alice}/ten.bin", 10)
    path = upload_path(created.headers["location"])
    wrong_type = await http.patch(path, content=b"abc", headers={**base, "Upload-Offset": "0", "Content-Type": "text/plain"})
    assert wrong_type.status_code == 415
    no_offset = await http.patch(path, content=b"abc", headers={**base, "Content-Type": "application/offset+octet-stream"})
    assert no_offset.status_code == 400
    overflow = await patch(http, server, token, path, 0, b"x" * 11)
    assert overflow.status_code == 413
    assert await head_offset(http, server, token, path) == 0
    unknown = await http.head(ENDPOINT + "/" + base64.urlsafe_b64encode(b"tus-bucket/x/nope").decode().rstrip("="), headers=base)
    assert unknown.status_code == 404
    garbage = await http.head(ENDPOINT + "/%00%ff", headers=base)
    assert garbage.status_code == 404


async def test_refused_content_leaves_nothing(server, users, http):
    (alice, token), _ = users
    html = b"<!doctype html><html><body>" + b"x" * 2000 + b"</body></html>"
    name = f"{alice}/fake.png"
    created = await create(http, server, token, name, len(html), content_type="image/png")
    assert created.status_code == 201
    path = upload_path(created.headers["location"])
    assert (await patch(http, server, token, path, 0, html[:1000])).status_code == 204
    final = await patch(http, server, token, path, 1000, html[1000:])
    assert final.status_code == 415, final.text
    assert "image/png" in final.text
    assert (await http.head(path, headers=headers(server, token))).status_code == 404
    assert (await download(http, server, token, BUCKET, name)).status_code in (400, 404)


async def test_tuspy_client_upload(server, users, http):
    tusclient = pytest.importorskip("tusclient.client")
    (alice, token), _ = users
    data = os.urandom(2 * 1024 * 1024 + 777)
    name = f"{alice}/tuspy-{os.urandom(4).hex()}.bin"

    def upload() -> str:
        client = tusclient.TusClient(server.url + ENDPOINT, headers={"apikey": server.anon_key, "Authorization": f"Bearer {token}"})
        uploader = client.uploader(
            file_stream=io.BytesIO(data), chunk_size=1024 * 1024,
            metadata={"bucketName": BUCKET, "objectName": name, "contentType": "application/octet-stream"})
        uploader.upload()
        assert uploader.offset == len(data)
        return uploader.url

    url = await asyncio.to_thread(upload)
    assert await head_offset(http, server, token, upload_path(url)) == len(data)
    got = await download(http, server, token, BUCKET, name)
    assert got.status_code == 200
    assert hashlib.md5(got.content).hexdigest() == hashlib.md5(data).hexdigest()


async def test_signed_resumable_upload(server, users, http):
    """`/upload/resumable/sign` with a signed upload URL's token in `x-signature`, no key or session."""
    (alice, token), (_, bob_token) = users
    name = f"{alice}/signed-{os.urandom(4).hex()}.bin"
    signed = await http.post(f"/storage/v1/object/upload/sign/{BUCKET}/{name}",
                             headers={"apikey": server.anon_key, "Authorization": f"Bearer {token}"})
    assert signed.status_code == 200, signed.text
    signature = signed.json()["token"]
    data = os.urandom(700_000)
    tus = {"Tus-Resumable": "1.0.0", "x-signature": signature}
    missing = await http.post(ENDPOINT + "/sign", headers={"Tus-Resumable": "1.0.0", "Upload-Length": "1",
                                                          "Upload-Metadata": metadata(bucketName=BUCKET, objectName=name)})
    assert missing.status_code == 400 and "x-signature" in missing.text
    forged = await http.post(ENDPOINT + "/sign", headers={**tus, "x-signature": signature[:-2] + "xx", "Upload-Length": "1",
                                                         "Upload-Metadata": metadata(bucketName=BUCKET, objectName=name)})
    assert forged.status_code == 400
    other_name = await http.post(ENDPOINT + "/sign", headers={**tus, "Upload-Length": "1",
                                                             "Upload-Metadata": metadata(bucketName=BUCKET, objectName=f"{alice}/other.bin")})
    assert other_name.status_code == 400
    created = await http.post(ENDPOINT + "/sign", headers={**tus, "Upload-Length": str(len(data)),
                                                          "Upload-Metadata": metadata(bucketName=BUCKET, objectName=name)})
    assert created.status_code == 201, created.text
    path = upload_path(created.headers["location"])
    assert path.startswith(ENDPOINT + "/sign/")
    first = await http.patch(path, content=data[:300_000], headers={**tus, "Upload-Offset": "0",
                                                                   "Content-Type": "application/offset+octet-stream"})
    assert first.status_code == 204, first.text
    head = await http.head(path, headers=tus)
    assert head.status_code == 200 and head.headers["upload-offset"] == "300000"
    # Without the signature the signed upload URL answers nothing useful.
    assert (await http.head(path, headers={"Tus-Resumable": "1.0.0"})).status_code == 400
    rest = await http.patch(path, content=data[300_000:], headers={**tus, "Upload-Offset": "300000",
                                                                  "Content-Type": "application/offset+octet-stream"})
    assert rest.status_code == 204, rest.text
    got = await download(http, server, token, BUCKET, name)
    assert got.status_code == 200 and hashlib.md5(got.content).hexdigest() == hashlib.md5(data).hexdigest()
    # The object is Alice's (the token's owner): Bob cannot read it.
    assert (await download(http, server, bob_token, BUCKET, name)).status_code in (400, 404)


def creation_head(url: str, server, token: str, name: str, length: int, content_length: int) -> bytes:
    """The request head of a creation-with-upload POST announcing `content_length` body bytes."""
    parsed = urllib.parse.urlsplit(url)
    return (
        f"POST {ENDPOINT} HTTP/1.1\r\nHost: {parsed.netloc}\r\napikey: {server.anon_key}\r\n"
        f"Authorization: Bearer {token}\r\nTus-Resumable: 1.0.0\r\nUpload-Length: {length}\r\n"
        f"Upload-Metadata: {metadata(bucketName=BUCKET, objectName=name)}\r\n"
        f"Content-Type: application/offset+octet-stream\r\nContent-Length: {content_length}\r\n\r\n"
    ).encode()


def cut_creation(url: str, server, token: str, name: str, length: int, send: int) -> None:
    """A creation-with-upload POST whose connection is reset after `send` body bytes (the client never sees its Location)."""
    parsed = urllib.parse.urlsplit(url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=10) as sock:
        sock.sendall(creation_head(url, server, token, name, length, length) + os.urandom(send))
        time.sleep(1.0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


async def test_a_cut_creation_holds_no_quota(server, users, http):
    """Uploads whose creation was cut are removed (nobody knows their URL), so their declared
    lengths do not hold the owner's quota (1 GiB by default) until they expire."""
    (alice, token), _ = users
    big = 400 * 1024 * 1024
    for index in range(2):
        await asyncio.to_thread(cut_creation, server.url, server, token, f"{alice}/cut-{index}.bin", big, 100_000)

    async def created_once_there_is_room(name: str):
        response = None
        for _ in range(50):  # the server removes each cut one once it notices its cut
            response = await create(http, server, token, name, big)
            if response.status_code == 201:
                break
            assert response.status_code == 413, response.text
            await asyncio.sleep(0.1)
        assert response is not None and response.status_code == 201, response.text
        return response

    # Two more 400 MiB creations fit only once neither cut one holds the quota (they are
    # noticed one at a time).
    room = []
    try:
        for index in range(2):
            room.append(await created_once_there_is_room(f"{alice}/after-cut-{index}.bin"))
    finally:
        for created in room:
            assert (await http.delete(upload_path(created.headers["location"]), headers=headers(server, token))).status_code == 204
    # Uploads that were announced do hold it: a third 400 MiB one is over the quota.
    held = [await create(http, server, token, f"{alice}/held-{index}.bin", big) for index in range(2)]
    try:
        assert [response.status_code for response in held] == [201, 201]
        over = await create(http, server, token, f"{alice}/held-2.bin", big)
        assert over.status_code == 413 and "quota" in over.text, over.text
    finally:
        # Unfinished uploads hold the quota: never leave them to the rest of the session.
        for response in held:
            if response.status_code == 201:
                assert (await http.delete(upload_path(response.headers["location"]), headers=headers(server, token))).status_code == 204


def refused_creation(url: str, server, token: str, name: str, length: int) -> int:
    """A creation-with-upload POST announcing one byte more than its Upload-Length: refused
    (413) before any body byte is read. Returns the status."""
    parsed = urllib.parse.urlsplit(url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=10) as sock:
        sock.sendall(creation_head(url, server, token, name, length, length + 1))
        return int(sock.makefile("rb").readline().decode().split()[1])


async def test_a_refused_creation_holds_no_quota(server, users, http):
    """A creation-with-upload that is refused answers without a Location, so it is removed at
    once: three refused 400 MiB creations leave room for two announced ones (1 GiB quota)."""
    (alice, token), _ = users
    big = 400 * 1024 * 1024
    for index in range(3):
        status = await asyncio.to_thread(refused_creation, server.url, server, token, f"{alice}/refused-{index}.bin", big)
        assert status == 413, status
    held = [await create(http, server, token, f"{alice}/after-refused-{index}.bin", big) for index in range(2)]
    try:
        assert [response.status_code for response in held] == [201, 201], [response.text for response in held]
    finally:
        for response in held:
            if response.status_code == 201:
                await http.delete(upload_path(response.headers["location"]), headers=headers(server, token))


@pytest.fixture
def second_instance(server):
    """Another server process on the session server's database and storage directory (as two
    instances behind a load balancer share them)."""
    port = _free_port()
    env = _environment()
    env["DATABASE_URL"] = database_url(server)
    env["STORAGE_DIR"] = str(server.data_dir / "storage")
    log_path = server.data_dir / "instance-tus.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(_binary()), "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, log_path)
        yield url
    finally:
        if process.poll() is None and _stop(process) is None:
            process.kill()
            process.wait(timeout=10)


async def test_an_upload_continues_on_another_instance(server, users, http, second_instance):
    (alice, token), _ = users
    data = os.urandom(1_500_000)
    name = f"{alice}/two-instances.bin"
    created = await create(http, server, token, name, len(data))
    assert created.status_code == 201
    path = upload_path(created.headers["location"])
    assert (await patch(http, server, token, path, 0, data[:600_000])).status_code == 204
    async with httpx.AsyncClient(base_url=second_instance, timeout=30.0) as other:
        assert await head_offset(other, server, token, path) == 600_000
        rest = await patch(other, server, token, path, 600_000, data[600_000:])
        assert rest.status_code == 204, rest.text
    got = await download(http, server, token, BUCKET, name)
    assert got.status_code == 200 and hashlib.md5(got.content).hexdigest() == hashlib.md5(data).hexdigest()
