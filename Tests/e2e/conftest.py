"""Starts the ecomansoni server once per test session and hands out supabase clients.

Environment:
  ECOMANSONI_BIN      server binary (default <repo>/.build/debug/ecomansoni)
  E2E_DATABASE_URL    use this PostgreSQL instead of the embedded one (passed as DATABASE_URL)
  E2E_KEEP_DATA=1     keep the temporary data directory (and the server log) after the run
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from e2e_support import close_client, new_client  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BINARY = REPO_ROOT / ".build" / "debug" / "ecomansoni"
READY_TIMEOUT = 120.0
KEYS_TIMEOUT = 120.0
# Clean-clone runs saw the session server alive minutes after SIGTERM, stuck after "server
# stopped; closing the database pools" (all threads idle: a pool waiting for a lease that is
# never returned; the holder is not yet found). Closing a pool is now bounded (5 s each, with
# a warning naming the pool, Server.close), so a stopped server exits; the bound here stays
# generous for a loaded machine, and finite, so a server that never exits still fails.
STOP_TIMEOUT = 90.0

SERVER_ENV = {
    "AUTH_SMS_TEST_OTP": "15555550100:123456,15555550101:654321,15555550102:111111,15555550103:222222,15555550104:333333,"
    "15555550105:555555,15555550106:666666,15555550107:777777,"
    # Browser suite (Tests/e2e/web) only.
    "15555550110:110110,15555550111:111011,15555550112:112112,15555550113:113113,"
    # Calls protocol suite (test_calls_protocol.py) only.
    "15555550120:120120,15555550121:121121,15555550122:122122,15555550123:123123,"
    "15555550124:124124,15555550125:125125,15555550126:126126,15555550127:127127,"
    "15555550128:128128,15555550129:129129,15555550130:130130,15555550131:131131,"
    # Browser calls suite (Tests/e2e/web/test_calls.py) only.
    "15555550140:140140,15555550141:141141,"
    # Browser sign-in suite (Tests/e2e/web/test_sign_in.py) only; 15555550219 never signs up.
    "15555550210:210210,15555550211:211211,15555550212:212212,15555550213:213213,15555550214:214214,"
    "15555550215:215215,15555550216:216216,15555550217:217217,15555550218:218218,15555550219:219219,"
    # Realtime hardening suite (test_hardening_realtime_protocol.py) only.
    "15555550150:150150,15555550151:151151,15555550152:152152,15555550153:153153,"
    # Out-of-range numbers suite (test_hardening_numbers.py) only.
    "15555550160:160160,"
    # Storage suite (test_storage.py) only.
    "15555550170:170170,15555550171:171171,"
    # Storage suite over the S3 backend (test_storage_s3.py, its own server instance) only.
    "15555550180:180180,15555550181:181181,"
    # Storage media suite (test_storage_media.py, its own server instance) only.
    "15555550188:188188,15555550189:189189,"
    # Chat attachments suite (test_chat_attachments.py) only.
    "15555550192:192192,15555550193:193193,15555550194:194194,"
    # Resumable (TUS) uploads suite (test_storage_resumable.py) only.
    "15555550195:195195,15555550196:196196,"
    # Browser attachments suite (Tests/e2e/web/test_attachments.py) only.
    "15555550197:197197,15555550198:198198,15555550199:199199,"
    # Browser daily-use suite (Tests/e2e/web/test_daily_use.py) only.
    "15555550200:200200,15555550201:201201,15555550202:202202,15555550203:203203,15555550204:204204,"
    "15555550205:205205,15555550206:206206,15555550207:207207,15555550208:208208,15555550209:209209,"
    # Issue 14's browser suites, ten numbers each: 220-229 insurance, 230-239 chat server,
    # 240-249 conversation, 250-259 chat list, 260-269 app and camera, 270-279 calls, 280-289 audit.
    + ",".join(f"15555550{n}:{n}{n}" for n in range(220, 290))
    # Issue 15's reels suites, ten numbers each: 290-299 uploads, 300-309 pipeline worker,
    # 310-319 interactions, 320-329 feed, 330-339 arbiter, 340-349 web reels; then five
    # each: 350-354 two workers, 355-359 web share card, 360-364 feed limits, 365-369 web saved.
    # Issue 16's admin suites: 370-379 admin API and CLI. Issue 17's cluster suites: 380-385;
    # issue 19's: 386-388 tables, 390 the OpenAPI document (schemathesis).
    + "," + ",".join(f"15555550{n}:{n}{n}" for n in range(290, 400)),
    "AUTH_SMS_MAX_FREQUENCY": "5",
    # Suites that saturate the pool on purpose (200 parallel sends) must not meet the 5 s
    # request deadline on a loaded CI machine; the outage tests start instances of their own.
    "DATABASE_ACQUIRE_TIMEOUT_SECONDS": "60",
    "AUTH_REFRESH_TOKEN_REUSE_INTERVAL": "2",
    "LOG_LEVEL": "info",
    # TURN (calls): the calls suite checks the minted coturn REST credentials against this secret.
    "TURN_URLS": "turn:127.0.0.1:3478?transport=udp,stun:127.0.0.1:3478",
    "TURN_SHARED_SECRET": "e2e-turn-shared-secret-5f1c0a",
    # Realtime: topics starting with this are open to the anon key (broadcast and presence
    # protocol tests); every other unowned topic is refused (docs/realtime.md §5).
    "REALTIME_OPEN_TOPICS": "e2e-open-",
}


@dataclass
class Server:
    """A running server: its base URL, API keys and captured log."""

    url: str
    anon_key: str
    service_key: str
    log_path: Path
    data_dir: Path
    process: subprocess.Popen = field(repr=False)

    def read_log(self) -> str:
        """Everything the server has written to stdout/stderr so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_size(self) -> int:
        """The current length of the log in characters (an offset for wait_for_log)."""
        return len(self.read_log())

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.read_log().splitlines()[-lines:])

    async def wait_for_log(self, pattern: str, *, start: int = 0, timeout: float = 10.0) -> re.Match:
        """The last match of `pattern` in the log after offset `start`, polling until `timeout`."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            matches = list(regex.finditer(self.read_log()[start:]))
            if matches:
                return matches[-1]
            if time.monotonic() > deadline:
                raise AssertionError(f"no log line matching {pattern!r} within {timeout}s; log tail:\n{self.log_tail()}")
            await asyncio.sleep(0.2)


_current_server: Server | None = None

# Logs of further server processes a test module started (name -> path); their tails are
# attached to failing test reports like the session server's.
EXTRA_SERVER_LOGS: dict[str, Path] = {}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _binary() -> Path:
    configured = os.environ.get("ECOMANSONI_BIN")
    path = Path(configured) if configured else DEFAULT_BINARY
    if not path.is_absolute():
        path = REPO_ROOT / path
    return path


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    # Only the suite decides which database the server uses.
    for name in ("DATABASE_URL", "ECOMANSONI_DATA_DIR", "PORT", "HOST", "PUBLIC_URL", "REDIS_URL", "MESSAGE_BUS"):
        env.pop(name, None)
    env.update(SERVER_ENV)
    # Keep the hourly OTP quotas out of the way when the suite is rerun against one
    # external database within the hour (they are not what this suite tests).
    env["AUTH_SMS_MAX_PER_HOUR"] = "10000"
    env["AUTH_SMS_MAX_PER_ADDRESS_PER_HOUR"] = "100000"
    database_url = os.environ.get("E2E_DATABASE_URL")
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def _stop(process: subprocess.Popen) -> int | None:
    """SIGTERM, then wait; returns the exit code or None if it would not stop."""
    if process.poll() is not None:
        return process.returncode
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        return None


def _wait_ready(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    last = "no answer yet"
    with httpx.Client(timeout=2.0) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with code {process.returncode} before it was ready")
            try:
                response = http.get(f"{url}/ready")
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text[:200]}"
            except httpx.HTTPError as error:
                last = repr(error)
            time.sleep(0.25)
    raise RuntimeError(f"GET /ready did not return 200 within {READY_TIMEOUT:.0f}s (last: {last})")


def _read_keys(binary: Path, data_dir: Path, env: dict[str, str]) -> tuple[str, str]:
    result = subprocess.run(
        [str(binary), "keys", "--json", "--data-dir", str(data_dir)],
        env=env, capture_output=True, text=True, timeout=KEYS_TIMEOUT,
    )
    if result.returncode != 0:
        raise RuntimeError(f"`ecomansoni keys --json` failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    for line in reversed(result.stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            keys = json.loads(line)
            return keys["anonKey"], keys["serviceRoleKey"]
    raise RuntimeError(f"`ecomansoni keys --json` printed no JSON object:\n{result.stdout}\n{result.stderr}")


def _print_log(log_path: Path, title: str) -> None:
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = "(no log)"
    print(f"\n===== {title}: {log_path} =====\n{text}\n===== end of server log =====", file=sys.stderr)


def _leftover_postmasters(data_dir: Path) -> list[tuple[Path, int]]:
    """Embedded PostgreSQL servers under `data_dir` that are still alive: (pid file, pid)."""
    alive = []
    for pid_file in data_dir.rglob("postmaster.pid"):
        try:
            pid = int(pid_file.read_text().splitlines()[0])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            continue
        alive.append((pid_file, pid))
    return alive


def _stop_leftover_postmasters(data_dir: Path) -> list[tuple[Path, int]]:
    """Fast-shuts-down PostgreSQL servers the server under test left running in our data dir."""
    leftovers = _leftover_postmasters(data_dir)
    for _, pid in leftovers:
        try:
            os.kill(pid, signal.SIGINT)  # PostgreSQL "fast" shutdown
        except OSError:
            pass
    deadline = time.monotonic() + 15
    while _leftover_postmasters(data_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    return leftovers


@contextmanager
def launched_server(label: str, env_overrides: dict[str, str] | None = None, drop_env: tuple[str, ...] = ()):
    """Starts the binary on its own data directory (embedded database) and port, yields its
    `Server`, and stops it: SIGTERM, then a check that it exited in time and left no
    PostgreSQL running. `label` names it in messages and its data directory."""
    binary = _binary()
    if not binary.exists():
        pytest.fail(f"server binary not found at {binary} (set ECOMANSONI_BIN)", pytrace=False)

    slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
    data_dir = Path(tempfile.mkdtemp(prefix=f"ecom-e2e-{slug}-"))
    log_path = data_dir / f"e2e-{slug}.log"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = _environment()
    for name in drop_env:
        env.pop(name, None)
    env.update(env_overrides or {})
    log_file = open(log_path, "wb")
    process = subprocess.Popen(
        [str(binary), "serve", "--port", str(port), "--data-dir", str(data_dir)],
        env=env, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_ready(url, process, log_path)
        anon_key, service_key = _read_keys(binary, data_dir, env)
    except Exception as error:
        _print_log(log_path, f"{label} log")
        tail = "\n".join(log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-80:])
        _stop(process)
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        log_file.close()
        leftovers = _stop_leftover_postmasters(data_dir)
        if leftovers:
            error = f"{error} (and the {label} left PostgreSQL running: {leftovers}; stopped by the suite)"
        if os.environ.get("E2E_KEEP_DATA") == "1":
            print(f"\n{label} data directory kept at {data_dir}", file=sys.stderr)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
        pytest.fail(f"{label} did not start: {error}\n--- {label} log (last 80 lines) ---\n{tail}", pytrace=False)

    try:
        yield Server(url=url, anon_key=anon_key, service_key=service_key,
                     log_path=log_path, data_dir=data_dir, process=process)
    finally:
        code = _stop(process)
        if code is None:
            process.kill()
            process.wait(timeout=10)
        log_file.close()
        leftovers = _stop_leftover_postmasters(data_dir)
        problems = []
        if code is None:
            problems.append(f"{label} did not exit within {STOP_TIMEOUT:.0f}s of SIGTERM (killed)")
        if leftovers:
            problems.append(f"embedded PostgreSQL still running after the {label} exited (stopped by the suite): {leftovers}")
        if problems:
            _print_log(log_path, f"{label} log")
        if os.environ.get("E2E_KEEP_DATA") == "1" or problems:
            print(f"\n{label} data directory kept at {data_dir}", file=sys.stderr)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
        assert not problems, "; ".join(problems)


@pytest.fixture(scope="session")
def server() -> Server:
    """The server under test (plain sync fixture: independent of the asyncio loop scope)."""
    global _current_server
    with launched_server("server") as launched:
        _current_server = launched
        try:
            yield launched
        finally:
            _current_server = None


@pytest.fixture
def server_log(server: Server) -> Server:
    """Access to the captured server log: read_log(), log_size(), await wait_for_log(...)."""
    return server


@pytest.fixture(scope="module")
async def http(server: Server):
    """A plain httpx client on the session server (one per test module); modules that need
    other connection limits define their own."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30.0) as client:
        yield client


@pytest.fixture
async def supabase_factory(server: Server):
    """`await supabase_factory(key=None)` -> a new async supabase client (anon key by default).

    Clients are closed when the test ends.
    """
    clients = []

    async def make(key: str | None = None):
        client = await new_client(server.url, key or server.anon_key)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await close_client(client)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attaches the tail of the server log to every failing test report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and _current_server is not None:
        try:
            report.sections.append(("server log (last 60 lines)", _current_server.log_tail()))
        except OSError:
            pass
    if report.failed:
        for name, path in list(EXTRA_SERVER_LOGS.items()):
            try:
                tail = "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-40:])
            except OSError:
                continue
            report.sections.append((f"{name} log (last 40 lines)", tail))
