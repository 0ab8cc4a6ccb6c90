"""The storage API over the S3 backend: a second server instance (its own data directory and
embedded database) with STORAGE_BACKEND=s3 against moto's standalone server, driven through
the official client (supabase-py 2.34.1, storage3) and plain httpx where the client has no
call. The same behaviour as the local-disk backend (test_storage.py), plus what only S3
shows: each object's bytes are one blob in the S3 bucket (checked with boto3 straight
against moto), a ~12 MiB upload goes up in 5 MiB parts, and removing an object, replacing it
or refusing an upload over the bucket's size limit leaves no blob and no pending multipart
upload behind.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from storage3.exceptions import StorageApiError

from conftest import EXTRA_SERVER_LOGS, REPO_ROOT, Server, _free_port, launched_server
from e2e_support import close_client, new_client, sign_in, within

ALICE, BOB = "+15555550180", "+15555550181"
BUCKET = "s3-bucket"            # the storage API's bucket (private)
LIMITED = "s3-limited"          # a bucket with a 6 MiB size limit
S3_BUCKET = "ecomansoni-e2e"    # the bucket in moto that holds every blob
MIB = 1024 * 1024
PART_SIZE = 5 * MIB
BIG_SIZE = 12 * MIB + 12_345    # three parts: 5 + 5 + ~2 MiB
MOTO_TIMEOUT = 30.0


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def big_content() -> bytes:
    # A fixed, non-media prefix so the sniffer never takes the random bytes for an image.
    prefix = b"E2E-S3 binary payload\x00"
    return prefix + os.urandom(BIG_SIZE - len(prefix))


async def expect_storage_error(awaitable, seconds: float = 20.0) -> StorageApiError:
    try:
        result = await within(awaitable, seconds)
    except StorageApiError as error:
        return error
    raise AssertionError(f"expected StorageApiError, the call returned {result!r}")


# --------------------------------------------------------------------------- moto


def _moto_binary() -> Path:
    for candidate in (Path(sys.executable).parent / "moto_server", REPO_ROOT / ".venv" / "bin" / "moto_server"):
        if candidate.exists():
            return candidate
    pytest.fail("moto_server not found next to the interpreter or in .venv/bin "
                "(pip install -r Tests/e2e/requirements.txt)", pytrace=False)


def _wait_listening(port: int, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + MOTO_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with code {process.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"moto_server did not listen on 127.0.0.1:{port} within {MOTO_TIMEOUT:.0f}s")


@dataclass
class Moto:
    url: str
    log_path: Path  # moto's request log: one line per S3 request

    def requests_for(self, key: str, *, prefix: bool = False) -> list[str]:
        """The "METHOD /bucket/key?query" of every request moto logged for `key` (or every key
        starting with it)."""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        name = re.escape(f"{S3_BUCKET}/{key}") + (r"[^? ]*" if prefix else "")
        pattern = re.compile(r'"(?:\x1b\[[0-9;]*m)*([A-Z]+) (/' + name + r'(?:\?[^ ]*)?) HTTP/')
        return [f"{method} {target}" for method, target in pattern.findall(text)]


@pytest.fixture(scope="module")
def moto_endpoint():
    """moto's standalone S3 server on a free loopback port; stopped when the module ends."""
    work = Path(tempfile.mkdtemp(prefix="ecom-e2e-moto-"))
    log_path = work / "moto.log"
    port = _free_port()
    log = open(log_path, "wb")
    process = subprocess.Popen(
        [str(_moto_binary()), "-H", "127.0.0.1", "-p", str(port)],
        env={**os.environ, "TMPDIR": str(work)}, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True)
    EXTRA_SERVER_LOGS["moto_server"] = log_path
    try:
        _wait_listening(port, process, log_path)
        yield Moto(url=f"http://127.0.0.1:{port}", log_path=log_path)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        log.close()
        EXTRA_SERVER_LOGS.pop("moto_server", None)
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def s3(moto_endpoint):
    """boto3 straight to moto, for looking at the blobs the server wrote."""
    import boto3
    from botocore.config import Config

    config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                    request_checksum_calculation="when_required", response_checksum_validation="when_required")
    client = boto3.client("s3", endpoint_url=moto_endpoint.url, region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing", config=config)
    yield client
    client.close()


def blob_keys(s3, prefix: str = "") -> set[str]:
    """Every key in the moto bucket (under `prefix`)."""
    keys: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=S3_BUCKET, Prefix=prefix):
        keys.update(item["Key"] for item in page.get("Contents", []))
    return keys


def pending_uploads(s3) -> list[dict]:
    return s3.list_multipart_uploads(Bucket=S3_BUCKET).get("Uploads", [])


