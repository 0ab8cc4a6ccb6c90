"""Reels interactions over plain HTTP (`POST /rest/v1/rpc/<name>`): likes and saves (one per
user, exact counters under parallel calls), comments with one level of replies and keyset
pages, who may delete a comment, shares, views, impressions, hide / not interested, reports,
the saved list, a reel the caller may not see answering exactly like a missing one, field
errors naming the field, and a per-user limit hit (429 with Retry-After).

Ready reels are inserted with psql as the database owner (the upload pipeline has its own
suite); users sign in with this suite's test numbers (+15555550310–319).
"""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

# At import time: once Tests/e2e/web is collected, the name conftest is web/conftest.py.
import reels_support
from reels_support import ok, phone_caller, signed_in
from reels_support import sql as psql

AUTHOR, VIEWER, STRANGER, LIMITED = "+15555550310", "+15555550311", "+15555550312", "+15555550319"
LIKERS = [f"+1555555031{n}" for n in range(3, 9)]


def new_reel(server, author: str, *, visibility: str = "public", state: str = "ready", moderation: str = "approved") -> str:
    """A reel inserted as the owner would leave it once processed; its id."""
    return reels_support.new_reel(server, author, visibility=visibility, state=state, moderation=moderation, caption="e2e #interactions")


def counts(server, reel: str) -> list[int]:
    row = psql(server, f"SELECT like_count, save_count, comment_count, share_count, view_count FROM reels.reels WHERE id = '{reel}'")
    return [int(value) for value in row.split("|")]


@pytest.fixture(scope="module")
async def people(server):
    """phone -> (user id, access token, client) for every number of this suite."""
    async with signed_in(server, [AUTHOR, VIEWER, STRANGER, LIMITED, *LIKERS]) as found:
        yield found


@pytest.fixture(scope="module")
def call(server, http, people):
    """`await call(phone, name, args)` -> the httpx response of the RPC as that user."""
    return phone_caller(server, http, people)


async def test_like_and_save_once_per_user_with_the_count(server, people, call):
    reel = new_reel(server, people[AUTHOR][0])
    for _ in range(2):
        assert await ok(await call(VIEWER, "like_reel", {"reel_id": reel})) == {"liked": True, "count": 1}
    assert await ok(await call(VIEWER, "save_reel", {"reel_id": reel})) == {"saved": True, "count": 1}
    assert await ok(await call(VIEWER, "unlike_reel", {"reel_id": reel})) == {"liked": False, "count": 0}
    assert await ok(await call(VIEWER, "unlike_reel", {"reel_id": reel})) == {"liked": False, "count": 0}
    assert counts(server, reel)[:2] == [0, 1]


async def test_parallel_likes_and_unlikes_keep_the_counter_exact(server, people, call):
    reel = new_reel(server, people[AUTHOR][0])
    await asyncio.gather(*[call(phone, "like_reel", {"reel_id": reel}) for phone in LIKERS for _ in range(3)])
    assert counts(server, reel)[0] == len(LIKERS)
    names = ["like_reel", "unlike_reel", "save_reel", "unsave_reel"]
    responses = await asyncio.gather(*[call(phone, names[(index + round_) % 4], {"reel_id": reel})
                                       for round_ in range(5) for index, phone in enumerate(LIKERS)])
    assert all(response.status_code == 200 for response in responses), [r.text for r in responses if r.status_code != 200]
    likes = int(psql(server, f"SELECT count(*) FROM reels.likes WHERE reel_id = '{reel}'"))
    saves = int(psql(server, f"SELECT count(*) FROM reels.saves WHERE reel_id = '{reel}'"))
    assert counts(server, reel)[:2] == [likes, saves]


async def test_a_reel_the_caller_may_not_see_answers_like_a_missing_one(server, people, call):
    private = new_reel(server, people[AUTHOR][0], visibility="private")
    pending = new_reel(server, people[AUTHOR][0], moderation="pending")
    answers = []
    for reel in (private, pending, str(uuid.uuid4())):
        for name, extra in (("like_reel", {}), ("comment_reel", {"body": "hi"}), ("get_reel_comments", {}),
                            ("record_reel_view", {"watched_seconds": 2})):
            response = await call(STRANGER, name, {"reel_id": reel, **extra})
            assert response.status_code == 404, response.text
            answers.append(response.json())
    assert all(answer == answers[0] for answer in answers), answers
    assert answers[0]["code"] == "PGRST116"
    # Impressions of reels the caller may not see are skipped without saying which.
    assert await ok(await call(STRANGER, "record_reel_impressions", {"reel_ids": [private, pending]})) == {"recorded": 0}
    # The author still may.
    assert (await ok(await call(AUTHOR, "like_reel", {"reel_id": private})))["count"] == 1


