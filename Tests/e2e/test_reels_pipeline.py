"""The reels pipeline over plain HTTP (docs/reels.md "Pipeline"): an original uploaded to the
`reels` bucket and turned into a reel with create_reel is transcoded by the server's worker
(fMP4 HLS ladder, progressive MP4, poster) and becomes ready; the author hears reel_progress
on realtime `user:<id>`; the playlists use relative URIs that resolve under the media token;
the moderation settings decide approved/pending at ready; a job that cannot succeed is dead
and the reel failed with a reason. Clips are made by ffmpeg (lavfi testsrc/sine).
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from reels_support import call, ffmpeg, signed_in, sql, upload
from test_realtime import collector, subscribed

ALICE, BOB = "+15555550300", "+15555550301"
READY_TIMEOUT = 120.0


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, bytes]:
    directory = tmp_path_factory.mktemp("reel-pipeline-clips")
    return {
        "portrait": ffmpeg(directory / "portrait.mp4", "-f", "lavfi", "-i", "testsrc=size=720x1280:rate=25", "-f", "lavfi", "-i",
                           "sine=frequency=440", "-t", "4", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                           "-c:a", "aac", "-shortest"),
        "landscape": ffmpeg(directory / "landscape.mp4", "-f", "lavfi", "-i", "testsrc=size=640x360:rate=25", "-t", "1",
                            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"),
    }


@pytest.fixture(scope="module")
async def users(server):
    """Alice's and Bob's (user id, access token, client)."""
    async with signed_in(server, (ALICE, BOB)) as found:
        yield [found[ALICE], found[BOB]]
        for _, _, client in found.values():
            await client.remove_all_channels()


async def create(http, server, user, clip: bytes, caption: str = "") -> dict:
    stored, path = await upload(http, server, user, f"{uuid.uuid4()}.mp4", clip)
    assert stored.status_code == 200, stored.text
    response = await call(http, server, user, "create_reel", {"object_path": path, "caption": caption})
    assert response.status_code == 200, response.text
    return response.json()


async def settled(http, server, user, reel_id: str, timeout: float = READY_TIMEOUT) -> dict:
    """The author's record once the reel is ready or failed."""
    deadline = time.monotonic() + timeout
    while True:
        response = await call(http, server, user, "get_reel", {"reel_id": reel_id})
        assert response.status_code == 200, response.text
        record = response.json()
        if record["state"] in ("ready", "failed") or time.monotonic() > deadline:
            return record
        await asyncio.sleep(0.3)


