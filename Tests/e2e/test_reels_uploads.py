"""Reel uploads over plain HTTP (docs/reels.md "Uploads"): the original goes into the private
`reels` bucket, create_reel checks it (magic bytes, ffprobe, the policy in
reels.upload_policy read at each call) and answers the reel record; refused originals are
removed; a ready reel's media are served by signed token from `reels-media` with Range;
delete_reel removes everything. Clips are made by ffmpeg (lavfi testsrc/sine).
"""

from __future__ import annotations

import uuid

import pytest

# call, sql and upload are imported from here by other reels suites too.
from reels_support import auth, call, ffmpeg, signed_in, sql, upload

ALICE, BOB = "+15555550290", "+15555550291"


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, bytes]:
    directory = tmp_path_factory.mktemp("reel-clips")
    good = ffmpeg(directory / "good.mp4", "-f", "lavfi", "-i", "testsrc=size=360x640:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
                  "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest")
    return {
        "good": good,
        "long": ffmpeg(directory / "long.mp4", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=1", "-t", "91", "-c:v", "libx264",
                       "-preset", "ultrafast", "-pix_fmt", "yuv420p"),
        "audio": ffmpeg(directory / "audio.mp4", "-f", "lavfi", "-i", "sine=frequency=440", "-t", "2", "-c:a", "aac"),
        "corrupt": good[:32] + bytes(range(256)) * 80,
        "text": b"hello, this is not a video\n",
    }


@pytest.fixture(scope="module")
async def users(server):
    """Alice's and Bob's (user id, access token, client)."""
    async with signed_in(server, (ALICE, BOB)) as found:
        yield [found[ALICE], found[BOB]]


async def original_exists(http, server, user, path: str) -> bool:
    response = await http.get(f"/storage/v1/object/authenticated/reels/{path}", headers=auth(server, user[1]))
    return response.status_code == 200


