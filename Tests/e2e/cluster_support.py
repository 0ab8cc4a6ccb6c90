"""Several server instances on the session server's database, a private redis-server and an
nginx load balancer in front of them: the pieces of the cross-instance suites
(test_message_bus.py, test_load_balancer.py)."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import _binary, _environment, _free_port, _stop, _wait_ready
from test_cross_instance import database_url


class RedisServer:
    """A redis-server on a fixed port that can be stopped and started again on it."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            answer = subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True)
            if answer.stdout.strip() == "PONG":
                return
            time.sleep(0.05)
        raise AssertionError(f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture
def redis(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (scripts/test installs Debian's redis-server)")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


def launch(server, log_path: Path, extra: dict[str, str]) -> subprocess.Popen:
    env = _environment()
    env["DATABASE_URL"] = database_url(server)
    env.update(extra)
    port = _free_port()
    log = open(log_path, "wb")
    process = subprocess.Popen(
        [str(_binary()), "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True)
    process.url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    process.log_path = log_path  # type: ignore[attr-defined]
    return process


@contextmanager
def instances(server, count: int, extra: dict[str, str]):
    started = []
    try:
        for index in range(count):
            process = launch(server, Path(server.data_dir) / f"bus-{uuid.uuid4().hex[:6]}-{index}.log", extra)
            started.append(process)
            _wait_ready(process.url, process, process.log_path)
        yield started
    finally:
        for process in started:
            if process.poll() is None and _stop(process) is None:
                process.kill()
                process.wait(timeout=10)


def refused(process: subprocess.Popen) -> str:
    """Waits for a process that must refuse to start; returns what it printed."""
    try:
        code = process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError("the instance started although it would split the cluster")
    assert code != 0
    return Path(process.log_path).read_text(errors="replace")


NGINX_CONFIG = """
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    # Round robin, no sticky sessions; a dead instance is skipped for 5 s after one failure.
    upstream ecomansoni {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 0;
        location / {{
            proxy_pass http://ecomansoni;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 1h;
            proxy_buffering off;
            proxy_next_upstream error timeout;
        }}
    }}
}}
"""


class LoadBalancer:
    """Debian's nginx in front of instances, as docs/deployment.md configures it."""

    def __init__(self, directory: Path, upstreams: list[str]):
        self.directory = directory
        self.port = _free_port()
        servers = "\n".join(f"        server {address} max_fails=1 fail_timeout=5s;" for address in upstreams)
        directory.mkdir(parents=True, exist_ok=True)
        self.config = directory / "nginx.conf"
        self.config.write_text(NGINX_CONFIG.format(prefix=directory, servers=servers, port=self.port))
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.process = subprocess.Popen(
            [binary, "-c", str(self.config), "-p", str(directory)], stdout=subprocess.DEVNULL,
            stderr=open(directory / "nginx.stderr", "wb"), start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"nginx exited: {(directory / 'nginx.stderr').read_text(errors='replace')}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError("nginx did not listen within 10 s")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


async def close_all(clients) -> None:
    """Leaves every channel and closes each client, whatever state its instance is in."""
    from e2e_support import close_client

    for client in clients:
        try:
            await client.remove_all_channels()
        except Exception:
            pass
        try:
            await close_client(client)
        except Exception:
            pass
