"""TURN: coturn REST credentials minted by the server work on a real coturn, and nothing else does.

A coturn (Debian's `turnserver`) is started on loopback with a configuration written by
scripts/turn/coturn.conf.sh --dev, from the same TURN_* variables as an extra server instance
of this suite (same database as the session server, so its users and keys are the same).
Relays are allocated with coturn's own client, `turnutils_uclient`, in client-to-client mode
(-y): two allocations on the coturn relay data to each other, so a pass means authentication,
allocation, permissions and relaying all worked.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from conftest import REPO_ROOT, _binary, _environment, _free_port, _stop, _wait_ready
from e2e_support import close_client, new_client, sign_in

SCRIPT = REPO_ROOT / "scripts" / "turn" / "coturn.conf.sh"
CREDENTIALS_PATH = "/functions/v1/turn-credentials"

SECRET = f"e2e-turn-{secrets.token_hex(16)}"
TTL_SECONDS = 900  # not the default 3600, so the test sees the server honours TURN_TTL_SECONDS
# Signed in only through this module's own server instance (its AUTH_SMS_TEST_OTP), so no
# other test shares these users or their rate limits.
PHONE, CODE = "+15555550190", "190190"
RATE_PHONE, RATE_CODE = "+15555550191", "191191"
RATE_LIMIT_PER_MINUTE = 30

UCLIENT_TIMEOUT = 60.0
COTURN_READY_TIMEOUT = 20.0


# --------------------------------------------------------------------------- credentials


def rest_password(secret: str, username: str) -> str:
    """coturn's REST scheme: base64(HMAC-SHA1(secret, username))."""
    return base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()


def mint(secret: str, user_id: str, expiry: int) -> tuple[str, str]:
    username = f"{expiry}:{user_id}"
    return username, rest_password(secret, username)


# --------------------------------------------------------------------------- the config script


