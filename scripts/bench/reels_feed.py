#!/usr/bin/env python3
"""Measurements for scripts/bench/reels_feed.sh (the reels feed, get_reels_feed).

Driven by reels_feed.sh, which owns the PostgreSQL cluster and the server. Steps:

  setup     signs --viewers test users in (POST /auth/v1/otp + /verify), then generates with
            psql, as the database owner: --users users (1 in 20 private accounts), ~20
            accepted follows each, a few blocks, --reels reels over the last 100 days by
            random authors (public / followers / private 88/8/2 %, 1 in 40 still processing,
            1 in 33 pending moderation; heavy-tailed view counts, likes, comments, saves,
            shares below them; a media prefix on ready ones so records carry signed media
            links), and for each viewer 30 follows, 100 likes, 300 views, 20 saves, 10
            hidden reels and 200 impressions. VACUUM ANALYZE (the steady state autovacuum keeps:
            visibility map set, so the ranking's covering index is read without the heap).
  http      --clients processes, each with its own viewer(s), walk feed sessions of three
            pages (no cursor, then `next` twice) until --requests requests are done;
            latency of every request (first pages and later pages apart), statuses, the
            `mode`, and a check that no session repeats a reel.
  baseline  pgbench, --clients clients for --duration s each: (a) the same database work as
            a first page — claims set, reels.feed_page(NULL, 0, 10), which returns the records
            too — straight on PostgreSQL; (b) the same first page for an anonymous caller
            (role anon, no claims); (c) a plain newest-first page of 10 reels under
            row-level security (what a feed without ranking would cost).
  report    ONE JSON object, with a "figures" list for scripts/bench/all.

Standard library only. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (  # noqa: E402
    RPC_PATH, Client, binary_kind, latency_summary, machine_facts, make_logger, read_anon_key, run_pgbench, sign_in_users,
    wait_ready,
)

log = make_logger("reels-feed-bench")
LIMIT = 10
PAGES_PER_SESSION = 3


def psql(args, sql: str) -> str:
    result = subprocess.run(
        [args.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(args.pg_port), "-U", "postgres",
         "-d", args.pg_database, "-At"],
        input=sql, capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        raise RuntimeError(f"psql failed: {result.stderr[-2000:]}")
    return result.stdout


def generate(args, viewers: list[dict]) -> dict:
    started = time.perf_counter()
    values = ",".join(f"({i + 1}, '{v['id']}'::uuid)" for i, v in enumerate(viewers))
    psql(args, f"""
        CREATE TABLE public.bench_viewers (n integer PRIMARY KEY, id uuid NOT NULL);
        INSERT INTO public.bench_viewers VALUES {values};
        INSERT INTO auth.users (phone) SELECT '1777' || lpad(g::text, 8, '0') FROM generate_series(1, {args.users}) g;
        CREATE TABLE public.bench_users AS
            SELECT row_number() OVER (ORDER BY u.id) AS n, u.id FROM auth.users u
            WHERE u.id NOT IN (SELECT id FROM public.bench_viewers);
        CREATE UNIQUE INDEX ON public.bench_users (n);
        UPDATE public.profiles SET is_private = true WHERE id IN (SELECT id FROM public.bench_users WHERE n % 20 = 0);
        INSERT INTO public.follows (follower_id, following_id, status)
            SELECT a.id, b.id, 'accepted' FROM public.bench_users a
            CROSS JOIN generate_series(1, 20) k
            JOIN public.bench_users b ON b.n = 1 + abs(hashint4(a.n::integer * 31 + k)) % {args.users}
            WHERE a.id <> b.id ON CONFLICT DO NOTHING;
        INSERT INTO public.blocks (blocker_id, blocked_id)
            SELECT a.id, b.id FROM public.bench_users a
            JOIN public.bench_users b ON b.n = 1 + abs(hashint4(a.n::integer * 7)) % {args.users}
            WHERE a.n % 50 = 0 AND a.id <> b.id ON CONFLICT DO NOTHING;
        INSERT INTO reels.reels (author_id, visibility, state, moderation, original_path, caption, hashtags,
                                 view_count, created_at, ready_at)
            SELECT u.id,
                   CASE WHEN g % 50 = 0 THEN 'private' WHEN g % 12 = 0 THEN 'followers' ELSE 'public' END,
                   CASE WHEN g % 40 = 0 THEN 'processing' ELSE 'ready' END,
                   CASE WHEN g % 33 = 0 THEN 'pending' ELSE 'approved' END,
                   u.id || '/bench-' || g || '.mp4', 'reel ' || g || ' #tag' || (g % 100), ARRAY['tag' || (g % 100)],
                   floor(exp(random() * 9))::bigint, now() - random() * interval '100 days', now()
            FROM generate_series(1, {args.reels}) g
            JOIN public.bench_users u ON u.n = 1 + abs(hashint4(g)) % {args.users};
        UPDATE reels.reels SET like_count = floor(view_count * random() * 0.1), comment_count = floor(view_count * random() * 0.02),
                               save_count = floor(view_count * random() * 0.02), share_count = floor(view_count * random() * 0.01),
                               media_prefix = CASE WHEN state = 'ready' THEN id || '/' || gen_random_uuid() END;
        INSERT INTO public.follows (follower_id, following_id, status)
            SELECT v.id, b.id, 'accepted' FROM public.bench_viewers v CROSS JOIN generate_series(1, 30) k
            JOIN public.bench_users b ON b.n = 1 + abs(hashint4(v.n * 1000 + k)) % {args.users} ON CONFLICT DO NOTHING;
        CREATE TABLE public.bench_ready AS
            SELECT row_number() OVER (ORDER BY id) AS n, id FROM reels.reels WHERE state = 'ready' AND moderation = 'approved';
        CREATE UNIQUE INDEX ON public.bench_ready (n);
        CREATE TABLE public.bench_picks AS
            SELECT DISTINCT ON (v.id, r.id) v.id AS viewer, r.id AS reel, k FROM public.bench_viewers v CROSS JOIN generate_series(1, 640) k
            JOIN public.bench_ready r ON r.n = 1 + abs(hashint4(v.n * 100000 + k)) % (SELECT count(*) FROM public.bench_ready);
        INSERT INTO reels.likes (reel_id, user_id) SELECT reel, viewer FROM public.bench_picks WHERE k <= 100 ON CONFLICT DO NOTHING;
        INSERT INTO reels.saves (reel_id, user_id) SELECT reel, viewer FROM public.bench_picks WHERE k BETWEEN 101 AND 120 ON CONFLICT DO NOTHING;
        INSERT INTO reels.hidden (reel_id, user_id) SELECT reel, viewer FROM public.bench_picks WHERE k BETWEEN 121 AND 130 ON CONFLICT DO NOTHING;
        INSERT INTO reels.views (reel_id, user_id, watched_ms) SELECT reel, viewer, 5000 FROM public.bench_picks WHERE k BETWEEN 131 AND 430;
        INSERT INTO reels.impressions (reel_id, user_id) SELECT reel, viewer FROM public.bench_picks WHERE k BETWEEN 431 AND 630;
        VACUUM ANALYZE;
    """)
    counts = psql(args, """
        SELECT (SELECT count(*) FROM reels.reels) || ' ' || (SELECT count(*) FROM auth.users) || ' '
            || (SELECT count(*) FROM public.follows) || ' '
            || (SELECT count(*) FROM reels.reels WHERE state = 'ready' AND moderation = 'approved' AND created_at > now() - interval '90 days');
    """).split()
    seconds = round(time.perf_counter() - started, 1)
    log(f"setup: data generated in {seconds}s: {counts}")
    return {"reels": int(counts[0]), "users": int(counts[1]), "follows": int(counts[2]),
            "candidates_90_days": int(counts[3]), "seconds": seconds}


def walk_sessions(index: int, clients: int, port: int, anon_key: str, viewers: list[dict], requests: int) -> dict:
    """One client's share of the HTTP phase: its own viewers' feed sessions (first page, then
    `next` twice) until it has made `requests` requests. Runs in its own process."""
    first, later, errors = [], [], []
    statuses: dict[str, int] = {}
    modes: dict[str, int] = {}
    duplicates = 0
    mine = [v for i, v in enumerate(viewers) if i % clients == index] or [viewers[index % len(viewers)]]
    client = Client(port, anon_key, user_agent="bench-reels-feed")
    done, turn = 0, 0
    started = time.perf_counter()
    while done < requests:
        viewer = mine[turn % len(mine)]
        turn += 1
        headers = {"Authorization": f"Bearer {viewer['token']}"}
        cursor, seen = None, set()
        for page in range(PAGES_PER_SESSION):
            if done >= requests:
                break
            body = {"limit": LIMIT} if cursor is None else {"limit": LIMIT, "cursor": cursor}
            status, payload, elapsed = client.post(RPC_PATH + "get_reels_feed", body, headers)
            done += 1
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            if status != 200:
                if len(errors) < 5:
                    errors.append(f"{status}: {str(payload)[:300]}")
                break
            result = json.loads(payload)
            ids = [reel["id"] for reel in result["reels"]]
            (first if page == 0 else later).append(elapsed)
            modes[result["mode"]] = modes.get(result["mode"], 0) + 1
            duplicates += len(seen.intersection(ids)) + (len(ids) - len(set(ids)))
            seen.update(ids)
            cursor = result["next"]
            if cursor is None:
                break
    client.close()
    return {"first": first, "later": later, "statuses": statuses, "errors": errors, "modes": modes,
            "duplicates": duplicates, "started": started, "ended": time.perf_counter()}


def http_phase(args, anon_key: str, viewers: list[dict]) -> dict:
    """--clients processes (not threads: one interpreter's lock would add its own waits to the
    measured latencies) walk feed sessions; their results are merged."""
    per_client = max(1, args.requests // args.clients)
    jobs = [(index, args.clients, args.port, anon_key, viewers, per_client) for index in range(args.clients)]
    with multiprocessing.get_context("fork").Pool(args.clients) as pool:
        parts = pool.starmap(walk_sessions, jobs)
    first = [value for part in parts for value in part["first"]]
    later = [value for part in parts for value in part["later"]]
    statuses: dict[str, int] = {}
    modes: dict[str, int] = {}
    for part in parts:
        for key, count in part["statuses"].items():
            statuses[key] = statuses.get(key, 0) + count
        for key, count in part["modes"].items():
            modes[key] = modes.get(key, 0) + count
    errors = [error for part in parts for error in part["errors"]][:5]
    wall = max(part["ended"] for part in parts) - min(part["started"] for part in parts)
    everything = first + later
    log(f"http: {len(everything)} ok requests in {wall:.1f}s, statuses {statuses}")
    return {
        "requests": sum(statuses.values()), "statuses": statuses, "error_samples": errors, "seconds": round(wall, 2),
        "rps": round(len(everything) / wall, 1) if wall else None, "modes": modes,
        "duplicates_within_sessions": sum(part["duplicates"] for part in parts),
        "all": latency_summary(everything), "first_page": latency_summary(first), "later_pages": latency_summary(later),
    }


def pgbench(args, name: str, statement: str, anonymous: bool = False) -> dict:
    claims = ("SELECT set_config('request.jwt.claims', '{\"role\":\"anon\"}', true);\nSELECT set_config('role', 'anon', true);"
              if anonymous else
              "SELECT set_config('request.jwt.claims', json_build_object('sub', id, 'role', 'authenticated')::text, true) "
              "FROM public.bench_viewers WHERE n = :v;\nSELECT set_config('role', 'authenticated', true);")
    return run_pgbench(args, name, f"""\\set v random(1, {args.viewers})