async def test_comments_thread_one_level_page_and_delete(server, people, call):
    reel = new_reel(server, people[AUTHOR][0])
    top = (await ok(await call(VIEWER, "comment_reel", {"reel_id": reel, "body": "  first  "})))["comment"]
    assert top["body"] == "first" and top["parent_id"] is None and top["author"]["id"] == people[VIEWER][0]
    reply = (await ok(await call(AUTHOR, "comment_reel", {"reel_id": reel, "body": "thanks", "reply_to": top["id"]})))["comment"]
    deep = await ok(await call(STRANGER, "comment_reel", {"reel_id": reel, "body": "me too", "reply_to": reply["id"]}))
    assert deep["comment"]["parent_id"] == top["id"] and deep["count"] == 3
    for index in range(4):
        await ok(await call(VIEWER, "comment_reel", {"reel_id": reel, "body": f"more {index}"}))

    bodies, before = [], None
    while True:
        page = await ok(await call(STRANGER, "get_reel_comments", {"reel_id": reel, "limit": 2, **({"before": before} if before else {})}))
        bodies += [comment["body"] for comment in page["comments"]]
        before = page["next"]
        if before is None:
            break
    assert bodies == ["more 3", "more 2", "more 1", "more 0", "first"]
    replies = await ok(await call(STRANGER, "get_reel_comments", {"reel_id": reel, "parent_id": top["id"]}))
    assert [comment["body"] for comment in replies["comments"]] == ["thanks", "me too"]

    refused = await call(STRANGER, "delete_reel_comment", {"comment_id": top["id"]})
    assert refused.status_code == 403, refused.text
    # The reel's author removes the thread (the top comment and both replies).
    assert await ok(await call(AUTHOR, "delete_reel_comment", {"comment_id": top["id"]})) == {"deleted": True, "count": 4}
    assert counts(server, reel)[2] == 4

    too_long = await call(VIEWER, "comment_reel", {"reel_id": reel, "body": "я" * 2001})
    assert too_long.status_code == 400 and too_long.json()["message"] == "body: must be at most 2000 characters", too_long.text
    bad_cursor = await call(VIEWER, "get_reel_comments", {"reel_id": reel, "before": "x.y"})
    assert bad_cursor.status_code == 400 and bad_cursor.json()["message"].startswith("before:"), bad_cursor.text


async def test_shares_views_impressions_marks_reports_and_the_saved_list(server, people, call):
    reels = [new_reel(server, people[AUTHOR][0]) for _ in range(3)]
    assert await ok(await call(VIEWER, "share_reel", {"reel_id": reels[0], "target": "chat"})) == {"shared": True, "count": 1}
    assert await ok(await call(VIEWER, "record_reel_view", {"reel_id": reels[0], "watched_seconds": 7.25})) == {"recorded": True, "count": 1}
    assert psql(server, f"SELECT watched_ms FROM reels.views WHERE reel_id = '{reels[0]}'") == "7250"
    assert await ok(await call(VIEWER, "record_reel_impressions", {"reel_ids": reels + reels})) == {"recorded": 3}
    assert await ok(await call(VIEWER, "hide_reel", {"reel_id": reels[1]})) == {"hidden": True}
    assert await ok(await call(VIEWER, "not_interested_reel", {"reel_id": reels[2]})) == {"not_interested": True}
    assert await ok(await call(VIEWER, "report_reel", {"reel_id": reels[2], "reason": "spam", "details": "ads"})) == {"reported": True}

    # The stranger saves nothing elsewhere in this suite: their list is these three.
    for reel in reels:
        await ok(await call(STRANGER, "save_reel", {"reel_id": reel}))
    first = await ok(await call(STRANGER, "get_saved_reels", {"limit": 2}))
    assert [record["id"] for record in first["reels"]] == [reels[2], reels[1]]
    record = first["reels"][0]
    assert record["viewer"] == {"liked": False, "saved": True} and record["author"]["id"] == people[AUTHOR][0]
    assert {"counts", "media", "state", "hashtags", "created_at"} <= record.keys()
    rest = await ok(await call(STRANGER, "get_saved_reels", {"limit": 2, "before": first["next"]}))
    assert [record["id"] for record in rest["reels"]] == [reels[0]] and rest["next"] is None

    for name, args, message in (
        ("share_reel", {"reel_id": reels[0], "target": "fax"}, "target: must be chat, link or external"),
        ("record_reel_view", {"reel_id": reels[0], "watched_seconds": 3601}, "watched_seconds: must be a number of seconds from 0 to 3600"),
        ("record_reel_impressions", {"reel_ids": [str(uuid.uuid4()) for _ in range(51)]}, "reel_ids: must hold 1 to 50 reel ids"),
        ("report_reel", {"reel_id": reels[0], "reason": "boring"}, "reason: must be spam, violence, nudity, hate or other"),
        ("like_reel", {"reel_id": "not-a-uuid"}, None),
    ):
        response = await call(VIEWER, name, args)
        assert response.status_code == 400, response.text
        if message:
            assert response.json()["message"] == message, response.text
    unknown = await call(VIEWER, "like_reel", {"reel_id": reels[0], "extra": 1})
    assert unknown.status_code == 404 and unknown.json()["code"] == "PGRST202", unknown.text
    anonymous = await call(None, "like_reel", {"reel_id": reels[0]})
    assert anonymous.status_code == 401, anonymous.text


async def test_reports_are_limited_per_user(server, people, call):
    reel = new_reel(server, people[AUTHOR][0])
    statuses = []
    for _ in range(21):
        response = await call(LIMITED, "report_reel", {"reel_id": reel, "reason": "other"})
        statuses.append(response.status_code)
        if response.status_code == 429:
            body = response.json()
            assert body["code"] == "rate_limited" and body["message"].startswith("You can report 20 reels an hour; retry in "), body
            assert int(response.headers["retry-after"]) >= 1
            break
    assert statuses[-1] == 429, statuses
    if not os.environ.get("E2E_DATABASE_URL"):
        # A fresh database: exactly the burst of 20 went through.
        assert statuses.count(200) == 20, statuses
    # Another user's bucket is untouched.
    assert (await call(VIEWER, "report_reel", {"reel_id": reel, "reason": "spam"})).status_code == 200