def run_script(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {name: value for name, value in os.environ.items() if not name.startswith("TURN_")}
    base.update(env or {})
    return subprocess.run(["bash", str(SCRIPT), *args], env=base, capture_output=True, text=True, timeout=30)


def config_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def config_values(lines: list[str], key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in lines if line.startswith(key + "=")]


# Ranges production must deny (a peer in any of them must not be reachable through the relay).
REQUIRED_DENIED = [
    "0.0.0.0-0.255.255.255", "10.0.0.0-10.255.255.255", "100.64.0.0-100.127.255.255",
    "127.0.0.0-127.255.255.255", "169.254.0.0-169.254.255.255", "172.16.0.0-172.31.255.255",
    "192.168.0.0-192.168.255.255", "198.18.0.0-198.19.255.255", "224.0.0.0-239.255.255.255",
    "240.0.0.0-255.255.255.255", "::1", "::ffff:0.0.0.0-::ffff:255.255.255.255",
    "64:ff9b::-64:ff9b::ffff:ffff", "fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    "fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ff00::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
]
LOOPBACK_DENIED = {"127.0.0.0-127.255.255.255", "::1"}


def test_config_script_production_configuration(tmp_path):
    output = tmp_path / "turnserver.conf"
    urls = "turn:turn.example.com:3479?transport=udp,turn:turn.example.com:3479?transport=tcp,turns:turn.example.com:5350?transport=tcp"
    result = run_script("--relay-ip", "10.1.2.3", "--external-ip", "203.0.113.7/10.1.2.3",
                        "--min-port", "50000", "--max-port", "50100", "-o", str(output),
                        env={"TURN_SHARED_SECRET": SECRET, "TURN_URLS": urls})
    assert result.returncode == 0, result.stderr
    assert result.stdout == "", "with -o nothing goes to standard output"
    assert stat.S_IMODE(output.stat().st_mode) == 0o600, "the file holds the secret: mode 0600"
    lines = config_lines(output.read_text())

    for flag in ("use-auth-secret", "fingerprint", "no-cli", "no-multicast-peers", "no-tls", "no-dtls"):
        assert flag in lines, f"{flag} missing:\n{output.read_text()}"
    for forbidden in ("lt-cred-mech", "no-auth", "allow-loopback-peers", "server-relay"):
        assert not any(line == forbidden or line.startswith(forbidden + "=") for line in lines), forbidden
    assert not any(line.startswith(("user=", "cli-password", "web-admin")) for line in lines)
    assert config_values(lines, "static-auth-secret") == [SECRET]
    # Derived from TURN_URLS: the turn: port, the turns: port, the host as realm.
    assert config_values(lines, "listening-port") == ["3479"]
    assert config_values(lines, "tls-listening-port") == ["5350"]
    assert config_values(lines, "realm") == ["turn.example.com"]
    assert config_values(lines, "relay-ip") == ["10.1.2.3"]
    assert config_values(lines, "external-ip") == ["203.0.113.7/10.1.2.3"]
    assert config_values(lines, "min-port") == ["50000"] and config_values(lines, "max-port") == ["50100"]
    assert config_values(lines, "listening-ip") == [], "production listens on every interface unless told"
    denied = config_values(lines, "denied-peer-ip")
    missing = [cidr for cidr in REQUIRED_DENIED if cidr not in denied]
    assert not missing, f"production config does not deny {missing}"
    # coturn treats a range starting at "::" as matching everything (IPv4 included).
    assert not [item for item in denied if item == "::" or item.startswith("::-")]
    # turns: URLs without a certificate: the script says TLS will not work.
    assert "turns:" in result.stderr and "--cert" in result.stderr


def test_config_script_dev_tls_realm_and_errors(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    result = run_script("--dev", "--cert", str(cert), "--pkey", str(key), "--listening-port", "40000",
                        env={"TURN_SHARED_SECRET": SECRET, "TURN_REALM": "calls.example.org",
                             "TURN_URLS": "turn:turn.example.com:3478"})
    assert result.returncode == 0, result.stderr
    lines = config_lines(result.stdout)
    assert "allow-loopback-peers" in lines
    denied = set(config_values(lines, "denied-peer-ip"))
    assert not denied & LOOPBACK_DENIED, "--dev must not deny loopback peers"
    assert set(REQUIRED_DENIED) - LOOPBACK_DENIED <= denied, "--dev keeps every other range denied"
    assert config_values(lines, "listening-ip") == ["127.0.0.1"] and config_values(lines, "relay-ip") == ["127.0.0.1"]
    assert config_values(lines, "listening-port") == ["40000"], "--listening-port overrides TURN_URLS"
    assert config_values(lines, "realm") == ["calls.example.org"], "TURN_REALM overrides the URL host"
    assert config_values(lines, "cert") == [str(cert)] and config_values(lines, "pkey") == [str(key)]
    assert "no-tls" not in lines and "no-dtls" not in lines
    assert "use-auth-secret" in lines and "lt-cred-mech" not in lines

    # No URLs at all: coturn's standard ports and the default realm.
    lines = config_lines(run_script(env={"TURN_SHARED_SECRET": SECRET}).stdout)
    assert config_values(lines, "listening-port") == ["3478"] and config_values(lines, "tls-listening-port") == ["5349"]
    assert config_values(lines, "realm") == ["ecomansoni"]

    help_text = run_script("--help")
    assert help_text.returncode == 0
    for word in ("TURN_SHARED_SECRET", "TURN_URLS", "TURN_REALM", "--dev", "--allow-loopback", "--output",
                 "--listening-ip", "--relay-ip", "--min-port", "--max-port", "--cert", "--pkey", "denied-peer-ip"):
        assert word in help_text.stdout, f"--help does not document {word}"

    for args, env, message in (
        ((), {}, "TURN_SHARED_SECRET"),
        ((), {"TURN_SHARED_SECRET": "has space"}, "whitespace"),
        (("--cert", str(cert)), {"TURN_SHARED_SECRET": SECRET}, "--pkey"),
        (("--min-port", "60000", "--max-port", "50000"), {"TURN_SHARED_SECRET": SECRET}, "--max-port"),
        (("--listening-port", "70000"), {"TURN_SHARED_SECRET": SECRET}, "out of range"),
        ((), {"TURN_SHARED_SECRET": SECRET, "TURN_URLS": "http://example.com"}, "scheme"),
        (("--bogus",), {"TURN_SHARED_SECRET": SECRET}, "unknown option"),
    ):
        failed = run_script(*args, env=env)
        assert failed.returncode != 0 and failed.stdout == "", (args, env, failed.stdout)
        assert message in failed.stderr, (args, env, failed.stderr)


# --------------------------------------------------------------------------- coturn


def _port_free(port: int) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def _free_udp_and_tcp_port() -> int:
    for _ in range(50):
        port = _free_port()
        if _port_free(port):
            return port
    raise RuntimeError("no port free for both UDP and TCP")


def _relay_port_range(size: int = 64, exclude: set[int] = frozenset()) -> tuple[int, int]:
    """A block of free ports below the kernel's ephemeral range (so no outgoing socket takes them)."""
    try:
        ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    low, high = 20000, max(20000 + size, ephemeral_low - size)
    for _ in range(100):
        start = secrets.randbelow(high - low) + low
        ports = range(start, start + size)
        if not set(ports) & set(exclude) and all(_port_free(port) for port in ports[:: size // 8]):
            return start, start + size - 1
    raise RuntimeError("no free relay port block")


def _stun_binding_ok(port: int) -> bool:
    """One STUN Binding request over UDP: True if coturn answered with a Binding success."""
    transaction = secrets.token_bytes(12)
    request = b"\x00\x01\x00\x00" + b"\x21\x12\xa4\x42" + transaction
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.5)
        try:
            sock.sendto(request, ("127.0.0.1", port))
            data, _ = sock.recvfrom(2048)
        except OSError:
            return False
    return len(data) >= 20 and data[:2] == b"\x01\x01" and data[8:20] == transaction


@dataclass
class Coturn:
    port: int
    relay_range: tuple[int, int]
    directory: Path
    config: Path
    process: subprocess.Popen = field(repr=False)

    @property
    def log_path(self) -> Path:
        return self.directory / "turnserver.log"

    def read_log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.read_log().splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_coturn(name: str, script_args: list[str], script_env: dict[str, str], *,
                 port: int | None = None, exclude_ports: set[int] = frozenset()) -> Coturn:
    for tool in ("turnserver", "turnutils_uclient"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} not found: install Debian's coturn package (scripts/test does)", pytrace=False)
    directory = Path(tempfile.mkdtemp(prefix=f"ecom-{name}-"))
    port = port or _free_udp_and_tcp_port()
    relay_range = _relay_port_range(exclude=set(exclude_ports) | {port})
    config = directory / "turnserver.conf"
    if "TURN_URLS" not in script_env:
        script_args = [*script_args, "--listening-port", str(port)]
    result = run_script(
        *script_args,
        "--min-port", str(relay_range[0]), "--max-port", str(relay_range[1]),
        "--log-file", str(directory / "turnserver.log"), "--pidfile", str(directory / "turnserver.pid"),
        "--userdb", str(directory / "turndb"), "--verbose", "-o", str(config),
        env=script_env,
    )
    assert result.returncode == 0, f"coturn.conf.sh failed: {result.stderr}"
    stdout = open(directory / "stdout.log", "wb")
    # -c: only this file is read (never /etc/turnserver.conf); no -o: stays in the foreground,
    # as this user (no proc-user in the configuration).
    process = subprocess.Popen(["turnserver", "-c", str(config)], stdout=stdout, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, cwd=directory, start_new_session=True)
    stdout.close()
    coturn = Coturn(port=port, relay_range=relay_range, directory=directory, config=config, process=process)
    deadline = time.monotonic() + COTURN_READY_TIMEOUT
    while not _stun_binding_ok(port):
        if process.poll() is not None or time.monotonic() > deadline:
            output = (directory / "stdout.log").read_text(errors="replace")
            log_tail = coturn.log_tail()
            finish_coturn(coturn)
            pytest.fail(f"coturn did not start on 127.0.0.1:{port} (exit {process.returncode}):\n"
                        f"{output[-2000:]}\n{log_tail}", pytrace=False)
        time.sleep(0.1)
    return coturn


def finish_coturn(coturn: Coturn) -> None:
    coturn.stop()
    if os.environ.get("E2E_KEEP_DATA") == "1":
        print(f"\ncoturn directory kept at {coturn.directory}")
    else:
        shutil.rmtree(coturn.directory, ignore_errors=True)


def turn_urls(port: int) -> str:
    return f"turn:127.0.0.1:{port}?transport=udp,turn:127.0.0.1:{port}?transport=tcp,stun:127.0.0.1:{port}"


@pytest.fixture(scope="module")
def coturn():
    """coturn in development mode (loopback peers allowed) for the shared TURN_URLS/secret."""
    port = _free_udp_and_tcp_port()
    # No --listening-port: the script derives it from TURN_URLS, like the server reads them.
    running = start_coturn("coturn", ["--dev"], {"TURN_SHARED_SECRET": SECRET, "TURN_URLS": turn_urls(port)}, port=port)
    assert running.port == port
    yield running
    finish_coturn(running)


@dataclass
class UClientResult:
    code: int
    output: str
    sent: int
    received: int


def uclient(port: int, username: str, password: str, *, tcp: bool = False) -> UClientResult:
    """turnutils_uclient in client-to-client mode: two allocations relaying 5 messages each way."""
    args = ["turnutils_uclient", "-p", str(port), "-u", username, "-w", password, "-y", "-c", "-n", "5"]
    if tcp:
        args.append("-t")
    args.append("127.0.0.1")
    try:
        result = subprocess.run(args, capture_output=True, text=True, timeout=UCLIENT_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as error:
        raise AssertionError(f"turnutils_uclient hung for {UCLIENT_TIMEOUT}s: {error.stdout!r}") from error
    output = result.stdout + result.stderr
    totals = re.findall(r"tot_send_msgs=(\d+), tot_recv_msgs=(\d+)", output)
    sent, received = (int(totals[-1][0]), int(totals[-1][1])) if totals else (0, 0)
    return UClientResult(result.returncode, output, sent, received)


def assert_relayed(result: UClientResult, coturn: Coturn, username: str) -> None:
    where = f"turnutils_uclient exit {result.code}:\n{result.output[-1500:]}\n--- coturn log ---\n{coturn.log_tail()}"
    assert result.code == 0, where
    assert result.sent > 0 and result.received > 0, f"nothing was relayed: {where}"
    log = coturn.read_log()
    assert f"user <{username}>: incoming packet ALLOCATE processed, success" in log, where
    assert re.search(rf"user <{re.escape(username)}>: incoming packet (CHANNEL_BIND|CREATE_PERMISSION) processed, success", log), where


async def assert_refused(coturn: Coturn, username: str, password: str) -> None:
    result = await asyncio.to_thread(uclient, coturn.port, username, password)
    where = f"turnutils_uclient exit {result.code}:\n{result.output[-1500:]}\n--- coturn log ---\n{coturn.log_tail()}"
    assert result.code != 0, f"credentials were accepted: {where}"
    assert result.received == 0, where
    assert "Cannot complete Allocation" in result.output, where
    log = coturn.read_log()
    assert f"user <{username}>: incoming packet message processed, error 401: Unauthorized" in log, where
    assert f"user <{username}>: incoming packet ALLOCATE processed, success" not in log, where


def test_coturn_runs_in_the_foreground_as_this_user(coturn):
    assert coturn.process.poll() is None
    pid = int((coturn.directory / "turnserver.pid").read_text().split()[0])
    assert pid == coturn.process.pid, "coturn forked away (daemonized) instead of staying in the foreground"
    status = Path(f"/proc/{pid}/status").read_text()
    real_uid = int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))
    assert real_uid == os.getuid()
    log = coturn.read_log()
    assert f"UDP listener opened on: 127.0.0.1:{coturn.port}" in log
    assert "allow_loopback_peers" in log  # development mode, as configured


async def test_python_minted_credentials_allocate_a_relay(coturn):
    """Baseline for the refusal tests below: the same client with valid credentials works."""
    username, password = mint(SECRET, "python-minted", int(time.time()) + 600)
    assert_relayed(await asyncio.to_thread(uclient, coturn.port, username, password), coturn, username)


async def test_expired_credentials_are_refused(coturn):
    username, password = mint(SECRET, "expired-user", int(time.time()) - 30)
    await assert_refused(coturn, username, password)


async def test_forged_credentials_are_refused(coturn):
    expiry = int(time.time()) + 600
    # Signed with another secret.
    username, password = mint("not-the-" + SECRET, "forged-user", expiry)
    await assert_refused(coturn, username, password)
    # A valid signature carried over to a username with a later expiry.
    _, valid_password = mint(SECRET, "forged-user", expiry)
    await assert_refused(coturn, f"{expiry + 86400}:forged-user", valid_password)
    # Another user's name with this user's credential.
    await assert_refused(coturn, f"{expiry}:someone-else", valid_password)


async def test_production_configuration_denies_loopback_peers(coturn):
    """The same secret, production mode (listening and relaying on loopback for the test): the
    allocation succeeds, but relaying to a loopback peer (the other client's relay) is refused."""
    production = start_coturn("coturn-prod", ["--listening-ip", "127.0.0.1", "--relay-ip", "127.0.0.1"],
                              {"TURN_SHARED_SECRET": SECRET}, exclude_ports=set(range(coturn.relay_range[0], coturn.relay_range[1] + 1)))
    try:
        assert "allow-loopback-peers" not in production.config.read_text()
        username, password = mint(SECRET, "prod-user", int(time.time()) + 600)
        result = await asyncio.to_thread(uclient, production.port, username, password)
        where = f"exit {result.code}:\n{result.output[-1500:]}\n--- coturn log ---\n{production.log_tail()}"
        assert result.code != 0 and result.received == 0, where
        assert "403" in result.output, where
        log = production.read_log()
        assert f"user <{username}>: incoming packet ALLOCATE processed, success" in log, where
        assert re.search(rf"user <{re.escape(username)}>: incoming packet \w+ processed, error 403: Forbidden IP", log), where
    finally:
        finish_coturn(production)


# --------------------------------------------------------------------------- the server


def database_url(server) -> str:
    """The session server's database: E2E_DATABASE_URL or its embedded cluster."""
    configured = os.environ.get("E2E_DATABASE_URL")
    if configured:
        return configured
    pid_file = Path(server.data_dir) / "postgres" / "postmaster.pid"
    port = pid_file.read_text().splitlines()[3].strip()
    password = (Path(server.data_dir) / "postgres.password").read_text().strip()
    return f"postgres://postgres:{password}@127.0.0.1:{port}/ecomansoni"


@dataclass
class TurnInstance:
    url: str
    urls: list[str]
    log_path: Path


def start_instance(server, name: str, turn_env: dict[str, str] | None):
    """An extra server instance on the session database; `turn_env` replaces every TURN_* variable
    (None: no TURN configuration at all). Returns (process, url, log path)."""
    port = _free_port()
    log_path = Path(server.data_dir) / f"instance-{name}.log"
    env = {key: value for key, value in _environment().items() if not key.startswith("TURN_")}
    env.update(turn_env or {})
    env["DATABASE_URL"] = database_url(server)
    otps = env.get("AUTH_SMS_TEST_OTP", "")
    extra = f"{PHONE.lstrip('+')}:{CODE},{RATE_PHONE.lstrip('+')}:{RATE_CODE}"
    env["AUTH_SMS_TEST_OTP"] = f"{otps},{extra}" if otps else extra
    log = open(log_path, "wb")
    process = subprocess.Popen([str(_binary()), "serve", "--port", str(port)], env=env, stdout=log,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    log.close()
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, log_path)
    except Exception as error:
        stop_instance(process)
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-60:])
        pytest.fail(f"server instance {name} did not start: {error}\n{tail}", pytrace=False)
    return process, url, log_path


