#!/usr/bin/env python3
"""Measurements for scripts/bench/admin.sh (the admin console, issue 16).

Driven by admin.sh, which owns the PostgreSQL cluster and the server. Steps:

  setup     signs one test user in, makes them an owner with RFC 6238's test secret (psql, as
            the database owner) and opens an admin session with a code computed here.
  http      --clients threads send --requests GET /admin/v1/me (the admin session and its
            live grants resolved on every request), then as many GET /health (the floor).
  append    pgbench, --clients clients for --duration s: admin.audit_append (the chained,
            serialised append every admin action makes) next to a plain INSERT of the same
            columns into an unchained table.
  verify    fills the log to --audit-rows rows, times `ecomansoni audit verify` (every row
            fetched, hashed and linked) and, as the baseline, the database computing the same
            SHA-256 over the same canonical bytes in one query.
  reports   files --reports reports (psql: a group of two, messages, one report each) and sends
            --requests GET /admin/v1/moderation/messages?limit=20 (the moderators' queue: open
            reports grouped, the messages joined, the read audited); baseline: pgbench running
            the same queue statement.
  report    ONE JSON object, with a "figures" list for scripts/bench/all.

Standard library only. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import struct
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (  # noqa: E402
    binary_kind, latency_summary, machine_facts, make_logger, read_anon_key, run_pgbench, sign_in_users, wait_ready,
)

log = make_logger("admin-bench")
SECRET = b"12345678901234567890"  # RFC 6238's test key


def totp(at: float) -> str:
    digest = hmac.new(SECRET, struct.pack(">Q", int(at // 30)), hashlib.sha1).digest()
    start = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[start:start + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def psql(args, sql: str) -> str:
    result = subprocess.run(
        [args.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(args.pg_port), "-U", "postgres",
         "-d", args.pg_database, "-At"], input=sql, capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        raise RuntimeError(f"psql failed: {result.stderr[-2000:]}")
    return result.stdout


def request(port: int, method: str, path: str, headers: dict, body: dict | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def http_phase(args, path: str, headers: dict) -> dict:
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    per_client = max(1, args.requests // args.clients)

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
        mine: list[float] = []
        for _ in range(per_client):
            started = time.perf_counter()
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            if response.status != 200:
                with lock:
                    failures.append(str(response.status))
                break
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(args.clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"GET {path}: {len(failures)} failures, e.g. {failures[0]}")
    log(f"http {path}: {len(latencies)} requests in {wall:.1f}s")
    return {"requests": len(latencies), "rps": round(len(latencies) / wall, 1), **latency_summary(latencies)}


def pgbench(args, name: str, statement: str) -> dict:
    return run_pgbench(args, name, statement + "\n", log=log)


def reports_phase(args, owner: str, admin_headers: dict) -> tuple[dict, dict]:
    """--reports messages of another user in a group with the owner, each reported once by the
    owner (rows made with psql); then the queue over HTTP and its core query in pgbench."""
    psql(args, f"""
WITH other AS (INSERT INTO auth.users (phone) VALUES ('15550004199') RETURNING id),
     conv AS (INSERT INTO public.conversations (kind, title, created_by) VALUES ('group', 'bench', '{owner}') RETURNING id),
     joined AS (INSERT INTO public.participants (conversation_id, user_id)
                SELECT conv.id, u FROM conv, (SELECT '{owner}'::uuid AS u UNION ALL SELECT id FROM other) p RETURNING 1),
     sent AS (INSERT INTO public.messages (conversation_id, sender_id, client_msg_id, body)
              SELECT conv.id, other.id, gen_random_uuid(), 'bench message ' || n FROM conv, other, generate_series(1, {args.reports}) n
              RETURNING id)
