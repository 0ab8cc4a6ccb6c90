#!/usr/bin/env python3
"""Load generator and report for scripts/bench/tables.sh (the table API, issue 19).

Driven by tables.sh, which owns the PostgreSQL cluster and the server process. This helper
waits for /ready, signs in --users test numbers, makes groups of --group-size, writes
--messages messages into each group, then measures for the same clients and duration:

  read          GET /rest/v1/messages?conversation_id=eq.<group>&order=seq.desc&limit=50 as a
                member (each worker cycles over its share of (group, member) pairs);
  read_pg       pgbench with the statement the server sends for it: public.run_as_caller
                setting the caller's role, claims and request settings and running the SELECT
                (json_agg of the 50 rows) under row-level security, one round trip;
  read_pg_transaction
                the same work as PostgREST sends it (and this server did before migration
                0040): BEGIN, the settings, the SELECT, COMMIT;
  insert        POST /rest/v1/messages {"conversation_id","body"} (return=minimal) as a member;
  insert_pg     pgbench with the server's statement for it: run_as_caller running the
                INSERT … SELECT FROM json_populate_recordset with the RETURNING the realtime
                announcement reads;
  insert_pg_transaction
                the same in PostgREST's transaction.

Each ratio is the server's requests/s over its baseline's transactions/s; `read_ratio` and
`insert_ratio` are against the server's own statement.

The HTTP phases' load comes from Debian's wrk when --load-tool is wrk (a C client, as cheap per
request as pgbench is per transaction, cycling over every (group, member) pair; a sample of
reads is checked for its 50 rows first) or from Python threads (python; each answer checked).

Before each insert phase the harness ages the messages written so far by two minutes (as
the owner, triggers off), so pgbench starts with the senders' 60-a-minute windows as empty
as the HTTP phase found them.

Prints ONE JSON object on stdout; progress goes to stderr. Standard library only (and wrk).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (  # noqa: E402
    add_server_arguments,
    PG, Client, CPUMeter, PhaseStats, binary_kind, group_pairs, machine_facts, make_logger,
    phase_result, process_alive, read_anon_key, run_workers, server_log_summary, wait_ready, measured_wrk, wrk_load,
)

TABLE_PATH = "/rest/v1/messages"
REQUEST_TIMEOUT = 30.0
BODY = "benchmark message: the quick brown fox jumps over the lazy dog"
# The columns of a written message the server reads back for its realtime change
# (ChatTableChanges.watchedColumns: chat's realtime record of a message, ChatChangeFeed.tables).
WATCHED_MESSAGE_COLUMNS = ("id", "conversation_id", "sender_id", "seq", "client_msg_id", "kind", "body", "attachment",
                           "reply_to_id", "edited_at", "deleted_at", "created_at", "updated_at", "call", "forwarded_from")
SETTINGS = ("SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :claims, true), "
            "set_config('request.method', '{method}', true), set_config('request.path', '/rest/v1/messages', true);")


def as_caller(method: str, statement: str, values: str, columns: str) -> str:
    """The server's one statement (migration 0040) running `statement` (values `$1[n]` of
    the SQL array `values`) as the pair's member; pgbench's `:claims` is a parameter."""
    quoted = statement.replace("'", "''")
    return (f"SELECT * FROM public.run_as_caller('authenticated', :claims, "
            f"ARRAY['request.method', '{method}', 'request.path', '{TABLE_PATH}'], '{quoted}', {values}, true) AS _r({columns});\n")


log = make_logger("tables-bench")


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.pg = PG(port=args.pg_port, user=args.pg_user, database=args.pg_database, postmaster_pid=args.postmaster_pid,
                     psql_path=args.psql, pgbench_path=args.pgbench)
        self.anon_key = ""
        self.pairs: list[tuple[str, dict]] = []
        self.per = 0

    def setup(self) -> None:
        a = self.args
        log(f"waiting for the server on 127.0.0.1:{a.port}")
        wait_ready(a.port, a.server_pid)
        self.anon_key = read_anon_key(a.binary, a.data_dir)
        self.pairs = group_pairs(a, self.pg, self.anon_key, log)
        self.per = len(self.pairs) // a.clients
        # Each group's history, written as its first member long enough ago to leave every
        # sender's 60-a-minute window empty (triggers off: seq is given).
        self.pg.psql(f"""
            SET session_replication_role = replica;
            INSERT INTO public.messages (conversation_id, sender_id, client_msg_id, body, seq, created_at)
                SELECT g.conversation_id, g.sender_id, gen_random_uuid(), 'seeded ' || i, i, now() - interval '1 hour'
                FROM (SELECT DISTINCT ON (conversation_id) conversation_id, sender_id FROM bench.pairs ORDER BY conversation_id, n) g,
                     generate_series(1, {a.messages}) i;
            UPDATE public.conversations c SET last_seq = {a.messages} WHERE c.id IN (SELECT conversation_id FROM bench.pairs);
            ANALYZE;
        """)
        log(f"setup: {len(self.pairs)} (group, member) pairs, {self.per} per client, {a.messages} messages per group")

    def columns(self) -> str:
        """The columns `select=*` stands for for `authenticated`, as the server writes them."""
        return self.pg.psql("""
            SELECT string_agg(format('_t0.%I', attname), ', ' ORDER BY attnum) FROM pg_attribute
            WHERE attrelid = 'public.messages'::regclass AND attnum > 0 AND NOT attisdropped
              AND has_column_privilege('authenticated', attrelid, attnum, 'SELECT')""").strip()

    def phase(self, name: str, request, wrk_request) -> dict:
        """One measured HTTP phase: `request(client, conversation, member)` makes one request
        with Python, `wrk_request(conversation, member)` describes it for wrk."""
        a = self.args
        if a.load_tool == "wrk":
            return self.wrk_phase(name, [wrk_request(conversation, member) for conversation, member in self.pairs])
        stats = PhaseStats()
        per_worker = max(1, math.ceil(a.max_requests / a.clients))
        server_gone = threading.Event()
        clients = [Client(a.port, self.anon_key, user_agent="tables-bench") for _ in range(a.clients)]

        def worker(index: int, barrier: threading.Barrier) -> None:
            own = self.pairs[index * self.per:(index + 1) * self.per]
            client = clients[index]
            client._ensure_connection()
            barrier.wait()
            deadline = time.monotonic() + a.duration
            done = 0
            while done < per_worker and time.monotonic() < deadline and not server_gone.is_set():
                conversation, member = own[done % len(own)]
                status, payload, elapsed = request(client, conversation, member)
                stats.add(status, payload, elapsed)
                done += 1
                if status is None and not process_alive(a.server_pid):
                    server_gone.set()

        meter = CPUMeter(a.server_pid, a.postmaster_pid)
        before = meter.sample()
        wall = run_workers(a.clients, worker, timeout=a.duration + REQUEST_TIMEOUT + 30)
        after = meter.sample()
        for client in clients:
            client.close()
        if server_gone.is_set():
            raise RuntimeError(f"the server exited during the {name} phase ({stats.error_samples[:2]})")
        result = phase_result(stats, wall, CPUMeter.report(before, after, len(stats.latencies), "client"))
        log(f"{name}: {result['ok']} ok / {result['requests']} in {result['seconds']}s = {result['rps']} req/s, "
            f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms")
        return result

    def wrk_phase(self, name: str, requests: list) -> dict:
        a = self.args
        if name == "read":
            # The table API's pool opens its connections on demand: a second of the same load
            # first, unmeasured, as pgbench's figures leave out its connections' opening.
            wrk_load(a.port, a.clients, 1, requests=requests, work_dir=a.work_dir)
        return measured_wrk(name, a.server_pid, a.postmaster_pid,
                            lambda: wrk_load(a.port, a.clients, a.duration, requests=requests, work_dir=a.work_dir), log)

    def check_reads(self, sample: int = 20) -> None:
        """The read answers 200 with the group's last 50 messages (wrk counts statuses only)."""
        client = Client(self.args.port, self.anon_key, user_agent="tables-bench")
        try:
            for conversation, member in self.pairs[:sample]:
                status, payload, _ = self.read(client, conversation, member)
                if status != 200:
                    raise RuntimeError(f"a read answered {status}: {payload[:200]!r}")
        finally:
            client.close()

    def wrk_read(self, conversation: str, member: dict) -> tuple:
        return ("GET", f"{TABLE_PATH}?conversation_id=eq.{conversation}&order=seq.desc&limit=50", "",
                {"apikey": self.anon_key, "Authorization": "Bearer " + member["token"]})

    def wrk_insert(self, conversation: str, member: dict) -> tuple:
        return ("POST", TABLE_PATH, json.dumps({"conversation_id": conversation, "body": BODY}),
                {"apikey": self.anon_key, "Authorization": "Bearer " + member["token"], "Content-Type": "application/json"})

    def read(self, client: Client, conversation: str, member: dict):
        status, payload, elapsed = client.get(
            f"{TABLE_PATH}?conversation_id=eq.{conversation}&order=seq.desc&limit=50",
            headers={"Authorization": "Bearer " + member["token"]})
        if status == 200:
            rows = json.loads(payload)
            if not isinstance(rows, list) or len(rows) != min(50, self.args.messages):
                status = 299
        return status, payload, elapsed

    def insert(self, client: Client, conversation: str, member: dict):
        status, payload, elapsed = client.post(
            TABLE_PATH, {"conversation_id": conversation, "body": BODY}, headers={"Authorization": "Bearer " + member["token"]})
        return (200 if status == 201 else status or None), payload, elapsed

    def pgbench(self, name: str, text: str) -> dict:
        a = self.args
        script = Path(a.work_dir) / f"{name}.sql"
        script.write_text(text)
        return self.pg.pgbench(name, str(script), {"per": str(self.per), "body": BODY}, a.clients, a.duration, a.work_dir, log)

    def age_messages(self) -> None:
        """Moves every message two minutes back (as the owner, triggers off), so the next
        insert phase finds the senders' 60-a-minute windows empty."""
        self.pg.psql("SET session_replication_role = replica; UPDATE public.messages SET created_at = created_at - interval '2 minutes'")
        self.pg.checkpoint()

    def run(self) -> dict:
        a = self.args
        self.setup()
        machine = machine_facts(a.cpu_model)
        columns = self.columns()
        pick = "\\set n :client_id * :per + random(0, :per - 1)\n"

        self.check_reads()
        self.pg.checkpoint()
        read = self.phase("read", self.read, self.wrk_read)
        read_sql = (f"SELECT count(*)::int8, coalesce(json_agg(_r), '[]')::text FROM (SELECT {columns} FROM \"public\".\"messages\" _t0 "
                    + "WHERE _t0.\"conversation_id\" = {conv}::uuid ORDER BY _t0.\"seq\" DESC LIMIT 50 OFFSET 0) _r")
        read_pick = pick + "SELECT conversation_id AS conv, claims FROM bench.pairs WHERE n = :n \\gset\n"
        read_pg = self.pgbench("table_read", read_pick
            + as_caller("GET", read_sql.format(conv="$1[1]"), "ARRAY[:conv]", "n int8, body text"))
        read_pg_transaction = self.pgbench("table_read_transaction", read_pick
            + "BEGIN;\n" + SETTINGS.format(method="GET") + "\n" + read_sql.format(conv="(:conv)") + ";\nCOMMIT;\n")

        messages_before = int(self.pg.psql("SELECT count(*) FROM public.messages").strip())
        self.pg.checkpoint()
        insert = self.phase("insert", self.insert, self.wrk_insert)
        written = int(self.pg.psql("SELECT count(*) FROM public.messages").strip()) - messages_before
        # The server returns each written row's watched columns (chat's realtime record of a
        # message, ChatTableChanges.watchedColumns) to build its change.
        returned = ", ".join(f'_t0."{column}"' for column in WATCHED_MESSAGE_COLUMNS)
        watched = ", ".join(f"'{column}'::text, _o.\"{column}\"" for column in WATCHED_MESSAGE_COLUMNS)
        insert_sql = ("WITH _w AS (INSERT INTO \"public\".\"messages\" AS _t0 (\"conversation_id\", \"body\") "
                      + "SELECT \"conversation_id\", \"body\" FROM json_populate_recordset(NULL::\"public\".\"messages\", {payload}::json) "
                      + f"RETURNING {returned}) SELECT (SELECT count(*) FROM _w)::int8, '[]', "
                      + f"(SELECT coalesce(json_agg(json_build_object({watched})), '[]')::text "
                      + "FROM _w _o)")
        insert_pick = (pick + "SELECT claims, json_build_array(json_build_object('conversation_id', conversation_id, 'body', (:body)::text))::text "
                       + "AS payload FROM bench.pairs WHERE n = :n \\gset\n")
        self.age_messages()
        insert_pg = self.pgbench("table_insert", insert_pick
            + as_caller("POST", insert_sql.format(payload="$1[1]"), "ARRAY[:payload]", "n int8, body text, watched text"))
        self.age_messages()
        insert_pg_transaction = self.pgbench("table_insert_transaction", insert_pick
            + "BEGIN;\n" + SETTINGS.format(method="POST") + "\n" + insert_sql.format(payload="(:payload)") + ";\nCOMMIT;\n")
        gaps = self.pg.psql("""
            SELECT count(*) FROM (
                SELECT conversation_id, count(*) AS n, max(seq) AS top, count(DISTINCT seq) AS d
                FROM public.messages GROUP BY conversation_id) x
            WHERE n <> top OR d <> n""").strip()

        def ratio(server: dict, pgbench: dict) -> float | None:
            if server.get("rps") and pgbench.get("tps"):
                return round(server["rps"] / pgbench["tps"], 3)
            return None

        return {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": machine,
            "binary": binary_kind(a.binary_label),
            "binary_path": a.binary_label,
            "postgres": a.pg_version,
            "clients": a.clients,
            "load_tool": a.load_tool,
            "duration_s": a.duration,
            "users": a.users,
            "groups": len(self.pairs) // a.group_size,
            "messages_per_group": a.messages,
            "read": read,
            "read_pg": read_pg,
            "read_ratio": ratio(read, read_pg),
            "read_pg_transaction": read_pg_transaction,
            "read_ratio_transaction": ratio(read, read_pg_transaction),
            "insert": insert,
            "insert_pg": insert_pg,
            "insert_ratio": ratio(insert, insert_pg),
            "insert_pg_transaction": insert_pg_transaction,
            "insert_ratio_transaction": ratio(insert, insert_pg_transaction),
            "inserted_over_http": written,
            "conversations_with_seq_gaps": int(gaps),
            "server_log": server_log_summary(a.server_log, samples=5),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_arguments(parser)
    parser.add_argument("--max-requests", type=int, default=50000, help="request cap of each HTTP phase (Python load)")
    parser.add_argument("--load-tool", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python")
    parser.add_argument("--users", type=int, default=400)
    parser.add_argument("--group-size", type=int, default=10)
    parser.add_argument("--messages", type=int, default=60)
    parser.add_argument("--phone-base", type=int, default=15560000000)
    parser.add_argument("--code", default="123456")
    args = parser.parse_args()
    if (args.users // args.group_size) * args.group_size < args.clients:
        parser.error("need at least one (group, member) pair per client")

    def terminate(signum, frame):  # noqa: ARG001
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    try:
        report = Bench(args).run()
    except (RuntimeError, subprocess.TimeoutExpired, OSError, ValueError, KeyError) as error:
        log(f"FAILED: {error}")
        return 1
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
