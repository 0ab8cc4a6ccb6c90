#!/usr/bin/env python3
"""Load generator and report for scripts/bench/insurance.sh (OSAGO quotes and assistant).

Driven by insurance.sh, which owns the PostgreSQL cluster and the server process. Phases:

  cli           `ecomansoni osago quote` as one process per quote: --cli-quotes processes,
                --cli-parallel at a time, each given one of the spec's worked examples on
                stdin; every answer's premium is checked. quotes/s and per-process p50/p99.
  cli_baseline  the same count and parallelism of `/bin/true` (the cost of a process spawn
                on this machine): cli_ratio = cli quotes/s ÷ /bin/true spawns/s.
  http_quote    POST /functions/v1/osago-quote (anon key, no sign-in) from --http-clients
                keep-alive connections for --http-duration seconds; every 200's premium is
                checked.
  health        GET /health with the same clients and duration (the HTTP stack with no work
                behind it): http_ratio = quote req/s ÷ health req/s.
  assistant     time to first token of the built-in assistant: --assistant-requests
                sequential POST /functions/v1/insurance-assistant streams by signed-in test
                users (rotating, so no user reaches the per-user rate limit), alternating a
                premium question and a knowledge question; first token = the first SSE chunk
                whose delta carries non-empty content.

Prints ONE JSON object on stdout; progress goes to stderr. Standard library only.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (  # noqa: E402
    Client, CPUMeter, PhaseStats, binary_kind, latency_summary, machine_facts, make_logger, phase_result,
    process_alive, read_anon_key, run_workers, server_log_summary, sign_in_users, wait_ready,
)

QUOTE_PATH = "/functions/v1/osago-quote"
ASSISTANT_PATH = "/functions/v1/insurance-assistant"
REQUEST_TIMEOUT = 60.0

log = make_logger("insurance-bench")


def request(tb, territory, kt, power, age, experience, kbm_class, period=12, kn=False) -> dict:
    body = {
        "date": "2026-03-01", "owner": "individual",
        "vehicle": {"category": "B", "powerHp": power, "registration": "russia", "taxi": False},
        "kt": kt, "tb": tb, "periodMonths": period, "termMonths": None, "termDays": None,
        "drivers": [{"age": age, "experienceYears": experience, "kbmClass": kbm_class}],
        "ownerKbmClass": "3", "kn": kn, "trailer": False,
    }
    if territory is not None:
        body["territory"] = territory
    return body


# The spec's worked examples (§7) and their premiums.
EXAMPLES = [
    (request(7535, None, 1.8, 150, 32, 12, "3"), "21549.71"),
    (request(8665, "moscow", None, 150, 35, 10, "13"), "9441.80"),
    (request(6000, "saint_petersburg", None, 100, 37, 16, "12", period=6), "3664.14"),
    (request(1399, "moscow_oblast", None, 45, 62, 20, "13"), "499.95"),
    (request(6000, "moscow", None, 110, 31, 3, "3", kn=True), "23882.04"),
]

QUESTIONS = [
    ("premium", "Сколько стоит ОСАГО на 150 л.с. в Москве, стаж 10 лет, возраст 35?"),
    ("knowledge", "Что делать после ДТП?"),
]


class GetClient(Client):
    """benchlib's keep-alive client plus GET."""

    def get(self, path: str) -> tuple[int | None, bytes | str, float]:
        try:
            self._ensure_connection()
        except OSError as error:
            self.close()
            return None, f"connect: {error}", 0.0
        assert self.connection is not None
        started = time.perf_counter()
        try:
            self.connection.request("GET", path, headers=self.headers)
            response = self.connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            return None, f"{type(error).__name__}: {error}", time.perf_counter() - started
        if response.will_close:
            self.close()
        return response.status, payload, time.perf_counter() - started


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.anon_key = ""

    # ------------------------------------------------------------------ processes

    def spawn_phase(self, name: str, command: list[str], inputs: list[tuple[bytes, str | None]]) -> dict:
        """Runs one process per input, --cli-parallel at a time; checks exit 0 and, when an
        expected premium is given, the printed premium."""
        a = self.args
        latencies: list[float] = []
        failures: list[str] = []
        lock = threading.Lock()

        def one(item: tuple[bytes, str | None]) -> None:
            data, expected = item
            started = time.perf_counter()
            result = subprocess.run(command, input=data, capture_output=True, timeout=REQUEST_TIMEOUT)
            elapsed = time.perf_counter() - started
            problem = None
            if result.returncode != 0:
                problem = f"exit {result.returncode}: {result.stdout[:200]!r} {result.stderr[-300:]!r}"
            elif expected is not None:
                try:
                    premium = json.loads(result.stdout).get("premium")
                except ValueError:
                    premium = f"unparsable {result.stdout[:200]!r}"
                if premium != expected:
                    problem = f"premium {premium!r}, expected {expected}"
            with lock:
                if problem is None:
                    latencies.append(elapsed)
                elif len(failures) < 5:
                    failures.append(problem)
                else:
                    failures.append("")

        meter = CPUMeter(None, a.postmaster_pid)
        before = meter.sample()
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=a.cli_parallel) as pool:
            list(pool.map(one, inputs))
        wall = time.perf_counter() - started
        after = meter.sample()
        ok = len(latencies)
        result = {
            "processes": len(inputs),
            "ok": ok,
            "failed": len(inputs) - ok,
            "parallel": a.cli_parallel,
            "seconds": round(wall, 2),
            "per_second": round(ok / wall, 1) if wall > 0 else None,
            **{k: v for k, v in latency_summary(latencies).items() if k != "count"},
            "cpu_ms_per_process": round((after["children"] - before["children"]) * 1000 / len(inputs), 3) if inputs else None,
            "machine_busy_pct": round(100 * (after["busy"] - before["busy"]) / (after["total"] - before["total"]), 1)
            if after["total"] > before["total"] else None,
        }
        if failures:
            result["error_samples"] = [f for f in failures if f][:5]
        log(f"{name}: {ok}/{len(inputs)} ok in {result['seconds']}s = {result['per_second']}/s, "
            f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms")
        return result

    def cli_phases(self) -> tuple[dict, dict]:
        a = self.args
        inputs = [(json.dumps(EXAMPLES[n % len(EXAMPLES)][0]).encode(), EXAMPLES[n % len(EXAMPLES)][1])
                  for n in range(a.cli_quotes)]
        # Warm the page cache with one run of each.
        self.spawn_phase("cli warm-up", [a.binary, "osago", "quote"], inputs[:len(EXAMPLES)])
        cli = self.spawn_phase("cli", [a.binary, "osago", "quote"], inputs)
        true = self.spawn_phase("/bin/true", ["/bin/true"], [(b"", None)] * a.cli_quotes)
        return cli, true

    # ------------------------------------------------------------------ HTTP

    def http_phase(self, name: str, method: str) -> dict:
        a = self.args
        stats = PhaseStats()
        clients = [GetClient(a.port, self.anon_key, user_agent="insurance-bench") for _ in range(a.http_clients)]
        server_gone = threading.Event()
        wrong: list[str] = []

        def worker(index: int, barrier: threading.Barrier) -> None:
            client = clients[index]
            client._ensure_connection()
            barrier.wait()
            deadline = time.monotonic() + a.http_duration
            n = index
            while time.monotonic() < deadline and not server_gone.is_set():
                if method == "quote":
                    body, expected = EXAMPLES[n % len(EXAMPLES)]
                    status, payload, elapsed = client.post(QUOTE_PATH, body)
                    if status == 200:
                        try:
                            premium = json.loads(payload).get("premium")
                        except ValueError:
                            premium = None
                        if premium != expected:
                            status = 299
                            if len(wrong) < 3:
                                wrong.append(f"{expected}: {payload[:200]!r}")
                else:
                    status, payload, elapsed = client.get("/health")
                stats.add(status, payload, elapsed)
                n += 1
                if status is None and not process_alive(a.server_pid):
                    server_gone.set()

        meter = CPUMeter(a.server_pid, a.postmaster_pid)
        before = meter.sample()
        wall = run_workers(a.http_clients, worker, timeout=a.http_duration + REQUEST_TIMEOUT + 30)
        after = meter.sample()
        for client in clients:
            client.close()
        if server_gone.is_set():
            raise RuntimeError(f"the server exited during {name} ({stats.error_samples[:2]})")
        result = phase_result(stats, wall, CPUMeter.report(before, after, len(stats.latencies), "client"))
        result["clients"] = a.http_clients
        if wrong:
            result["wrong_premiums"] = wrong
        log(f"{name}: {result['ok']} ok / {result['requests']} in {result['seconds']}s = {result['rps']} req/s, "
            f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms")
        return result

    # ------------------------------------------------------------------ assistant

    def ask(self, token: str, question: str) -> dict:
        """One streamed answer: seconds to the first frame, the first token and [DONE]."""
        a = self.args
        connection = http.client.HTTPConnection("127.0.0.1", a.port, timeout=REQUEST_TIMEOUT)
        connection.connect()
        body = json.dumps({"messages": [{"role": "user", "content": question}]}).encode()
        headers = {"apikey": self.anon_key, "Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        started = time.perf_counter()
        first_frame = first_token = done = None
        text = []
        try:
            connection.request("POST", ASSISTANT_PATH, body=body, headers=headers)
            response = connection.getresponse()
            if response.status != 200:
                return {"error": f"{response.status} {response.read()[:300]!r}"}
            if not response.getheader("Content-Type", "").startswith("text/event-stream"):
                return {"error": f"content-type {response.getheader('Content-Type')!r}"}
            while True:
                line = response.readline()
                if not line:
                    break
                line = line.decode().rstrip("\r\n")
                if not line.startswith("data:"):
                    continue
                now = time.perf_counter()
                if first_frame is None:
                    first_frame = now - started
                payload = line[5:].strip()
                if payload == "[DONE]":
                    done = now - started
                    break
                chunk = json.loads(payload)
                content = ((chunk.get("choices") or [{}])[0].get("delta") or {}).get("content")
                if content:
                    text.append(content)
                    if first_token is None:
                        first_token = now - started
        finally:
            connection.close()
        if first_token is None or done is None:
            return {"error": f"no content or no [DONE] (first frame {first_frame}, done {done})"}
        return {"first_frame": first_frame, "first_token": first_token, "total": done, "chars": len("".join(text))}

    def assistant_phase(self) -> dict:
        a = self.args
        phones = [str(a.phone_base + i) for i in range(a.assistant_users)]
        users = sign_in_users(a.port, self.anon_key, phones, a.code, min(4, len(phones)), log)
        # One warm-up answer of each kind (knowledge retrieval, engine).
        for n, (_, question) in enumerate(QUESTIONS):
            warm = self.ask(users[n % len(users)]["token"], question)
            if "error" in warm:
                raise RuntimeError(f"assistant warm-up failed: {warm['error']}")
        samples: dict[str, list[dict]] = {kind: [] for kind, _ in QUESTIONS}
        errors: list[str] = []
        started = time.perf_counter()
        for n in range(a.assistant_requests):
            kind, question = QUESTIONS[n % len(QUESTIONS)]
            # The warm-up used one request of users 0 and 1; rotation keeps each user far
            # below the default 10 requests a minute.
            result = self.ask(users[(n + len(QUESTIONS)) % len(users)]["token"], question)
            if "error" in result:
                errors.append(result["error"])
            else:
                samples[kind].append(result)
        wall = time.perf_counter() - started

        def summary(items: list[dict]) -> dict:
            return {
                "count": len(items),
                "ttft": {k: v for k, v in latency_summary([i["first_token"] for i in items]).items() if k != "count"},
                "first_frame_p50_ms": latency_summary([i["first_frame"] for i in items])["p50_ms"],
                "total_p50_ms": latency_summary([i["total"] for i in items])["p50_ms"],
                "total_p99_ms": latency_summary([i["total"] for i in items])["p99_ms"],
                "answer_chars_mean": round(sum(i["chars"] for i in items) / len(items)) if items else None,
            }

        everything = [item for items in samples.values() for item in items]
        result = {
            "requests": a.assistant_requests,
            "ok": len(everything),
            "users": len(users),
            "seconds": round(wall, 2),
            "all": summary(everything),
            **{kind: summary(items) for kind, items in samples.items()},
        }
        if errors:
            result["error_samples"] = errors[:5]
        log(f"assistant: {len(everything)}/{a.assistant_requests} ok, time to first token "
            f"p50 {result['all']['ttft']['p50_ms']} ms, p99 {result['all']['ttft']['p99_ms']} ms")
        return result

    # ------------------------------------------------------------------ report

    def run(self) -> dict:
        a = self.args
        machine = machine_facts(a.cpu_model)
        log(f"waiting for the server on 127.0.0.1:{a.port}")
        wait_ready(a.port, a.server_pid)
        # Process spawns first, with the server up but idle.
        cli, true = self.cli_phases()
        self.anon_key = read_anon_key(a.binary, a.data_dir)
        # Warm-up of the HTTP path, checked.
        warm = GetClient(a.port, self.anon_key)
        for body, expected in EXAMPLES:
            status, payload, _ = warm.post(QUOTE_PATH, body)
            if status != 200 or json.loads(payload).get("premium") != expected:
                raise RuntimeError(f"warm-up quote failed: {status} {payload[:300]!r}")
        warm.close()
        quote = self.http_phase("http_quote", "quote")
        health = self.http_phase("health", "health")
        assistant = self.assistant_phase()

        def ratio(x, y):
            return round(x / y, 3) if x and y else None

        return {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": machine,
            "binary": binary_kind(a.binary_label),
            "binary_path": a.binary_label,
            "postgres": a.pg_version,
            "cli": cli,
            "cli_baseline_bin_true": true,
            "cli_ratio": ratio(cli["per_second"], true["per_second"]),
            "http_quote": quote,
            "http_health": health,
            "http_ratio": ratio(quote["rps"], health["rps"]),
            "assistant_builtin": assistant,
            "server_log": server_log_summary(a.server_log, samples=5),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--server-pid", type=int, required=True)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--binary-label", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--server-log", required=True)
    parser.add_argument("--postmaster-pid", type=int, required=True)
    parser.add_argument("--pg-version", default="")
    parser.add_argument("--cpu-model", default="")
    parser.add_argument("--cli-quotes", type=int, default=200)
    parser.add_argument("--cli-parallel", type=int, default=8)
    parser.add_argument("--http-clients", type=int, default=16)
    parser.add_argument("--http-duration", type=int, default=5)
    parser.add_argument("--assistant-requests", type=int, default=30)
    parser.add_argument("--assistant-users", type=int, default=6)
    parser.add_argument("--phone-base", type=int, default=15570000000)
    parser.add_argument("--code", default="123456")
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
