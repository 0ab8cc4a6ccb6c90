#!/usr/bin/env python3
"""Driver of scripts/bench/reels_pipeline.sh (see there for what is measured).

1. A clip is made with ffmpeg (testsrc + a tone, H.264/AAC).
2. Baseline: the pipeline's ffmpeg/ffprobe commands run alone on it, BENCH_REELS_ROUNDS
   times (median): ffprobe of the original, the one ffmpeg run making the HLS ladder and the
   poster, the remux of the top rung into the faststart MP4, ffprobe of that MP4. The
   arguments mirror Sources/Reels/TranscodePlan.swift (keep them in step).
3. Pipeline: the same clip uploaded to the `reels` bucket and create_reel called, one reel at
   a time; the figure is reels.jobs.finished_at - created_at (queued → ready committed), and
   when the first and last output rows were committed (the storing phase). Steps 2 and 3
   alternate, one of each per round, so a pair sees the same load.
4. Throughput: BENCH_REELS_JOBS reels created back to back; jobs per minute of the one
   worker = jobs / (last finished_at - first created_at).
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import machine_facts, make_logger, read_anon_key, sign_in_users, wait_ready  # noqa: E402

log = make_logger("reels_pipeline.py")

LADDER = [(720, 2500), (540, 1500), (360, 800)]


def run(arguments: list[str]) -> subprocess.CompletedProcess:
    result = subprocess.run(arguments, capture_output=True, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"{arguments[0]} failed: {result.stderr.decode(errors='replace')[-1500:]}")
    return result


def probe(path: str) -> dict:
    output = run(["ffprobe", "-v", "error", "-protocol_whitelist", "file", "-show_entries",
                  "stream=codec_type,width,height,duration:stream_side_data=rotation:stream_tags=rotate:format=duration",
                  "-of", "json", "file:" + path]).stdout
    data = json.loads(output)
    video = next(s for s in data["streams"] if s.get("codec_type") == "video")
    return {"width": video["width"], "height": video["height"], "duration": float(data.get("format", {}).get("duration", 0)),
            "audio": any(s.get("codec_type") == "audio" for s in data["streams"])}


def scaled(width: int, height: int, short: int) -> tuple[int, int]:
    long = max(width, height) * short / max(1, min(width, height))
    long_even = max(2, int(round(long / 2)) * 2)
    return (short, long_even) if width <= height else (long_even, short)


def transcode_alone(source: str, out: str) -> None:
    """The commands of Transcoder.transcode, without the pipeline around them."""
    info = probe(source)
    short = min(info["width"], info["height"])
    rungs = [r for r in LADDER if r[0] <= short] or [(max(2, short // 2 * 2), LADDER[-1][1])]
    renditions = [(f"{side}p", *scaled(info["width"], info["height"], side), rate) for side, rate in rungs]
    for name, *_ in renditions:
        os.makedirs(f"{out}/{name}", exist_ok=True)
    count = len(renditions)
    graph = f"[0:v]split={count + 1}" + "".join(f"[s{i}]" for i in range(count + 1))
    for i, (_, w, h, _) in enumerate(renditions):
        graph += f";[s{i}]scale={w}:{h},setsar=1[v{i}]"
    poster_at = min(1.0, max(0.0, info["duration"] / 3))
    top = renditions[0]
    graph += f";[s{count}]select=gte(t\\,{poster_at:.3f}),scale={top[1]}:{top[2]},setsar=1[poster]"
    args = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-nostats", "-progress", "pipe:1", "-y",
            "-protocol_whitelist", "file", "-i", "file:" + source, "-filter_complex", graph]
    for i in range(count):
        args += ["-map", f"[v{i}]"]
    if info["audio"]:
        for _ in renditions:
            args += ["-map", "0:a:0"]
        args += ["-c:a", "aac", "-b:a", "96k", "-ac", "2"]
    else:
        args += ["-an"]
    args += ["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-pix_fmt", "yuv420p", "-crf", "23",
             "-fpsmax", "30", "-sc_threshold", "0", "-force_key_frames", "expr:gte(t,n_forced*2)"]
    for i, (_, _, _, rate) in enumerate(renditions):
        args += [f"-maxrate:v:{i}", f"{rate}k", f"-bufsize:v:{i}", f"{rate * 2}k"]
    streams = " ".join((f"v:{i},a:{i},name:{r[0]}" if info["audio"] else f"v:{i},name:{r[0]}") for i, r in enumerate(renditions))
    args += ["-map_metadata", "-1", "-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4",
             "-hls_fmp4_init_filename", "init.mp4", "-hls_segment_filename", out + "/%v/seg_%d.m4s",
             "-master_pl_name", "master.m3u8", "-var_stream_map", streams, out + "/%v/index.m3u8",
             "-map", "[poster]", "-map_metadata", "-1", "-frames:v", "1", "-q:v", "3", "-update", "1", out + "/poster.jpg"]
    run(args)
    top_dir = f"{out}/{top[0]}"
    with open(f"{out}/.fragmented.mp4", "wb") as joined:
        init = Path(f"{top_dir}/init_0.mp4")
        joined.write((init if init.exists() else Path(f"{top_dir}/init.mp4")).read_bytes())
        n = 0
        while os.path.exists(f"{top_dir}/seg_{n}.m4s"):
            joined.write(Path(f"{top_dir}/seg_{n}.m4s").read_bytes())
            n += 1
    run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-protocol_whitelist", "file", "-f", "mp4",
         "-i", f"file:{out}/.fragmented.mp4", "-c", "copy", "-map_metadata", "-1", "-movflags", "+faststart", f"file:{out}/video.mp4"])
    probe(f"{out}/video.mp4")


def request(port: int, method: str, path: str, headers: dict, body: bytes) -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=120) as response:
        return json.loads(response.read() or b"null")


def create_reel(port: int, anon: str, user: dict, clip: bytes) -> str:
    headers = {"apikey": anon, "Authorization": f"Bearer {user['token']}"}
    path = f"{user['id']}/{uuid.uuid4()}.mp4"
    request(port, "POST", f"/storage/v1/object/reels/{path}", {**headers, "Content-Type": "video/mp4"}, clip)
    record = request(port, "POST", "/rest/v1/rpc/create_reel", {**headers, "Content-Type": "application/json"},
                     json.dumps({"object_path": path}).encode())
    return record["id"]


class SQL:
    """psql against the run's cluster (no wait for backends: the server's pool opens its own)."""

    def __init__(self, psql: str, port: int, database: str) -> None:
        self.command = [psql, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", database]

    def psql(self, statement: str) -> str:
        result = subprocess.run(self.command + ["-c", statement], capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()}")
        return result.stdout.strip()


def wait_done(pg: SQL, reels: list[str], timeout: float = 300) -> None:
    listed = ",".join(f"'{r}'" for r in reels)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = pg.psql(f"SELECT string_agg(state, ',') FROM reels.jobs WHERE reel_id IN ({listed})").split(",")
        if all(s in ("done", "dead") for s in states) and len(states) == len(reels):
            if "dead" in states:
                raise RuntimeError("a benchmark reel failed: " + pg.psql(f"SELECT string_agg(last_error, ' | ') FROM reels.jobs WHERE reel_id IN ({listed})"))
            return
        time.sleep(0.1)
    raise RuntimeError("the reels did not become ready in time")


def storing_phase(pg: SQL, reel: str) -> tuple[float, float]:
    """When the first and the last output row of `reel` were committed, in seconds after the
    job was queued (where storing starts and ends on the job's clock)."""
    row = pg.psql(
        "SELECT extract(epoch FROM min(o.created_at) - j.created_at) || ',' || extract(epoch FROM max(o.created_at) - j.created_at) "
        f"FROM reels.jobs j JOIN storage.objects o ON o.bucket_id = 'reels-media' AND o.name LIKE j.reel_id || '/%' "
        f"WHERE j.reel_id = '{reel}' GROUP BY j.created_at")
    first, last = row.split(",")
    return float(first), float(last)


def main() -> int:
    parser = argparse.ArgumentParser()
    for name in ("--binary", "--data-dir", "--psql", "--pg-database", "--work-dir", "--phone", "--code", "--size",
                 "--binary-label", "--cpu-model", "--pg-version"):
        parser.add_argument(name, default="")
    for name in ("--port", "--server-pid", "--pg-port", "--postmaster-pid", "--seconds", "--rounds", "--jobs"):
        parser.add_argument(name, type=int, required=True)
    args = parser.parse_args()
    pg = SQL(args.psql, args.pg_port, args.pg_database)
    work = Path(args.work_dir)

    clip_path = work / "clip.mp4"
    run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size={args.size}:rate=30", "-f", "lavfi", "-i", "sine=frequency=440",
         "-t", str(args.seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(clip_path)])
    clip = clip_path.read_bytes()
    log(f"clip: {args.size}, {args.seconds} s, {len(clip)} bytes")

    wait_ready(args.port, args.server_pid)
    anon = read_anon_key(args.binary, args.data_dir)
    user = sign_in_users(args.port, anon, [args.phone], args.code, 1, log)[0]
    # Each round times the commands alone and then the pipeline, back to back, so that both
    # halves of a pair see the same load on a shared machine.
    alone = []
    piped = []
    phases = []
    for n in range(args.rounds):
        out = work / f"alone-{n}"
        started = time.perf_counter()
        transcode_alone(str(clip_path), str(out))
        alone.append(time.perf_counter() - started)
        shutil.rmtree(out, ignore_errors=True)
        reel = create_reel(args.port, anon, user, clip)
        wait_done(pg, [reel], timeout=60 if args.seconds <= 2 else 300)
        piped.append(float(pg.psql(f"SELECT extract(epoch FROM finished_at - created_at) FROM reels.jobs WHERE reel_id = '{reel}'")))
        phases.append(storing_phase(pg, reel))
        log(f"round {n + 1}: ffmpeg alone {alone[-1]:.2f} s, pipeline {piped[-1]:.2f} s "
            f"(outputs committed from {phases[-1][0]:.2f} s to {phases[-1][1]:.2f} s)")

    reels = [create_reel(args.port, anon, user, clip) for _ in range(args.jobs)]
    wait_done(pg, reels)
    listed = ",".join(f"'{r}'" for r in reels)
    span = float(pg.psql(f"SELECT extract(epoch FROM max(finished_at) - min(created_at)) FROM reels.jobs WHERE reel_id IN ({listed})"))
    per_minute = args.jobs / span * 60
    log(f"throughput: {args.jobs} jobs in {span:.2f} s")

    median_alone = statistics.median(alone)
    median_piped = statistics.median(piped)
    ratio = median_piped / median_alone
    document = {
        "benchmark": "reels_pipeline",
        "machine": machine_facts(args.cpu_model),
        "binary": args.binary_label,
        "postgres": args.pg_version,
        "clip": {"size": args.size, "seconds": args.seconds, "bytes": len(clip), "audio": True},
        "rounds": args.rounds,
        "ffmpeg_alone_seconds": [round(v, 3) for v in alone],
        "pipeline_seconds": [round(v, 3) for v in piped],
        "ffmpeg_alone_median_s": round(median_alone, 3),
        "pipeline_median_s": round(median_piped, 3),
        "outputs_committed_s": [[round(a, 3), round(b, 3)] for a, b in phases],
        "ratio": round(ratio, 3),
        "paired_ratio_median": round(statistics.median(p / a for p, a in zip(piped, alone)), 3),
        "throughput": {"jobs": args.jobs, "seconds": round(span, 3), "jobs_per_minute_per_worker": round(per_minute, 2)},
        "figures": [
            {"figure": "reel pipeline wall time (queued → ready) vs the same ffmpeg commands alone", "value": round(median_piped, 3),
             "unit": "s", "baseline": round(median_alone, 3), "baseline_unit": "s", "baseline_what": "ffprobe + ffmpeg ladder + remux + ffprobe",
             "ratio": round(ratio, 3), "target": "ratio ≤ 1.1", "meets_target": ratio <= 1.1,
             "detail": f"{args.size} {args.seconds} s clip with sound, median of {args.rounds}"},
            {"figure": "reels jobs per minute per worker", "value": round(per_minute, 2), "unit": "jobs/min",
             "detail": f"{args.jobs} jobs queued at once, one worker, concurrency 1"},
        ],
    }
    print(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