INSERT INTO public.message_reports (message_id, reporter_id, reason, details, created_at)
SELECT id, '{owner}', 'spam', 'bench', now() - random() * interval '1 day' FROM sent;""")
    http_phase(argparse.Namespace(**{**vars(args), "requests": 10, "clients": 1}), "/admin/v1/moderation/messages?limit=20", admin_headers)
    queue = http_phase(args, "/admin/v1/moderation/messages?limit=20", admin_headers)
    # The statement the server runs (ChatService.reportedMessages over Database.OpenReports), as one line.
    raw = pgbench(args, "report_queue",
                  "SELECT coalesce(json_agg(json_build_object('message_id', m.id, 'conversation_id', m.conversation_id, "
                  "'sender_id', m.sender_id, 'kind', m.kind, 'body', m.body, 'attachment', m.attachment, 'created_at', m.created_at, "
                  "'deleted', m.deleted_at IS NOT NULL, 'reports', q.reports, 'report_reasons', q.reasons, 'report_details', q.details, "
                  "'last_report_at', q.last_report) ORDER BY q.last_report DESC, m.id), '[]'::json)::text "
                  "FROM (SELECT r.message_id, count(*) AS reports, array_agg(DISTINCT r.reason ORDER BY r.reason) AS reasons, "
                  "(array_remove(array_agg(r.details ORDER BY r.created_at DESC), NULL))[1:3] AS details, max(r.created_at) AS last_report "
                  "FROM public.message_reports r WHERE r.resolved_at IS NULL GROUP BY r.message_id "
                  "ORDER BY max(r.created_at) DESC, r.message_id LIMIT 20) q JOIN public.messages m ON m.id = q.message_id;")
    return queue, raw


def main() -> int:
    parser = argparse.ArgumentParser()
    for name in ("--binary", "--data-dir", "--database-url", "--psql", "--pgbench", "--pg-database", "--work-dir", "--phone",
                 "--code", "--binary-label", "--cpu-model", "--pg-version"):
        parser.add_argument(name, required=name not in ("--cpu-model", "--pg-version"), default="")
    for name in ("--port", "--server-pid", "--pg-port", "--clients", "--duration", "--requests", "--audit-rows", "--reports"):
        parser.add_argument(name, type=int, required=True)
    args = parser.parse_args()

    wait_ready(args.port, args.server_pid)
    anon_key = read_anon_key(args.binary, args.data_dir)
    user = sign_in_users(args.port, anon_key, [args.phone], args.code, workers=1, log=log)[0]
    psql(args, f"""INSERT INTO admin.admin_users (user_id, totp_secret) VALUES ('{user["id"]}', '{SECRET.decode()}'::bytea);