def only_new_blob(s3, before: set[str], bucket: str = BUCKET) -> str:
    added = blob_keys(s3, f"{bucket}/") - before
    assert len(added) == 1, f"expected one new blob, found {sorted(added)}"
    return added.pop()


# --------------------------------------------------------------------------- the S3 server


@pytest.fixture(scope="module")
def s3_server(moto_endpoint) -> Server:
    """A second server: own data directory and embedded database, STORAGE_BACKEND=s3 on moto."""
    settings = {
        "STORAGE_BACKEND": "s3",
        "S3_ENDPOINT": moto_endpoint.url,
        "S3_REGION": "us-east-1",
        "S3_BUCKET": S3_BUCKET,
        "S3_ACCESS_KEY_ID": "testing",
        "S3_SECRET_ACCESS_KEY": "testing",
        "S3_PART_SIZE_BYTES": str(PART_SIZE),
    }
    with launched_server("S3 server", settings, drop_env=("STORAGE_DIR",)) as launched:
        EXTRA_SERVER_LOGS["S3 server"] = launched.log_path
        try:
            yield launched
        finally:
            EXTRA_SERVER_LOGS.pop("S3 server", None)


@pytest.fixture(scope="module")
async def users(s3_server):
    """alice, bob (signed in) and a service-role client on the S3 server; both buckets exist."""
    clients = []
    try:
        for phone in (ALICE, BOB):
            client = await new_client(s3_server.url, s3_server.anon_key)
            clients.append(client)
            await sign_in(client, phone)
        service = await new_client(s3_server.url, s3_server.service_key)
        clients.append(service)
        await within(service.storage.create_bucket(BUCKET, options={"public": False}))
        await within(service.storage.create_bucket(LIMITED, options={"public": False, "file_size_limit": 6 * MIB}))
        yield clients
    finally:
        for client in clients:
            await close_client(client)


@pytest.fixture(scope="module")
async def http(s3_server):
    async with httpx.AsyncClient(base_url=s3_server.url, timeout=60.0) as client:
        yield client


async def auth_headers(server: Server, client) -> dict[str, str]:
    session = await client.auth.get_session()
    assert session is not None
    return {"apikey": server.anon_key, "Authorization": f"Bearer {session.access_token}"}


# --------------------------------------------------------------------------- tests


async def test_upload_duplicate_upsert_and_download(s3_server, users, s3):
    alice, bob, _ = users
    files = alice.storage.from_(BUCKET)
    before = blob_keys(s3)

    uploaded = await within(files.upload("dir/a b.txt", b"hello", {"content-type": "text/plain"}))
    assert uploaded.full_path == f"{BUCKET}/dir/a b.txt" and uploaded.path == "dir/a b.txt"
    first = only_new_blob(s3, before)
    assert s3.get_object(Bucket=S3_BUCKET, Key=first)["Body"].read() == b"hello"

    duplicate = await expect_storage_error(files.upload("dir/a b.txt", b"other", {"content-type": "text/plain"}))
    assert str(duplicate.status) == "409" and duplicate.code == "Duplicate"
    assert duplicate.message == "The resource already exists"
    assert blob_keys(s3) == before | {first}, "a refused duplicate left a blob"

    again = await within(files.upload("dir/a b.txt", b"hello again", {"content-type": "text/plain", "upsert": "true"}))
    assert again.full_path == f"{BUCKET}/dir/a b.txt"
    second = only_new_blob(s3, before)
    assert second != first, "an upsert must write a new blob and delete the replaced one"
    assert s3.get_object(Bucket=S3_BUCKET, Key=second)["Body"].read() == b"hello again"

    assert await within(files.download("dir/a b.txt")) == b"hello again"
    info = await within(files.info("dir/a b.txt"))
    assert info["size"] == 11 and info["content_type"] == "text/plain" and info["bucket_id"] == BUCKET
    assert info["etag"] == f'"{md5(b"hello again")}"'
    assert await within(files.exists("dir/a b.txt")) is True
    missing = await expect_storage_error(files.download("missing.txt"))
    assert str(missing.status) == "404" and missing.code == "not_found"

    # Row-level security is the same whatever holds the bytes.
    hidden = await expect_storage_error(bob.storage.from_(BUCKET).download("dir/a b.txt"))
    assert str(hidden.status) == "404" and hidden.code == "not_found"

    removed = await within(files.remove(["dir/a b.txt"]))
    assert [item["name"] for item in removed] == ["dir/a b.txt"]
    assert await within(files.exists("dir/a b.txt")) is False
    assert blob_keys(s3) == before, "the removed object's blob is still in the S3 bucket"


