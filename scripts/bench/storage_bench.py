#!/usr/bin/env python3
"""Measurements and report for scripts/bench/storage.sh (object storage, /storage/v1).

Driven by storage.sh, which owns the PostgreSQL cluster, the server processes and moto.
Three sub-commands:

  files     writes the test files (os.urandom) into --dir: data.bin (--mb MiB) and big.bin
            (--big-mb MiB), each with its MD5 beside it (<name>.md5).
  measure   against one running server (--backend local or s3); prints that phase's JSON:
              setup      signs a test user in (POST /auth/v1/otp + /verify), creates the
                         phase's bucket with the service-role key, one 1 MiB warm-up upload
                         and download;
              rss        (local) the server's VmRSS sampled every 20 ms during a raw upload
                         of big.bin, beside the VmRSS just before; VmHWM read before and
                         after as a check that no spike fell between two samples;
              rounds     --repeat rounds of: the baseline copy, a raw-body upload
                         (POST /object/<bucket>/<path>, Content-Type of the object), an
                         upload as the multipart form supabase-py sends (fields cacheControl
                         then the part "file"), the baseline read, a download (GET). Local:
                         the baselines are `cp --reflink=never` of data.bin on the same disk
                         (and cp followed by `sync <copy>`, as the server fsyncs) and
                         reading data.bin in 1 MiB blocks; S3: boto3 against moto directly,
                         a PUT in parts of the server's part size one after another (as
                         S3Backend sends them) and a GET. Best of the rounds is reported;
              verify     one more download hashed (MD5), the ETag, sizes;
              range      --range-requests GETs of `Range: bytes=<middle>-<middle+64 KiB-1>`
                         on one keep-alive connection (206, bytes checked), time to first
                         byte (the first response byte, seen with MSG_PEEK) and to the last,
                         beside as many GET /health the same way (S3: also ranged GETs
                         straight to moto with boto3; the S3 figure is the time to the
                         last byte, as the server sends its 206 head before S3 answers).
  report    merges the phases into ONE JSON object with a "figures" list for
            scripts/bench/all.

Uploads go from a file with sendfile(2) on a fresh connection; downloads are read into a
1 MiB buffer and dropped, like the file-read baseline. Sizes are MiB; throughput MiB/s.
Progress goes to stderr. Standard library only, plus boto3 (moto's dependency) for S3.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (  # noqa: E402
    binary_kind, latency_summary, machine_facts, make_logger, process_alive, server_log_summary, sign_in_users,
    wait_ready,
)

MIB = 1024 * 1024
BLOCK = MIB
RANGE_BYTES = 64 * 1024
TRANSFER_TIMEOUT = 1800.0
RSS_INTERVAL = 0.020
RSS_TARGET_MIB = 32  # "flat": growth during the big upload, whatever its size

log = make_logger("storage-bench")


class BenchError(RuntimeError):
    pass


# --------------------------------------------------------------------------- files


def make_files(args: argparse.Namespace) -> int:
    directory = Path(args.dir)
    directory.mkdir(parents=True, exist_ok=True)
    for name, mib in (("data.bin", args.mb), ("big.bin", args.big_mb)):
        path = directory / name
        md5 = hashlib.md5()
        started = time.perf_counter()
        with open(path, "wb") as out:
            for _ in range(mib):
                chunk = os.urandom(MIB)
                md5.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        (directory / (name + ".md5")).write_text(md5.hexdigest())
        log(f"wrote {path} ({mib} MiB) in {time.perf_counter() - started:.1f} s")
    return 0


def file_md5(path: Path) -> str:
    return path.with_name(path.name + ".md5").read_text().strip()


# --------------------------------------------------------------------------- HTTP


def read_keys(binary: str, data_dir: str) -> dict:
    result = subprocess.run([binary, "keys", "--json", "--data-dir", data_dir], capture_output=True, text=True,
                            timeout=120)
    if result.returncode != 0:
        raise BenchError(f"`ecomansoni keys --json` failed ({result.returncode}): {result.stderr[-2000:]}")
    for line in reversed(result.stdout.splitlines()):
        if line.strip().startswith("{"):
            return json.loads(line)
    raise BenchError(f"`ecomansoni keys --json` printed no JSON: {result.stdout[-2000:]}")


def describe(method: str, path: str, headers: dict, status, body: bytes) -> str:
    """The exact request and answer, for a failure report."""
    shown = {k: (v[:12] + "…" if k.lower() in ("authorization", "apikey") else v) for k, v in headers.items()}
    return f"{method} {path} {shown} → {status} {body[:400]!r}"


class Server:
    def __init__(self, port: int, anon: str, service: str) -> None:
        self.port = port
        self.anon = anon
        self.service = service
        self.token = anon

    def headers(self, service: bool = False) -> dict:
        key = self.service if service else self.anon
        return {"apikey": key, "Authorization": "Bearer " + (self.service if service else self.token)}

    def call(self, method: str, path: str, body=None, service: bool = False, expect=(200,),
             headers: dict | None = None) -> tuple[int, dict, bytes]:
        all_headers = {**self.headers(service), **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            connection.request(method, path, body=data, headers=all_headers)
            response = connection.getresponse()
            payload = response.read()
        finally:
            connection.close()
        if response.status not in expect:
            raise BenchError("unexpected answer: " + describe(method, path, all_headers, response.status, payload))
        return response.status, {k.lower(): v for k, v in response.getheaders()}, payload

    # ------------------------------------------------------------------ uploads

    def upload(self, bucket: str, name: str, path: Path, form: bool, content_type: str = "application/octet-stream",
               extra_headers: dict | None = None) -> tuple[float, dict]:
        """Streams `path` with sendfile; returns (seconds, answer JSON)."""
        size = path.stat().st_size
        url = f"/storage/v1/object/{bucket}/{urllib.parse.quote(name)}"
        headers = {**self.headers(), "Host": f"127.0.0.1:{self.port}", **(extra_headers or {})}
        if form:
            # The shape httpx gives supabase-py's upload: the cacheControl field, then the file part.
            boundary = uuid.uuid4().hex
            head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"cacheControl\"\r\n\r\n3600\r\n"
                    f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name.rsplit('/', 1)[-1]}\"\r\n"
                    f"Content-Type: {content_type}\r\n\r\n").encode()
            tail = f"\r\n--{boundary}--\r\n".encode()
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        else:
            head, tail = b"", b""
            headers["Content-Type"] = content_type
        headers["Content-Length"] = str(len(head) + size + len(tail))
        request = f"POST {url} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=TRANSFER_TIMEOUT)
        send_error = None
        try:
            started = time.perf_counter()
            try:
                sock.sendall(request.encode() + head)
                with open(path, "rb") as body:
                    sent = sock.sendfile(body)
                if sent != size:
                    raise BenchError(f"sendfile sent {sent} of {size} bytes")
                sock.sendall(tail)
            except (BrokenPipeError, ConnectionResetError) as error:
                send_error = error  # the server answered early; its answer says why
            response = http.client.HTTPResponse(sock, method="POST")
            response.begin()
            payload = response.read()
            seconds = time.perf_counter() - started
        finally:
            sock.close()
        if response.status != 200 or send_error is not None:
            shown = {k: v for k, v in headers.items() if k != "Host"}
            raise BenchError(f"upload failed ({'multipart form' if form else 'raw body'}, {size} bytes"
                             f"{f', send: {send_error!r}' if send_error else ''}): "
                             + describe("POST", url, shown, response.status, payload))
        answer = json.loads(payload)
        if answer.get("Key") != f"{bucket}/{name}":
            raise BenchError(f"upload answered {answer!r}, expected Key {bucket}/{name}")
        return seconds, answer

    def download(self, bucket: str, name: str, expected_size: int, md5=None) -> tuple[float, dict]:
        """GET the whole object into a 1 MiB buffer (dropped, or hashed when md5 is given)."""
        url = f"/storage/v1/object/{bucket}/{urllib.parse.quote(name)}"
        headers = self.headers()
        buffer = bytearray(BLOCK)
        view = memoryview(buffer)
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TRANSFER_TIMEOUT)
        try:
            connection.connect()
            started = time.perf_counter()
            connection.request("GET", url, headers=headers)
            response = connection.getresponse()
            if response.status != 200:
                raise BenchError("download failed: " + describe("GET", url, headers, response.status, response.read()))
            total = 0
            while True:
                n = response.readinto(view)
                if not n:
                    break
                if md5 is not None:
                    md5.update(view[:n])
                total += n
            seconds = time.perf_counter() - started
            answer = {k.lower(): v for k, v in response.getheaders()}
        finally:
            connection.close()
        if total != expected_size:
            raise BenchError(f"GET {url} gave {total} bytes, expected {expected_size} (headers {answer})")
        return seconds, answer

    def delete(self, bucket: str, name: str) -> None:
        self.call("DELETE", f"/storage/v1/object/{bucket}/{urllib.parse.quote(name)}")


def ttfb_series(port: int, path: str, headers: dict, count: int, check) -> dict:
    """`count` GETs on one keep-alive connection: time to the first response byte (seen with
    MSG_PEEK, before anything is parsed) and to the end of the body."""
    first, whole = [], []
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.connect()
    try:
        for _ in range(count):
            started = time.perf_counter()
            connection.request("GET", path, headers=headers)
            if not connection.sock.recv(1, socket.MSG_PEEK):
                raise BenchError(f"GET {path}: the server closed the connection")
            first_byte = time.perf_counter()
            response = connection.getresponse()
            body = response.read()
            done = time.perf_counter()
            check(response, body)
            if response.will_close:
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                connection.connect()
            first.append(first_byte - started)
            whole.append(done - started)
    finally:
        connection.close()
    return {"ttfb": latency_summary(first), "total": latency_summary(whole)}


# --------------------------------------------------------------------------- memory


class RSSSampler:
    """VmRSS of a process every 20 ms on a thread (peak, count), with VmHWM as a check."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self.samples = 0
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    @staticmethod
    def status(pid: int) -> dict[str, int]:
        values = {}
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, value = line.split(":", 1)
                    values[key] = int(value.split()[0]) * 1024
        except OSError:
            pass
        return values

    def run(self) -> None:
        while not self.stop_event.is_set():
            rss = self.status(self.pid).get("VmRSS")
            if rss is not None:
                self.peak = max(self.peak, rss)
                self.samples += 1
            self.stop_event.wait(RSS_INTERVAL)

    def __enter__(self) -> "RSSSampler":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_event.set()
        self.thread.join(5)


