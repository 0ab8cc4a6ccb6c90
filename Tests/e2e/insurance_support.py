"""Helpers of the insurance suites (test_insurance_api.py, test_insurance_assistant.py).

Quote requests built from the spec's worked examples, a CLI runner for `ecomansoni osago
quote`, an SSE reader for the assistant, and extra server instances on the session
server's database with their own environment (rate limits, an LLM provider).
Black-box only: everything goes over HTTP, the CLI or the process environment.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from conftest import _binary, _environment, _free_port, _stop, _wait_ready

QUOTE_PATH = "/functions/v1/osago-quote"
TERRITORIES_PATH = "/functions/v1/osago-territories"
ASSISTANT_PATH = "/functions/v1/insurance-assistant"

# A date inside the tariff version of 2025-12-09 (ТБ corridor 1 399 – 8 665 ₽).
DATE = "2026-03-01"
CURRENT_VERSION = "2025-12-09"

TERRITORY_CODES = {
    "moscow", "saint_petersburg", "moscow_oblast", "leningrad_oblast", "yekaterinburg", "krasnodar",
    "rostov_on_don", "kazan", "perm", "nizhny_novgorod", "ufa", "saratov", "novosibirsk", "dnr", "lnr",
    "zaporozhye", "kherson", "foreign",
}


def quote_request(*, tb: Any = 8665, territory: str | None = "moscow", power: Any = 150, age: int = 35,
                  experience: int = 10, kbm_class: str = "13", period: int | None = 12, kn: bool = False,
                  kt: Any = None, date: str = DATE, **overrides: Any) -> dict[str, Any]:
    """A full quote request in the contract's shape (defaults: the spec's example 2).

    `tb=None` leaves the base rate out (a range answer); `territory=None` leaves it out.
    Other keyword arguments replace top-level keys (e.g. drivers="unlimited")."""
    request: dict[str, Any] = {
        "date": date,
        "owner": "individual",
        "vehicle": {"category": "B", "powerHp": power, "registration": "russia", "taxi": False},
        "territory": territory,
        "kt": kt,
        "tb": tb,
        "periodMonths": period,
        "termMonths": None,
        "termDays": None,
        "drivers": [{"age": age, "experienceYears": experience, "kbmClass": kbm_class}],
        "ownerKbmClass": "3",
        "kn": kn,
        "trailer": False,
    }
    if tb is None:
        del request["tb"]
    if territory is None:
        del request["territory"]
    if period is None:
        del request["periodMonths"]
    request.update(overrides)
    return request


def with_change(request: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of `request` with one value replaced; `path` like "drivers[0].age" or
    "vehicle.powerHp". A value of `...` (Ellipsis) removes the key."""
    result = copy.deepcopy(request)
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    target: Any = result
    for part in parts[:-1]:
        target = target[int(part[1:-1])] if part.startswith("[") else target[part]
    last = parts[-1]
    key: Any = int(last[1:-1]) if last.startswith("[") else last
    if value is ...:
        del target[key]
    else:
        target[key] = value
    return result


# --------------------------------------------------------------------------- HTTP


def api_headers(key: str, token: str | None = None) -> dict[str, str]:
    headers = {"apikey": key}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def json_body(response: httpx.Response) -> Any:
    where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
    try:
        return response.json()
    except ValueError as error:
        raise AssertionError(f"{where}: body is not JSON: {response.text[:400]!r}") from error


def assert_field_error(status: int, body: Any, field_name: str, *, where: str = "") -> None:
    """The contract's field-level error: 400 {"error": "...", "code": "22023", "field": <path>}."""
    assert status == 400, f"{where}: expected 400, got {status}: {body!r}"
    assert isinstance(body, dict), f"{where}: error body is not an object: {body!r}"
    assert body.get("field") == field_name, f"{where}: expected field {field_name!r}, got {body!r}"
    assert body.get("code") == "22023", f"{where}: expected code 22023: {body!r}"
    assert isinstance(body.get("error"), str) and body["error"], f"{where}: no error message: {body!r}"


# --------------------------------------------------------------------------- CLI


@dataclass
class CLIResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """The JSON object the CLI printed: stdout (the contract's channel), falling back to
        stderr for an error when stdout is empty."""
        text = self.stdout.strip() or (self.stderr.strip() if self.code != 0 else "")
        try:
            return json.loads(text)
        except ValueError as error:
            raise AssertionError(
                f"`osago quote` (exit {self.code}) did not print one JSON document on stdout:\n"
                f"stdout: {self.stdout[:1000]!r}\nstderr: {self.stderr[:1000]!r}") from error


async def run_cli_quote(payload: Any, timeout: float = 60.0) -> CLIResult:
    """`ecomansoni osago quote` with `payload` (an object, or raw text) on stdin."""
    data = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
    if isinstance(data, str):
        data = data.encode()
    env = _environment()
    process = await asyncio.create_subprocess_exec(
        str(_binary()), "osago", "quote", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env)
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(data), timeout)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"`osago quote` did not finish within {timeout:.0f}s")
    return CLIResult(process.returncode or 0, stdout.decode(errors="replace"), stderr.decode(errors="replace"))


# --------------------------------------------------------------------------- SSE


@dataclass
class Stream:
    """What a client saw of one assistant request."""

    status: int
    headers: httpx.Headers
    body: Any = None                                  # parsed JSON of a non-200 answer
    data: list[str] = field(default_factory=list)     # payloads of `data:` lines, in order
    comments: list[str] = field(default_factory=list)  # `:` comment lines (keep-alives)
    chunks: list[dict] = field(default_factory=list)  # parsed JSON data payloads
    raw: str = ""

    @property
    def text(self) -> str:
        """The concatenated delta contents."""
        parts = []
        for chunk in self.chunks:
            for choice in chunk.get("choices") or []:
                content = (choice.get("delta") or {}).get("content")
                if content:
                    parts.append(content)
        return "".join(parts)

    @property
    def normalized(self) -> str:
        """`text` with non-breaking and thin spaces turned into plain spaces."""
        return re.sub(r"[\u00a0\u202f\u2009\u2007]", " ", self.text)


