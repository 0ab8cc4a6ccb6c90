"""The reels feed's limits and anonymous viewers over plain HTTP (docs/reels.md "Feed"), on a
server of its own with small limits (REELS_FEED_SESSIONS_PER_MINUTE=3,
REELS_FEED_ANONYMOUS_SESSIONS_PER_MINUTE=3) behind a trusted proxy (TRUST_PROXY, so each
test sends its own X-Forwarded-For address):

- a signed-in user's fourth new feed session within the minute is 429 `rate_limited` with
  Retry-After, their cursor pages still come, another user's bucket is their own;
- an anonymous caller (anon key only) reads the feed — public reels of public accounts only,
  each once; the lists (following, an author's, a hashtag's) are 401 naming the rule; new
  anonymous sessions are limited per client address.

Users sign in with this suite's test numbers (+15555550360–364).
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from conftest import launched_server
from reels_support import new_reel, ok, signed_in, sql

USER, OTHER, AUTHOR, PRIVATE = "+15555550360", "+15555550361", "+15555550362", "+15555550363"
LIMITS_ENV = {"REELS_FEED_SESSIONS_PER_MINUTE": "3", "REELS_FEED_ANONYMOUS_SESSIONS_PER_MINUTE": "3", "TRUST_PROXY": "true"}


@pytest.fixture(scope="module")
def limits_server():
    with launched_server("feed limits server", LIMITS_ENV) as launched:
        yield launched


@pytest.fixture(scope="module")
async def people(limits_server):
    async with signed_in(limits_server, [USER, OTHER, AUTHOR, PRIVATE]) as found:
        yield found


@pytest.fixture(scope="module")
async def limits_http(limits_server):
    async with httpx.AsyncClient(base_url=limits_server.url, timeout=30.0) as client:
        yield client


@pytest.fixture(scope="module")
def feed(limits_server, limits_http, people):
    """`await feed(phone | None, name, args, address=...)`: the RPC as that user or anonymously,
    from `address` (the proxy's X-Forwarded-For)."""

    async def invoke(phone: str | None, name: str, args: dict | None = None, *, address: str = "192.0.2.1") -> httpx.Response:
        headers = {"apikey": limits_server.anon_key, "X-Forwarded-For": address}
        if phone is not None:
            headers["Authorization"] = f"Bearer {people[phone][1]}"
        return await limits_http.post(f"/rest/v1/rpc/{name}", json=args or {}, headers=headers)

    return invoke


def assert_limited(response, allowance: str) -> None:
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["code"] == "rate_limited" and body["message"].startswith(f"You can {allowance}; retry in "), body
    assert int(response.headers["retry-after"]) >= 1


async def test_new_sessions_are_limited_per_user_and_cursor_pages_are_not(limits_server, people, feed):
    for _ in range(4):
        new_reel(limits_server, people[AUTHOR][0], likes=1)
    first = await ok(await feed(USER, "get_reels_feed", {"limit": 1}))
    for _ in range(2):
        await ok(await feed(USER, "get_reels_feed", {"limit": 1}))
    assert_limited(await feed(USER, "get_reels_feed", {"limit": 1}), "start 3 feed sessions a minute")
    cursor = first["next"]
    assert cursor
    for _ in range(3):
        page = await ok(await feed(USER, "get_reels_feed", {"limit": 1, "cursor": cursor}))
        assert len(page["reels"]) == 1
        cursor = page["next"]
        if cursor is None:
            break
    await ok(await feed(OTHER, "get_reels_feed", {"limit": 1}))


async def test_anonymous_viewers_see_public_reels_of_public_accounts(limits_server, people, feed):
    tag = f"anon{uuid.uuid4().hex[:8]}"
    author, private_author = people[AUTHOR][0], people[PRIVATE][0]
    sql(limits_server, f"UPDATE public.profiles SET is_private = true WHERE id = '{private_author}'")
    public = [new_reel(limits_server, author, hashtags=[tag], caption=f"#{tag}", hours_ago=n) for n in range(2)]
    hidden = {new_reel(limits_server, author, visibility="followers", hashtags=[tag], caption=f"#{tag}"),
              new_reel(limits_server, author, moderation="pending", hashtags=[tag], caption=f"#{tag}"),
              new_reel(limits_server, private_author, hashtags=[tag], caption=f"#{tag}")}
    address = "198.51.100.7"
    served, cursor = [], None
    for _ in range(50):
        args = {"limit": 30} if cursor is None else {"limit": 30, "cursor": cursor}
        page = await ok(await feed(None, "get_reels_feed", args, address=address))
        served += [reel["id"] for reel in page["reels"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert set(public) <= set(served) and not hidden & set(served)
    assert len(served) == len(set(served))

    for name, args in [("get_following_reels", {}), ("get_author_reels", {"author_id": author}), ("get_hashtag_reels", {"tag": tag})]:
        refused = await feed(None, name, args, address=address)
        assert refused.status_code == 401 and refused.json()["message"].startswith("sign in required: "), refused.text


async def test_new_anonymous_sessions_are_limited_per_address(limits_server, feed):
    for _ in range(3):
        await ok(await feed(None, "get_reels_feed", {"limit": 1}, address="203.0.113.9"))
    allowance = "start 3 feed sessions a minute from one address without signing in"
    assert_limited(await feed(None, "get_reels_feed", {"limit": 1}, address="203.0.113.9"), allowance)
    await ok(await feed(None, "get_reels_feed", {"limit": 1}, address="203.0.113.10"))