def stop_instance(process: subprocess.Popen) -> None:
    if process.poll() is None and _stop(process) is None:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def turn_instance(server, coturn):
    """An extra server instance on the session database with TURN configured for `coturn`."""
    urls = turn_urls(coturn.port)
    process, url, log_path = start_instance(server, "turn", {
        "TURN_URLS": urls, "TURN_SHARED_SECRET": SECRET, "TURN_TTL_SECONDS": str(TTL_SECONDS)})
    yield TurnInstance(url=url, urls=urls.split(","), log_path=log_path)
    stop_instance(process)


@dataclass
class SignedIn:
    user_id: str
    access_token: str


async def _sign_in(instance: TurnInstance, anon_key: str, phone: str, code: str) -> SignedIn:
    client = await new_client(instance.url, anon_key)
    try:
        response = await sign_in(client, phone, code)
        return SignedIn(user_id=response.user.id, access_token=response.session.access_token)
    finally:
        await close_client(client)


@pytest.fixture(scope="module")
async def turn_user(server, turn_instance) -> SignedIn:
    return await _sign_in(turn_instance, server.anon_key, PHONE, CODE)


async def request_credentials(url: str, anon_key: str, token: str | None) -> httpx.Response:
    headers = {"apikey": anon_key}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(timeout=20.0) as http:
        return await http.post(f"{url}{CREDENTIALS_PATH}", headers=headers)


