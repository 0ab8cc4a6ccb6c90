"""The reels feed over plain HTTP (`POST /rest/v1/rpc/<name>`): get_reels_feed pages with
signed cursors and no repeats, what the viewer may not see left out, hide_reel taking a reel
out, ≤ 3 reels of one author per page, recency mode while the arbiter suppresses, a config
activated with `ecomansoni reels config activate` changing the ranking, the lists
(following, author, hashtag), field errors naming the field and the following list
needing a signed-in user.

Ready reels are inserted with psql as the database owner (the upload pipeline has its own
suite); users sign in with this suite's test numbers (+15555550320–329). Other suites' reels
may be in the same database, so the checks look at this suite's reels only.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest

import reels_support
from reels_support import ok, phone_caller, signed_in
from reels_support import sql as psql
from test_cross_instance import database_url

AUTHOR, VIEWER, PROLIFIC, BLOCKER, RANKED = "+15555550320", "+15555550321", "+15555550322", "+15555550323", "+15555550324"


def new_reel(server, author: str, *, visibility: str = "public", moderation: str = "approved", likes: int = 0,
             hours_ago: float = 0, tag: str = "feede2e") -> str:
    """A ready reel tagged `tag` with 10 views."""
    return reels_support.new_reel(server, author, visibility=visibility, moderation=moderation, caption=f"e2e #{tag}",
                                  hashtags=[tag], likes=likes, views=10, hours_ago=hours_ago)


@pytest.fixture(scope="module")
async def people(server):
    async with signed_in(server, [AUTHOR, VIEWER, PROLIFIC, BLOCKER, RANKED]) as found:
        yield found


@pytest.fixture(scope="module")
def call(server, http, people):
    return phone_caller(server, http, people)


async def walk(call, phone: str, limit: int) -> list[dict]:
    pages, cursor = [], None
    while len(pages) < 100:
        args = {"limit": limit} if cursor is None else {"limit": limit, "cursor": cursor}
        page = await ok(await call(phone, "get_reels_feed", args))
        pages.append(page)
        cursor = page["next"]
        if cursor is None:
            break
    return pages


async def test_pages_never_repeat_and_leave_out_what_the_viewer_may_not_see(server, people, call):
    author = people[AUTHOR][0]
    visible = {new_reel(server, author, likes=n) for n in range(7)}
    hidden_later = new_reel(server, author, likes=3)
    not_visible = {new_reel(server, author, visibility="private"), new_reel(server, author, moderation="pending"),
                   new_reel(server, author, visibility="followers"), new_reel(server, people[BLOCKER][0])}
    psql(server, f"INSERT INTO public.blocks (blocker_id, blocked_id) VALUES ('{people[BLOCKER][0]}', '{people[VIEWER][0]}')")
    assert (await ok(await call(VIEWER, "hide_reel", {"reel_id": hidden_later}))) is not None
    pages = await walk(call, VIEWER, 4)
    served = [reel["id"] for page in pages for reel in page["reels"]]
    assert len(served) == len(set(served))
    assert visible <= set(served)
    assert not (not_visible | {hidden_later}) & set(served)
    assert all(page["mode"] == "personalised" for page in pages)
    first = pages[0]
    assert {"id", "author", "media", "counts", "viewer"} <= set(first["reels"][0])
    if len(pages) > 1:
        again = await ok(await call(VIEWER, "get_reels_feed", {"limit": 4, "cursor": pages[0]["next"]}))
        assert [r["id"] for r in again["reels"]] == [r["id"] for r in pages[1]["reels"]]


async def test_at_most_three_reels_of_one_author_on_a_page(server, people, call):
    prolific = people[PROLIFIC][0]
    for _ in range(8):
        new_reel(server, prolific, likes=5000)
    page = await ok(await call(VIEWER, "get_reels_feed", {"limit": 30}))
    assert sum(1 for reel in page["reels"] if reel["author"]["id"] == prolific) <= 3


async def test_recency_mode_while_suppressed(server, people, call):
    newest = new_reel(server, people[AUTHOR][0], hours_ago=0)
    psql(server, "UPDATE reels.arbiter_state SET suppressed = true, since = now(), updated_at = now()")
    try:
        page = await ok(await call(VIEWER, "get_reels_feed", {"limit": 5}))
        assert page["mode"] == "recency"
        times = [reel["created_at"] for reel in page["reels"]]
        assert page["reels"][0]["id"] == newest
        assert len(times) <= 5
    finally:
        psql(server, "UPDATE reels.arbiter_state SET suppressed = false, since = now(), updated_at = now()")
    assert (await ok(await call(VIEWER, "get_reels_feed", {"limit": 1})))["mode"] == "personalised"


async def test_a_config_activated_with_the_cli_changes_the_ranking(server, people, call, tmp_path):
    old = new_reel(server, people[RANKED][0], likes=100000, hours_ago=24 * 20, tag="feedcfg")
    new = new_reel(server, people[RANKED][0], likes=1, hours_ago=0, tag="feedcfg")
    default = json.loads(psql(server, "SELECT body::text FROM reels.feed_configs WHERE version = 1"))
    binary = os.environ["ECOMANSONI_BIN"]

    def activate(body: dict) -> subprocess.CompletedProcess:
        path = tmp_path / f"feed-{uuid.uuid4()}.json"
        path.write_text(json.dumps(body))
        return subprocess.run([binary, "reels", "config", "activate", "--database-url", database_url(server), str(path)],
                              capture_output=True, text=True, timeout=120)

    refused = activate({**default, "exploration_share": 2})
    assert refused.returncode == 1 and "exploration_share: must be between 0 and 1" in refused.stderr
    try:
        assert activate({**default, "recency_days": 0.1, "exploration_share": 1}).returncode == 0
        ids = [r["id"] for r in (await ok(await call(VIEWER, "get_reels_feed", {"limit": 30})))["reels"]]
        assert new in ids and (old not in ids or ids.index(new) < ids.index(old))
        assert activate({**default, "recency_days": 365, "exploration_share": 1}).returncode == 0
        ids = [r["id"] for r in (await ok(await call(VIEWER, "get_reels_feed", {"limit": 30})))["reels"]]
        assert old in ids and (new not in ids or ids.index(old) < ids.index(new))
    finally:
        assert activate(default).returncode == 0


async def test_lists_and_field_errors(server, people, call):
    tag = f"feedlist{uuid.uuid4().hex[:8]}"
    reels = [new_reel(server, people[AUTHOR][0], hours_ago=n, tag=tag) for n in range(3)]
    page = await ok(await call(VIEWER, "get_hashtag_reels", {"tag": f"#{tag.upper()}", "limit": 2}))
    assert [r["id"] for r in page["reels"]] == reels[:2] and page["next"]
    rest = await ok(await call(VIEWER, "get_hashtag_reels", {"tag": tag, "limit": 2, "before": page["next"]}))
    assert [r["id"] for r in rest["reels"]] == reels[2:] and rest["next"] is None
    by_author = await ok(await call(VIEWER, "get_author_reels", {"author_id": people[AUTHOR][0], "limit": 30}))
    assert set(reels) <= {r["id"] for r in by_author["reels"]}
    psql(server, f"INSERT INTO public.follows (follower_id, following_id, status) VALUES "
                 f"('{people[VIEWER][0]}', '{people[AUTHOR][0]}', 'accepted') ON CONFLICT DO NOTHING")
    following = await ok(await call(VIEWER, "get_following_reels", {"limit": 30}))
    assert {r["author"]["id"] for r in following["reels"]} == {people[AUTHOR][0]}
    for name, args, field in [("get_reels_feed", {"limit": 31}, "limit"), ("get_reels_feed", {"cursor": "x.y"}, "cursor"),
                              ("get_hashtag_reels", {"tag": "bad-tag"}, "tag"), ("get_following_reels", {"before": "x"}, "before")]:
        response = await call(VIEWER, name, args)
        assert response.status_code == 400 and response.json()["message"].startswith(f"{field}:"), response.text
    # Anonymous callers may read the feed, an author's and a hashtag's reels
    # (test_reels_feed_limits.py), not the following list.
    assert (await call(None, "get_following_reels", {})).status_code == 401