async def test_large_multipart_upload_range_etag_and_signed_url(s3_server, users, s3, http, moto_endpoint):
    alice = users[0]
    files = alice.storage.from_(BUCKET)
    content = big_content()
    digest = md5(content)
    before = blob_keys(s3)

    # supabase-py sends the multipart form; the server streams it to S3 in 5 MiB parts.
    uploaded = await within(files.upload("big/twelve.bin", content, {"content-type": "application/octet-stream"}), 90)
    assert uploaded.path == "big/twelve.bin"
    key = only_new_blob(s3, before)
    head = s3.head_object(Bucket=S3_BUCKET, Key=key)
    assert head["ContentLength"] == BIG_SIZE
    assert head["Metadata"].get("md5") == digest
    # Went up as a multipart upload in three 5 MiB parts (moto's request log; the ETag is no
    # witness, as the server copies the object onto itself to store its MD5).
    requests = moto_endpoint.requests_for(key)
    assert any(r.startswith("POST ") and "?uploads" in r for r in requests), requests
    assert sorted(int(n) for n in re.findall(r"^PUT .*[?&]partNumber=(\d+)", "\n".join(requests), re.M)) == [1, 2, 3], requests
    assert any(r.startswith("POST ") and "uploadId=" in r for r in requests), requests  # CompleteMultipartUpload
    assert pending_uploads(s3) == []

    downloaded = await within(files.download("big/twelve.bin"), 90)
    assert len(downloaded) == BIG_SIZE and md5(downloaded) == digest
    info = await within(files.info("big/twelve.bin"))
    assert info["size"] == BIG_SIZE and info["etag"] == f'"{digest}"'

    url = f"/storage/v1/object/{BUCKET}/big/twelve.bin"
    headers = await auth_headers(s3_server, alice)
    whole_head = await http.head(url, headers=headers)
    assert whole_head.status_code == 200 and whole_head.headers["content-length"] == str(BIG_SIZE)
    etag = whole_head.headers["etag"]
    assert etag == f'"{digest}"'
    # A range across the first part boundary.
    start, end = PART_SIZE - 10, PART_SIZE + 9
    part = await http.get(url, headers={**headers, "Range": f"bytes={start}-{end}"})
    assert part.status_code == 206 and part.content == content[start:end + 1]
    assert part.headers["content-range"] == f"bytes {start}-{end}/{BIG_SIZE}"
    assert part.headers["content-length"] == "20"
    suffix = await http.get(url, headers={**headers, "Range": "bytes=-10"})
    assert suffix.status_code == 206 and suffix.content == content[-10:]
    assert suffix.headers["content-range"] == f"bytes {BIG_SIZE - 10}-{BIG_SIZE - 1}/{BIG_SIZE}"
    unsatisfiable = await http.get(url, headers={**headers, "Range": f"bytes={BIG_SIZE}-"})
    assert unsatisfiable.status_code == 416 and unsatisfiable.headers["content-range"] == f"bytes */{BIG_SIZE}"
    cached = await http.get(url, headers={**headers, "If-None-Match": etag})
    assert cached.status_code == 304 and cached.content == b""

    # A signed URL is fetched without any header.
    signed = await within(files.create_signed_url("big/twelve.bin", 60))
    assert signed["signedURL"].startswith(f"{s3_server.url}/storage/v1/object/sign/{BUCKET}/big/twelve.bin?token=")
    async with httpx.AsyncClient(timeout=60) as bare:
        fetched = await bare.get(signed["signedURL"])
        assert fetched.status_code == 200 and md5(fetched.content) == digest
        ranged = await bare.get(signed["signedURL"], headers={"Range": "bytes=0-21"})
        assert ranged.status_code == 206 and ranged.content == content[:22]

    await within(files.remove(["big/twelve.bin"]))
    assert key not in blob_keys(s3), "the removed object's blob is still in the S3 bucket"
    assert blob_keys(s3) == before