def settled_rss(pid: int) -> int:
    """The median of ten samples 20 ms apart."""
    values = []
    for _ in range(10):
        values.append(RSSSampler.status(pid).get("VmRSS", 0))
        time.sleep(RSS_INTERVAL)
    return int(statistics.median(values))


def mib(value: float | None, digits: int = 1):
    return None if value is None else round(value / MIB, digits)


def rate(size: int, seconds: float) -> float:
    return round(size / MIB / seconds, 1) if seconds > 0 else None


def upload_with_rss(server: Server, pid: int, bucket: str, name: str, path: Path) -> dict:
    size = path.stat().st_size
    before = settled_rss(pid)
    hwm_before = RSSSampler.status(pid).get("VmHWM")
    with RSSSampler(pid) as sampler:
        seconds, _ = server.upload(bucket, name, path, form=False)
    after_status = RSSSampler.status(pid)
    after = settled_rss(pid)
    peak = max(sampler.peak, before)
    result = {
        "object_mib": mib(size), "seconds": round(seconds, 2), "mib_per_s": rate(size, seconds),
        "rss_before_mib": mib(before), "rss_peak_mib": mib(peak), "rss_after_mib": mib(after),
        "rss_growth_mib": mib(peak - before), "samples": sampler.samples, "interval_ms": RSS_INTERVAL * 1000,
        "vmhwm_before_mib": mib(hwm_before), "vmhwm_after_mib": mib(after_status.get("VmHWM")),
    }
    if hwm_before is not None and after_status.get("VmHWM", 0) > max(hwm_before, peak) + MIB:
        # The kernel's high-water mark rose clearly above every sample: a spike between two samples.
        result["note"] = "VmHWM rose above the sampled peak"
        result["rss_growth_mib"] = mib(after_status["VmHWM"] - before)
        result["rss_peak_mib"] = mib(after_status["VmHWM"])
    return result


