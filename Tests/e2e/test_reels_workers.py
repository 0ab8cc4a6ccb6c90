"""Two reels workers and an API process on one database and one storage directory
(docs/reels.md "Pipeline"; issue 15 item 6). The API process (`--roles api,calls`, embedded
PostgreSQL) runs no worker; the workers are `ecomansoni serve --roles worker` on its database
with the PostgreSQL message bus, so their progress reaches the author's realtime topic there.

- A worker SIGKILLed mid-job (its whole process group: ffmpeg dies with it) loses nothing: the
  other worker takes the job once the lease (6 s here) has ended, the reel becomes ready with
  every output, the job counts 2 attempts, only the final attempt's objects exist and are
  served, the dead attempt's working directory is removed, and the author heard the progress
  of both attempts.
- A reel deleted mid-transcode leaves no media and no working files: the worker's heartbeat
  finds the job gone, stops ffmpeg and removes what its attempt stored.

Clips are made by ffmpeg (lavfi testsrc/sine), long enough for the job to run several seconds.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from conftest import EXTRA_SERVER_LOGS, _binary, _environment, _free_port, _stop, _wait_ready, launched_server
from e2e_support import close_client, new_client, sign_in
from test_cross_instance import database_url
from test_realtime import collector, subscribed
from test_reels_uploads import call, sql, upload

ALICE, BOB = "+15555550350", "+15555550351"
LEASE_SECONDS = 6
READY_TIMEOUT = 300.0


@dataclass
class Worker:
    name: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="module")
def api():
    """The API process on its own embedded database; no worker runs in it."""
    with launched_server("reels-workers-api", {"SERVER_ROLES": "api,calls", "MESSAGE_BUS": "postgres"}) as server:
        yield server


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> bytes:
    """20 s of 720x1280 with sound: three rungs, a job of several seconds."""
    path = tmp_path_factory.mktemp("reel-workers-clips") / "long.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=720x1280:rate=25", "-f", "lavfi", "-i",
                    "sine=frequency=440", "-t", "20", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-shortest", str(path)], check=True, timeout=180)
    return path.read_bytes()


@pytest.fixture
def work_dir():
    directory = Path(tempfile.mkdtemp(prefix="ecom-e2e-reels-work-"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def workers(api, work_dir):
    """Two worker processes sharing the API's database, storage directory and a work directory."""
    started: list[Worker] = []
    data_dirs: list[Path] = []
    for name in ("worker-a", "worker-b"):
        port = _free_port()
        data_dir = Path(tempfile.mkdtemp(prefix=f"ecom-e2e-reels-{name}-"))
        data_dirs.append(data_dir)
        log_path = data_dir / f"{name}.log"
        env = _environment()
        env.update({
            "DATABASE_URL": database_url(api),
            "MESSAGE_BUS": "postgres",
            "STORAGE_DIR": str(Path(api.data_dir) / "storage"),
            "REELS_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
            "REELS_JOB_POLL_SECONDS": "1",
            "REELS_WORK_DIR": str(work_dir),
        })
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [str(_binary()), "serve", "--roles", "worker", "--port", str(port), "--data-dir", str(data_dir)],
                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        EXTRA_SERVER_LOGS[name] = log_path
        started.append(Worker(name, process, log_path))
        _wait_ready(f"http://127.0.0.1:{port}", process, log_path)
    yield started
    for worker in started:
        if worker.process.poll() is None and _stop(worker.process) is None:
            worker.process.kill()
            worker.process.wait(timeout=10)
        EXTRA_SERVER_LOGS.pop(worker.name, None)
    for data_dir in data_dirs:
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
async def http(api):
    async with httpx.AsyncClient(base_url=api.url, timeout=60.0) as client:
        yield client


async def signed_in(api, phone: str):
    """(user id, access token, client)."""
    client = await new_client(api.url, api.anon_key)
    response = await sign_in(client, phone)
    return response.user.id, response.session.access_token, client