def _body(response: httpx.Response) -> dict:
    assert response.status_code == 200, f"{CREDENTIALS_PATH} -> {response.status_code}: {response.text[:500]}"
    body = response.json()
    assert isinstance(body, dict), body
    return body


async def test_server_mints_coturn_rest_credentials(server, turn_instance, turn_user):
    before = time.time()
    response = await request_credentials(turn_instance.url, server.anon_key, turn_user.access_token)
    after = time.time()
    body = _body(response)
    assert "no-store" in response.headers.get("cache-control", ""), response.headers
    assert response.headers.get("content-type", "").startswith("application/json")

    username, credential = body["username"], body["credential"]
    expiry_text, _, user_id = username.partition(":")
    assert expiry_text.isdigit() and user_id == turn_user.user_id, username
    expiry = int(expiry_text)
    assert before + TTL_SECONDS - 2 <= expiry <= after + TTL_SECONDS + 2, (expiry, before, TTL_SECONDS)
    assert credential == rest_password(SECRET, username)
    assert body["ttl"] == TTL_SECONDS
    assert body["uris"] == turn_instance.urls

    ice_servers = body["iceServers"]
    assert isinstance(ice_servers, list) and ice_servers
    turn_entries = [entry for entry in ice_servers if any(str(url).startswith(("turn:", "turns:")) for url in entry["urls"])]
    stun_entries = [entry for entry in ice_servers if all(str(url).startswith("stun:") for url in entry["urls"])]
    assert turn_entries and all(entry["username"] == username and entry["credential"] == credential for entry in turn_entries)
    assert sorted(url for entry in turn_entries for url in entry["urls"]) == sorted(url for url in turn_instance.urls if url.startswith("turn"))
    assert [url for entry in stun_entries for url in entry["urls"]] == [url for url in turn_instance.urls if url.startswith("stun:")]
    assert all("username" not in entry and "credential" not in entry for entry in stun_entries)

    # Minted again a moment later: fresh credentials for the same user, never a shared constant.
    again = _body(await request_credentials(turn_instance.url, server.anon_key, turn_user.access_token))
    assert again["username"].endswith(f":{turn_user.user_id}")
    assert again["credential"] == rest_password(SECRET, again["username"])