INSERT INTO admin.role_grants (user_id, role, kind, reason) VALUES ('{user["id"]}', 'owner', 'standing', 'bench');""")
    headers = {"apikey": anon_key, "Authorization": f"Bearer {user['token']}", "Content-Type": "application/json"}
    status, body = request(args.port, "POST", "/admin/v1/session", headers, {"code": totp(time.time())})
    if status != 201:
        raise RuntimeError(f"opening the admin session: {status} {body[:300]!r}")
    admin_headers = {**headers, "X-Admin-Session": json.loads(body)["admin_session"]}

    http_phase(argparse.Namespace(**{**vars(args), "requests": 20, "clients": 1}), "/admin/v1/me", admin_headers)  # warm-up
    me = http_phase(args, "/admin/v1/me", admin_headers)
    health = http_phase(args, "/health", {})

    psql(args, "CREATE TABLE public.bench_plain_log (LIKE admin.audit_log INCLUDING DEFAULTS); "
               "CREATE SEQUENCE public.bench_plain_seq;")
    append = pgbench(args, "audit_append",
                     "SELECT admin.audit_append(NULL, 'bench.append', NULL, 'target', 'allowed', 'bench', NULL, '{}');")
    plain = pgbench(args, "plain_insert",
                    "INSERT INTO public.bench_plain_log (seq, actor, action, target, outcome, reason, detail, prev_hash, hash) "
                    "VALUES (nextval('public.bench_plain_seq'), NULL, 'bench.append', 'target', 'allowed', 'bench', '{}', '', '');")

    existing = int(psql(args, "SELECT count(*) FROM admin.audit_log;").strip())
    missing = max(0, args.audit_rows - existing)
    if missing:
        started = time.perf_counter()
        psql(args, f"SELECT count(admin.audit_append(NULL, 'bench.fill', NULL, 't' || n, 'allowed', 'fill', NULL, "
                   f"jsonb_build_object('n', n))) FROM generate_series(1, {missing}) AS n;")
        log(f"filled {missing} audit rows in {time.perf_counter() - started:.1f}s")
    rows = int(psql(args, "SELECT count(*) FROM admin.audit_log;").strip())
    started = time.perf_counter()
    verified = subprocess.run([args.binary, "audit", "verify", "--json", "--database-url", args.database_url],
                              capture_output=True, text=True, timeout=3600)
    verify_seconds = time.perf_counter() - started
    if verified.returncode != 0:
        raise RuntimeError(f"audit verify failed: {verified.stdout[-500:]} {verified.stderr[-500:]}")
    verdict = json.loads(verified.stdout)
    started = time.perf_counter()
    raw_bad = int(psql(args, "SELECT count(*) FILTER (WHERE sha256(prev_hash || admin.audit_canonical(l)) <> hash) "
                             "FROM admin.audit_log l;").strip())
    raw_seconds = time.perf_counter() - started
    log(f"verify: {rows} rows in {verify_seconds:.2f}s (CLI, process start included) vs {raw_seconds:.2f}s in one query")

    queue, queue_raw = reports_phase(args, user["id"], admin_headers)

    me_ratio = round(me["rps"] / health["rps"], 3) if health["rps"] else None
    append_ratio = round(append["tps"] / plain["tps"], 3) if append["tps"] and plain["tps"] else None
    verify_rate = round(rows / verify_seconds, 1)
    raw_rate = round(rows / raw_seconds, 1) if raw_seconds > 0 else None
    figures = [
        {"figure": "GET /admin/v1/me (admin session and live grants resolved)", "value": me["rps"], "unit": "req/s",
         "baseline": health["rps"], "baseline_unit": "req/s", "baseline_what": "GET /health, same clients", "ratio": me_ratio,
         "detail": f"p50 {me['p50_ms']} ms, p99 {me['p99_ms']} ms; {args.clients} clients"},
        {"figure": "audit append (admin.audit_append: chained, one at a time)", "value": append["tps"], "unit": "rows/s",
         "baseline": plain["tps"], "baseline_unit": "rows/s", "baseline_what": "pgbench: plain INSERT of the same columns, no chain",
         "ratio": append_ratio, "detail": f"p99 {append['p99_ms']} ms vs {plain['p99_ms']} ms; {args.clients} clients"},
        {"figure": f"ecomansoni audit verify over {rows} rows (process start included)", "value": verify_rate, "unit": "rows/s",
         "baseline": raw_rate, "baseline_unit": "rows/s", "baseline_what": "the same SHA-256 over the same canonical rows in one query",
         "ratio": round(verify_rate / raw_rate, 3) if raw_rate else None, "detail": f"{verify_seconds:.2f} s vs {raw_seconds:.2f} s"},
        {"figure": f"GET /admin/v1/moderation/messages?limit=20 over {args.reports} open reports (read audited)", "value": queue["rps"],
         "unit": "req/s", "baseline": queue_raw["tps"], "baseline_unit": "queries/s",
         "baseline_what": "pgbench: the same queue statement (grouping, join, JSON), without HTTP, session or audit",
         "ratio": round(queue["rps"] / queue_raw["tps"], 3) if queue_raw["tps"] else None,
         "detail": f"p50 {queue['p50_ms']} ms, p99 {queue['p99_ms']} ms vs p99 {queue_raw['p99_ms']} ms; {args.clients} clients"},
    ]
    document = {
        "benchmark": "admin", "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "binary": args.binary_label, "binary_kind": binary_kind(args.binary_label), "pg_version": args.pg_version,
        "machine": machine_facts(args.cpu_model), "clients": args.clients,
        "http": {"me": me, "health": health}, "append": {"audit_append": append, "plain_insert": plain},
        "reports": {"queue": queue, "raw": queue_raw},
        "verify": {"rows": rows, "seconds": round(verify_seconds, 3), "raw_seconds": round(raw_seconds, 3), "result": verdict},
        "figures": figures,
    }
    print(json.dumps(document, indent=2, ensure_ascii=False))
    if not verdict.get("intact") or raw_bad != 0:
        log("FAILED: the chain does not verify")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
