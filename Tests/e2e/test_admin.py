"""The admin console's API and operator commands (docs/admin.md), on a server of its own (a
fresh database, so the first-owner bootstrap is this suite's):

- `ecomansoni admin bootstrap --phone` makes the first owner and prints the TOTP secret and
  recovery codes once; a second bootstrap is refused (exit 1) and the refusal is audited;
- an admin session needs a fresh authenticator code (computed here per RFC 6238); a wrong
  or replayed code is 401 `admin_code_invalid`; a recovery code works once;
- every `/admin/v1` call without a live `X-Admin-Session` is 401; a role without the scope
  gets 403 `admin_scope_required`, recorded as a denial;
- the audit browser filters and pages; `ecomansoni audit verify` exits 0 on the untouched
  chain and 1 naming the row an owner-role edit broke; the request roles cannot change the log;
- a kill switch flipped on this server stops message sending and new sign-ups on a second
  instance within a second; new admins enrol themselves; an owner grant waits for approval;
- moderators review held and reported reels and block hashtags; support finds accounts with
  masked numbers; moderators suspend them.

Users sign in with this suite's test numbers (+15555550370–374; +15555550379 never signs up).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import struct
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from conftest import _binary, launched_server
from reels_support import signed_in
from test_cross_instance import database_url

OWNER, SUPPORT, PLAIN = "+15555550370", "+15555550371", "+15555550372"


def totp(secret_base32: str, at: float | None = None, offset: int = 0) -> str:
    """RFC 6238 (SHA-1, 6 digits, 30 s), independent of the server's implementation."""
    key = base64.b32decode(secret_base32 + "=" * (-len(secret_base32) % 8))
    step = int((time.time() if at is None else at) // 30) + offset
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    start = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[start:start + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def psql(server, statement: str, *, role: str | None = None) -> subprocess.CompletedProcess:
    prefix = f"SET ROLE {role}; " if role else ""
    return subprocess.run(["psql", database_url(server), "-qAt", "-v", "ON_ERROR_STOP=1", "-c", prefix + statement],
                          capture_output=True, text=True, timeout=30)


def cli(server, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(_binary()), *arguments, "--database-url", database_url(server)],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def admin_server():
    with launched_server("admin server") as launched:
        yield launched


@pytest.fixture(scope="module")
async def people(admin_server):
    async with signed_in(admin_server, [OWNER, SUPPORT, PLAIN]) as found:
        yield found


@pytest.fixture(scope="module")
def bootstrap(admin_server, people):
    """The owner's enrolment as the CLI printed it: (secret, recovery codes)."""
    result = cli(admin_server, "admin", "bootstrap", "--phone", OWNER)
    assert result.returncode == 0, result.stderr
    secret = re.search(r"secret:\s+([A-Z2-7]+)", result.stdout).group(1)
    link = re.search(r"link:\s+(\S+)", result.stdout).group(1)
    assert link.startswith("otpauth://totp/ECOMANSONI:") and f"secret={secret}" in link
    codes = re.findall(r"^\s+([A-Z2-7]{5}-[A-Z2-7]{5})$", result.stdout, re.MULTILINE)
    assert len(codes) == 10
    return secret, codes


@pytest.fixture(scope="module")
async def api(admin_server, people):
    async with httpx.AsyncClient(base_url=admin_server.url, timeout=30.0) as client:
        async def call(method: str, path: str, phone: str, *, session: str | None = None, **kwargs) -> httpx.Response:
            headers = {"apikey": admin_server.anon_key, "Authorization": f"Bearer {people[phone][1]}"}
            if session:
                headers["X-Admin-Session"] = session
            headers.update(kwargs.pop("headers", {}))
            return await client.request(method, f"/admin/v1/{path}", headers=headers, **kwargs)
        yield call


@pytest.fixture(scope="module")
async def owner_session(api, bootstrap):
    """The owner's admin session, opened with the current authenticator code: (token, code)."""
    code = totp(bootstrap[0])
    return await open_session(api, OWNER, code), code


async def open_session(api, phone: str, code: str) -> str:
    response = await api("POST", "session", phone, json={"code": code})
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) >= {"admin_session", "expires_at", "roles", "scopes"}
    return body["admin_session"]


async def test_a_second_bootstrap_is_refused_and_audited(admin_server, bootstrap):
    again = cli(admin_server, "admin", "bootstrap", "--phone", SUPPORT)
    assert again.returncode == 1
    assert "owner already exists" in again.stderr
    assert psql(admin_server, "SELECT outcome FROM admin.audit_log WHERE action = 'admin.bootstrap' ORDER BY seq").stdout.split() == [
        "allowed", "denied"]
    bad = cli(admin_server, "admin", "bootstrap", "--phone", "not-a-phone")
    assert bad.returncode == 1 and "--phone" in bad.stderr


async def test_the_owner_opens_a_session_and_sees_their_scopes(api, people, bootstrap):
    token = await open_session(api, OWNER, bootstrap[1][1])  # a recovery code: the current TOTP step is spent
    me = await api("GET", "me", OWNER, session=token)
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["user_id"] == people[OWNER][0]
    assert [role["role"] for role in body["roles"]] == ["owner"]
    assert body["roles"][0]["kind"] == "bootstrap" and body["roles"][0]["expires_at"] is None and len(body["roles"][0]["id"]) == 36
    assert "audit.read" in body["scopes"] and "kill_switches.write" in body["scopes"]
    assert me.headers["x-request-id"]
    # Another user's bearer with the owner's admin token is no session.
    stolen = await api("GET", "me", PLAIN, session=token)
    assert stolen.status_code == 401 and stolen.json()["code"] == "admin_session_invalid"
    # Signing out ends it.
    assert (await api("DELETE", "session", OWNER, session=token)).status_code == 204
    after = await api("GET", "me", OWNER, session=token)
    assert after.status_code == 401 and after.json()["code"] == "admin_session_invalid"


async def test_wrong_and_replayed_codes_are_refused(api, owner_session, bootstrap):
    code = owner_session[1]
    wrong = "000000" if code != "000000" else "111111"
    refused = await api("POST", "session", OWNER, json={"code": wrong})
    assert refused.status_code == 401 and refused.json()["code"] == "admin_code_invalid"
    replayed = await api("POST", "session", OWNER, json={"code": code})
    assert replayed.status_code == 401 and replayed.json()["code"] == "admin_code_invalid"
    # A recovery code opens a session once.
    recovery = bootstrap[1][0]
    await open_session(api, OWNER, recovery)
    again = await api("POST", "session", OWNER, json={"code": recovery})
    assert again.status_code == 401
    missing = await api("POST", "session", OWNER, json={})
    assert missing.status_code == 400 and "code" in missing.text


async def test_a_user_who_is_not_an_admin_is_refused(api):
    response = await api("POST", "session", PLAIN, json={"code": "123456"})
    assert response.status_code == 403 and response.json()["code"] == "admin_required"
    no_session = await api("GET", "me", PLAIN)
    assert no_session.status_code == 401 and no_session.json()["code"] == "admin_session_required"


async def test_a_role_without_the_scope_is_refused_and_the_denial_is_audited(admin_server, api, people, owner_session):
    support_id = people[SUPPORT][0]
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # RFC 6238's test key, set directly for this admin
    psql(admin_server, f"INSERT INTO admin.admin_users (user_id, totp_secret) VALUES ('{support_id}', '12345678901234567890'::bytea)")
    psql(admin_server, f"INSERT INTO admin.role_grants (user_id, role, kind, reason) VALUES ('{support_id}', 'support', 'standing', 'e2e')")
    token = await open_session(api, SUPPORT, totp(secret))
    for path in ("audit", "audit/verify", "admins"):
        response = await api("GET", path, SUPPORT, session=token, headers={"X-Request-Id": f"e2e-{path.replace('/', '-')}"})
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "admin_scope_required"
    denied = psql(admin_server, "SELECT action || ' ' || scope || ' ' || request_id FROM admin.audit_log "
                                f"WHERE actor = '{support_id}' AND outcome = 'denied' ORDER BY seq").stdout.splitlines()
    assert denied == ["admin.audit.read audit.read e2e-audit", "admin.audit.verify audit.read e2e-audit-verify",
                      "admin.admins.list iam.read e2e-admins"]

    owner = owner_session[0]
    admins = await api("GET", "admins", OWNER, session=owner)
    assert admins.status_code == 200
    assert {row["user_id"] for row in admins.json()} == {people[OWNER][0], support_id}
    # The last owner cannot disable themselves; the support admin can be disabled.
    last = await api("POST", f"admins/{people[OWNER][0]}/status", OWNER, session=owner, json={"active": False, "reason": "bye"})
    assert last.status_code == 409 and last.json()["code"] == "admin_last_owner"
    no_reason = await api("POST", f"admins/{support_id}/status", OWNER, session=owner, json={"active": False, "reason": " "})
    assert no_reason.status_code == 400 and "reason" in no_reason.text
    disabled = await api("POST", f"admins/{support_id}/status", OWNER, session=owner, json={"active": False, "reason": "left"})
    assert disabled.status_code == 204
    assert (await api("GET", "me", SUPPORT, session=token)).status_code == 401


async def test_the_audit_browser_filters_and_pages(api, owner_session):
    token = owner_session[0]
    first = await api("GET", "audit", OWNER, session=token, params={"limit": "2"})
    assert first.status_code == 200, first.text
    page = first.json()
    assert len(page["entries"]) == 2 and page["next_before"] == page["entries"][-1]["seq"]
    assert page["entries"][0]["seq"] > page["entries"][1]["seq"]
    second = await api("GET", "audit", OWNER, session=token, params={"limit": "2", "before": str(page["next_before"])})
    assert all(entry["seq"] < page["next_before"] for entry in second.json()["entries"])
    denied = await api("GET", "audit", OWNER, session=token, params={"outcome": "denied", "action": "admin.session.open"})
    assert denied.json()["entries"] and all(entry["outcome"] == "denied" for entry in denied.json()["entries"])
    for params, field in (({"limit": "0"}, "limit"), ({"limit": "201"}, "limit"), ({"actor": "x"}, "actor"),
                          ({"outcome": "maybe"}, "outcome"), ({"sort": "seq"}, "sort"), ({"before": "-1"}, "before")):
        response = await api("GET", "audit", OWNER, session=token, params=params)
        assert response.status_code == 400, params
        assert field in response.json()["error"], response.text
    verify = await api("GET", "audit/verify", OWNER, session=token)
    assert verify.status_code == 200 and verify.json()["intact"] is True


async def test_audit_verify_finds_an_edit_made_with_the_owner_role(admin_server, bootstrap):
    for role in ("authenticated", "service_role", "anon"):
        for statement in ("UPDATE admin.audit_log SET reason = 'x'", "DELETE FROM admin.audit_log", "TRUNCATE admin.audit_log"):
            refused = psql(admin_server, statement, role=role)
            assert refused.returncode != 0 and "permission denied" in refused.stderr, (role, statement)
    intact = cli(admin_server, "audit", "verify")
    assert intact.returncode == 0, intact.stderr
    assert intact.stdout.startswith("audit log intact:")
    head = re.search(r"head (\d+):([0-9a-f]{64})", intact.stdout)
    assert psql(admin_server, "UPDATE admin.audit_log SET reason = 'edited' WHERE seq = 2").returncode == 0
    broken = cli(admin_server, "audit", "verify", "--json")
    assert broken.returncode == 1
    assert '"first_broken_seq":2' in broken.stdout and '"intact":false' in broken.stdout
    text = cli(admin_server, "audit", "verify", "--anchor", f"{head.group(1)}:{head.group(2)}")
    assert text.returncode == 1 and text.stdout.startswith("audit log broken at row 2")
    bad_anchor = cli(admin_server, "audit", "verify", "--anchor", "nonsense")
    assert bad_anchor.returncode != 0 and "--anchor" in bad_anchor.stderr


@pytest.fixture
def second_instance(admin_server):
    """Another server process on the admin server's database."""
    from conftest import _stop
    from test_cross_instance import start_instance

    process, url = start_instance(admin_server, Path(admin_server.data_dir) / "second-instance.log")
    yield url
    if process.poll() is None and _stop(process) is None:
        process.kill()
        process.wait(timeout=10)


async def test_a_kill_switch_flipped_on_one_instance_stops_the_feature_on_another_within_a_second(
        admin_server, api, people, owner_session, second_instance):
    token = owner_session[0]
    async with httpx.AsyncClient(base_url=second_instance, timeout=30.0) as other:
        headers = {"apikey": admin_server.anon_key, "Authorization": f"Bearer {people[PLAIN][1]}"}
        dm = await other.post("/rest/v1/rpc/get_or_create_dm", json={"target_user_id": people[OWNER][0]}, headers=headers)
        assert dm.status_code == 200, dm.text

        async def send() -> httpx.Response:
            return await other.post("/rest/v1/rpc/send_message_v1", headers=headers, json={
                "conversation_id": dm.json(), "client_msg_id": str(uuid.uuid4()), "body": "hello"})

        assert (await send()).status_code == 200
        switches = await api("GET", "kill-switches", OWNER, session=token)
        assert {row["name"] for row in switches.json()} == {
            "admin_writes", "iam_writes", "signups", "reels_uploads", "message_sending", "calls"}
        no_reason = await api("POST", "kill-switches/message_sending", OWNER, session=token, json={"engaged": True, "reason": ""})
        assert no_reason.status_code == 400
        unknown = await api("POST", "kill-switches/everything", OWNER, session=token, json={"engaged": True, "reason": "x"})
        assert unknown.status_code == 400 and "name" in unknown.text
        engaged_at = time.monotonic()
        flipped = await api("POST", "kill-switches/message_sending", OWNER, session=token, json={"engaged": True, "reason": "spam wave"})
        assert flipped.status_code == 204, flipped.text
        while True:
            response = await send()
            if response.status_code == 503:
                break
            assert time.monotonic() - engaged_at < 1.5, "the second instance still sends messages"
            await asyncio.sleep(0.05)
        assert response.json()["code"] == "kill_switch_engaged"
        assert time.monotonic() - engaged_at < 1.5

        # New sign-ups stop too; existing users still get codes.
        signups = await api("POST", "kill-switches/signups", OWNER, session=token, json={"engaged": True, "reason": "bot wave"})
        assert signups.status_code == 204
        await asyncio.sleep(1.2)
        new_user = await other.post("/auth/v1/otp", json={"phone": "+15555550379"}, headers={"apikey": admin_server.anon_key})
        assert new_user.status_code == 422 and new_user.json()["code"] == "otp_disabled", new_user.text

        for name in ("message_sending", "signups"):
            released = await api("POST", f"kill-switches/{name}", OWNER, session=token, json={"engaged": False, "reason": "over"})
            assert released.status_code == 204
        await asyncio.sleep(1.2)
        assert (await send()).status_code == 200
        audit = psql(admin_server, "SELECT action || ' ' || target FROM admin.audit_log WHERE action LIKE 'admin.kill_switch.%' ORDER BY seq")
        assert audit.stdout.splitlines() == ["admin.kill_switch.engage message_sending", "admin.kill_switch.engage signups",
                                             "admin.kill_switch.release message_sending", "admin.kill_switch.release signups"]


async def test_an_owner_grant_needs_another_owners_approval_and_is_executed_once(admin_server, api, people, owner_session):
    token = owner_session[0]
    plain_id = people[PLAIN][0]
    added = await api("POST", "admins", OWNER, session=token, json={"user_id": plain_id, "reason": "new teammate"})
    assert added.status_code == 201, added.text
    again = await api("POST", "admins", OWNER, session=token, json={"user_id": plain_id, "reason": "twice"})
    assert again.status_code == 409 and again.json()["code"] == "admin_exists"
    # The new admin sets up their own authenticator; the secret is shown to them once.
    enrol = await api("POST", "enrol", PLAIN)
    assert enrol.status_code == 201 and enrol.headers["cache-control"] == "no-store"
    secret = enrol.json()["secret"]
    assert len(enrol.json()["recovery_codes"]) == 10
    plain_token = await open_session(api, PLAIN, totp(secret))
    assert (await api("POST", "enrol", PLAIN)).json()["code"] == "admin_already_enrolled"

    request = await api("POST", "grants", OWNER, session=token, json={"user_id": plain_id, "role": "owner", "reason": "second owner"})
    assert request.status_code == 202, request.text
    request_id = request.json()["request_id"]
    assert request.json()["status"] == "pending"
    self_approval = await api("POST", f"requests/{request_id}/approve", OWNER, session=token, json={"reason": "me"})
    assert self_approval.status_code == 403 and self_approval.json()["code"] == "admin_self_approval"
    # The new admin holds no role yet, so cannot approve either.
    no_scope = await api("POST", f"requests/{request_id}/approve", PLAIN, session=plain_token, json={"reason": "x"})
    assert no_scope.status_code == 403
    listed = await api("GET", "requests", OWNER, session=token)
    assert [(row["status"], row["approver_role"], row["approvals_needed"]) for row in listed.json() if row["id"] == request_id] == [
        ("pending", "owner", 1)]
    not_yet = await api("POST", f"requests/{request_id}/execute", OWNER, session=token)
    assert not_yet.status_code == 409 and not_yet.json()["code"] == "admin_request_not_approved"
    bad_role = await api("POST", "grants", OWNER, session=token, json={"user_id": plain_id, "role": "god", "reason": "x"})
    assert bad_role.status_code == 400 and "role" in bad_role.text
    support_role = await api("POST", "grants", OWNER, session=token, json={"user_id": plain_id, "role": "support", "reason": "helpdesk"})
    assert support_role.status_code == 201 and support_role.json()["status"] == "granted"


async def test_moderators_review_held_and_reported_reels(admin_server, api, people, owner_session):
    from reels_support import new_reel

    token = owner_session[0]
    held = new_reel(admin_server, people[PLAIN][0], moderation="pending", caption="held for review")
    reported = new_reel(admin_server, people[PLAIN][0], caption="reported")
    psql(admin_server, f"INSERT INTO reels.reports (reel_id, user_id, reason) VALUES ('{reported}', '{people[OWNER][0]}', 'spam')")

    pending = await api("GET", "moderation/reels", OWNER, session=token, params={"queue": "pending"})
    assert pending.status_code == 200, pending.text
    assert [item["reel_id"] for item in pending.json()] == [held]
    assert pending.json()[0]["caption"] == "held for review"
    queue = await api("GET", "moderation/reels", OWNER, session=token, params={"queue": "reported"})
    assert [(item["reel_id"], item["reports"], item["report_reasons"]) for item in queue.json()] == [(reported, 1, ["spam"])]
    for params, field in (({"queue": "all"}, "queue"), ({"limit": "101"}, "limit"), ({"before": "yesterday"}, "before")):
        bad = await api("GET", "moderation/reels", OWNER, session=token, params=params)
        assert bad.status_code == 400 and field in bad.json()["error"], bad.text

    no_reason = await api("POST", f"moderation/reels/{reported}", OWNER, session=token, json={"decision": "reject", "reason": ""})
    assert no_reason.status_code == 400
    unknown = await api("POST", f"moderation/reels/{uuid.uuid4()}", OWNER, session=token, json={"decision": "approve", "reason": "ok"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "admin_reel_not_found"
    for reel, decision in ((held, "approve"), (reported, "reject")):
        decided = await api("POST", f"moderation/reels/{reel}", OWNER, session=token, json={"decision": decision, "reason": "reviewed"})
        assert decided.status_code == 204, decided.text
    assert psql(admin_server, f"SELECT moderation FROM reels.reels WHERE id IN ('{held}', '{reported}') ORDER BY caption").stdout.split() == [
        "approved", "rejected"]
    for name in ("pending", "reported"):
        empty = await api("GET", "moderation/reels", OWNER, session=token, params={"queue": name})
        assert empty.json() == []
    audit = psql(admin_server, "SELECT action || ' ' || target || ' ' || reason FROM admin.audit_log WHERE action LIKE 'admin.reel.%' ORDER BY seq")
    assert audit.stdout.splitlines() == [f"admin.reel.approve {held} reviewed", f"admin.reel.reject {reported} reviewed"]


async def test_support_finds_accounts_with_masked_numbers_and_moderators_suspend_them(admin_server, api, people, owner_session):
    from e2e_support import close_client, new_client, sign_in

    token = owner_session[0]
    plain_id = people[PLAIN][0]
    by_phone = await api("GET", "users", OWNER, session=token, params={"phone": PLAIN})
    assert by_phone.status_code == 200, by_phone.text
    assert by_phone.headers["cache-control"] == "no-store"
    account = by_phone.json()
    assert account["user_id"] == plain_id and account["phone_masked"] == "+1********72"
    assert PLAIN[1:] not in by_phone.text
    by_id = await api("GET", "users", OWNER, session=token, params={"user_id": plain_id})
    assert by_id.json() == account
    missing = await api("GET", "users", OWNER, session=token, params={"phone": "+15550000000"})
    assert missing.status_code == 404 and missing.json()["code"] == "user_not_found"
    lookups = psql(admin_server, "SELECT coalesce(target, '-') || ' ' || detail::text FROM admin.audit_log "
                                 "WHERE action = 'admin.users.lookup' ORDER BY seq").stdout
    assert "5555" not in lookups and lookups.count(plain_id) == 2

    too_long = await api("POST", f"users/{plain_id}/suspension", OWNER, session=token, json={"hours": 9000, "reason": "x"})
    assert too_long.status_code == 400 and "hours" in too_long.text
    suspended = await api("POST", f"users/{plain_id}/suspension", OWNER, session=token, json={"hours": 24, "reason": "harassment"})
    assert suspended.status_code == 204, suspended.text
    assert (await api("GET", "users", OWNER, session=token, params={"user_id": plain_id})).json()["suspended_until"]
    client = await new_client(admin_server.url, admin_server.anon_key)
    try:
        with pytest.raises(Exception) as refused:
            await sign_in(client, PLAIN)
        assert "banned" in str(refused.value).lower()
        lifted = await api("POST", f"users/{plain_id}/suspension", OWNER, session=token, json={"hours": 0, "reason": "appeal upheld"})
        assert lifted.status_code == 204
        await sign_in(client, PLAIN)
    finally:
        await close_client(client)


async def test_moderators_block_a_hashtag_and_its_list_empties(admin_server, api, people, owner_session):
    from reels_support import new_reel

    token = owner_session[0]
    tagged = new_reel(admin_server, people[PLAIN][0], caption="#scam offer", hashtags=["scam"])

    async def listed() -> int:
        async with httpx.AsyncClient(base_url=admin_server.url, timeout=30.0) as client:
            response = await client.post("/rest/v1/rpc/get_hashtag_reels", json={"tag": "scam"}, headers={
                "apikey": admin_server.anon_key, "Authorization": f"Bearer {people[OWNER][1]}"})
            assert response.status_code == 200, response.text
            return len(response.json()["reels"])

    assert await listed() == 1
    bad = await api("POST", "moderation/hashtags", OWNER, session=token, json={"tag": "two words", "reason": "x"})
    assert bad.status_code == 400 and "tag" in bad.text
    blocked = await api("POST", "moderation/hashtags", OWNER, session=token, json={"tag": "#Scam", "reason": "fraud wave"})
    assert blocked.status_code == 201, blocked.text
    again = await api("POST", "moderation/hashtags", OWNER, session=token, json={"tag": "scam", "reason": "again"})
    assert again.status_code == 409 and again.json()["code"] == "admin_hashtag_blocked"
    assert await listed() == 0
    assert [row["tag"] for row in (await api("GET", "moderation/hashtags", OWNER, session=token)).json()] == ["scam"]
    held = await api("GET", "moderation/reels", OWNER, session=token, params={"queue": "pending"})
    assert [(item["reel_id"], item["moderation_reason"]) for item in held.json()] == [(tagged, "the hashtag #scam is blocked")]
    unblocked = await api("POST", "moderation/hashtags/scam/unblock", OWNER, session=token, json={"reason": "over"})
    assert unblocked.status_code == 204
    missing = await api("POST", "moderation/hashtags/scam/unblock", OWNER, session=token, json={"reason": "over"})
    assert missing.status_code == 404 and missing.json()["code"] == "admin_hashtag_not_blocked"
    audit = psql(admin_server, "SELECT action || ' ' || target || ' ' || detail::text FROM admin.audit_log "
                               "WHERE action LIKE 'admin.hashtag.%' AND outcome = 'allowed' ORDER BY seq")
    assert audit.stdout.splitlines() == ['admin.hashtag.block scam {"held": 1}', "admin.hashtag.unblock scam {}"]


async def test_every_admin_limit_is_enforced(api, owner_session):
    token = owner_session[0]
    too_long_code = await api("POST", "session", SUPPORT, json={"code": "1" * 65})
    assert too_long_code.status_code == 400 and "code" in too_long_code.json()["error"]
    long_reason = await api("POST", "kill-switches/calls", OWNER, session=token, json={"engaged": False, "reason": "x" * 501})
    assert long_reason.status_code == 400 and "reason" in long_reason.json()["error"]
    long_tag = await api("POST", "moderation/hashtags", OWNER, session=token, json={"tag": "t" * 102, "reason": "x"})
    assert long_tag.status_code == 400 and "tag" in long_tag.json()["error"]
    jit = await api("POST", "jit", OWNER, session=token, json={"role": "support", "minutes": 241, "reason": "x"})
    assert jit.status_code == 400 and "minutes" in jit.json()["error"]
    # Opening sessions: ten attempts at once per user, then one every six seconds.
    statuses = [(await api("POST", "session", SUPPORT, json={"code": "000000"})).status_code for _ in range(11)]
    assert statuses.count(429) >= 1 and statuses[0] != 429, statuses
    limited = await api("POST", "session", SUPPORT, json={"code": "000000"})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert limited.json()["code"] == "over_request_rate_limit"


async def test_the_dashboard_counts_what_waits(admin_server, api, people, owner_session):
    from reels_support import new_reel

    token = owner_session[0]
    new_reel(admin_server, people[PLAIN][0], moderation="pending", caption="dashboard pending")
    flipped = await api("POST", "kill-switches/calls", OWNER, session=token, json={"engaged": True, "reason": "maintenance"})
    assert flipped.status_code == 204
    try:
        dashboard = await api("GET", "dashboard", OWNER, session=token)
        assert dashboard.status_code == 200, dashboard.text
        body = dashboard.json()
        assert body["kill_switches_engaged"] == ["calls"]
        assert body["reels"]["pending"] >= 1 and body["reels"]["hashtags_blocked"] == 0
        assert set(body["reels"]["arbiter"]) == {"suppressed", "since", "reason", "updated_at"}
        assert isinstance(body["requests_pending"], int)
    finally:
        await api("POST", "kill-switches/calls", OWNER, session=token, json={"engaged": False, "reason": "done"})


async def test_reported_messages_and_profiles_are_decided_and_their_authors_warned(admin_server, api, people, owner_session):
    token = owner_session[0]
    async with httpx.AsyncClient(base_url=admin_server.url, timeout=30.0) as client:
        async def rpc(phone: str, name: str, **arguments) -> httpx.Response:
            return await client.post(f"/rest/v1/rpc/{name}", json=arguments, headers={
                "apikey": admin_server.anon_key, "Authorization": f"Bearer {people[phone][1]}"})

        dm = (await rpc(PLAIN, "get_or_create_dm", target_user_id=people[SUPPORT][0])).json()
        sent = await rpc(PLAIN, "send_message_v1", conversation_id=dm, client_msg_id=str(uuid.uuid4()), body="buy cheap pills here")
        message = sent.json()["message_id"]
        own = await rpc(PLAIN, "report_message", message_id=message, reason="spam")
        assert own.status_code == 400 and "message_id" in own.json()["message"]
        bad = await rpc(SUPPORT, "report_message", message_id=message, reason="boring")
        assert bad.status_code == 400 and "reason" in bad.json()["message"]
        reported = await rpc(SUPPORT, "report_message", message_id=message, reason="spam", details="pills again")
        assert reported.status_code == 200 and reported.json() == {"reported": True}, reported.text
        assert (await rpc(SUPPORT, "report_profile", user_id=people[PLAIN][0], reason="impersonation")).status_code == 200

        queue = await api("GET", "moderation/messages", OWNER, session=token)
        assert queue.status_code == 200, queue.text
        [item] = queue.json()
        assert (item["message_id"], item["body"], item["sender_id"], item["reports"], item["report_reasons"], item["report_details"]) == (
            message, "buy cheap pills here", people[PLAIN][0], 1, ["spam"], ["pills again"])
        assert people[SUPPORT][0] not in queue.text  # reporters stay anonymous
        profiles = await api("GET", "moderation/profiles", OWNER, session=token, params={"limit": "5"})
        assert [(p["user_id"], p["report_reasons"]) for p in profiles.json()] == [(people[PLAIN][0], ["impersonation"])]
        dashboard = (await api("GET", "dashboard", OWNER, session=token)).json()
        assert dashboard["reports"] == {"messages": 1, "profiles": 1}

        wrong = await api("POST", f"moderation/messages/{message}", OWNER, session=token, json={"decision": "ban", "reason": "x"})
        assert wrong.status_code == 400 and "decision" in wrong.json()["error"]
        missing = await api("POST", f"moderation/messages/{uuid.uuid4()}", OWNER, session=token,
                            json={"decision": "remove", "reason": "spam"}, headers={"X-Request-Id": "console-42"})
        assert missing.status_code == 404 and missing.json()["code"] == "admin_message_not_found"
        assert missing.headers["x-request-id"] == "console-42"  # error answers carry the id too
        removed = await api("POST", f"moderation/messages/{message}", OWNER, session=token, json={"decision": "remove", "reason": "spam"})
        assert removed.status_code == 204, removed.text
        history = (await rpc(SUPPORT, "get_messages", conversation_id=dm)).json()["items"]
        assert [(m["id"], m["body"], m["deleted_at"] is not None) for m in history] == [(message, "", True)]
        warned = await api("POST", f"moderation/profiles/{people[PLAIN][0]}", OWNER, session=token,
                           json={"decision": "warn", "reason": "do not pretend to be support"})
        assert warned.status_code == 204, warned.text
        for kind in ("messages", "profiles"):
            assert (await api("GET", f"moderation/{kind}", OWNER, session=token)).json() == []

        warnings = await rpc(PLAIN, "list_my_warnings", unseen_only=True)
        assert warnings.status_code == 200, warnings.text
        [warning] = warnings.json()
        assert (warning["subject_kind"], warning["subject_id"], warning["reason"]) == (
            "profile", people[PLAIN][0], "do not pretend to be support")
        assert "issued_by" not in warning
        assert (await rpc(SUPPORT, "acknowledge_warning", warning_id=warning["id"])).status_code == 404
        assert (await rpc(PLAIN, "acknowledge_warning", warning_id=warning["id"])).json()["seen_at"]
        assert (await rpc(PLAIN, "list_my_warnings", unseen_only=True)).json() == []

    audit = psql(admin_server, "SELECT action || ' ' || target || ' ' || (detail->>'author') FROM admin.audit_log "
                               "WHERE action IN ('admin.message.remove', 'admin.profile.warn') ORDER BY seq")
    assert audit.stdout.splitlines() == [f"admin.message.remove {message} {people[PLAIN][0]}",
                                         f"admin.profile.warn {people[PLAIN][0]} {people[PLAIN][0]}"]
    # Reading a queue shows users' content: each read is audited with its request id.
    traced = await api("GET", "moderation/profiles", OWNER, session=token, headers={"X-Request-Id": "queue-read-7"})
    assert traced.status_code == 200
    assert psql(admin_server, "SELECT action || ' ' || outcome FROM admin.audit_log WHERE request_id = 'queue-read-7'").stdout.split() == [
        "admin.profile.queue", "allowed"]


async def test_a_lost_authenticator_is_reset_and_an_admin_removed(api, people, owner_session):
    token = owner_session[0]
    plain_id = people[PLAIN][0]
    listed = {row["user_id"]: row for row in (await api("GET", "admins", OWNER, session=token)).json()}
    assert listed[plain_id]["status"] == "active" and listed[plain_id]["totp_confirmed"]  # from the owner-grant test
    reset = await api("POST", f"admins/{plain_id}/reset-authenticator", OWNER, session=token, json={"reason": "lost the phone"})
    assert reset.status_code == 204, reset.text
    assert reset.headers["x-request-id"]
    # The admin enrols again, alone: a new secret opens a session; roles were kept.
    enrol = await api("POST", "enrol", PLAIN)
    assert enrol.status_code == 201, enrol.text
    plain_token = await open_session(api, PLAIN, totp(enrol.json()["secret"]))
    me = (await api("GET", "me", PLAIN, session=plain_token)).json()
    assert [role["role"] for role in me["roles"]] == ["support"]

    removed = await api("POST", f"admins/{plain_id}/remove", OWNER, session=token, json={"reason": "left the team"})
    assert removed.status_code == 204, removed.text
    ended = await api("GET", "me", PLAIN, session=plain_token)
    assert ended.status_code == 401 and ended.json()["code"] == "admin_session_invalid"
    after = {row["user_id"]: row for row in (await api("GET", "admins", OWNER, session=token)).json()}[plain_id]
    assert (after["status"], after["roles"], after["totp_confirmed"]) == ("disabled", [], False)
    last = await api("POST", f"admins/{people[OWNER][0]}/remove", OWNER, session=token, json={"reason": "bye"})
    assert last.status_code == 409 and last.json()["code"] == "admin_last_owner"
    unknown = await api("POST", f"admins/{uuid.uuid4()}/remove", OWNER, session=token, json={"reason": "x"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "admin_target_not_found"
    no_reason = await api("POST", f"admins/{plain_id}/reset-authenticator", OWNER, session=token, json={"reason": " "})
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["error"]
