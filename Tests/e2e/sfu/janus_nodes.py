"""Janus nodes for the SFU suite (docs/sfu.md "Test set-up", spec sfu-janus.md §7 and §9).

Each node is Debian's `janus` with a configuration written here: the VideoRoom plugin only,
the WebSocket transport on 127.0.0.1 only (HTTP and both admin APIs off), an `api_secret` and
a VideoRoom `admin_key` with `lock_rtp_forward`, no demo rooms, its own RTP port range and the
test timeouts of §9 (`session_timeout` 15, `reclaim_session_timeout` 10). Janus never gathers
candidates on a loopback interface, so the suite runs inside a network namespace whose veth
`v0` carries 127.0.0.1 (`scripts/sfu-netns`) and the nodes gather on `v0` only.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

LIB = Path("/usr/lib/x86_64-linux-gnu/janus")


def janus_binary() -> str | None:
    return shutil.which("janus") or (str(Path("/usr/bin/janus")) if Path("/usr/bin/janus").exists() else None)


def in_media_namespace() -> bool:
    """True where Janus can gather a candidate: an interface other than loopback carries 127.0.0.1."""
    try:
        out = subprocess.run(["ip", "-o", "addr", "show", "dev", "v0"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "127.0.0.1" in out.stdout


@dataclass
class JanusNode:
    """One Janus process; `start`, `kill` (SIGKILL) and `restart` it."""

    node_id: str
    port: int
    rtp_ports: tuple[int, int]
    directory: Path
    api_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    admin_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "janus.log"

    def write_configuration(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        keep_plugins = {"libjanus_videoroom.so"}
        plugins = sorted(p.name for p in (LIB / "plugins").glob("*.so") if p.name not in keep_plugins)
        transports = sorted(p.name for p in (LIB / "transports").glob("*.so") if p.name != "libjanus_websockets.so")
        files = {
            "janus.jcfg": f"""
general: {{
  configs_folder = "{self.directory}"
  plugins_folder = "{LIB}/plugins"
  transports_folder = "{LIB}/transports"
  events_folder = "{LIB}/events"
  loggers_folder = "{LIB}/loggers"
  debug_level = 4
  server_name = "{self.node_id}"
  api_secret = "{self.api_secret}"
  session_timeout = 15
  reclaim_session_timeout = 10
  protected_folders = ["/bin", "/boot", "/dev", "/etc", "/lib", "/proc", "/sbin", "/sys", "/usr", "/var"]
}}
certificates: {{}}
media: {{
  rtp_port_range = "{self.rtp_ports[0]}-{self.rtp_ports[1]}"
  slowlink_threshold = 4
}}
nat: {{
  ice_enforce_list = "v0"
  ignore_mdns = true
}}
plugins: {{
  disable = "{",".join(plugins)}"
}}
transports: {{
  disable = "{",".join(transports)}"
}}
loggers: {{
  disable = "libjanus_jsonlog.so"
}}
events: {{
  broadcast = false
}}
""",
            "janus.transport.websockets.jcfg": f"""
general: {{
  json = "compact"
  ws = true
  ws_port = {self.port}
  ws_ip = "127.0.0.1"
  wss = false
}}
admin: {{
  admin_ws = false
  admin_wss = false
}}
""",
            "janus.plugin.videoroom.jcfg": f"""
general: {{
  admin_key = "{self.admin_key}"
  lock_rtp_forward = true
}}
""",
        }
        for name, text in files.items():
            (self.directory / name).write_text(text.lstrip())

    def start(self, timeout: float = 15.0) -> None:
        binary = janus_binary()
        assert binary, "janus is not installed (scripts/test installs Debian's janus)"
        self.write_configuration()
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [binary, "-F", str(self.directory), "-C", str(self.directory / "janus.jcfg"), "-o", "-D"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"janus {self.node_id} exited: {self.log_path.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"janus {self.node_id} did not listen on {self.port}: {self.log_path.read_text()[-2000:]}")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_nodes(root: Path, count: int = 2) -> list[JanusNode]:
    """`count` nodes with distinct WebSocket ports and RTP port ranges, sharing one
    `api_secret` and one `admin_key` (the server's `SFU_API_SECRET`, `SFU_ADMIN_KEY`)."""
    api_secret, admin_key = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    nodes = []
    for index in range(count):
        base = 20000 + index * 2000
        nodes.append(JanusNode(
            node_id=f"janus-{chr(ord('a') + index)}", port=free_port(), rtp_ports=(base, base + 1999),
            directory=root / f"janus-{index}", api_secret=api_secret, admin_key=admin_key))
    return nodes