BEGIN;
{claims}
{statement}
COMMIT;
""", log=lambda text: log("baseline " + text.removeprefix("pgbench ")))


def main() -> int:
    parser = argparse.ArgumentParser()
    for name in ("--binary", "--data-dir", "--psql", "--pgbench", "--pg-database", "--work-dir", "--code",
                 "--binary-label", "--cpu-model", "--pg-version"):
        parser.add_argument(name, required=name not in ("--cpu-model", "--pg-version"), default="")
    for name in ("--port", "--server-pid", "--pg-port", "--reels", "--users", "--viewers", "--phone-base", "--clients",
                 "--requests", "--duration"):
        parser.add_argument(name, type=int, required=True)
    args = parser.parse_args()

    wait_ready(args.port, args.server_pid)
    anon_key = read_anon_key(args.binary, args.data_dir)
    phones = [str(args.phone_base + i) for i in range(args.viewers)]
    viewers = sign_in_users(args.port, anon_key, phones, args.code, workers=min(4, args.viewers), log=log)
    data = generate(args, viewers)
    # One warm-up session per viewer (plans cached, media key and cursor key loaded).
    warm = argparse.Namespace(**{**vars(args), "requests": args.viewers * PAGES_PER_SESSION, "clients": 1})
    http_phase(warm, anon_key, viewers)
    http = http_phase(args, anon_key, viewers)
    raw_feed = pgbench(args, "feed_page", "SELECT reels.feed_page(NULL, 0, 10)::text;")
    raw_anonymous = pgbench(args, "feed_page_anonymous", "SELECT reels.feed_page(NULL, 0, 10)::text;", anonymous=True)
    raw_newest = pgbench(args, "newest", """SELECT (reels.record(r) - 'media')::text, r.media_prefix FROM reels.reels r