async def test_a_clip_becomes_a_reel_and_the_original_stays_private(http, server, users, clips):
    alice, bob = users
    stored, path = await upload(http, server, alice, f"{uuid.uuid4()}.mp4", clips["good"])
    assert stored.status_code == 200, stored.text
    # The reels bucket is private now: only the owner reads the original.
    assert await original_exists(http, server, alice, path)
    assert not await original_exists(http, server, bob, path)
    response = await call(http, server, alice, "create_reel", {"object_path": path, "caption": "Drive #Cars #машина #car_1 #CAR_1",
                                                             "visibility": "public"})
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["state"] in ("uploaded", "processing", "ready")
    assert record["hashtags"] == ["cars", "машина", "car_1"]
    assert record["author"]["id"] == alice[0]
    assert record["media"] is None or record["state"] == "ready"
    mine = (await call(http, server, alice, "get_my_reels", {"limit": 50})).json()
    assert record["id"] in [reel["id"] for reel in mine["reels"]]
    again = await call(http, server, alice, "create_reel", {"object_path": path})
    assert again.status_code == 409 and again.json()["code"] == "reel_exists"
    changed = await call(http, server, alice, "update_reel", {"reel_id": record["id"], "caption": "#Other", "visibility": "private"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["hashtags"] == ["other"] and changed.json()["visibility"] == "private"
    hidden = await call(http, server, bob, "get_reel", {"reel_id": record["id"]})
    assert hidden.status_code == 404 and hidden.json()["code"] == "PGRST116"
    assert (await call(http, server, bob, "delete_reel", {"reel_id": record["id"]})).status_code == 404
    deleted = await call(http, server, alice, "delete_reel", {"reel_id": record["id"]})
    assert deleted.status_code == 200 and deleted.json() == {"reel_id": record["id"], "deleted": True}
    assert not await original_exists(http, server, alice, path)
    assert sql(server, f"SELECT count(*) FROM reels.reels WHERE id = '{record['id']}'") == "0"
    assert sql(server, f"SELECT count(*) FROM reels.jobs WHERE reel_id = '{record['id']}'") == "0"


@pytest.mark.parametrize(("kind", "code"), [("long", "reel_too_long"), ("audio", "reel_no_video_stream"), ("corrupt", "reel_unreadable")])
async def test_refused_originals_leave_nothing(http, server, users, clips, kind, code):
    alice = users[0]
    before = sql(server, f"SELECT count(*) FROM reels.reels WHERE author_id = '{alice[0]}'")
    stored, path = await upload(http, server, alice, f"{kind}-{uuid.uuid4()}.mp4", clips[kind])
    assert stored.status_code == 200, stored.text
    response = await call(http, server, alice, "create_reel", {"object_path": path})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == code and body["message"].startswith("object_path: "), body
    assert not await original_exists(http, server, alice, path)
    assert sql(server, f"SELECT count(*) FROM reels.reels WHERE author_id = '{alice[0]}'") == before


async def test_text_named_mp4_never_becomes_a_reel(http, server, users, clips):
    alice = users[0]
    stored, path = await upload(http, server, alice, "notes.mp4", clips["text"])
    # Storage judges the bytes, not the name: text declared as video is refused, nothing stored.
    assert stored.status_code == 400 and stored.json()["error"] == "invalid_mime_type", stored.text
    response = await call(http, server, alice, "create_reel", {"object_path": path})
    assert response.status_code == 400 and response.json()["code"] == "reel_original_not_found", response.text


async def test_kill_switch_and_limits_from_the_database(http, server, users, clips):
    bob = users[1]
    try:
        sql(server, "UPDATE reels.upload_policy SET uploads_enabled = false")
        stored, path = await upload(http, server, bob, f"{uuid.uuid4()}.mp4", clips["good"])
        response = await call(http, server, bob, "create_reel", {"object_path": path})
        assert response.status_code == 503 and response.json()["code"] == "reels_uploads_disabled", response.text
        assert not await original_exists(http, server, bob, path)
        sql(server, "UPDATE reels.upload_policy SET uploads_enabled = true, max_duration_ms = 1000")
        stored, path = await upload(http, server, bob, f"{uuid.uuid4()}.mp4", clips["good"])
        response = await call(http, server, bob, "create_reel", {"object_path": path})
        assert response.status_code == 400 and response.json()["code"] == "reel_too_long", response.text
        sql(server, "UPDATE reels.upload_policy SET max_duration_ms = 90000, "
                    f"uploads_per_hour = (SELECT count(*) FROM reels.upload_attempts WHERE user_id = '{bob[0]}' "
                    "AND created_at > now() - interval '1 hour')")
        stored, path = await upload(http, server, bob, f"{uuid.uuid4()}.mp4", clips["good"])
        response = await call(http, server, bob, "create_reel", {"object_path": path})
        assert response.status_code == 429 and response.json()["code"] == "rate_limited", response.text
        assert int(response.headers["retry-after"]) > 0
        assert not await original_exists(http, server, bob, path)
    finally:
        sql(server, "UPDATE reels.upload_policy SET uploads_enabled = true, max_duration_ms = 90000, uploads_per_hour = 20")


async def test_argument_errors_name_the_field(http, server, users):
    alice = users[0]
    cases = [
        ({"object_path": f"{alice[0]}/x.mp4", "visibility": "everyone"}, "visibility"),
        ({"object_path": f"{alice[0]}/x.mp4", "caption": "a" * 2201}, "caption"),
        ({"object_path": f"{users[1][0]}/x.mp4"}, "object_path"),
        ({"object_path": ""}, "object_path"),
    ]
    for args, field in cases:
        response = await call(http, server, alice, "create_reel", args)
        assert response.status_code == 400, (args, response.text)
        assert response.json()["message"].startswith(field + ":"), response.text
    page = await call(http, server, alice, "get_my_reels", {"limit": 0})
    assert page.status_code == 400 and page.json()["message"].startswith("limit:")


async def test_ready_reel_media_are_served_by_token_with_range(http, server, users, clips):
    alice, bob = users
    reel, attempt = str(uuid.uuid4()), str(uuid.uuid4())
    prefix = f"{reel}/{attempt}"
    service = {"apikey": server.service_key, "Authorization": f"Bearer {server.service_key}"}
    playlist = b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=360x640\n360p/index.m3u8\n"
    for name, body, content_type in (("master.m3u8", playlist, "application/vnd.apple.mpegurl"), ("video.mp4", clips["good"], "video/mp4"),
                                     ("360p/seg_0.m4s", b"\x00\x00\x00\x18stypmsdh" + bytes(100), "application/octet-stream")):
        stored = await http.post(f"/storage/v1/object/reels-media/{prefix}/{name}", content=body,
                                 headers={**service, "Content-Type": content_type})
        assert stored.status_code == 200, stored.text
    # A client cannot write into reels-media.
    refused = await http.post(f"/storage/v1/object/reels-media/{alice[0]}/x.m3u8", content=b"#EXTM3U\n",
                              headers={**auth(server, alice[1]), "Content-Type": "text/plain"})
    assert refused.status_code in (400, 403), refused.text
    sql(server, "INSERT INTO reels.reels (id, author_id, state, moderation, original_path, media_prefix, progress, ready_at) "
                f"VALUES ('{reel}', '{alice[0]}', 'ready', 'approved', '{alice[0]}/served-{reel}.mp4', '{prefix}', 100, now())")
    record = (await call(http, server, bob, "get_reel", {"reel_id": reel})).json()
    media = record["media"]
    assert media["hls"].endswith("/master.m3u8") and media["mp4"].endswith("/video.mp4") and media["poster"].endswith("/poster.jpg")
    # No API key, no bearer: a <video> element sends neither.
    master = await http.get(media["hls"])
    assert master.status_code == 200 and master.content == playlist
    assert master.headers["content-type"] == "application/vnd.apple.mpegurl"
    segment = await http.get(media["hls"].replace("master.m3u8", "360p/seg_0.m4s"))
    assert segment.status_code == 200 and segment.headers["content-type"] == "video/iso.segment"
    part = await http.get(media["mp4"], headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == clips["good"][:100]
    assert part.headers["content-range"] == f"bytes 0-99/{len(clips['good'])}"
    assert (await http.get(media["mp4"], headers={"Range": f"bytes={len(clips['good'])}-"})).status_code == 416
    assert (await http.head(media["mp4"])).headers["content-length"] == str(len(clips["good"]))
    assert (await http.get(media["poster"])).status_code == 404  # not stored
    token = media["hls"].split("/")[4]
    payload, mac = token.split(".")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    tampered = await http.get(f"/reels/v1/media/{flipped}.{mac}/master.m3u8")
    assert tampered.status_code in (403, 404) and tampered.headers["content-type"] == "application/json", tampered.text
    assert (await http.get(f"/reels/v1/media/{token}/../../x.mp4")).status_code == 404
    assert (await http.get("/reels/v1/media/garbage/master.m3u8")).status_code == 404
    deleted = await call(http, server, alice, "delete_reel", {"reel_id": reel})
    assert deleted.status_code == 200, deleted.text
    assert (await http.get(media["hls"])).status_code == 404
    left = await http.post("/storage/v1/object/list/reels-media", json={"prefix": f"{prefix}/"}, headers=service)
    assert left.status_code == 200 and left.json() == [], left.text


async def test_the_pipelines_outputs_play_through_the_media_links(http, server, users, clips):
    """The worker of the all-in-one server transcodes a created reel; its HLS ladder, MP4 and
    poster are then fetched through the record's links (relative playlist URIs resolve under
    the same token)."""
    import asyncio
    import urllib.parse

    alice = users[0]
    stored, path = await upload(http, server, alice, f"play-{uuid.uuid4()}.mp4", clips["good"])
    assert stored.status_code == 200, stored.text
    record = (await call(http, server, alice, "create_reel", {"object_path": path})).json()
    for _ in range(240):
        record = (await call(http, server, alice, "get_reel", {"reel_id": record["id"]})).json()
        if record["state"] in ("ready", "failed"):
            break
        await asyncio.sleep(0.5)
    assert record["state"] == "ready", record
    media = record["media"]
    master = await http.get(media["hls"])
    assert master.status_code == 200 and master.text.startswith("#EXTM3U"), master.text
    variant = next(line for line in master.text.splitlines() if line and not line.startswith("#"))
    assert not variant.startswith("/") and "://" not in variant
    variant_url = urllib.parse.urljoin(media["hls"], variant)
    playlist = await http.get(variant_url)
    assert playlist.status_code == 200, playlist.text
    names = [line for line in playlist.text.splitlines() if line and not line.startswith("#")]
    init = [line.split('URI="')[1].split('"')[0] for line in playlist.text.splitlines() if line.startswith("#EXT-X-MAP")]
    for name in init + names[:1]:
        part = await http.get(urllib.parse.urljoin(variant_url, name))
        assert part.status_code == 200 and len(part.content) > 0, (name, part.status_code)
    video = await http.get(media["mp4"], headers={"Range": "bytes=0-7"})
    assert video.status_code == 206 and video.content[4:8] == b"ftyp"
    poster = await http.get(media["poster"])
    assert poster.status_code == 200 and poster.content[:3] == b"\xff\xd8\xff"
    assert (await call(http, server, alice, "delete_reel", {"reel_id": record["id"]})).status_code == 200
    assert (await http.get(media["hls"])).status_code == 404