# --------------------------------------------------------------------------- baselines


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, timeout=TRANSFER_TIMEOUT)
    return time.perf_counter() - started


def read_file(path: Path) -> float:
    buffer = bytearray(BLOCK)
    started = time.perf_counter()
    with open(path, "rb", buffering=0) as source:
        while source.readinto(buffer):
            pass
    return time.perf_counter() - started


class DirectS3:
    """boto3 straight to moto: what the server's S3 phase is compared with."""

    def __init__(self, endpoint: str, bucket: str, part_size: int) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                        request_checksum_calculation="when_required", response_checksum_validation="when_required")
        self.client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                                   aws_secret_access_key="testing", config=config)
        # As S3Backend sends a body: one PUT up to a part, else parts of that size, one at a time.
        self.transfer = TransferConfig(multipart_threshold=part_size + 1, multipart_chunksize=part_size,
                                       max_concurrency=1, use_threads=False)
        self.bucket = bucket
        try:
            self.client.create_bucket(Bucket=bucket)
        except self.client.exceptions.BucketAlreadyOwnedByYou:
            pass

    def put(self, key: str, path: Path) -> float:
        started = time.perf_counter()
        self.client.upload_file(str(path), self.bucket, key, Config=self.transfer)
        return time.perf_counter() - started

    def get(self, key: str, size: int) -> float:
        started = time.perf_counter()
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        total = 0
        while True:
            chunk = body.read(BLOCK)
            if not chunk:
                break
            total += len(chunk)
        seconds = time.perf_counter() - started
        if total != size:
            raise BenchError(f"moto GET {key} gave {total} bytes, expected {size}")
        return seconds

    def range_ttfb(self, key: str, start: int, count: int, expected: bytes) -> dict:
        first, whole = [], []
        for _ in range(count):
            started = time.perf_counter()
            answer = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-{start + RANGE_BYTES - 1}")
            headers_at = time.perf_counter()
            body = answer["Body"].read()
            done = time.perf_counter()
            if body != expected:
                raise BenchError("moto ranged GET returned other bytes")
            first.append(headers_at - started)
            whole.append(done - started)
        return {"ttfb": latency_summary(first), "total": latency_summary(whole),
                "note": "ttfb: until boto3 returns the response head (signing in Python included)"}

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)


