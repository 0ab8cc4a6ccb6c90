"""Profiles, follows, blocks and session RPCs through `client.rpc(name, args).execute()`.

Four signed-in users, each on its own client and test number. Usernames carry a random
per-run prefix and the fixture clears follows/blocks between the four users first, so the
module also passes against a database that kept state from earlier runs.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import pytest

from e2e_support import (
    close_client,
    expect_api_error,
    expect_auth_error,
    jwt_claims,
    new_client,
    rpc,
    sign_in,
    within,
)

PUBLIC_FIELDS = {"id", "username", "display_name", "avatar_url", "bio", "is_private"}


@dataclass
class Person:
    name: str
    phone: str
    code: str
    client: Any = None
    id: str = ""
    session_id: str = ""
    username: str = ""


@dataclass
class People:
    prefix: str
    alice: Person
    bob: Person
    carol: Person
    dave: Person

    @property
    def everyone(self) -> list[Person]:
        return [self.alice, self.bob, self.carol, self.dave]


@pytest.fixture(scope="module")
async def people(server):
    prefix = f"e2e{secrets.token_hex(3)}"  # a-f0-9: valid username characters
    group = People(
        prefix=prefix,
        alice=Person("alice", "+15555550102", "111111"),
        bob=Person("bob", "+15555550103", "222222"),
        carol=Person("carol", "+15555550100", "123456"),
        dave=Person("dave", "+15555550101", "654321"),
    )
    try:
        for person in group.everyone:
            person.client = await new_client(server.url, server.anon_key)
            response = await sign_in(person.client, person.phone, person.code)
            person.id = response.user.id
            person.session_id = jwt_claims(response.session.access_token)["session_id"]
        # Clean slate between the four users (the database may keep earlier runs).
        for person in group.everyone:
            for other in group.everyone:
                if other is not person:
                    await rpc(person.client, "unblock_user", {"target_user_id": other.id})
                    await rpc(person.client, "unfollow_user", {"target_user_id": other.id})
            person.username = f"{prefix}_{person.name}"
            await rpc(person.client, "update_my_profile", {
                "username": person.username,
                "display_name": person.name.capitalize(),
                "bio": f"{person.name} from the e2e suite",
                "is_private": False,
            })
        yield group
    finally:
        for person in group.everyone:
            if person.client is not None:
                await close_client(person.client)


def assert_public_profile(profile: Any, person: Person | None = None) -> None:
    assert isinstance(profile, dict), profile
    assert "phone" not in profile, f"profile leaks the phone number: {profile!r}"
    missing = PUBLIC_FIELDS - profile.keys()
    assert not missing, f"profile lacks {sorted(missing)}: {profile!r}"
    if person is not None:
        assert profile["id"] == person.id
        assert profile["username"] == person.username


def ids(items: list[dict]) -> list[str]:
    return [item["id"] for item in items]


# ----------------------------------------------------------------- profiles


async def test_get_my_profile_includes_phone(people):
    alice = people.alice
    profile = await rpc(alice.client, "get_my_profile", {})
    assert isinstance(profile, dict), profile
    assert profile["id"] == alice.id
    assert profile["username"] == alice.username
    assert "phone" in profile, profile
    assert str(profile["phone"]).lstrip("+") == "15555550102", profile


async def test_update_my_profile_stores_lower_case_username(people):
    alice = people.alice
    changes = {
        "username": alice.username.upper(),
        "display_name": "Alice Example",
        "bio": "Hello from e2e",
        "avatar_url": "https://example.com/alice.png",
        "is_private": False,
    }
    updated = await rpc(alice.client, "update_my_profile", changes)
    if isinstance(updated, dict):
        assert updated["username"] == alice.username
    profile = await rpc(alice.client, "get_my_profile", {})
    assert profile["username"] == alice.username, "username must be stored lower-case"
    assert profile["display_name"] == "Alice Example"
    assert profile["bio"] == "Hello from e2e"
    assert profile["avatar_url"] == "https://example.com/alice.png"
    assert profile["is_private"] is False


async def test_taken_username_is_unique_violation(people):
    bob = people.bob
    error = await expect_api_error(bob.client.rpc("update_my_profile", {"username": people.alice.username.upper()}).execute())
    assert error.code == "23505", error
    profile = await rpc(bob.client, "get_my_profile", {})
    assert profile["username"] == bob.username, "a refused update must not change the profile"


@pytest.mark.parametrize("username", ["ab", "x" * 33, "bad-name", "bad name", "имя_пользователя"])
async def test_invalid_username_is_22023_naming_the_field(people, username):
    error = await expect_api_error(people.bob.client.rpc("update_my_profile", {"username": username}).execute())
    assert error.code == "22023", error
    assert "username" in (error.message or ""), f"message does not name the field: {error.message!r}"


async def test_get_profile_by_id_and_by_username(people):
    alice, bob = people.alice, people.bob
    by_id = await rpc(bob.client, "get_profile", {"user_id": alice.id})
    assert_public_profile(by_id, alice)
    by_name = await rpc(bob.client, "get_profile", {"username": alice.username})
    assert_public_profile(by_name, alice)
    own = await rpc(alice.client, "get_profile", {"user_id": alice.id})
    assert "phone" not in own, "get_profile never returns the phone, even to its owner"


async def test_get_profile_of_unknown_user_is_not_found(people):
    error = await expect_api_error(people.bob.client.rpc("get_profile", {"user_id": "00000000-0000-4000-8000-000000000000"}).execute())
    assert error.code == "PGRST116", error


async def test_search_profiles_by_prefix(people):
    bob = people.bob
    results = await rpc(bob.client, "search_profiles", {"query": people.prefix, "limit": 10})
    assert isinstance(results, list), results
    for profile in results:
        assert_public_profile(profile)
    found = ids(results)
    for other in (people.alice, people.carol, people.dave):
        assert other.id in found, f"{other.username} not found by prefix {people.prefix!r}: {results!r}"
    one = await rpc(bob.client, "search_profiles", {"query": people.alice.username, "limit": 1})
    assert ids(one) == [people.alice.id], one


# ----------------------------------------------------------------- follows


async def test_follow_public_account_and_unfollow(people):
    alice, bob = people.alice, people.bob
    try:
        assert await rpc(bob.client, "follow_user", {"target_user_id": alice.id}) == {"status": "accepted"}
        followers = await rpc(alice.client, "list_followers", {"user_id": alice.id, "limit": 50})
        assert set(followers) >= {"items", "next_cursor"}, followers
        assert bob.id in ids(followers["items"])
        for profile in followers["items"]:
            assert_public_profile(profile)
        following = await rpc(bob.client, "list_following", {"user_id": bob.id, "limit": 50})
        assert alice.id in ids(following["items"])
        assert await rpc(bob.client, "unfollow_user", {"target_user_id": alice.id}) == {"status": "none"}
        followers = await rpc(alice.client, "list_followers", {"user_id": alice.id, "limit": 50})
        assert bob.id not in ids(followers["items"])
    finally:
        await rpc(bob.client, "unfollow_user", {"target_user_id": alice.id})


async def test_follow_private_account_is_a_request(people):
    alice, bob = people.alice, people.bob
    try:
        await rpc(alice.client, "update_my_profile", {"is_private": True})
        assert await rpc(bob.client, "follow_user", {"target_user_id": alice.id}) == {"status": "pending"}
        requests = await rpc(alice.client, "list_follow_requests", {})
        assert requests.get("next_cursor") is None, requests
        assert bob.id in ids(requests["items"]), requests
        for profile in requests["items"]:
            assert_public_profile(profile)
        followers = await rpc(alice.client, "list_followers", {"user_id": alice.id, "limit": 50})
        assert bob.id not in ids(followers["items"]), "a pending request is not a follower"

        answer = await rpc(alice.client, "respond_follow_request", {"follower_id": bob.id, "accept": True})
        assert answer == {"status": "accepted"}, answer
        followers = await rpc(alice.client, "list_followers", {"user_id": alice.id, "limit": 50})
        assert bob.id in ids(followers["items"])
        requests = await rpc(alice.client, "list_follow_requests", {})
        assert bob.id not in ids(requests["items"])
    finally:
        await rpc(bob.client, "unfollow_user", {"target_user_id": alice.id})
        await rpc(alice.client, "update_my_profile", {"is_private": False})


async def test_followers_keyset_pagination(people):
    alice = people.alice
    followers = [people.bob, people.carol, people.dave]
    try:
        for person in followers:
            assert await rpc(person.client, "follow_user", {"target_user_id": alice.id}) == {"status": "accepted"}
        first = await rpc(alice.client, "list_followers", {"user_id": alice.id, "limit": 2})
        assert len(first["items"]) == 2, first
        assert isinstance(first["next_cursor"], str) and first["next_cursor"], first
        second = await rpc(alice.client, "list_followers", {"user_id": alice.id, "limit": 2, "cursor": first["next_cursor"]})
        assert len(second["items"]) == 1, second
        assert second["next_cursor"] is None, second
        seen = ids(first["items"]) + ids(second["items"])
        assert sorted(seen) == sorted(p.id for p in followers), "pages must not overlap or skip"

        # Another user can page the same public list, and list_following mirrors it.
        from_bob = await rpc(people.bob.client, "list_followers", {"user_id": alice.id, "limit": 3})
        assert sorted(ids(from_bob["items"])) == sorted(seen) and from_bob["next_cursor"] is None, from_bob
        following = await rpc(people.carol.client, "list_following", {"user_id": people.carol.id, "limit": 1})
        assert ids(following["items"]) == [alice.id] and following["next_cursor"] is None, following
    finally:
        for person in followers:
            await rpc(person.client, "unfollow_user", {"target_user_id": alice.id})


# ----------------------------------------------------------------- blocks


@pytest.fixture
async def alice_blocks_bob(people):
    """Alice has blocked Bob for the duration of the test."""
    alice, bob = people.alice, people.bob
    assert await rpc(alice.client, "block_user", {"target_user_id": bob.id}) == {"blocked": True}
    yield people
    await rpc(alice.client, "unblock_user", {"target_user_id": bob.id})
    await rpc(bob.client, "unfollow_user", {"target_user_id": alice.id})
    await rpc(alice.client, "unfollow_user", {"target_user_id": bob.id})


async def test_block_hides_the_blocker_from_search(alice_blocks_bob):
    people = alice_blocks_bob
    results = await rpc(people.bob.client, "search_profiles", {"query": people.prefix, "limit": 10})
    assert people.alice.id not in ids(results), "the blocker must be hidden from the blocked user's search"
    assert people.carol.id in ids(results)
    # The blocker still finds the blocked user.
    results = await rpc(people.alice.client, "search_profiles", {"query": people.prefix, "limit": 10})
    assert people.bob.id in ids(results)


async def test_block_hides_the_blocker_profile(alice_blocks_bob):
    people = alice_blocks_bob
    error = await expect_api_error(people.bob.client.rpc("get_profile", {"user_id": people.alice.id}).execute())
    assert error.code == "PGRST116", error
    error = await expect_api_error(people.bob.client.rpc("get_profile", {"username": people.alice.username}).execute())
    assert error.code == "PGRST116", error


async def test_blocked_user_cannot_follow_the_blocker(alice_blocks_bob):
    people = alice_blocks_bob
    error = await expect_api_error(people.bob.client.rpc("follow_user", {"target_user_id": people.alice.id}).execute())
    assert error.code == "42501", f"blocked user following the blocker: code={error.code!r} message={error.message!r}"


async def test_blocker_cannot_follow_the_blocked_user(alice_blocks_bob):
    people = alice_blocks_bob
    error = await expect_api_error(people.alice.client.rpc("follow_user", {"target_user_id": people.bob.id}).execute())
    assert error.code == "42501", f"blocker following the blocked user: code={error.code!r} message={error.message!r}"


async def test_unblock_restores_visibility(alice_blocks_bob):
    people = alice_blocks_bob
    alice, bob = people.alice, people.bob
    assert await rpc(alice.client, "unblock_user", {"target_user_id": bob.id}) == {"blocked": False}
    assert_public_profile(await rpc(bob.client, "get_profile", {"user_id": alice.id}), alice)
    results = await rpc(bob.client, "search_profiles", {"query": people.prefix, "limit": 10})
    assert alice.id in ids(results)
    assert await rpc(bob.client, "follow_user", {"target_user_id": alice.id}) == {"status": "accepted"}


# ----------------------------------------------------------------- RPC surface


async def test_unknown_function_is_pgrst202(people):
    error = await expect_api_error(people.alice.client.rpc("nope", {}).execute())
    assert error.code == "PGRST202", error


async def test_unknown_argument_is_pgrst202(people):
    error = await expect_api_error(people.alice.client.rpc("get_my_profile", {"bogus": 1}).execute())
    assert error.code == "PGRST202", error


async def test_whoami_authenticated_and_anon(people, supabase_factory):
    alice = people.alice
    assert await rpc(alice.client, "whoami", {}) == {"sub": alice.id, "role": "authenticated"}
    anon = await supabase_factory()
    assert await rpc(anon, "whoami", {}) == {"sub": None, "role": "anon"}


async def test_anon_cannot_read_my_profile(supabase_factory):
    anon = await supabase_factory()
    error = await expect_api_error(anon.rpc("get_my_profile", {}).execute())
    assert error.code == "42501", error


# ----------------------------------------------------------------- device sessions


async def test_list_and_revoke_my_sessions(people, server, supabase_factory):
    alice = people.alice
    sessions = await rpc(alice.client, "list_my_sessions", {})
    assert isinstance(sessions, list) and sessions, sessions
    current = [s for s in sessions if s.get("current") is True]
    assert len(current) == 1, f"exactly one session must be current: {sessions!r}"
    assert current[0]["id"] == alice.session_id, (current[0], alice.session_id)

    # A second device for the same user.
    second = await supabase_factory()
    response = await sign_in(second, alice.phone, alice.code)
    second_session_id = jwt_claims(response.session.access_token)["session_id"]
    assert second_session_id != alice.session_id
    sessions = await rpc(alice.client, "list_my_sessions", {})
    assert {alice.session_id, second_session_id} <= {s["id"] for s in sessions}, sessions
    assert [s["id"] for s in sessions if s["current"]] == [alice.session_id], sessions

    await rpc(alice.client, "revoke_my_session", {"session_id": second_session_id})
    sessions = await rpc(alice.client, "list_my_sessions", {})
    assert second_session_id not in {s["id"] for s in sessions}, sessions
    assert alice.session_id in {s["id"] for s in sessions}

    error = await expect_auth_error(second.auth.get_user(response.session.access_token))
    assert error.status == 403 and error.code == "session_not_found", error
    # The revoking device is unaffected.
    assert (await within(alice.client.auth.get_user())).user.id == alice.id


async def test_rpc_results_take_postgrest_modifiers(people):
    """`rpc()` with .select/.eq/.order/.limit/.single() and count (issue 19, docs/tables.md)."""
    bob = people.bob.client
    arguments = {"query": people.prefix, "limit": 10}
    single = await within(bob.rpc("search_profiles", arguments).select("id, name:username").eq("username", people.alice.username).single().execute())
    assert single.data == {"id": people.alice.id, "name": people.alice.username}
    ordered = await within(bob.rpc("search_profiles", arguments, count="exact").select("username").order("username", desc=True).limit(2).execute())
    names = sorted((other.username for other in (people.alice, people.carol, people.dave)), reverse=True)
    assert [row["username"] for row in ordered.data] == names[:2]
    assert ordered.count is not None and ordered.count >= 3
    listed = await within(bob.rpc("search_profiles", arguments).in_("username", [people.carol.username, people.dave.username]).execute())
    assert sorted(ids(listed.data)) == sorted([people.carol.id, people.dave.id])
    none = await expect_api_error(bob.rpc("search_profiles", arguments).eq("username", "nobody-here").single().execute())
    assert none.code == "PGRST116"
    unsupported = await expect_api_error(bob.rpc("search_profiles", arguments).filter("username", "fts", "x").execute())
    assert unsupported.code == "PGRST100"
    # A pattern PostgreSQL refuses is the client's error (400 with its SQLSTATE), not a 500.
    bad_pattern = await expect_api_error(bob.rpc("search_profiles", arguments).filter("username", "match", "(").execute())
    assert bad_pattern.code == "2201B", bad_pattern