async def test_turn_credentials_need_a_signed_in_user(server, turn_instance):
    anonymous = await request_credentials(turn_instance.url, server.anon_key, None)
    assert anonymous.status_code == 401, anonymous.text
    as_anon_key = await request_credentials(turn_instance.url, server.anon_key, server.anon_key)
    assert as_anon_key.status_code == 401, as_anon_key.text
    forged = await request_credentials(turn_instance.url, server.anon_key, "not.a.token")
    assert forged.status_code == 401, forged.text
    for response in (anonymous, as_anon_key, forged):
        assert "credential" not in response.text


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_server_credentials_allocate_a_relay_on_coturn(server, turn_instance, turn_user, coturn, transport):
    body = _body(await request_credentials(turn_instance.url, server.anon_key, turn_user.access_token))
    # The TURN URL the server hands out for this transport points at our coturn.
    urls = [url for entry in body["iceServers"] for url in entry["urls"] if url.startswith("turn:")]
    wanted = [url for url in urls if url.endswith(f"transport={transport}")]
    assert wanted, f"no turn: URL for {transport} in {urls}"
    match = re.fullmatch(r"turn:([^:?]+):(\d+)\?transport=\w+", wanted[0])
    assert match and match.group(1) == "127.0.0.1" and int(match.group(2)) == coturn.port, wanted[0]

    result = await asyncio.to_thread(uclient, coturn.port, body["username"], body["credential"], tcp=transport == "tcp")
    assert_relayed(result, coturn, body["username"])


