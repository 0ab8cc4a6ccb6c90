"""Issue 11, chat and social items: limits on what a client can repeat (item 10) and bad
input that must be a 400 naming the field (item 9: forged cursors, one username rule).

Every test signs in fresh users on random +7999 numbers (the code is read from the server
log), so the per-user limits these tests exhaust never touch the users of other modules.
Calls go through the official supabase client (`client.rpc`) where it can express them and
through httpx where the test needs raw bodies, many parallel calls or response headers.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from e2e_support import close_client, expect_api_error, new_client, request_otp, rpc, within

FORGED_CURSOR_RULE = "must be a cursor returned by a previous page"


@dataclass
class User:
    id: str
    token: str
    client: Any
    username: str


class Users:
    """Signs in fresh users on random numbers and closes their clients at the end."""

    def __init__(self, server, server_log):
        self.server = server
        self.log = server_log
        self.made: list[User] = []

    async def new(self, name: str, *, username: bool = True) -> User:
        phone = "+7999" + "".join(secrets.choice("0123456789") for _ in range(7))
        client = await new_client(self.server.url, self.server.anon_key)
        start = self.log.log_size()
        await request_otp(client, phone)
        match = await self.log.wait_for_log(rf"one-time code for \{phone}: (\d{{6}})\b", start=start, timeout=10)
        response = await within(client.auth.verify_otp({"phone": phone, "token": match.group(1), "type": "sms"}))
        user = User(response.user.id, response.session.access_token, client, "")
        if username:
            user.username = f"h{secrets.token_hex(4)}_{name}"[:32]
            await rpc(client, "update_my_profile", {"username": user.username})
        self.made.append(user)
        return user

    async def close(self) -> None:
        for user in self.made:
            await close_client(user.client)


@pytest.fixture
async def users(server, server_log):
    made = Users(server, server_log)
    yield made
    await made.close()


@pytest.fixture(scope="module")
async def module_users(server):
    # server_log is function-scoped; the Server object itself reads the log.
    made = Users(server, server)
    yield made
    await made.close()


@pytest.fixture(scope="module")
async def limited(module_users):
    """One user who exhausts every limit (each limit is its own bucket) and one who does not."""
    return await module_users.new("limited", username=False), await module_users.new("unaffected", username=False)


@pytest.fixture
async def http(server):
    # At most 50 sockets: parallel enough for the races, polite to per-address caps.
    async with httpx.AsyncClient(base_url=server.url, timeout=30,
                                 limits=httpx.Limits(max_connections=50, max_keepalive_connections=50)) as client:
        yield client


def headers(server, user: User) -> dict[str, str]:
    return {"apikey": server.anon_key, "Authorization": f"Bearer {user.token}", "Content-Type": "application/json"}


async def call(http: httpx.AsyncClient, server, user: User, name: str, args: dict[str, Any]) -> httpx.Response:
    return await http.post(f"/rest/v1/rpc/{name}", headers=headers(server, user), json=args)


def assert_rate_limited(response: httpx.Response, allowance: str) -> None:
    assert response.status_code == 429, f"{response.status_code} {response.text}"
    body = response.json()
    assert body["code"] == "rate_limited", body
    assert body["message"].startswith(f"You can {allowance}; retry in "), body
    assert int(response.headers["Retry-After"]) >= 1, response.headers


def forged(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


# --------------------------------------------------------------------------- item 10


async def test_item10_parallel_sends_store_exactly_sixty_a_minute(server, users, http):
    sender = await users.new("sender")
    receiver = await users.new("receiver")
    conversation = await rpc(sender.client, "get_or_create_dm", {"target_user_id": receiver.id})

    async def send(index: int) -> httpx.Response:
        return await call(http, server, sender, "send_message_v1", {
            "conversation_id": conversation, "client_msg_id": str(uuid.uuid4()), "body": f"burst {index}"})

    responses = await within(asyncio.gather(*(send(index) for index in range(200))), 60)
    statuses = [response.status_code for response in responses]
    assert statuses.count(200) == 60, sorted(set(statuses))
    assert statuses.count(429) == 140, sorted(set(statuses))
    assert_rate_limited(next(r for r in responses if r.status_code == 429), "send 60 messages a minute")
    page = await rpc(receiver.client, "get_messages", {"conversation_id": conversation, "limit": 200})
    assert len(page["items"]) == 60 and not page["has_more"], len(page["items"])
    assert [item["seq"] for item in page["items"]] == list(range(1, 61))


# (function, arguments for the n-th call, burst, allowance in the 429 message). Calls on ids
# that do not exist still count: the limit is taken before the call runs.
def _random() -> str:
    return str(uuid.uuid4())


LIMITS = [
    ("get_or_create_dm", lambda n: {"target_user_id": _random()}, 200, "open 200 direct conversations an hour"),
    ("create_group_chat", lambda n: {"title": f"g{n}"}, 20, "create 20 groups an hour"),
    ("add_chat_members", lambda n: {"conversation_id": _random(), "member_ids": [_random() for _ in range(200)]}, 2,
     "add 500 members to groups an hour"),
    ("remove_chat_member", lambda n: {"conversation_id": _random(), "user_id": _random()}, 200,
     "change group membership 200 times an hour"),
    ("mute_conversation", lambda n: {"conversation_id": _random(), "muted": True}, 200, "change mute settings 200 times an hour"),
    ("ack_read_v1", lambda n: {"conversation_id": _random(), "up_to_seq": 1}, 300, "send 300 receipts a minute"),
    ("edit_message", lambda n: {"message_id": _random(), "body": "x"}, 60, "edit 60 messages a minute"),
    ("delete_message", lambda n: {"message_id": _random()}, 60, "delete 60 messages a minute"),
    ("set_reaction", lambda n: {"message_id": _random(), "emoji": "👍"}, 120, "react 120 times a minute"),
    ("update_my_profile", lambda n: {"bio": f"bio {n}"}, 60, "update your profile 60 times an hour"),
    ("check_username", lambda n: {"username": f"free_name_{n}"}, 60, "check 60 usernames a minute"),
    ("search_profiles", lambda n: {"query": f"q{n}"}, 60, "search 60 times a minute"),
    ("follow_user", lambda n: {"target_user_id": _random()}, 200, "follow or unfollow 200 times an hour"),
    ("respond_follow_request", lambda n: {"follower_id": _random(), "accept": True}, 500, "answer 500 follow requests an hour"),
    ("block_user", lambda n: {"target_user_id": _random()}, 100, "block or unblock 100 times an hour"),
    ("save_osago_calculation", lambda n: {"request": {}}, 300, "save 300 calculations an hour"),
    ("delete_osago_calculation", lambda n: {"id": _random()}, 500, "delete 500 calculations an hour"),
]


@pytest.mark.parametrize("name,arguments,burst,allowance", LIMITS, ids=[limit[0] for limit in LIMITS])
async def test_item10_every_mutating_rpc_has_a_per_user_limit(server, limited, http, name, arguments, burst, allowance):
    user, other = limited
    per_second = burst / (60 if allowance.endswith("a minute") else 3600)
    responses: list[httpx.Response] = []
    started = time.monotonic()
    # Batches of parallel calls until the first 429; the bucket refills while they run.
    while not any(response.status_code == 429 for response in responses):
        assert len(responses) <= 2 * burst + 100, f"{name}: no 429 after {len(responses)} calls"
        batch = min(32, burst + 1 - len(responses)) if len(responses) < burst else 8
        responses += await within(asyncio.gather(*(call(http, server, user, name, arguments(len(responses) + n)) for n in range(batch))))
    refilled = per_second * (time.monotonic() - started)
    allowed = len([response for response in responses if response.status_code != 429])
    assert burst <= allowed <= burst + refilled + 8, (name, allowed, refilled)
    assert all(response.status_code < 500 for response in responses), [r.text for r in responses if r.status_code >= 500]
    assert_rate_limited(next(response for response in responses if response.status_code == 429), allowance)
    # Another user is not affected.
    assert (await call(http, server, other, name, arguments(0))).status_code != 429


async def test_item10_group_adds_respect_who_can_add_me(server, users):
    owner = await users.new("owner")
    refuser = await users.new("refuser")
    friend = await users.new("friend")
    stranger = await users.new("stranger")
    anyone = await users.new("anyone")
    # Defaults: everyone; the setting is in the user's own profile only.
    mine = await rpc(anyone.client, "get_my_profile")
    assert mine["who_can_add_to_groups"] == "everyone", mine
    assert (await rpc(refuser.client, "update_my_profile", {"who_can_add_to_groups": "nobody"}))["who_can_add_to_groups"] == "nobody"
    for contact_only in (friend, stranger):
        await rpc(contact_only.client, "update_my_profile", {"who_can_add_to_groups": "contacts"})
    await rpc(friend.client, "follow_user", {"target_user_id": owner.id})
    seen = await rpc(owner.client, "get_profile", {"user_id": refuser.id})
    assert "who_can_add_to_groups" not in seen, seen
    error = await expect_api_error(rpc(refuser.client, "update_my_profile", {"who_can_add_to_groups": "friends"}))
    assert error.code == "22023" and error.message.startswith("who_can_add_to_groups: "), error

    # Refused at creation: the error names the user, and no group is created.
    error = await expect_api_error(rpc(owner.client, "create_group_chat", {"title": "t", "member_ids": [anyone.id, refuser.id]}))
    assert error.code == "42501", error
    assert f"@{refuser.username}" in error.message and refuser.id in error.message, error.message
    inbox = await rpc(anyone.client, "chat_get_inbox_v2", {})
    assert inbox["items"] == [], inbox

    group = await rpc(owner.client, "create_group_chat", {"title": "friends only", "member_ids": [friend.id]})
    # One refused user fails the whole call: nobody is added.
    error = await expect_api_error(rpc(owner.client, "add_chat_members", {"conversation_id": group, "member_ids": [anyone.id, stranger.id]}))
    assert error.code == "42501" and f"@{stranger.username}" in error.message, error
    assert await rpc(owner.client, "add_chat_members", {"conversation_id": group, "member_ids": [anyone.id]}) == {"added": 1}
    # Already members are skipped before the check (the friend allowed contacts only).
    assert await rpc(owner.client, "add_chat_members", {"conversation_id": group, "member_ids": [friend.id, anyone.id]}) == {"added": 0}
    # Following the adder makes a contacts-only user addable; "nobody" stays refused.
    await rpc(stranger.client, "follow_user", {"target_user_id": owner.id})
    assert await rpc(owner.client, "add_chat_members", {"conversation_id": group, "member_ids": [stranger.id]}) == {"added": 1}
    error = await expect_api_error(rpc(owner.client, "add_chat_members", {"conversation_id": group, "member_ids": [refuser.id]}))
    assert error.code == "42501" and refuser.id in error.message, error
    # The refuser can still make groups of their own.
    assert isinstance(await rpc(refuser.client, "create_group_chat", {"title": "mine", "member_ids": [anyone.id]}), str)


async def test_item10_private_account_counts_follow_the_documented_visibility(users):
    star = await users.new("star")
    open_fan = await users.new("openfan")
    closed_fan = await users.new("closedfan")
    stranger = await users.new("onlooker")
    await rpc(star.client, "update_my_profile", {"is_private": True})
    await rpc(closed_fan.client, "update_my_profile", {"is_private": True})
    for fan in (open_fan, closed_fan):
        assert (await rpc(fan.client, "follow_user", {"target_user_id": star.id}))["status"] == "pending"
        await rpc(star.client, "respond_follow_request", {"follower_id": fan.id, "accept": True})
    # Follower and owner see both follows; a stranger only the one visible through the
    # public follower (docs/api.md, get_profile: counted under the caller's visibility).
    for viewer, expected in ((star, 2), (open_fan, 2), (stranger, 1)):
        profile = await rpc(viewer.client, "get_profile", {"user_id": star.id})
        assert profile["followers_count"] == expected, (viewer.username, profile)
    # The closed fan's following count: a stranger cannot see it, the star can.
    assert (await rpc(stranger.client, "get_profile", {"user_id": closed_fan.id}))["following_count"] == 0
    assert (await rpc(star.client, "get_profile", {"user_id": closed_fan.id}))["following_count"] == 1


# --------------------------------------------------------------------------- item 9


async def test_item9_forged_cursors_are_400_on_every_list(server, users, http):
    me = await users.new("pager")
    others = [await users.new(f"paged{index}") for index in range(2)]
    for other in others:
        await rpc(other.client, "follow_user", {"target_user_id": me.id})
        await rpc(me.client, "follow_user", {"target_user_id": other.id})
        await rpc(me.client, "get_or_create_dm", {"target_user_id": other.id})
    lists = [
        ("chat_get_inbox_v2", "p_cursor", {"p_limit": 1}),
        ("list_followers", "cursor", {"limit": 1}),
        ("list_following", "cursor", {"limit": 1}),
        ("list_follow_requests", "cursor", {"limit": 1}),
        ("list_blocked_users", "cursor", {"limit": 1}),
        ("list_osago_calculations", "cursor", {"limit": 1}),
    ]
    real = (await rpc(me.client, "list_followers", {"limit": 1}))["next_cursor"]
    assert isinstance(real, str) and "." in real, real
    payload, mac = real.split(".")
    some_id = str(uuid.uuid4())
    forgeries = [
        forged(f"2026-11-26 17:02:53.293317+99|{some_id}"),  # the old unsigned format, impossible offset
        forged(f"2026-11-26 17:02:53+00|{some_id}") + "." + mac,  # someone else's MAC
        payload + "." + mac[:-2] + ("AA" if not mac.endswith("AA") else "BB"),  # tampered MAC
        forged("2026-13-45 99:99:99+00|" + some_id) + "." + forged("x" * 32),
        "not a cursor", "", "..", "\u00e9" * 10, real + real,
    ]
    for name, field, base in lists:
        for forgery in forgeries:
            response = await call(http, server, me, name, {**base, field: forgery})
            assert response.status_code == 400, (name, forgery, response.status_code, response.text)
            body = response.json()
            assert body["code"] == "22023" and body["message"] == f"{field}: {FORGED_CURSOR_RULE}", (name, body)
    # Real cursors still page (and the official client passes them through unchanged).
    second = await rpc(me.client, "list_followers", {"limit": 1, "cursor": real})
    assert len(second["items"]) == 1 and second["next_cursor"] is None, second
    inbox = await rpc(me.client, "chat_get_inbox_v2", {"p_limit": 1})
    following = await rpc(me.client, "chat_get_inbox_v2", {"p_limit": 1, "p_cursor": inbox["next_cursor"]})
    assert len(following["items"]) == 1, following


USERNAMES = [
    # (input, accepted, reason when refused)
    ("abc", True, None),
    ("ABC_def_09", True, None),
    ("a" * 32, True, None),
    ("ab", False, "must be 3 to 32 characters"),
    ("a" * 33, False, "must be 3 to 32 characters"),
    ("abc\u0301", False, "may contain only letters a-z, digits and underscores"),  # combining mark (NFD)
    ("ab\u0107", False, "may contain only letters a-z, digits and underscores"),  # the same, precomposed (NFC)
    ("\uff41\uff42\uff43", False, "may contain only letters a-z, digits and underscores"),  # fullwidth (NFKC: abc)
    ("\u212aelvin", False, "may contain only letters a-z, digits and underscores"),  # Kelvin sign (lower-cases to k)
    ("\u0131stanbul", False, "may contain only letters a-z, digits and underscores"),  # dotless i
    ("ab\u200bc", False, "may contain only letters a-z, digits and underscores"),  # zero-width space
    ("a b", False, "may contain only letters a-z, digits and underscores"),
    ("aa" + "\u0301" * 31, False, "may contain only letters a-z, digits and underscores"),
]


async def test_item9_check_username_and_update_my_profile_share_one_rule(users):
    me = await users.new("namer")
    for text, accepted, reason in USERNAMES:
        # Unique per run, keeping the length and the characters under test.
        candidate = text
        if accepted and text != "a" * 32:
            candidate = (text + "_" + secrets.token_hex(3))[:32]
        checked = await rpc(me.client, "check_username", {"username": candidate})
        if accepted:
            assert checked == {"available": True, "reason": None}, (candidate, checked)
            profile = await rpc(me.client, "update_my_profile", {"username": candidate})
            assert profile["username"] == candidate.lower(), profile
        else:
            assert checked == {"available": False, "reason": reason}, (repr(candidate), checked)
            error = await expect_api_error(rpc(me.client, "update_my_profile", {"username": candidate}))
            assert error.code == "22023" and error.message == f"username: {reason}", (repr(candidate), error)