async def create_reel(http, api, user, clip: bytes) -> str:
    stored, path = await upload(http, api, user, f"{uuid.uuid4()}.mp4", clip)
    assert stored.status_code == 200, stored.text
    response = await call(http, api, user, "create_reel", {"object_path": path})
    assert response.status_code == 200, response.text
    return response.json()["id"]


def running_job(api, reel: str) -> tuple[int, str, int] | None:
    """(worker pid, attempt id, attempts) of the reel's running job once ffmpeg reported progress."""
    row = sql(api, "SELECT j.worker_id || '|' || j.attempt_id || '|' || j.attempts FROM reels.jobs j "
                   f"JOIN reels.reels r ON r.id = j.reel_id WHERE j.reel_id = '{reel}' AND j.state = 'running' AND r.progress > 0")
    if not row:
        return None
    worker_id, attempt, attempts = row.split("|")
    return int(worker_id.split(":")[-2]), attempt, int(attempts)


async def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout:.0f}s")
        await asyncio.sleep(0.2)


def stored_media(api, reel: str) -> list[str]:
    names = sql(api, f"SELECT string_agg(name, ',' ORDER BY name) FROM storage.objects WHERE bucket_id = 'reels-media' AND name LIKE '{reel}/%'")
    return names.split(",") if names else []


def media_blob_count(api) -> int:
    blobs = Path(api.data_dir) / "storage" / "blobs" / "reels-media"
    return sum(1 for path in blobs.rglob("*") if path.is_file()) if blobs.exists() else 0


