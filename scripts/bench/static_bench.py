#!/usr/bin/env python3
"""Measurements and report for scripts/bench/static.sh (the web app's static files).

Driven by static.sh, which owns the PostgreSQL cluster and the server process. Phases:

  first_load   the requests of a signed-out first visit (read off the server: `/`, the
               URLs index.html names, app.js and views/auth.js (the sign-in form) and
               pwa.js (after the load event) from main.js, every module those import
               statically, /app-config.json), each with `Accept-Encoding: identity`, `gzip, deflate`
               and `gzip, deflate, br` (Chromium's header); bytes on the wire (status line,
               headers, body) per encoding, per request and in total. Every compressed body
               must decode to the identity bytes.
  repeat_load  a second visit with the br first load cached as a browser caches it: a
               response with max-age is reused without a request, `no-cache` is revalidated
               with If-None-Match (304), `no-store` is fetched again.
  asset        GET of the biggest compressed first-load file (brotli) from --clients
               keep-alive connections for --duration seconds: req/s, p50, p99.
  health       GET /health the same way: asset_ratio = asset req/s ÷ health req/s.
               With wrk (--load-tool wrk) or Python threads (python).

Prints ONE JSON object on stdout; progress goes to stderr. Standard library only.
"""

from __future__ import annotations

import argparse
import ctypes
import gzip
import http.client
import json
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urljoin

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (  # noqa: E402
    CPUMeter, PhaseStats, binary_kind, machine_facts, make_logger, phase_result, process_alive, run_workers,
    server_log_summary, wait_ready, wrk_load,
)

CHROMIUM = "gzip, deflate, br"
ENCODINGS = {"identity": "identity", "gzip": "gzip, deflate", "br": CHROMIUM}
FIRST_LOAD_TARGET = 45_000
# A static `import … from './x.js'` (or `export … from`), not a dynamic import().
STATIC_IMPORT = re.compile(r"^(?:import(?!\s*\()|export)\b[^;'\"]*?(?:\bfrom\s*)?'(\.{1,2}/[^']+)'", re.M)
REQUEST_TIMEOUT = 30.0

log = make_logger("static-bench")


def _brotli_decoder():
    try:
        library = ctypes.CDLL("libbrotlidec.so.1")
    except OSError:
        return None
    library.BrotliDecoderDecompress.argtypes = [
        ctypes.c_size_t, ctypes.c_char_p, ctypes.POINTER(ctypes.c_size_t), ctypes.c_char_p]
    return library


BROTLI = _brotli_decoder()


def decode(body: bytes, coding: str | None) -> bytes | None:
    """The identity bytes of a body, or None when this machine cannot decode brotli."""
    if coding == "gzip":
        return gzip.decompress(body)
    if coding == "br":
        if BROTLI is None:
            return None
        capacity = max(1 << 16, len(body) * 64)
        out = ctypes.create_string_buffer(capacity)
        size = ctypes.c_size_t(capacity)
        if BROTLI.BrotliDecoderDecompress(len(body), body, ctypes.byref(size), out) != 1:
            raise RuntimeError("a br body did not decode")
        return out.raw[:size.value]
    if coding is not None:
        raise RuntimeError(f"unexpected Content-Encoding {coding!r}")
    return body