# --------------------------------------------------------------------------- one phase


def measure(args: argparse.Namespace) -> dict:
    files = Path(args.files)
    data, big = files / "data.bin", files / "big.bin"
    size, big_size = data.stat().st_size, big.stat().st_size
    data_md5 = file_md5(data)
    phase = args.backend
    log(f"{phase}: waiting for the server on 127.0.0.1:{args.port}")
    wait_ready(args.port, args.server_pid)
    keys = read_keys(args.binary, args.data_dir)
    server = Server(args.port, keys["anonKey"], keys["serviceRoleKey"])
    user = sign_in_users(args.port, server.anon, [args.phone], args.code, 1, log=log)[0]
    server.token = user["token"]
    bucket = f"bench-{phase}"
    server.call("POST", "/storage/v1/bucket", {"id": bucket, "name": bucket, "public": False}, service=True)
    prefix = user["id"]
    log(f"{phase}: bucket {bucket}, user {prefix}")

    warm = files / "warm.bin"
    if not warm.exists():
        warm.write_bytes(os.urandom(MIB))
    server.upload(bucket, f"{prefix}/warm.bin", warm, form=False)
    server.download(bucket, f"{prefix}/warm.bin", MIB)

    result: dict = {"backend": phase, "object_mib": mib(size), "bucket": bucket}
    if phase == "local":
        log(f"local: RSS during a {mib(big_size, 0):g} MiB raw upload")
        rss = upload_with_rss(server, args.server_pid, bucket, f"{prefix}/big.bin", big)
        log(f"local: RSS {rss['rss_before_mib']} MiB before, peak {rss['rss_peak_mib']} MiB "
            f"(+{rss['rss_growth_mib']} MiB) during {rss['seconds']} s ({rss['mib_per_s']} MiB/s)")
        result["rss_during_big_upload"] = rss
        server.delete(bucket, f"{prefix}/big.bin")
        direct = None
    else:
        direct = DirectS3(args.s3_endpoint, args.s3_direct_bucket, args.s3_part_size)

    rounds = []
    copy = files / "copy.bin"
    for number in range(1, args.repeat + 1):
        r: dict = {}
        if direct is None:
            r["cp_s"] = timed(["cp", "--reflink=never", str(data), str(copy)])
            copy.unlink()
            r["cp_sync_s"] = timed(["sh", "-c", 'cp --reflink=never "$1" "$2" && sync "$2"', "cp", str(data), str(copy)])
            copy.unlink()
        else:
            r["direct_put_s"] = direct.put(f"direct-{number}.bin", data)
        raw_name, form_name = f"{prefix}/raw-{number}.bin", f"{prefix}/form-{number}.bin"
        if phase == "s3" and number == 1:
            before = settled_rss(args.server_pid)
            with RSSSampler(args.server_pid) as sampler:
                r["raw_upload_s"], _ = server.upload(bucket, raw_name, data, form=False)
            result["rss_during_upload"] = {"rss_before_mib": mib(before), "rss_peak_mib": mib(sampler.peak),
                                           "rss_growth_mib": mib(max(0, sampler.peak - before)),
                                           "object_mib": mib(size), "part_size_mib": mib(args.s3_part_size)}
        else:
            r["raw_upload_s"], _ = server.upload(bucket, raw_name, data, form=False)
        r["form_upload_s"], _ = server.upload(bucket, form_name, data, form=True)
        if direct is None:
            r["read_s"] = read_file(data)
        else:
            r["direct_get_s"] = direct.get(f"direct-{number}.bin", size)
        r["download_s"], answer = server.download(bucket, raw_name, size)
        if number > 1:
            server.delete(bucket, form_name)
            server.delete(bucket, raw_name)
            if direct is not None:
                direct.delete(f"direct-{number}.bin")
        rounds.append({k: round(v, 6) for k, v in r.items()})
        log(f"{phase}: round {number}/{args.repeat}: " + ", ".join(
            f"{k[:-2]} {rate(size, v)} MiB/s" for k, v in r.items()))
    if not process_alive(args.server_pid):
        raise BenchError("the server exited")

    def best(key: str) -> float | None:
        values = [r[key] for r in rounds if key in r]
        return rate(size, min(values)) if values else None

    result["mib_per_s"] = {key[:-2]: best(key) for key in rounds[0]}
    result["rounds"] = rounds

    # verify: the bytes that come back are the bytes sent.
    name = f"{prefix}/raw-1.bin"
    md5 = hashlib.md5()
    _, headers = server.download(bucket, name, size, md5=md5)
    etag = headers.get("etag", "").strip('"')
    if md5.hexdigest() != data_md5:
        raise BenchError(f"GET /storage/v1/object/{bucket}/{name}: MD5 {md5.hexdigest()} of the bytes, "
                         f"{data_md5} of the file uploaded")
    _, _, info = server.call("GET", f"/storage/v1/object/info/{bucket}/{urllib.parse.quote(name)}")
    info = json.loads(info)
    if info.get("size") != size:
        raise BenchError(f"object info says size {info.get('size')}, uploaded {size}: {info}")
    if etag != data_md5:
        raise BenchError(f"ETag {headers.get('etag')!r} is not the MD5 of the bytes ({data_md5})")
    _, _, info = server.call("GET", f"/storage/v1/object/info/{bucket}/{urllib.parse.quote(prefix + '/form-1.bin')}")
    if json.loads(info).get("size") != size:
        raise BenchError(f"the multipart upload stored {json.loads(info).get('size')} bytes, sent {size}: {info[:300]!r}")
    result["verified"] = {"md5": data_md5, "etag": headers.get("etag"), "size": size}
    log(f"{phase}: download verified (MD5 {data_md5}, ETag and size)")

    # range: time to first byte of a 64 KiB read from the middle.
    start = size // 2 - RANGE_BYTES // 2
    with open(data, "rb") as source:
        source.seek(start)
        expected = source.read(RANGE_BYTES)
    path = f"/storage/v1/object/{bucket}/{urllib.parse.quote(name)}"
    range_header = f"bytes={start}-{start + RANGE_BYTES - 1}"

    def check_range(response, body) -> None:
        if response.status != 206 or body != expected:
            raise BenchError(f"GET {path} Range: {range_header} → {response.status} "
                             f"{dict(response.getheaders())} with {len(body)} bytes"
                             f"{' (other bytes)' if response.status == 206 else ''}: {body[:200]!r}")
        want = f"bytes {start}-{start + RANGE_BYTES - 1}/{size}"
        if response.getheader("Content-Range") != want:
            raise BenchError(f"GET {path} Range: {range_header}: Content-Range {response.getheader('Content-Range')!r}, "
                             f"expected {want!r}")

    def check_health(response, body) -> None:
        if response.status != 200:
            raise BenchError(f"GET /health → {response.status} {body[:200]!r}")

    count = args.range_requests
    health = ttfb_series(args.port, "/health", {}, count, check_health)
    ranged = ttfb_series(args.port, path, {**server.headers(), "Range": range_header}, count, check_range)
    result["range"] = {"requests": count, "range": range_header, "bytes": RANGE_BYTES, **ranged}
    result["health"] = {"requests": count, **health}
    if direct is not None:
        result["range_direct"] = direct.range_ttfb("direct-1.bin", start, count, expected)
    log(f"{phase}: range TTFB p50 {ranged['ttfb']['p50_ms']} ms p99 {ranged['ttfb']['p99_ms']} ms; "
        f"/health p50 {health['ttfb']['p50_ms']} ms p99 {health['ttfb']['p99_ms']} ms")
    result["rss_end_mib"] = mib(RSSSampler.status(args.server_pid).get("VmRSS"))
    result["server_log"] = server_log_summary(args.server_log, samples=5)
    return result