async def stream_assistant(url: str, key: str, token: str | None, messages: list[dict] | Any, *,
                           timeout: float = 60.0, stop_after_chunks: int | None = None,
                           raw_body: Any = None) -> Stream:
    """POST the assistant and read its SSE answer to the end (or until `stop_after_chunks`
    content-carrying chunks arrived, then close the connection: a client disconnect)."""
    body = raw_body if raw_body is not None else {"messages": messages}
    async with httpx.AsyncClient(timeout=httpx.Timeout(timeout)) as http:
        async with http.stream("POST", url + ASSISTANT_PATH, json=body, headers=api_headers(key, token)) as response:
            result = Stream(status=response.status_code, headers=response.headers)
            if response.status_code != 200:
                await response.aread()
                result.raw = response.text
                try:
                    result.body = json.loads(response.content)
                except ValueError:
                    result.body = None
                return result
            content_chunks = 0

            async def read() -> None:
                nonlocal content_chunks
                async for line in response.aiter_lines():
                    result.raw += line + "\n"
                    if line.startswith(":"):
                        result.comments.append(line)
                        continue
                    if not line.startswith("data:"):
                        continue
                    payload = line[5:].lstrip(" ")
                    result.data.append(payload)
                    if payload == "[DONE]":
                        continue
                    try:
                        chunk = json.loads(payload)
                    except ValueError as error:
                        raise AssertionError(f"data line is not JSON: {line!r}") from error
                    result.chunks.append(chunk)
                    choices = chunk.get("choices") or []
                    if any((c.get("delta") or {}).get("content") for c in choices):
                        content_chunks += 1
                        if stop_after_chunks is not None and content_chunks >= stop_after_chunks:
                            return

            await asyncio.wait_for(read(), timeout)
            return result


def assert_sse_protocol(stream: Stream, *, model: str | None = None) -> None:
    """OpenAI chat-completion chunk framing as in the contract: every data line is JSON
    except the final [DONE]; a role chunk first, a finish_reason chunk last."""
    where = f"SSE answer\n{stream.raw[-3000:]}"
    assert stream.status == 200, where
    content_type = stream.headers.get("content-type", "")
    assert content_type.startswith("text/event-stream"), f"content-type {content_type!r}"
    assert stream.data, f"no data lines: {where}"
    assert stream.data[-1] == "[DONE]", f"the last data line is not [DONE]: {where}"
    assert stream.data.count("[DONE]") == 1, f"[DONE] appears more than once: {where}"
    assert stream.chunks, where
    for chunk in stream.chunks:
        assert chunk.get("object") == "chat.completion.chunk", f"{chunk!r}"
        assert isinstance(chunk.get("id"), str) and chunk["id"], f"{chunk!r}"
        assert isinstance(chunk.get("created"), int), f"{chunk!r}"
        choices = chunk.get("choices")
        assert isinstance(choices, list) and len(choices) == 1, f"{chunk!r}"
        assert choices[0].get("index") == 0 and isinstance(choices[0].get("delta"), dict), f"{chunk!r}"
        if model is not None:
            assert chunk.get("model") == model, f"{chunk!r}"
    ids = {chunk["id"] for chunk in stream.chunks}
    assert len(ids) == 1, f"chunks of one answer carry different ids: {ids}"
    first = stream.chunks[0]["choices"][0]
    assert first["delta"].get("role") == "assistant", f"the first chunk has no assistant role: {stream.chunks[0]!r}"
    last = stream.chunks[-1]["choices"][0]
    assert last.get("finish_reason") == "stop", f"the last chunk does not finish with stop: {stream.chunks[-1]!r}"
    for chunk in stream.chunks[:-1]:
        assert chunk["choices"][0].get("finish_reason") is None, f"finish_reason before the end: {chunk!r}"


# Russian money: "9 441,80 ₽" (any space kind as the thousands separator).
MONEY = re.compile(r"\d{1,3}(?:[ \u00a0\u202f]\d{3})*,\d{2}\s?₽")


def rub(amount: str) -> str:
    """"9441.80" -> "9 441,80" (plain spaces; compare against Stream.normalized)."""
    whole, _, kopecks = amount.partition(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return " ".join(groups) + "," + (kopecks or "00")


# --------------------------------------------------------------------------- extra instances


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
class Instance:
    url: str
    process: subprocess.Popen
    log_path: Path

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def start_instance(server, name: str, extra_env: dict[str, str]) -> Instance:
    """A second server on the session server's database (same keys, same users) with
    `extra_env` on top of the suite's environment."""
    port = _free_port()
    env = _environment()
    env["DATABASE_URL"] = database_url(server)
    env["MESSAGE_BUS"] = "postgres"
    env.update(extra_env)
    log_path = Path(server.data_dir) / f"instance-{name}.log"
    log = open(log_path, "wb")
    process = subprocess.Popen(
        [str(_binary()), "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True)
    log.close()
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, log_path)
    except Exception:
        stop_instance(Instance(url, process, log_path))
        raise
    return Instance(url, process, log_path)


def stop_instance(instance: Instance) -> None:
    if instance.process.poll() is None and _stop(instance.process) is None:
        instance.process.kill()
        instance.process.wait(timeout=10)