async def test_list_move_copy_and_remove(s3_server, users, s3):
    alice = users[0]
    files = alice.storage.from_(BUCKET)
    before = blob_keys(s3)
    await within(files.upload("m/one.txt", b"one", {"content-type": "text/plain"}))
    original = only_new_blob(s3, before)

    await within(files.move("m/one.txt", "m/two.txt"))
    assert await within(files.exists("m/one.txt")) is False
    assert await within(files.download("m/two.txt")) == b"one"
    assert blob_keys(s3) == before | {original}, "a move must not touch the bytes"

    await within(files.copy("m/two.txt", "m/three.txt"))
    assert await within(files.download("m/three.txt")) == b"one"
    copied = blob_keys(s3) - before - {original}
    assert len(copied) == 1, f"a copy must make one blob of its own, found {sorted(copied)}"
    assert s3.get_object(Bucket=S3_BUCKET, Key=copied.pop())["Body"].read() == b"one"

    listed = await within(files.list("m"))
    assert [item["name"] for item in listed] == ["three.txt", "two.txt"]
    assert all(item["metadata"]["size"] == 3 and item["metadata"]["mimetype"] == "text/plain" for item in listed)
    root = await within(files.list(""))
    folder = next(item for item in root if item["name"] == "m")
    assert folder["id"] is None and folder["metadata"] is None

    removed = await within(files.remove(["m/two.txt", "m/three.txt"]))
    assert sorted(item["name"] for item in removed) == ["m/three.txt", "m/two.txt"]
    assert await within(files.list("m")) == []
    assert blob_keys(s3) == before, "removed objects left blobs in the S3 bucket"


async def test_signed_upload_url(s3_server, users, s3):
    files = users[0].storage.from_(BUCKET)
    before = blob_keys(s3)
    signed = await within(files.create_signed_upload_url("su/up.txt"))
    async with httpx.AsyncClient(timeout=20) as bare:
        put = await bare.put(signed["signed_url"], content=b"via token", headers={"Content-Type": "text/plain"})
        assert put.status_code == 200, put.text
        assert put.json()["Key"] == f"{BUCKET}/su/up.txt"
    key = only_new_blob(s3, before)
    assert s3.get_object(Bucket=S3_BUCKET, Key=key)["Body"].read() == b"via token"
    assert await within(files.download("su/up.txt")) == b"via token"
    await within(files.remove(["su/up.txt"]))
    assert blob_keys(s3) == before


async def test_upload_over_the_bucket_limit_leaves_no_blob_and_no_pending_upload(s3_server, users, s3, http, moto_endpoint):
    """6 MiB limit, 12 MiB sent: the first 5 MiB part is already in S3 when the limit is
    passed, so the server must abort the multipart upload."""
    alice = users[0]
    files = alice.storage.from_(LIMITED)
    content = big_content()
    before = blob_keys(s3)

    # The multipart form supabase-py sends carries no size of the file: the limit is met while streaming.
    refused = await expect_storage_error(
        files.upload("over.bin", content, {"content-type": "application/octet-stream"}), 90)
    assert str(refused.status) == "413" and refused.code == "Payload too large", refused
    assert await within(files.exists("over.bin")) is False
    assert blob_keys(s3) == before, "a refused upload left a blob in the S3 bucket"
    assert pending_uploads(s3) == [], "a refused upload left a pending multipart upload"
    # It was refused while streaming: a multipart upload was started, a part sent, then aborted.
    requests = moto_endpoint.requests_for(f"{LIMITED}/", prefix=True)
    assert any(r.startswith("POST ") and "?uploads" in r for r in requests), requests
    assert any(r.startswith("DELETE ") and "uploadId=" in r for r in requests), requests

    # A raw body sent chunked (no Content-Length) the same way.
    async def chunks():
        for offset in range(0, len(content), MIB):
            yield content[offset:offset + MIB]

    headers = {**await auth_headers(s3_server, alice), "Content-Type": "application/octet-stream"}
    try:
        raw = await http.post(f"/storage/v1/object/{LIMITED}/over-raw.bin", content=chunks(), headers=headers)
    except httpx.HTTPError as error:  # the server may answer and close before the body is sent
        raise AssertionError(f"POST /storage/v1/object/{LIMITED}/over-raw.bin (chunked, {BIG_SIZE} bytes): {error!r}")
    assert raw.status_code == 413, f"{raw.status_code} {raw.text}"
    assert raw.json()["error"] == "Payload too large"
    assert await within(files.exists("over-raw.bin")) is False
    assert blob_keys(s3) == before, "a refused upload left a blob in the S3 bucket"
    assert pending_uploads(s3) == [], "a refused upload left a pending multipart upload"

    # Within the limit still works, as a single PUT, and is removed cleanly.
    small = b"small enough"
    await within(files.upload("ok.txt", small, {"content-type": "text/plain"}))
    assert s3.get_object(Bucket=S3_BUCKET, Key=only_new_blob(s3, before, LIMITED))["Body"].read() == small
    await within(files.remove(["ok.txt"]))
    assert blob_keys(s3) == before


async def test_nothing_is_left_in_the_s3_bucket(s3_server, users, s3):
    """Every object this module made was removed: the S3 bucket holds no blob and no upload."""
    for bucket in (BUCKET, LIMITED):
        assert await within(users[0].storage.from_(bucket).list("")) == []
    assert blob_keys(s3) == set()
    assert pending_uploads(s3) == []