# --------------------------------------------------------------------------- report


def ratio(value, baseline, digits: int = 3):
    return round(value / baseline, digits) if isinstance(value, (int, float)) and baseline else None


def report(args: argparse.Namespace) -> dict:
    local = json.loads(Path(args.local).read_text())
    s3 = json.loads(Path(args.s3).read_text()) if args.s3 else None
    size = local["object_mib"]
    repeat = len(local["rounds"])
    how = f"{size:g} MiB, best of {repeat}"
    speed = local["mib_per_s"]
    figures = [
        {"figure": "upload, raw body (POST /storage/v1/object, local disk)", "value": speed["raw_upload"],
         "unit": "MiB/s", "baseline": speed["cp"], "baseline_unit": "MiB/s",
         "baseline_what": "cp of the same file, same disk", "ratio": ratio(speed["raw_upload"], speed["cp"]),
         "detail": f"{how}; cp + sync of the copy {speed['cp_sync']} MiB/s"},
        {"figure": "upload, multipart form as supabase-py sends it (local disk)", "value": speed["form_upload"],
         "unit": "MiB/s", "baseline": speed["cp"], "baseline_unit": "MiB/s",
         "baseline_what": "cp of the same file, same disk", "ratio": ratio(speed["form_upload"], speed["cp"]),
         "detail": f"{how}; cp + sync {speed['cp_sync']} MiB/s"},
        {"figure": "download, GET /storage/v1/object (local disk)", "value": speed["download"], "unit": "MiB/s",
         "baseline": speed["read"], "baseline_unit": "MiB/s", "baseline_what": "reading the file (1 MiB blocks)",
         "ratio": ratio(speed["download"], speed["read"]), "detail": f"{how}; cp {speed['cp']} MiB/s"},
    ]
    if s3:
        s3_speed = s3["mib_per_s"]
        part = s3.get("rss_during_upload", {}).get("part_size_mib")
        direct_what = f"boto3 straight to moto, parts of {part:g} MiB one at a time" if part else "boto3 straight to moto"
        figures += [
            {"figure": "upload, raw body (S3 backend, moto)", "value": s3_speed["raw_upload"], "unit": "MiB/s",
             "baseline": s3_speed["direct_put"], "baseline_unit": "MiB/s", "baseline_what": direct_what,
             "ratio": ratio(s3_speed["raw_upload"], s3_speed["direct_put"]), "detail": how},
            {"figure": "upload, multipart form (S3 backend, moto)", "value": s3_speed["form_upload"], "unit": "MiB/s",
             "baseline": s3_speed["direct_put"], "baseline_unit": "MiB/s", "baseline_what": direct_what,
             "ratio": ratio(s3_speed["form_upload"], s3_speed["direct_put"]), "detail": how},
            {"figure": "download (S3 backend, moto)", "value": s3_speed["download"], "unit": "MiB/s",
             "baseline": s3_speed["direct_get"], "baseline_unit": "MiB/s",
             "baseline_what": "boto3 GET straight to moto", "ratio": ratio(s3_speed["download"], s3_speed["direct_get"]),
             "detail": how},
        ]
    rng, health = local["range"], local["health"]
    for label in ("p50", "p99"):
        value, base = rng["ttfb"][f"{label}_ms"], health["ttfb"][f"{label}_ms"]
        figures.append(
            {"figure": f"Range read of 64 KiB from the middle (206), time to first byte, {label} (local disk)",
             "value": value, "unit": "ms", "baseline": base, "baseline_unit": "ms",
             "baseline_what": f"GET /health, time to first byte, {label}", "ratio": ratio(value, base),
             "detail": f"{rng['requests']} requests on one connection; to the last byte {rng['total'][f'{label}_ms']} ms"})
    if s3:
        # The server answers 206 with its head before S3 sends a byte, so its first byte says
        # nothing about S3: the figure is the time to the whole 64 KiB on both sides.
        value, base = s3["range"]["total"]["p50_ms"], s3["range_direct"]["total"]["p50_ms"]
        figures.append(
            {"figure": "Range read of 64 KiB (206), time to the last byte, p50 (S3 backend, moto)", "value": value,
             "unit": "ms", "baseline": base, "baseline_unit": "ms",
             "baseline_what": "boto3 ranged GET straight to moto, p50", "ratio": ratio(value, base),
             "detail": f"p99 {s3['range']['total']['p99_ms']} ms vs {s3['range_direct']['total']['p99_ms']} ms; "
                       f"the server's first byte (its head) p50 {s3['range']['ttfb']['p50_ms']} ms"})
    rss = local["rss_during_big_upload"]
    growth = rss["rss_growth_mib"]
    figures.append(
        {"figure": f"server RSS growth during a {rss['object_mib']:g} MiB upload (local disk)", "value": growth,
         "unit": "MiB", "baseline": rss["rss_before_mib"], "baseline_unit": "MiB",
         "baseline_what": "RSS just before the upload", "ratio": ratio(growth, rss["rss_before_mib"]),
         "detail": f"peak {rss['rss_peak_mib']} MiB, {rss['samples']} samples every 20 ms, "
                   f"{ratio(growth, rss['object_mib'], 4)} MiB per MiB uploaded, {rss['mib_per_s']} MiB/s",
         "target": f"flat: ≤ {RSS_TARGET_MIB} MiB whatever the size", "meets_target": growth <= RSS_TARGET_MIB})
    document = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_facts(args.cpu_model),
        "binary": binary_kind(args.binary_label),
        "binary_path": args.binary_label,
        "object_mib": size,
        "big_object_mib": rss["object_mib"],
        "repeat": repeat,
        "disk": args.disk,
        "local": local,
        "s3": s3 if s3 else "not measured (BENCH_STORAGE_S3=0)",
        "figures": figures,
    }
    return document


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    files = commands.add_parser("files")
    files.add_argument("--dir", required=True)
    files.add_argument("--mb", type=int, required=True)
    files.add_argument("--big-mb", type=int, required=True)
    one = commands.add_parser("measure")
    one.add_argument("--backend", choices=["local", "s3"], required=True)
    one.add_argument("--port", type=int, required=True)
    one.add_argument("--server-pid", type=int, required=True)
    one.add_argument("--binary", required=True)
    one.add_argument("--data-dir", required=True)
    one.add_argument("--server-log", required=True)
    one.add_argument("--files", required=True)
    one.add_argument("--phone", required=True)
    one.add_argument("--code", required=True)
    one.add_argument("--repeat", type=int, default=3)
    one.add_argument("--range-requests", type=int, default=200)
    one.add_argument("--s3-endpoint", default="")
    one.add_argument("--s3-direct-bucket", default="bench-direct")
    one.add_argument("--s3-part-size", type=int, default=8 * MIB)
    merge = commands.add_parser("report")
    merge.add_argument("--local", required=True)
    merge.add_argument("--s3", default="")
    merge.add_argument("--binary-label", required=True)
    merge.add_argument("--cpu-model", default="")
    merge.add_argument("--disk", default="")
    args = parser.parse_args()

    def terminate(signum, frame):  # noqa: ARG001
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    try:
        if args.command == "files":
            return make_files(args)
        output = measure(args) if args.command == "measure" else report(args)
    except (BenchError, RuntimeError, subprocess.SubprocessError, OSError, ValueError, KeyError) as error:
        log(f"FAILED: {error}")
        return 1
    except Exception as error:  # boto3/botocore errors from the S3 baseline
        log(f"FAILED: {type(error).__name__}: {error}")
        return 1
    print(json.dumps(output, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