async def test_server_credentials_tampered_with_are_refused(server, turn_instance, turn_user, coturn):
    body = _body(await request_credentials(turn_instance.url, server.anon_key, turn_user.access_token))
    username, credential = body["username"], body["credential"]
    expiry, _, user_id = username.partition(":")
    # Longer life with the server's signature: refused.
    await assert_refused(coturn, f"{int(expiry) + 3600}:{user_id}", credential)
    # The user's own name, correctly signed, but already expired: refused.
    await assert_refused(coturn, *mint(SECRET, user_id, int(time.time()) - 1))


async def test_turn_unavailable_without_configuration(server, turn_user):
    """An instance without TURN_* configuration: 503 turn_unavailable, never empty credentials.
    (Same database, same signing keys: the user's token from the TURN instance is valid there.)"""
    process, url, _ = start_instance(server, "no-turn", None)
    try:
        response = await request_credentials(url, server.anon_key, turn_user.access_token)
        assert response.status_code == 503, response.text
        body = response.json()
        assert body.get("code") == "turn_unavailable" and body.get("error"), body
        assert "credential" not in body
        # Authentication still comes first.
        anonymous = await request_credentials(url, server.anon_key, None)
        assert anonymous.status_code == 401, anonymous.text
    finally:
        await asyncio.to_thread(stop_instance, process)


async def test_turn_credentials_are_rate_limited_per_user(server, turn_instance, turn_user):
    rate_user = await _sign_in(turn_instance, server.anon_key, RATE_PHONE, RATE_CODE)
    statuses = []
    async with httpx.AsyncClient(timeout=20.0) as http:
        headers = {"apikey": server.anon_key, "Authorization": f"Bearer {rate_user.access_token}"}
        for _ in range(RATE_LIMIT_PER_MINUTE + 10):
            response = await http.post(f"{turn_instance.url}{CREDENTIALS_PATH}", headers=headers)
            statuses.append(response.status_code)
            if response.status_code == 429:
                break
    assert statuses[-1] == 429, f"no 429 after {len(statuses)} requests: {statuses}"
    assert statuses[:-1] and set(statuses[:-1]) == {200}, statuses
    assert len(statuses) - 1 >= RATE_LIMIT_PER_MINUTE * 2 // 3, f"limited after only {len(statuses) - 1}: {statuses}"
    # Per user: another user is not affected.
    other = await request_credentials(turn_instance.url, server.anon_key, turn_user.access_token)
    assert other.status_code == 200, other.text