async def test_a_portrait_clip_is_transcoded_and_its_playlists_resolve(http, server, users, clips):
    alice, bob = users
    progress, _, on_progress = collector()
    channel = alice[2].channel(f"user:{alice[0]}")
    channel.on_broadcast("reel_progress", on_progress)
    await subscribed(channel)

    record = await create(http, server, alice, clips["portrait"], "first reel #pipeline")
    ready = await settled(http, server, alice, record["id"])
    assert ready["state"] == "ready", ready
    assert ready["progress"] == 100 and ready["moderation"] == "approved"
    assert ready["width"] == 720 and ready["height"] == 1280 and abs(ready["duration_ms"] - 4000) < 300
    media = ready["media"]
    assert media is not None

    # Everything resolves from the master's relative URIs under the same token, without keys.
    master = await http.get(media["hls"])
    assert master.status_code == 200, master.text
    variants = [line for line in master.text.splitlines() if line and not line.startswith("#")]
    assert variants == ["720p/index.m3u8", "540p/index.m3u8", "360p/index.m3u8"]
    assert "RESOLUTION=720x1280" in master.text and "RESOLUTION=360x640" in master.text
    base = media["hls"].rsplit("/", 1)[0]
    for variant in variants:
        playlist = await http.get(f"{base}/{variant}")
        assert playlist.status_code == 200
        assert '#EXT-X-MAP:URI="init.mp4"' in playlist.text and "#EXT-X-ENDLIST" in playlist.text
        segments = [line for line in playlist.text.splitlines() if line and not line.startswith("#")]
        assert segments == [f"seg_{n}.m4s" for n in range(len(segments))] and len(segments) >= 2
        folder = variant.rsplit("/", 1)[0]
        init = await http.get(f"{base}/{folder}/init.mp4")
        assert init.status_code == 200 and init.content[4:8] == b"ftyp"
        segment = await http.get(f"{base}/{folder}/{segments[0]}")
        assert segment.status_code == 200 and b"moof" in segment.content[:200]
    mp4 = await http.get(media["mp4"], headers={"Range": "bytes=0-4095"})
    assert mp4.status_code == 206
    assert mp4.content.find(b"moov") != -1 and (mp4.content.find(b"mdat") == -1 or mp4.content.find(b"moov") < mp4.content.find(b"mdat"))
    poster = await http.get(media["poster"])
    assert poster.status_code == 200 and poster.content[:3] == b"\xff\xd8\xff"

    # Others see it (public, approved); the author heard the progress.
    assert (await call(http, server, bob, "get_reel", {"reel_id": record["id"]})).status_code == 200
    deadline = time.monotonic() + 5
    while not any(m["payload"].get("state") == "ready" for m in progress) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    mine = [m["payload"] for m in progress if m["payload"].get("reel_id") == record["id"]]
    assert mine and mine[-1]["state"] == "ready" and mine[-1]["progress"] == 100 and mine[-1]["failure_reason"] is None
    percents = [m["progress"] for m in mine]
    assert percents == sorted(percents)
    assert sql(server, f"SELECT state || ' ' || attempts FROM reels.jobs WHERE reel_id = '{record['id']}'") == "done 1"


async def test_a_short_landscape_clip_without_sound(http, server, users, clips):
    alice, _ = users
    record = await create(http, server, alice, clips["landscape"])
    ready = await settled(http, server, alice, record["id"])
    assert ready["state"] == "ready", ready
    assert ready["width"] == 640 and ready["height"] == 360 and abs(ready["duration_ms"] - 1000) < 300
    master = (await http.get(ready["media"]["hls"])).text
    assert "mp4a" not in master and "360p/index.m3u8" in master


async def test_a_caption_on_the_blocklist_waits_for_review(http, server, users, clips):
    alice, bob = users
    sql(server, "UPDATE reels.moderation_settings SET caption_blocklist = ARRAY['forbiddenword']")
    try:
        record = await create(http, server, alice, clips["landscape"], "this has a ForbiddenWord in it")
        ready = await settled(http, server, alice, record["id"])
        assert ready["state"] == "ready" and ready["moderation"] == "pending"
        hidden = await call(http, server, bob, "get_reel", {"reel_id": record["id"]})
        assert hidden.status_code == 404
    finally:
        sql(server, "UPDATE reels.moderation_settings SET caption_blocklist = '{}'")


async def test_a_job_that_cannot_succeed_is_dead_and_the_reel_failed(http, server, users):
    alice, bob = users
    reel = str(uuid.uuid4())
    # An original that is gone (removed beside the server) and one attempt allowed.
    sql(server, "INSERT INTO reels.reels (id, author_id, original_path) "
                f"VALUES ('{reel}', '{alice[0]}', '{alice[0]}/gone-{reel}.mp4')")
    sql(server, f"INSERT INTO reels.jobs (reel_id, max_attempts) VALUES ('{reel}', 1)")
    record = await settled(http, server, alice, reel, timeout=60)
    assert record["state"] == "failed" and record["failure_reason"] and record["media"] is None
    assert sql(server, f"SELECT state FROM reels.jobs WHERE reel_id = '{reel}'") == "dead"
    assert sql(server, f"SELECT last_error <> '' FROM reels.jobs WHERE reel_id = '{reel}'") == "t"
    assert (await call(http, server, bob, "get_reel", {"reel_id": reel})).status_code == 404
