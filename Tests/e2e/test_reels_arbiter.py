"""The Reels Arbiter running in the server (docs/reels.md "Arbiter"), black-box: a stalled
pipeline job suppresses the personalised feed, the operators' RPC and /metrics show it, the
feed's seam reads it, and it clears after the green streak; two instances on one database
journal each window once. Short thresholds (seconds instead of minutes) through REELS_ARBITER_*.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from conftest import _binary, _environment, _free_port, _stop, _wait_ready, launched_server
from e2e_support import close_client, new_client, sign_in
from reels_support import sql
from test_cross_instance import database_url

CAROL = "+15555550330"

ARBITER_ENV = {
    "REELS_ARBITER_INTERVAL_SECONDS": "1",
    "REELS_ARBITER_SUPPRESS_LAG_SECONDS": "30",
    "REELS_ARBITER_CLEAR_LAG_SECONDS": "5",
    "REELS_ARBITER_GREEN_STREAK_SECONDS": "3",
    "REELS_ARBITER_MIN_SUPPRESSION_SECONDS": "4",
    "REELS_ARBITER_TRAFFIC_FLOOR": "5",
}


@pytest.fixture(scope="module")
def arbiter_server():
    with launched_server("arbiter server", ARBITER_ENV) as launched:
        yield launched


def state(server, key: str | None = None) -> httpx.Response:
    key = key or server.service_key
    return httpx.post(f"{server.url}/rest/v1/rpc/get_reels_arbiter_state", json={},
                      headers={"apikey": key, "Authorization": f"Bearer {key}"}, timeout=10)


def metric(server, name: str) -> float | None:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    found = re.search(rf"^{name}(?:{{[^}}]*}})? ([0-9.eE+-]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else None


def start_second_instance(server) -> subprocess.Popen:
    """Another server on the same database with the same arbiter settings."""
    env = {**_environment(), **ARBITER_ENV, "DATABASE_URL": database_url(server), "MESSAGE_BUS": "postgres"}
    log_path = Path(server.data_dir) / "arbiter-b.log"
    port = _free_port()
    process = subprocess.Popen([str(_binary()), "serve", "--port", str(port)], env=env, stdout=open(log_path, "wb"),
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    _wait_ready(f"http://127.0.0.1:{port}", process, log_path)
    return process


async def until(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


async def test_a_stalled_job_suppresses_and_the_green_streak_clears(arbiter_server):
    server = arbiter_server
    await until(lambda: state(server).status_code == 200 and state(server).json()["recent"], what="a first decision")
    first = state(server).json()
    assert first["suppressed"] is False
    assert first["recent"][0]["decision"] == "keep_clear"
    assert metric(server, "reels_arbiter_suppressed") == 0
    assert metric(server, "reels_jobs_queue_depth") == 0

    # A reel whose transcoding job has waited an hour (the worker never took it).
    user = sql(server, "INSERT INTO auth.users (phone) VALUES ('15555550339') RETURNING id")
    reel = sql(server, f"INSERT INTO reels.reels (author_id, original_path, state) VALUES ('{user}', '{user}/a.mp4', 'processing') RETURNING id")
    sql(server, f"INSERT INTO reels.jobs (reel_id, state, created_at, run_after) VALUES ('{reel}', 'queued', now() - interval '1 hour', now() + interval '1 day')")
    await until(lambda: state(server).json()["suppressed"], what="suppression")
    suppressed = state(server).json()
    assert suppressed["recent"][0]["decision"] == "suppress"
    assert suppressed["recent"][0]["inputs"]["queue_depth"] == 1
    assert suppressed["recent"][0]["inputs"]["oldest_job_age_seconds"] >= 3600
    assert "≥ 30 s" in suppressed["reason"]
    assert sql(server, "SELECT reels.feed_suppressed()") == "t"
    assert metric(server, "reels_arbiter_suppressed") == 1
    assert metric(server, "reels_jobs_queue_depth") == 1
    assert metric(server, "reels_jobs_oldest_age_seconds") >= 3600
    assert metric(server, "reels_arbiter_event_lag_seconds") >= 3600

    # The job finishes: green from now on; suppression clears after the streak and the minimum.
    sql(server, f"UPDATE reels.jobs SET state = 'done', finished_at = now() WHERE reel_id = '{reel}'")
    green_from = time.monotonic()
    await until(lambda: not state(server).json()["suppressed"], what="the clear")
    assert time.monotonic() - green_from >= 2.5
    decisions = [row["decision"] for row in state(server).json()["recent"]]
    assert decisions[0] == "clear"
    assert "keep_suppressed" in decisions
    assert sql(server, "SELECT reels.feed_suppressed()") == "f"
    await until(lambda: metric(server, "reels_arbiter_suppressed") == 0, what="the gauge")


async def test_only_the_service_role_reads_the_state(arbiter_server):
    server = arbiter_server
    anon = state(server, server.anon_key)
    assert anon.status_code in (401, 403), anon.text
    client = await new_client(server.url, server.anon_key)
    try:
        token = (await sign_in(client, CAROL)).session.access_token
    finally:
        await close_client(client)
    signed_in = httpx.post(f"{server.url}/rest/v1/rpc/get_reels_arbiter_state", json={},
                           headers={"apikey": server.anon_key, "Authorization": f"Bearer {token}"}, timeout=10)
    assert signed_in.status_code == 403, signed_in.text
    assert signed_in.json()["code"] == "42501"
    unknown = httpx.post(f"{server.url}/rest/v1/rpc/get_reels_arbiter_state", json={"x": 1},
                         headers={"apikey": server.service_key, "Authorization": f"Bearer {server.service_key}"}, timeout=10)
    assert unknown.json()["code"] == "PGRST202", unknown.text


async def test_two_instances_journal_each_window_once(arbiter_server):
    server = arbiter_server
    process = start_second_instance(server)
    try:
        start = float(sql(server, "SELECT extract(epoch FROM now())"))
        await asyncio.sleep(4)
        rows = sql(server, f"SELECT count(*), count(DISTINCT idempotency_key), count(DISTINCT instance) FROM reels.arbiter_journal "
                           f"WHERE decided_at > to_timestamp({start})")
        total, keys, _instances = (int(x) for x in rows.split("|"))
        assert total == keys
        assert 2 <= total <= 6
    finally:
        if process.poll() is None and _stop(process) is None:
            process.kill()
            process.wait(timeout=10)