async def test_a_worker_killed_mid_job_loses_nothing(api, workers, work_dir, http, clip):
    alice = await signed_in(api, ALICE)
    try:
        progress, _, on_progress = collector()
        channel = alice[2].channel(f"user:{alice[0]}")
        channel.on_broadcast("reel_progress", on_progress)
        await subscribed(channel)

        reel = await create_reel(http, api, alice, clip)
        pid, first_attempt, attempts = await wait_until(lambda: running_job(api, reel), 120, "a worker transcoding the reel")
        assert attempts == 1
        victim = next(worker for worker in workers if worker.process.pid == pid)
        survivor = next(worker for worker in workers if worker is not victim)
        assert (work_dir / f"reels-job-{first_attempt}").is_dir()

        # The worker and its ffmpeg die at once, as when a machine or container goes away.
        os.killpg(pid, signal.SIGKILL)
        victim.process.wait(timeout=10)
        killed_at = time.monotonic()

        def taken_over():
            row = sql(api, f"SELECT worker_id || '|' || attempts FROM reels.jobs WHERE reel_id = '{reel}' AND state IN ('running', 'done')")
            worker_id, count = row.split("|") if row else ("", "0")
            return worker_id.split(":")[-2] == str(survivor.process.pid) and count == "2"

        await wait_until(taken_over, LEASE_SECONDS + 30, "the surviving worker taking the job")
        takeover_seconds = time.monotonic() - killed_at
        # Not before the lease ran out (its last renewal was at most a third of it before the kill).
        assert takeover_seconds >= LEASE_SECONDS * 2 / 3 - 1, takeover_seconds

        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            record = (await call(http, api, alice, "get_reel", {"reel_id": reel})).json()
            if record["state"] in ("ready", "failed") or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        assert record["state"] == "ready", record
        assert record["width"] == 720 and record["height"] == 1280 and abs(record["duration_ms"] - 20000) < 500, record

        job = sql(api, f"SELECT state || '|' || attempts || '|' || attempt_id FROM reels.jobs WHERE reel_id = '{reel}'").split("|")
        assert job[:2] == ["done", "2"], job
        final_attempt = job[2]
        assert final_attempt != first_attempt
        assert sql(api, f"SELECT media_prefix FROM reels.reels WHERE id = '{reel}'") == f"{reel}/{final_attempt}"

        # Only the final attempt's objects exist: every output, none of the dead attempt's.
        names = stored_media(api, reel)
        assert names and all(name.startswith(f"{reel}/{final_attempt}/") for name in names), names
        outputs = {name.split("/", 2)[2] for name in names}
        for expected in ("master.m3u8", "video.mp4", "poster.jpg"):
            assert expected in outputs, sorted(outputs)
        for rung in ("720p", "540p", "360p"):
            assert {f"{rung}/index.m3u8", f"{rung}/init.mp4", f"{rung}/seg_0.m4s"} <= outputs, sorted(outputs)
        # Nothing on disk that no object row names (the dead attempt stored nothing that stayed).
        assert media_blob_count(api) == int(sql(api, "SELECT count(*) FROM storage.objects WHERE bucket_id = 'reels-media'"))

        # What is served is the final attempt's, and all of it resolves.
        media = record["media"]
        master = await http.get(media["hls"])
        assert master.status_code == 200, master.text
        variants = [line for line in master.text.splitlines() if line and not line.startswith("#")]
        assert variants == ["720p/index.m3u8", "540p/index.m3u8", "360p/index.m3u8"]
        base = media["hls"].rsplit("/", 1)[0]
        for variant in variants:
            playlist = await http.get(f"{base}/{variant}")
            assert playlist.status_code == 200 and "#EXT-X-ENDLIST" in playlist.text
            segments = [line for line in playlist.text.splitlines() if line and not line.startswith("#")]
            assert len(segments) >= 9, segments
            last = await http.get(f"{base}/{variant.rsplit('/', 1)[0]}/{segments[-1]}")
            assert last.status_code == 200 and b"moof" in last.content[:200]
        assert (await http.get(media["mp4"], headers={"Range": "bytes=0-1023"})).status_code == 206
        assert (await http.get(media["poster"])).content[:3] == b"\xff\xd8\xff"

        # The survivor removed the dead attempt's working directory; its own is gone too.
        assert list(work_dir.iterdir()) == [], list(work_dir.iterdir())

        # The author heard both attempts: the first one's progress, a restart at 0, then ready.
        deadline = time.monotonic() + 10
        while not any(m["payload"].get("state") == "ready" for m in progress) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        mine = [m["payload"] for m in progress if m["payload"].get("reel_id") == reel]
        first_progress = next(index for index, p in enumerate(mine) if p["state"] == "processing" and p["progress"] > 0)
        assert any(p["state"] == "processing" and p["progress"] == 0 for p in mine[first_progress:]), mine
        assert mine[-1]["state"] == "ready" and mine[-1]["progress"] == 100, mine
        assert survivor.process.poll() is None
        print(f"\ntakeover {takeover_seconds:.1f} s after SIGKILL (lease {LEASE_SECONDS} s)")
    finally:
        await alice[2].remove_all_channels()
        await close_client(alice[2])


async def test_a_reel_deleted_mid_transcode_leaves_no_media_and_no_work_files(api, workers, work_dir, http, clip):
    bob = await signed_in(api, BOB)
    try:
        reel = await create_reel(http, api, bob, clip)
        pid, attempt, _ = await wait_until(lambda: running_job(api, reel), 120, "a worker transcoding the reel")
        worker = next(worker for worker in workers if worker.process.pid == pid)
        log_start = len(worker.log())
        deleted = await call(http, api, bob, "delete_reel", {"reel_id": reel})
        assert deleted.status_code in (200, 204), deleted.text

        # The next heartbeat (every third of the lease) finds the job gone and the worker cleans up.
        await wait_until(lambda: "lease lost" in worker.log()[log_start:], LEASE_SECONDS + 20, "the worker noticing the deletion")
        await wait_until(lambda: not (work_dir / f"reels-job-{attempt}").exists(), 20, "the attempt's working directory removed")
        await wait_until(lambda: not stored_media(api, reel), 20, "the attempt's stored outputs removed")
        assert sql(api, f"SELECT count(*) FROM reels.jobs WHERE reel_id = '{reel}'") == "0"
        assert media_blob_count(api) == int(sql(api, "SELECT count(*) FROM storage.objects WHERE bucket_id = 'reels-media'"))
        assert worker.process.poll() is None
    finally:
        await close_client(bob[2])