WHERE r.state = 'ready' AND r.moderation = 'approved' ORDER BY r.created_at DESC, r.id DESC LIMIT 10;""")

    p99_all, p99_first = http["all"]["p99_ms"], http["first_page"]["p99_ms"]
    raw_p99 = raw_feed["p99_ms"]
    shape = f"{data['reels']} reels / {data['users']} users, {args.clients} clients, limit {LIMIT}"
    issue_shape = args.reels >= 100000 and args.users >= 10000
    ratio = round(p99_first / raw_p99, 3) if p99_first and raw_p99 else None
    figures = [
        {"figure": "get_reels_feed over HTTP, every page (first + 2 cursors per session)", "value": p99_all, "unit": "ms p99",
         "detail": f"p50 {http['all']['p50_ms']} ms; {shape}; {http['rps']} req/s",
         "target": "p99 ≤ 50 ms at 100 000 reels / 10 000 users",
         "meets_target": (p99_all <= 50) if (issue_shape and p99_all is not None) else None},
        {"figure": "get_reels_feed over HTTP, first page (new ranked snapshot)", "value": p99_first, "unit": "ms p99",
         "baseline": raw_p99, "baseline_unit": "ms p99",
         "baseline_what": "pgbench: the same SQL (reels.feed_page, records included) straight on PostgreSQL", "ratio": ratio,
         "detail": f"p50 {http['first_page']['p50_ms']} ms vs raw p50 {raw_feed['p50_ms']} ms; {shape}"},
        {"figure": "get_reels_feed over HTTP, later page (cursor)", "value": http["later_pages"]["p99_ms"], "unit": "ms p99",
         "detail": f"p50 {http['later_pages']['p50_ms']} ms; {shape}"},
        {"figure": "raw first page for an anonymous viewer (reels.feed_page as anon, pgbench)", "value": raw_anonymous["p99_ms"],
         "unit": "ms p99", "detail": f"p50 {raw_anonymous['p50_ms']} ms, {raw_anonymous['tps']} tps; {shape}"},
        {"figure": "raw newest-first page of 10 under RLS (no ranking)", "value": raw_newest["p99_ms"], "unit": "ms p99",
         "detail": f"pgbench, p50 {raw_newest['p50_ms']} ms, {raw_newest['tps']} tps"},
    ]
    document = {
        "benchmark": "reels_feed", "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "binary": args.binary_label, "binary_kind": binary_kind(args.binary_label), "pg_version": args.pg_version,
        "machine": machine_facts(args.cpu_model), "data": data, "clients": args.clients, "limit": LIMIT,
        "http": http, "raw_pg": {"feed_page": raw_feed, "feed_page_anonymous": raw_anonymous, "newest": raw_newest},
        "feed_p99_ms": p99_all, "first_page_p99_ms": p99_first, "raw_feed_page_p99_ms": raw_p99,
        "first_page_ratio_to_raw": ratio, "figures": figures,
    }
    print(json.dumps(document, indent=2, ensure_ascii=False))
    if http["duplicates_within_sessions"] or not http["all"]["count"]:
        log("FAILED: duplicates within sessions or no successful request")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