class Fetch:
    """One GET on its own connection: status, headers, body and bytes on the wire."""

    def __init__(self, port: int, path: str, headers: dict[str, str]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
        try:
            connection.putrequest("GET", path, skip_accept_encoding=True)
            for name, value in headers.items():
                connection.putheader(name, value)
            connection.endheaders()
            response = connection.getresponse()
            self.body = response.read()
        finally:
            connection.close()
        self.status = response.status
        self.headers = {k.lower(): v for k, v in response.getheaders()}
        head = len(f"HTTP/1.1 {response.status} {response.reason}\r\n") + 2
        self.head_bytes = head + sum(len(k) + len(v) + 4 for k, v in response.getheaders())
        self.wire = self.head_bytes + len(self.body)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

    def get(self, path: str, **headers: str) -> Fetch:
        result = Fetch(self.args.port, path, {k.replace("_", "-"): v for k, v in headers.items()})
        if result.status not in (200, 304):
            raise RuntimeError(f"GET {path} answered {result.status}: {result.body[:200]!r}")
        return result

    # ------------------------------------------------------------------ first and repeat load

    def first_load_paths(self) -> list[str]:
        index = self.get("/", Accept_Encoding="identity").body.decode()
        named = re.findall(r'(?:href|src)="([^"#:]+)"', index)
        paths = ["/"] + ["/" + url for url in named]
        main = next((p for p in paths if p.split("?")[0] == "/app/main.js"), None)
        if main is None:
            raise RuntimeError("index.html names no app/main.js")
        text = self.get(main, Accept_Encoding="identity").body.decode()
        for module in ("app.js", "views/auth.js", "pwa.js"):
            found = re.search(r"'\./(" + re.escape(module) + r"(?:\?v=[0-9a-f]+)?)'", text)
            if found is None:
                raise RuntimeError(f"main.js no longer names ./{module}")
            paths.append("/app/" + found.group(1))
        # Every module those import statically comes with them.
        pending = [p for p in paths if p.split("?")[0].endswith(".js")]
        while pending:
            module = pending.pop()
            for target in STATIC_IMPORT.findall(self.get(module, Accept_Encoding="identity").body.decode()):
                path = urljoin(module, target)
                if path not in paths:
                    paths.append(path)
                    pending.append(path)
        paths.append("/app-config.json")
        return list(dict.fromkeys(paths))

    def first_load(self, paths: list[str]) -> tuple[dict, dict[str, Fetch]]:
        totals: dict[str, dict] = {}
        requests = []
        cached: dict[str, Fetch] = {}
        unchecked = 0
        for path in paths:
            identity = self.get(path, Accept_Encoding="identity")
            row = {"path": path, "content_type": identity.headers.get("content-type"),
                   "cache_control": identity.headers.get("cache-control")}
            for name, header in ENCODINGS.items():
                got = identity if name == "identity" else self.get(path, Accept_Encoding=header)
                coding = got.headers.get("content-encoding")
                decoded = decode(got.body, coding)
                if decoded is None:
                    unchecked += 1
                elif decoded != identity.body:
                    raise RuntimeError(f"{path} with {header!r} ({coding}) does not decode to its identity bytes")
                row[name] = got.wire
                row[f"{name}_encoding"] = coding or "identity"
                total = totals.setdefault(name, {"bytes": 0, "body_bytes": 0, "header_bytes": 0})
                total["bytes"] += got.wire
                total["body_bytes"] += len(got.body)
                total["header_bytes"] += got.head_bytes
                if name == "br":
                    cached[path] = got
            requests.append(row)
        for name, total in totals.items():
            log(f"first load, {name}: {total['bytes']} bytes in {len(paths)} requests "
                f"({total['body_bytes']} body + {total['header_bytes']} headers)")
        result = {"requests": len(paths), "accept_encoding": ENCODINGS, **totals, "per_request": requests}
        if unchecked:
            result["br_bodies_not_checked"] = f"{unchecked} (no libbrotlidec.so.1 here)"
        return result, cached

    def repeat_load(self, cached: dict[str, Fetch]) -> dict:
        """The second visit of a browser that kept the first (br) load."""
        sent = 0
        total = 0
        reused = []
        statuses: dict[str, int] = {}
        for path, first in cached.items():
            policy = first.headers.get("cache-control", "")
            if "max-age=" in policy and "no-cache" not in policy and "no-store" not in policy:
                reused.append(path)
                continue
            headers = {"Accept_Encoding": CHROMIUM}
            if "no-store" not in policy and first.headers.get("etag"):
                headers["If_None_Match"] = first.headers["etag"]
            again = self.get(path, **headers)
            sent += 1
            total += again.wire
            statuses[str(again.status)] = statuses.get(str(again.status), 0) + 1
        log(f"repeat load: {total} bytes in {sent} requests ({len(reused)} responses reused from the cache)")
        return {"bytes": total, "requests": sent, "statuses": statuses, "reused_without_request": len(reused)}

    # ------------------------------------------------------------------ throughput

    def load(self, name: str, path: str, headers: dict[str, str]) -> dict:
        a = self.args
        meter = CPUMeter(a.server_pid, a.postmaster_pid)
        before = meter.sample()
        if a.load_tool == "wrk":
            result = wrk_load(a.port, a.clients, a.duration, path=path, headers=headers)
        else:
            result = self.python_load(path, headers, meter)
        after = meter.sample()
        if not process_alive(a.server_pid):
            raise RuntimeError(f"the server exited during {name}")
        result["cores_used"] = CPUMeter.cores_used(before, after, result.get("seconds") or a.duration)
        result.update({"path": path, "clients": a.clients, "tool": a.load_tool, "headers": headers})
        log(f"{name}: {result['rps']} req/s, p50 {result.get('p50_ms')} ms, p99 {result['p99_ms']} ms ({a.load_tool})")
        return result

    def python_load(self, path: str, headers: dict[str, str], meter: CPUMeter) -> dict:
        a = self.args
        stats = PhaseStats()

        def worker(index: int, barrier: threading.Barrier) -> None:
            connection = http.client.HTTPConnection("127.0.0.1", a.port, timeout=REQUEST_TIMEOUT)
            connection.connect()
            barrier.wait()
            deadline = time.monotonic() + a.duration
            while time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    connection.request("GET", path, headers=headers)
                    response = connection.getresponse()
                    payload = response.read()
                    status: int | None = response.status
                except (OSError, http.client.HTTPException) as error:
                    payload, status = repr(error).encode(), None
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", a.port, timeout=REQUEST_TIMEOUT)
                stats.add(status, payload, time.perf_counter() - started)
            connection.close()

        wall = run_workers(a.clients, worker, timeout=a.duration + REQUEST_TIMEOUT + 30)
        return phase_result(stats, wall, {})

    # ------------------------------------------------------------------ report

    def run(self) -> dict:
        a = self.args
        machine = machine_facts(a.cpu_model)
        log(f"waiting for the server on 127.0.0.1:{a.port}")
        wait_ready(a.port, a.server_pid)
        paths = self.first_load_paths()
        first, cached = self.first_load(paths)
        repeat = self.repeat_load(cached)
        compressed = [r for r in first["per_request"] if r["br_encoding"] != "identity"]
        if not compressed:
            raise RuntimeError("no first-load file was sent compressed")
        asset = max(compressed, key=lambda r: r["identity"])
        asset_load = self.load("asset", asset["path"], {"Accept-Encoding": CHROMIUM})
        health_load = self.load("health", "/health", {"Accept-Encoding": CHROMIUM})

        def ratio(x, y):
            return round(x / y, 3) if x and y else None

        identity, gz, br = first["identity"]["bytes"], first["gzip"]["bytes"], first["br"]["bytes"]
        figures = [
            {"figure": "web app first load, br (Chromium's Accept-Encoding)", "value": br, "unit": "bytes",
             "baseline": identity, "baseline_unit": "bytes", "baseline_what": "the same requests uncompressed",
             "ratio": ratio(br, identity), "detail": f"{first['requests']} requests, headers included",
             "target": f"<= {FIRST_LOAD_TARGET}", "meets_target": br <= FIRST_LOAD_TARGET},
            {"figure": "web app first load, gzip only", "value": gz, "unit": "bytes",
             "baseline": identity, "baseline_unit": "bytes", "baseline_what": "the same requests uncompressed",
             "ratio": ratio(gz, identity), "target": f"<= {FIRST_LOAD_TARGET}", "meets_target": gz <= FIRST_LOAD_TARGET},
            {"figure": "web app repeat load", "value": repeat["bytes"], "unit": "bytes",
             "baseline": br, "baseline_unit": "bytes", "baseline_what": "the first load (br)",
             "ratio": ratio(repeat["bytes"], br),
             "detail": f"{repeat['requests']} requests, {repeat['reused_without_request']} files reused unasked"},
            {"figure": f"GET {asset['path'].split('?')[0]} (br)", "value": asset_load["rps"], "unit": "req/s",
             "baseline": health_load["rps"], "baseline_unit": "req/s", "baseline_what": "GET /health",
             "ratio": ratio(asset_load["rps"], health_load["rps"]),
             "detail": f"p99 {asset_load['p99_ms']} ms vs {health_load['p99_ms']} ms, {a.clients} clients, {a.load_tool}"},
        ]
        return {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": machine,
            "binary": binary_kind(a.binary_label),
            "binary_path": a.binary_label,
            "first_load": first,
            "first_load_ratio": {"gzip": ratio(gz, identity), "br": ratio(br, identity)},
            "first_load_target_bytes": FIRST_LOAD_TARGET,
            "repeat_load": repeat,
            "asset": asset_load,
            "health": health_load,
            "asset_ratio": ratio(asset_load["rps"], health_load["rps"]),
            "figures": figures,
            "server_log": server_log_summary(a.server_log, samples=5),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--server-pid", type=int, required=True)
    parser.add_argument("--binary-label", required=True)
    parser.add_argument("--server-log", required=True)
    parser.add_argument("--postmaster-pid", type=int, required=True)
    parser.add_argument("--cpu-model", default="")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--load-tool", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python")
    args = parser.parse_args()

    def terminate(signum, frame):  # noqa: ARG001
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    try:
        report = Bench(args).run()
    except (RuntimeError, subprocess.TimeoutExpired, OSError, ValueError, KeyError) as error:
        log(f"FAILED: {error}")
        return 1
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
