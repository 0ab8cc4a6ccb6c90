"""The admin web console at /admin/ (issue 16, item 8), headless Chromium against the real
server and its /admin/v1 API:

- without a signed-in user the console explains and links to the phone sign-in at /#/, and
  loads nothing of the main app but its side-effect-free modules;
- the owner (an admin made here with psql, RFC 6238's test secret and an owner grant — the
  shared server is never bootstrapped) signs in to the app with the phone, opens /admin/,
  gets admin_code_invalid (with the request id) for a wrong code, then opens a session with a
  TOTP code computed here; the token is in sessionStorage only, the header shows the role and
  a countdown of at most 30 minutes;
- dashboard: the six kill switches; admin_writes engaged and released, each with a reason
  (a missing reason is refused in the dialog; focus returns to the switch), both in the
  audit log; the list's error state (request blocked) and its retry;
- admins & roles: the second user added by user id with a reason (twice: admin_exists shown),
  both admins listed with names, a role granted at once (support) and one that becomes a
  request (security_admin);
- requests: the pending request without approve/deny for its own requester; the status filter;
- JIT: 500 minutes refused, a moderator role for 15 minutes granted, shown with its countdown
  and in the header, revoked;
- audit: the kill-switch rows, row details, the outcome and action filters (kept in the
  address), a bad actor refused, `before`, pages of three through next_before down to row 1,
  the phone layout (filters folded, rows as cards), verify says intact;
- moderation: a held reel and a reported reel (inserted with psql) in the two queue tabs, each a
  card with its poster; a missing reason refused in the dialog, the reported one rejected and the
  held one approved with reasons (both audited); a hashtag blocked (a bad tag: 400, twice: 409
  shown) and unblocked with a reason; the dashboard's queue counts and arbiter (left out without
  an error when the server does not answer GET /dashboard);
- reports: the second user's message and profile reported by the owner in the app; on the
  reports page (reporters not shown) the message is removed (a tombstone) and the profile's
  owner warned, both with reasons and audited; the second user's app shows the warning once
  and marks it seen;
- accounts: a lookup by a number nobody has (not found), then by a third account's number: the
  number masked, never whole anywhere in the page; suspended for 48 hours and lifted, audited;
- English strings (no Cyrillic left on any page);
- the second admin (no secret yet) gets admin_not_enrolled and enrols: the QR code on screen,
  read back from its SVG, equals python-qrcode's matrix of the otpauth link for the same
  version and mask; every mask of the encoder is checked module for module, and the chosen
  one has the lowest penalty (computed here independently); then a code from the shown secret
  opens the console: a support admin's kill-switch buttons are disabled, no IAM or audit pages;
- the second admin, made an owner, approves the owner's JIT security_admin request (a request
  about themselves offers no decision); the owner executes it and revokes the grant early;
- a session ended on the server sends the console back to the code step with a notice;
- the owner signs out: the token is gone from sessionStorage and the server refuses it.

Every screen is photographed at 360×740 and 1280×800, light and dark where it matters, into
<artefacts>/screenshots/admin-*.png; sideways scrolling at 360 px, serious or critical axe-core
violations and (on four screens) focus stops without a visible indicator are collected and
fail the last test. Numbers +15555550375 (owner) and +15555550376 (second admin). The tests
run in file order and share state (run with -x).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import struct
import subprocess
import time
from dataclasses import dataclass, field

import httpx
import pytest

from web_support import PHONE, DESKTOP, Browser, Steps, browser_rpc, database_url, tid

OWNER = ("+15555550375", "375375")
SECOND = ("+15555550376", "376376")
RFC_SECRET_SQL = "'12345678901234567890'::bytea"
RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
RUN = secrets.token_hex(3)
TOKEN_KEY = "eco:admin:v1:session"
SWITCHES = {"admin_writes", "iam_writes", "signups", "reels_uploads", "message_sending", "calls"}
PAGES = ["dashboard", "admins", "requests", "jit", "audit", "moderation", "reports", "accounts"]
THIRD = "+15555550377"  # an account looked up, suspended and lifted (made here with psql; never signed in)


@dataclass
class Scenario(Steps):
    owner: Browser | None = None
    second: Browser | None = None
    ids: dict[str, str] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    owner_token: str = ""


def totp(secret_base32: str, step_offset: int = 0) -> tuple[str, int]:
    """RFC 6238 (SHA-1, 6 digits, 30 s), computed here: (code, time step)."""
    key = base64.b32decode(secret_base32 + "=" * (-len(secret_base32) % 8))
    step = int(time.time() // 30) + step_offset
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    start = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[start:start + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}", step


def fresh_code(secret: str) -> str:
    """A code not too close to the end of its 30-second step (so the server sees the same step)."""
    if time.time() % 30 > 25:
        time.sleep(30 - time.time() % 30 + 0.2)
    return totp(secret)[0]


def psql(server, sql: str) -> str:
    result = subprocess.run(["psql", database_url(server), "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def axe_serious(b: Browser) -> list[str]:
    try:
        import axe_selenium_python  # noqa: F401
    except ImportError:
        return []
    from test_accessibility import run_axe
    return [f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:4]}"
            for v in run_axe(b).get("violations", []) if v.get("impact") in ("serious", "critical")]


def look(s: Scenario, b: Browser, name: str, *, themes=("light", "dark"), sizes=(("phone", PHONE), ("desktop", DESKTOP)),
         reveal: str | None = None, walk: bool = False) -> None:
    """Screenshots of the current screen at each size and theme into <artefacts>/screenshots;
    records sideways scrolling at 360 px and serious axe violations as problems; with `walk`,
    also tabs through the screen (desktop) and records focus stops without a visible indicator."""
    for theme in themes:
        b.emulate_color_scheme(theme)
        b.wait(lambda d: b.root_attr("data-theme") == theme, f"data-theme={theme}")
        for size_name, size in sizes:
            b.set_viewport(size)
            if reveal:
                b.driver.execute_script("document.querySelector(arguments[0])?.scrollIntoView({block: 'center'})", tid(reveal))
            b.wait_frames()
            if size_name == "phone":
                overflow = b.horizontal_overflow()
                if overflow > 0:
                    s.problems.append(f"{name}: scrolls sideways by {overflow}px at {size[0]} px ({theme})")
            b.screenshot(f"admin-{name}-{size_name}-{theme}")
            for violation in axe_serious(b):
                s.problems.append(f"{name} {size_name} {theme}: {violation}")
            if walk and size_name == "desktop":
                from test_accessibility import focus_walk
                stops, missing = focus_walk(b, name)
                if stops < 3 or missing:
                    s.problems.append(f"{name} {theme}: {stops} focus stops, without a visible indicator: {missing}")
    b.emulate_color_scheme("light")
    b.set_viewport(DESKTOP)


def rows(b: Browser, testid: str, attr: str) -> list[str]:
    return [el.get_attribute(attr) for el in b.find_all(testid)]


def dialog_submit(b: Browser, reason: str | None, *, testid: str = "dialog") -> None:
    """Fills the open dialog's reason (when given) and confirms; waits for it to close."""
    dialog = b.visible(testid)
    if reason is not None:
        b.fill("reason-input", reason, within=dialog)
    b.click("dialog-confirm", within=dialog)
    b.gone(testid)


def go_page(b: Browser, page: str) -> None:
    """Clicks the navigation link and waits for the page, its heading focused."""
    b.click(f"nav-{page}")
    b.wait(lambda d: b.driver.execute_script(
        "const m = document.querySelector('[data-testid=main]'); return m && m.dataset.page") == page, f"the {page} page")
    b.wait(lambda d: b.driver.execute_script(
        "return document.activeElement && document.activeElement.dataset.testid") == "page-title", f"focus on the {page} heading")


@pytest.fixture(scope="module")
def scenario(server, browser_factory):
    s = Scenario()
    s.owner = browser_factory("admin-owner")
    s.second = browser_factory("admin-second")
    yield s


def test_without_a_user_the_console_points_to_the_phone_sign_in(server, scenario):
    b = scenario.owner
    b.open(server.url, "admin/")
    b.visible("signed-out")
    link = b.visible("open-app-signin")
    assert link.get_attribute("href") == f"{server.url}/#/", link.get_attribute("href")
    # The main app is not part of this page: none of its modules besides the shared leaves.
    loaded = b.driver.execute_script("return performance.getEntriesByType('resource').map(e => new URL(e.name).pathname)")
    assert not [p for p in loaded if p.startswith("/app/") and p.split("/")[-1] not in ("util.js", "store.js", "api.js", "account-api.js", "i18n.js")], loaded
    look(scenario, b, "signed-out", themes=("light",))
    scenario.done.add("signed-out")


def test_the_owner_signs_in_with_a_totp_code(server, scenario):
    scenario.need("signed-out")
    b, second = scenario.owner, scenario.second
    for browser, (phone, code), name in ((b, OWNER, "owner"), (second, SECOND, "second")):
        browser.open(server.url)
        browser.sign_in(phone, code, f"adm_{name}_{RUN}", f"Admin {name.capitalize()}")
        scenario.ids[name] = psql(server, f"SELECT id FROM auth.users WHERE phone = '{phone.lstrip('+')}'")
    owner = scenario.ids["owner"]
    psql(server, f"INSERT INTO admin.admin_users (user_id, totp_secret) VALUES ('{owner}', {RFC_SECRET_SQL})")
    psql(server, f"INSERT INTO admin.role_grants (user_id, role, kind, reason) VALUES ('{owner}', 'owner', 'standing', 'web console e2e')")

    b.open(server.url, "admin/")
    b.visible("signed-in-as")
    b.expected_console += [r"admin/v1/session .*401", r"admin/v1/admins .*409"]  # the wrong code; adding twice
    b.fill("admin-code", "000000" if totp(RFC_SECRET)[0] != "000000" else "111111")
    b.click("admin-code-submit")
    error = b.visible("signin-error")
    b.wait(lambda d: error.get_attribute("data-code") == "admin_code_invalid", "admin_code_invalid on a wrong code")
    assert b.visible("admin-code").get_attribute("aria-invalid") == "true"
    assert "id запроса adm-" in error.text, error.text  # the request id to find the refusal in the log
    look(scenario, b, "signin-wrong-code", themes=("light", "dark"), walk=True)

    b.fill("admin-code", fresh_code(RFC_SECRET))
    b.click("admin-code-submit")
    b.visible("console")
    b.wait(lambda d: rows(b, "who-role", "data-role") == ["owner"], "the owner role in the header")
    left = int(b.visible("session-countdown").get_attribute("data-left"))
    assert 25 * 60 < left <= 30 * 60, left
    token = b.driver.execute_script(f"return JSON.parse(sessionStorage.getItem('{TOKEN_KEY}')).token")
    assert token and len(token) >= 40
    assert token not in json.dumps(b.driver.execute_script("return {...localStorage}")), "the admin token is in localStorage"
    scenario.owner_token = token
    assert b.route() == "#/dashboard"
    scenario.done.add("owner-in")


def test_dashboard_engages_and_releases_a_kill_switch_with_a_reason(server, scenario):
    scenario.need("owner-in")
    b = scenario.owner
    b.wait(lambda d: set(rows(b, "kill-switch", "data-name")) == SWITCHES, "the six kill switches")
    assert b.visible("pending-count").get_attribute("data-count") == "0"
    look(scenario, b, "dashboard", walk=True)

    toggle = lambda: b.present("kill-switch-toggle", data_name="admin_writes")  # noqa: E731
    b.click("kill-switch-toggle", data_name="admin_writes")
    dialog = b.visible("dialog")
    b.click("dialog-confirm", within=dialog)  # no reason: refused in the dialog, nothing sent
    b.visible("dialog-error")
    assert b.visible("reason-input").get_attribute("aria-invalid") == "true"
    b.screenshot("admin-dashboard-engage-dialog-desktop-light")
    dialog_submit(b, f"e2e drill {RUN}")
    b.wait(lambda d: b.present("kill-switch", data_name="admin_writes").get_attribute("data-engaged") == "true", "admin_writes engaged")
    row = b.present("kill-switch", data_name="admin_writes")
    assert f"e2e drill {RUN}" in b.visible("kill-switch-reason", within=row).text
    b.wait(lambda d: d.switch_to.active_element == toggle(), "focus back on the switch's button")
    b.screenshot("admin-dashboard-engaged-desktop-light")
    b.click("kill-switch-toggle", data_name="admin_writes")
    dialog_submit(b, f"drill over {RUN}")
    b.wait(lambda d: b.present("kill-switch", data_name="admin_writes").get_attribute("data-engaged") == "false", "admin_writes released")
    audit = psql(server, "SELECT action || ' ' || target || ' ' || reason FROM admin.audit_log "
                         f"WHERE action LIKE 'admin.kill_switch.%' AND actor = '{scenario.ids['owner']}' ORDER BY seq")
    assert audit.splitlines() == [f"admin.kill_switch.engage admin_writes e2e drill {RUN}",
                                  f"admin.kill_switch.release admin_writes drill over {RUN}"], audit

    # The list's error state and its retry.
    b.driver.execute_cdp_cmd("Network.enable", {})
    b.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*admin/v1/kill-switches*"]})
    b.expected_console += [r"admin/v1/kill-switches", r"ERR_BLOCKED_BY_CLIENT"]
    try:
        go_page(b, "requests")
        go_page(b, "dashboard")
        error = b.visible("error-state", within=b.present("kill-switches-card"))
        assert "соединения" in error.text, error.text
        b.screenshot("admin-dashboard-error-desktop-light")
    finally:
        b.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
    b.click("retry", within=b.present("kill-switches-card"))
    b.wait(lambda d: len(rows(b, "kill-switch", "data-name")) == 6, "the switches after retrying")
    scenario.done.add("dashboard")


def test_admins_page_adds_the_second_admin_and_grants_roles(server, scenario):
    scenario.need("owner-in")
    b = scenario.owner
    go_page(b, "admins")
    b.wait(lambda d: rows(b, "admin-row", "data-user-id") == [scenario.ids["owner"]], "the owner alone in the list")
    # A missing reason is caught before sending.
    b.fill("add-admin-user", scenario.ids["second"])
    b.click("add-admin-submit")
    b.wait(lambda d: "bad" in b.visible("add-admin-result").get_attribute("class"), "the missing reason refused")
    b.fill("add-admin-reason", f"new teammate {RUN}")
    b.click("add-admin-submit")
    b.wait(lambda d: "ok" in b.visible("add-admin-result").get_attribute("class"), "the admin added")
    b.wait(lambda d: set(rows(b, "admin-row", "data-user-id")) == {scenario.ids["owner"], scenario.ids["second"]}, "both admins listed")
    second_row = lambda: b.present("admin-row", data_user_id=scenario.ids["second"])  # noqa: E731
    b.wait(lambda d: "Admin Second" in b.visible("admin-person", within=second_row()).text, "the second admin's name")
    assert b.visible("admin-totp", within=second_row()).text  # «not set up» badge
    # Adding again: the server's refusal is shown.
    b.fill("add-admin-user", scenario.ids["second"])
    b.fill("add-admin-reason", "twice")
    b.click("add-admin-submit")
    b.wait(lambda d: "уже администратор" in b.visible("add-admin-result").text, "admin_exists explained")

    b.click("grant-role", within=second_row())
    b.select("grant-role-select", "support")
    dialog_submit(b, f"helpdesk {RUN}", testid="grant-dialog")
    b.wait(lambda d: "support" in rows(b, "admin-role", "data-role"), "support granted at once")
    b.click("grant-role", within=second_row())
    b.select("grant-role-select", "security_admin")
    dialog_submit(b, f"security rota {RUN}", testid="grant-dialog")
    result = b.visible("admins-result")
    b.wait(lambda d: "ждёт одобрения" in result.text, "the security_admin grant became a request")
    look(scenario, b, "admins", reveal="admin-list")
    # The only owner cannot be removed: the dialog shows the server's refusal and stays open.
    b.expected_console += [r"admin/v1/admins/.*/remove.*409"]
    owner_row = b.present("admin-row", data_user_id=scenario.ids["owner"])
    assert b.find_all("admin-reset-totp", within=owner_row), "no «reset authenticator» for an enrolled admin"
    assert not b.find_all("admin-reset-totp", within=second_row()), "«reset authenticator» offered before enrolment"
    b.click("admin-remove", within=owner_row)
    dialog = b.visible("remove-dialog")
    b.fill("reason-input", f"test {RUN}", within=dialog)
    b.click("dialog-confirm", within=dialog)
    b.wait(lambda d: "владел" in b.visible("dialog-error").text, "admin_last_owner shown in the dialog")
    b.click("dialog-cancel", within=dialog)
    b.gone("remove-dialog")
    assert psql(server, f"SELECT status FROM admin.admin_users WHERE user_id = '{scenario.ids['owner']}'") == "active"
    scenario.done.add("admins")


def test_requests_page_shows_the_pending_request_without_deciding_ones_own(server, scenario):
    scenario.need("admins")
    b = scenario.owner
    go_page(b, "requests")
    b.wait(lambda d: rows(b, "request-row", "data-status")[:1] == ["pending"], "the pending request first")
    row = b.find_all("request-row")[0]
    assert not b.find_all("request-approve", within=row) and not b.find_all("request-deny", within=row)
    assert not b.find_all("request-execute", within=row)
    b.select("request-status-filter", "denied")
    b.visible("empty-state")
    assert b.route() == "#/requests?status=denied"
    b.select("request-status-filter", "pending")
    b.wait(lambda d: rows(b, "request-row", "data-status") == ["pending"], "the pending filter")
    look(scenario, b, "requests")
    go_page(b, "dashboard")
    b.wait(lambda d: b.present("my-pending-count").get_attribute("data-count") == "1", "one own pending request on the dashboard")
    scenario.done.add("requests")


def test_jit_grants_a_role_for_minutes_and_revokes_it(server, scenario):
    scenario.need("owner-in")
    b = scenario.owner
    go_page(b, "jit")
    b.visible("jit-grants-empty")
    b.select("jit-role", "moderator")
    b.fill("jit-minutes", "500")
    b.fill("jit-reason", f"queue backlog {RUN}")
    b.click("jit-submit")
    b.wait(lambda d: "bad" in b.visible("jit-form-result").get_attribute("class"), "500 minutes refused")
    assert b.visible("jit-minutes").get_attribute("aria-invalid") == "true"
    b.fill("jit-minutes", "15")
    b.click("jit-submit")
    b.wait(lambda d: "ok" in b.visible("jit-form-result").get_attribute("class"), "the moderator role granted")
    grant = b.visible("jit-grant", data_role="moderator")
    assert re.search(r"1[45]:\d\d", grant.text), grant.text
    b.wait(lambda d: "moderator" in rows(b, "who-role", "data-role"), "the JIT role in the header")
    look(scenario, b, "jit", themes=("light",))
    b.click("jit-revoke", data_role="moderator")
    dialog_submit(b, f"done early {RUN}", testid="revoke-dialog")
    b.visible("jit-grants-empty")
    b.wait(lambda d: rows(b, "who-role", "data-role") == ["owner"], "the header without the JIT role")
    assert psql(server, f"SELECT count(*) FROM admin.role_grants WHERE user_id = '{scenario.ids['owner']}' AND kind = 'jit' "
                        "AND revoked_at IS NOT NULL") == "1"
    scenario.done.add("jit")


def test_audit_page_filters_pages_and_verifies_the_chain(server, scenario):
    scenario.need("dashboard")
    b = scenario.owner
    go_page(b, "audit")
    b.wait(lambda d: {"admin.kill_switch.engage", "admin.kill_switch.release"} <= set(rows(b, "audit-row", "data-action")),
           "the kill-switch rows")
    engage = b.present("audit-row", data_action="admin.kill_switch.engage")
    assert engage.get_attribute("data-target") == "admin_writes"
    look(scenario, b, "audit", walk=True)
    # On a phone the filters start folded (none set) and the rows are cards.
    b.set_viewport(PHONE)
    go_page(b, "dashboard")
    go_page(b, "audit")
    b.wait(lambda d: b.find_all("audit-row"), "the rows on a phone")
    assert b.driver.execute_script("return document.querySelector('.adm-filter-box').open") is False
    look(scenario, b, "audit-rows", themes=("light", "dark"), sizes=(("phone", PHONE),), reveal="audit-table")
    b.set_viewport(DESKTOP)
    engage = b.present("audit-row", data_action="admin.kill_switch.engage")
    # Details of a row open in place.
    b.click("audit-row-toggle", within=engage)
    detail = b.driver.find_element("id", f"adm-audit-{engage.get_attribute('data-seq')}")
    assert detail.is_displayed() and "admin_writes" in detail.text

    b.select("audit-outcome", "denied")
    b.click("audit-apply")
    b.wait(lambda d: rows(b, "audit-row", "data-outcome") and set(rows(b, "audit-row", "data-outcome")) == {"denied"}, "only denied rows")
    assert "admin.session.open" in rows(b, "audit-row", "data-action")  # the wrong code
    assert b.route() == "#/audit?outcome=denied"
    b.screenshot("admin-audit-denied-desktop-light")
    b.click("audit-reset")
    b.fill("audit-action", "admin.kill_switch.engage")
    b.click("audit-apply")
    b.wait(lambda d: rows(b, "audit-row", "data-action") == ["admin.kill_switch.engage"], "one engage row")
    b.fill("audit-actor", "not-a-uuid")
    b.click("audit-apply")
    b.visible("audit-filter-error")
    b.click("audit-reset")
    b.wait(lambda d: len(rows(b, "audit-row", "data-seq")) > 3, "every row again")
    seqs = [int(x) for x in rows(b, "audit-row", "data-seq")]
    assert seqs == sorted(seqs, reverse=True)
    # A page before a row: older rows only, and the way back to the newest.
    b.go(f"#/audit?before={seqs[2]}")
    b.wait(lambda d: rows(b, "audit-row", "data-seq")[:1] == [str(seqs[3])], "rows older than the third")
    b.click("audit-newest")
    b.wait(lambda d: rows(b, "audit-row", "data-seq")[:1] == [str(seqs[0])], "the newest rows again")
    # Pages of three: «older rows» appends the next page (next_before) until the log ends.
    b.go("#/audit?limit=3")
    b.wait(lambda d: rows(b, "audit-row", "data-seq") == [str(x) for x in seqs[:3]], "the first page of three")
    b.click("audit-more")
    b.wait(lambda d: rows(b, "audit-row", "data-seq") == [str(x) for x in seqs[:6]], "two pages of three")
    while b.is_visible("audit-more"):
        before = len(rows(b, "audit-row", "data-seq"))
        b.click("audit-more")
        b.wait(lambda d: len(rows(b, "audit-row", "data-seq")) > before or not b.is_visible("audit-more"), "another page")
    b.wait(lambda d: [int(x) for x in rows(b, "audit-row", "data-seq")][-1] == 1, "down to row 1")
    all_seqs = [int(x) for x in rows(b, "audit-row", "data-seq")]
    assert all_seqs == list(range(all_seqs[0], 0, -1)), all_seqs

    b.click("audit-verify")
    result = b.visible("verify-intact")
    assert b.present("verify-result").get_attribute("data-intact") == "true"
    assert re.search(r"\d+", result.text), result.text
    b.screenshot("admin-audit-verified-desktop-light")
    scenario.done.add("audit")


def new_reel(server, author: str, caption: str, moderation: str) -> str:
    """A ready reel as the pipeline leaves it (as Tests/e2e/reels_support.py's new_reel), with a
    media prefix so the queue gives it signed media links (no files behind them); its id."""
    reel = psql(server, "INSERT INTO reels.reels (author_id, visibility, state, moderation, original_path, caption) "
                        f"VALUES ('{author}', 'public', 'ready', '{moderation}', '{author}/{secrets.token_hex(8)}.mp4', '{caption}') "
                        "RETURNING id").splitlines()[0]
    psql(server, f"UPDATE reels.reels SET media_prefix = id::text || '/1' WHERE id = '{reel}'")
    return reel


def test_moderation_reviews_reels_and_blocks_a_hashtag(server, scenario):
    scenario.need("owner-in")
    b = scenario.owner
    owner, second = scenario.ids["owner"], scenario.ids["second"]
    held = new_reel(server, owner, f"held for review {RUN}", "pending")
    reported = new_reel(server, owner, f"reported clip {RUN}", "approved")
    psql(server, f"INSERT INTO reels.reports (reel_id, user_id, reason) VALUES ('{reported}', '{second}', 'spam')")
    # The test reels have no files: their posters and videos answer 404.
    b.expected_console += [r"reels/v1/media/", r"admin/v1/moderation/hashtags .*(400|409)", r"admin/v1/dashboard .*404"]

    # The dashboard counts the queues (when the server answers GET /dashboard).
    go_page(b, "dashboard")
    b.wait(lambda d: b.find_all("kill-switch"), "the dashboard loaded")
    overview = b.try_wait(lambda d: b.displayed("overview"), timeout=5)
    if overview:
        if b.present("overview").get_attribute("data-reels") == "true":
            assert int(b.present("overview-reels-pending").get_attribute("data-count")) >= 1
            assert int(b.present("overview-reels-reported").get_attribute("data-count")) >= 1
            b.visible("arbiter-state")
            assert b.present("overview-reels-reported-link").get_attribute("href").endswith("#/moderation?queue=reported")
        look(scenario, b, "dashboard-overview", reveal="overview-card")
    else:
        assert not b.find_all("overview-error")
        print("GET /admin/v1/dashboard not served by this binary: the overview is left out")

    go_page(b, "moderation")
    card = lambda reel: b.present("reel-card", data_reel_id=reel)  # noqa: E731
    b.wait(lambda d: b.find_all("reel-card", data_reel_id=held), "the held reel in the pending tab")
    assert b.present("queue-tab", data_queue="pending").get_attribute("aria-selected") == "true"
    poster = b.find_all("reel-poster", within=card(held))[0]
    assert poster.tag_name == "img" and "/reels/v1/media/" in poster.get_attribute("src"), poster.get_attribute("src")
    assert f"held for review {RUN}" in b.visible("reel-caption", within=card(held)).text
    assert not b.find_all("reel-card", data_reel_id=reported)
    look(scenario, b, "moderation", reveal="reel-list", walk=True)
    # The preview plays the MP4 in the card, from this origin.
    b.click("reel-preview", within=card(held))
    video = b.wait(lambda d: (b.find_all("reel-video", within=card(held)) or [None])[0], "the video in the card")
    assert video.get_attribute("controls") is not None and "/reels/v1/media/" in video.get_attribute("src")
    assert video.get_attribute("src").endswith("/video.mp4")
    b.wait(lambda d: b.find_all("reel-video-error", within=card(held)), "no file behind the test reel's video: said so")

    b.click("queue-tab", data_queue="reported")
    b.wait(lambda d: b.find_all("reel-card", data_reel_id=reported), "the reported reel in the reported tab")
    assert b.route() == "#/moderation?queue=reported"
    assert b.find_all("reel-reports", within=card(reported))[0].get_attribute("data-count") == "1"
    assert "spam" in b.visible("reel-report-reasons", within=card(reported)).text
    assert b.find_all("reel-poster", within=card(reported))
    look(scenario, b, "moderation-reported", reveal="reel-list")
    b.click("reel-reject", data_reel_id=reported)
    dialog = b.visible("reel-dialog")
    b.click("dialog-confirm", within=dialog)  # no reason: refused in the dialog
    b.visible("dialog-error")
    dialog_submit(b, f"spam confirmed {RUN}", testid="reel-dialog")
    b.wait(lambda d: not b.find_all("reel-card", data_reel_id=reported), "the rejected reel leaves the queue")
    assert "ok" in b.visible("moderation-result").get_attribute("class")

    b.click("queue-tab", data_queue="pending")
    b.click("reel-approve", data_reel_id=held)
    dialog_submit(b, f"looks fine {RUN}", testid="reel-dialog")
    b.wait(lambda d: not b.find_all("reel-card", data_reel_id=held), "the approved reel leaves the queue")
    assert psql(server, f"SELECT moderation FROM reels.reels WHERE id IN ('{held}', '{reported}') ORDER BY caption").split() == [
        "approved", "rejected"]
    audit = psql(server, "SELECT action || ' ' || target || ' ' || reason FROM admin.audit_log "
                         f"WHERE action LIKE 'admin.reel.%' AND target IN ('{held}', '{reported}') ORDER BY seq")
    assert audit.splitlines() == [f"admin.reel.reject {reported} spam confirmed {RUN}", f"admin.reel.approve {held} looks fine {RUN}"], audit

    # Hashtags: a bad tag (400), blocked, blocked again (409), unblocked with a reason.
    tag = f"e2eblock{RUN}"
    b.fill("hashtag-reason", f"coordinated spam {RUN}")
    b.click("hashtag-submit")  # no tag: refused before sending
    b.wait(lambda d: "bad" in b.visible("hashtag-result").get_attribute("class"), "a missing tag refused")
    assert b.present("hashtag-input").get_attribute("aria-invalid") == "true"
    b.fill("hashtag-input", "two words")
    b.click("hashtag-submit")  # not one tag: the server's 400, with the request id
    b.wait(lambda d: "id запроса adm-" in b.visible("hashtag-result").text, "the server's 400 shown")
    assert "bad" in b.present("hashtag-result").get_attribute("class")
    b.fill("hashtag-input", "#" + tag)
    b.click("hashtag-submit")
    b.wait(lambda d: "ok" in b.visible("hashtag-result").get_attribute("class"), "the hashtag blocked")
    b.visible("hashtag-row", data_tag=tag)
    b.fill("hashtag-input", tag)
    b.fill("hashtag-reason", "again")
    b.click("hashtag-submit")
    b.wait(lambda d: "уже заблокирован" in b.visible("hashtag-result").text, "admin_hashtag_blocked explained")
    assert "id запроса adm-" in b.visible("hashtag-result").text
    look(scenario, b, "moderation-hashtags", reveal="hashtags-card")
    b.click("hashtag-unblock", data_tag=tag)
    dialog_submit(b, f"campaign over {RUN}", testid="unblock-dialog")
    b.wait(lambda d: not b.find_all("hashtag-row", data_tag=tag), "the hashtag unblocked")
    assert psql(server, "SELECT string_agg(action, ' ' ORDER BY seq) FROM admin.audit_log "
                        f"WHERE target = '{tag}'") == "admin.hashtag.block admin.hashtag.unblock"
    b.click("queue-tab", data_queue="pending")
    b.wait(lambda d: b.find_all("reels-empty") or b.find_all("reel-card"), "the pending queue")
    look(scenario, b, "moderation-after", themes=("light",), sizes=(("phone", PHONE),))
    scenario.done.add("moderation")


def test_accounts_are_found_with_masked_numbers_suspended_and_lifted(server, scenario):
    scenario.need("owner-in")
    b = scenario.owner
    digits_only = THIRD.lstrip("+")
    third = psql(server, f"SELECT id FROM auth.users WHERE phone = '{digits_only}'") or \
        psql(server, f"INSERT INTO auth.users (phone, phone_confirmed_at) VALUES ('{digits_only}', now()) RETURNING id").splitlines()[0]
    b.expected_console += [r"admin/v1/users\?.*404"]
    go_page(b, "accounts")
    b.visible("account-none")
    # Not a number or an id: refused before sending; a number nobody has: not found.
    b.fill("account-query", "hello")
    b.click("account-submit")
    b.wait(lambda d: "bad" in b.visible("account-lookup-result").get_attribute("class"), "a bad query refused")
    b.fill("account-query", "+15555550399")
    b.click("account-submit")
    b.visible("account-not-found")
    b.fill("account-query", THIRD)
    b.click("account-submit")
    shown = b.wait(lambda d: (b.displayed("account") or [None])[0], "the account")
    assert shown.get_attribute("data-user-id") == third
    phone = b.visible("account-phone").text
    assert phone == "+1********77", phone
    assert b.present("account-query").get_attribute("value") == "", "the number typed stays in the field"
    assert b.visible("account-state").text and shown.get_attribute("data-suspended") == "false"
    assert digits_only not in b.driver.page_source and digits_only[-8:] not in b.driver.page_source, "the whole number is in the page"
    look(scenario, b, "accounts", reveal="account-card", walk=True)

    b.click("account-suspend")
    dialog = b.visible("suspend-dialog")
    b.fill("suspend-hours", "9000", within=dialog)
    b.fill("reason-input", f"abuse report {RUN}", within=dialog)
    b.click("dialog-confirm", within=dialog)
    b.visible("dialog-error")  # more than 8760 hours: refused in the dialog
    assert b.visible("suspend-hours").get_attribute("aria-invalid") == "true"
    b.fill("suspend-hours", "48", within=dialog)
    dialog_submit(b, None, testid="suspend-dialog")
    b.wait(lambda d: (b.displayed("account") or [None])[0] and b.present("account").get_attribute("data-suspended") == "true", "suspended")
    b.visible("account-suspended-until")
    until = psql(server, f"SELECT round(extract(epoch FROM banned_until - now()) / 3600) FROM auth.users WHERE id = '{third}'")
    assert until in ("47", "48"), until
    b.wait(lambda d: d.switch_to.active_element == b.present("account-lift"), "focus on Lift")
    look(scenario, b, "accounts-suspended", reveal="account-card")
    b.click("account-lift")
    dialog_submit(b, f"appeal accepted {RUN}", testid="lift-dialog")
    b.wait(lambda d: (b.displayed("account") or [None])[0] and b.present("account").get_attribute("data-suspended") == "false", "lifted")
    assert digits_only not in b.driver.page_source
    audit = psql(server, "SELECT string_agg(action, ' ' ORDER BY seq) FROM admin.audit_log "
                         f"WHERE target = '{third}' AND action LIKE 'admin.users.%'")
    assert audit == "admin.users.lookup admin.users.suspend admin.users.lookup admin.users.unsuspend admin.users.lookup", audit
    scenario.done.add("accounts")


def test_reports_page_removes_a_message_and_warns_a_profile_owner(server, scenario):
    scenario.need("owner-in")
    b, second = scenario.owner, scenario.second
    owner_id, second_id = scenario.ids["owner"], scenario.ids["second"]
    dm = browser_rpc(second, "get_or_create_dm", {"target_user_id": owner_id})["body"]
    sent = browser_rpc(second, "send_message_v1", {"conversation_id": dm, "client_msg_id": f"00000000-0000-4000-8000-{int(RUN, 16):012d}",
                                           "body": f"cheap pills {RUN}"})
    assert sent["status"] == 200, sent
    message = sent["body"]["message_id"]
    for name, args in (("report_message", {"message_id": message, "reason": "spam", "details": f"ads again {RUN}"}),
                       ("report_profile", {"user_id": second_id, "reason": "impersonation"})):
        answer = browser_rpc(b, name, args)
        assert answer == {"status": 200, "body": {"reported": True}}, answer

    go_page(b, "reports")
    item = lambda id: b.present("report-item", data_id=id)  # noqa: E731
    b.wait(lambda d: b.find_all("report-item", data_id=message), "the reported message")
    assert b.visible("report-content", within=item(message)).text == f"cheap pills {RUN}"
    assert f"ads again {RUN}" in item(message).text and "Спам" in item(message).text
    b.wait(lambda d: b.find_all("report-item", data_id=second_id), "the reported profile")
    assert "Выдаёт себя за другого" in item(second_id).text
    for reported in (message, second_id):
        assert owner_id not in item(reported).get_attribute("outerHTML"), "the reporter is named in the queue"
    look(scenario, b, "reports", reveal="reports-messages", walk=True)

    b.click("report-remove", within=item(message))
    dialog = b.visible("report-dialog")
    b.click("dialog-confirm", within=dialog)  # no reason: refused in the dialog
    b.visible("dialog-error")
    dialog_submit(b, f"spam links {RUN}", testid="report-dialog")
    b.wait(lambda d: not b.find_all("report-item", data_id=message), "the removed message leaves the list")
    assert "ok" in b.visible("reports-result").get_attribute("class")
    assert psql(server, f"SELECT deleted_at IS NOT NULL AND body = '' FROM public.messages WHERE id = '{message}'") == "t"
    b.click("report-warn", within=item(second_id))
    dialog_submit(b, f"do not pretend to be support {RUN}", testid="report-dialog")
    b.wait(lambda d: not b.find_all("report-item", data_id=second_id), "the warned profile leaves the list")
    b.visible("reports-empty")
    audit = psql(server, "SELECT string_agg(action || ' ' || reason, ' | ' ORDER BY seq) FROM admin.audit_log "
                         f"WHERE target IN ('{message}', '{second_id}') AND action LIKE 'admin.%.%' AND outcome = 'allowed' "
                         "AND action IN ('admin.message.remove', 'admin.profile.warn')")
    assert audit == f"admin.message.remove spam links {RUN} | admin.profile.warn do not pretend to be support {RUN}", audit

    # The warned user sees the warning once in the app and it is marked seen.
    second.open(server.url)
    warning = second.visible("warnings-dialog")
    assert f"do not pretend to be support {RUN}" in warning.text
    second.screenshot("app-warnings-desktop")
    second.click("warnings-ack")
    second.gone("warnings-dialog")
    second.wait(lambda d: psql(server, f"SELECT count(*) FROM admin.warnings WHERE user_id = '{second_id}' AND seen_at IS NULL") == "0",
                "the warning marked seen")
    scenario.done.add("reports")


def test_the_console_speaks_english_when_asked(server, scenario):
    scenario.need("owner-in")
    b = scenario.owner
    b.click("lang-switch")
    b.wait(lambda d: b.root_attr("lang") == "en", "<html lang=en>")
    try:
        for page in PAGES:
            go_page(b, page)
            b.wait(lambda d: not b.find_all("loading"), f"the {page} page loaded")
            left = b.visible_cyrillic(exclude=["Русский", "на русский"])
            assert not left, f"{page}: untranslated {left}"
        # Read inside a wait: the navigation may be drawn again between finding it and reading it.
        assert b.wait(lambda d: b.visible("nav-dashboard").text, "the dashboard link's text") == "Dashboard"
        go_page(b, "dashboard")
        b.screenshot("admin-dashboard-en-desktop-light")
        b.set_viewport(PHONE)
        b.screenshot("admin-dashboard-en-phone-light")
    finally:
        # Back to Russian even after a failure: the next tests share this browser and read Russian.
        b.set_viewport(DESKTOP)
        if b.root_attr("lang") != "ru":
            b.click("lang-switch")
            b.wait(lambda d: b.root_attr("lang") == "ru", "<html lang=ru>")
    b.visible("console")


def qr_reference(text: str, mask: int):
    """python-qrcode's modules of `text` (byte mode, level M) with `mask`: (version, rows of 0/1)."""
    qrcode = pytest.importorskip("qrcode")
    import qrcode.util
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, mask_pattern=mask, border=0)
    code.add_data(qrcode.util.QRData(text.encode(), mode=qrcode.util.MODE_8BIT_BYTE))
    code.make(fit=True)
    return code.version, [[1 if m else 0 for m in row] for row in code.modules]


def penalty(m: list[list[int]]) -> int:
    """ISO/IEC 18004's mask penalty (N1 runs, N2 blocks, N3 finder-like with the quiet zone as
    light, N4 balance), written here independently of the console's encoder."""
    n, score = len(m), 0
    for horizontal in (True, False):
        for line in range(n):
            cells = [m[line][i] if horizontal else m[i][line] for i in range(n)]
            run = 1
            for i in range(1, n + 1):
                if i < n and cells[i] == cells[i - 1]:
                    run += 1
                else:
                    score += run - 2 if run >= 5 else 0
                    run = 1
            for i in range(n - 6):
                if cells[i:i + 7] == [1, 0, 1, 1, 1, 0, 1] and (not any(cells[max(i - 4, 0):i]) or not any(cells[i + 7:i + 11])):
                    score += 40
    score += 3 * sum(1 for y in range(n - 1) for x in range(n - 1) if m[y][x] == m[y][x + 1] == m[y + 1][x] == m[y + 1][x + 1])
    dark = sum(map(sum, m))
    return score + abs(dark * 2 - n * n) * 10 // (n * n) * 10


def svg_modules(path: str, size: int, border: int = 4) -> list[list[int]]:
    """The module matrix an SVG path of `M x y h w v1 h-w z` runs draws."""
    matrix = [[0] * size for _ in range(size)]
    for x, y, w in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", path):
        for dx in range(int(w)):
            matrix[int(y) - border][int(x) - border + dx] = 1
    return matrix


def test_a_new_admin_enrols_with_a_qr_code_and_signs_in(server, scenario):
    scenario.need("admins")
    b = scenario.second
    b.open(server.url, "admin/")
    b.expected_console += [r"admin/v1/session .*403", r"admin/v1/\S+ .*401"]  # not enrolled; the ended session
    b.fill("admin-code", "123456")
    b.click("admin-code-submit")
    b.wait(lambda d: b.visible("signin-error").get_attribute("data-code") == "admin_not_enrolled", "admin_not_enrolled")
    b.click("start-enrol")
    qr = b.visible("enrol-qr")
    secret = b.visible("enrol-secret").get_attribute("data-secret")
    link = b.visible("otpauth-link").get_attribute("href")
    assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret
    assert link.startswith("otpauth://totp/") and f"secret={secret}" in link, link
    assert len(b.find_all("recovery-code")) == 10
    assert not b.visible("enrol-continue").is_enabled()

    # The code on screen, read back from its SVG, is python-qrcode's matrix for the link.
    version, mask, size = (int(qr.get_attribute(a)) for a in ("data-version", "data-mask", "data-size"))
    shown = svg_modules(b.driver.execute_script("return arguments[0].querySelector('path').getAttribute('d')", qr), size)
    ref_version, reference = qr_reference(link, mask)
    assert (version, size) == (ref_version, len(reference))
    assert shown == reference, "the QR code on screen differs from python-qrcode's for the same link and mask"
    # Every mask of the encoder, and its choice: the lowest penalty.
    forced = b.driver.execute_async_script("""
        const [text, done] = [arguments[0], arguments[arguments.length - 1]];
        import('/admin/qr.js').then(m => done([0, 1, 2, 3, 4, 5, 6, 7].map(mask =>
          m.encodeQR(text, { mask }).modules.map(r => r.map(x => x ? 1 : 0))))).catch(e => done(String(e)));""", link)
    assert isinstance(forced, list), forced
    references = [qr_reference(link, k)[1] for k in range(8)]
    assert forced == references, [k for k in range(8) if forced[k] != references[k]]
    scores = [penalty(m) for m in references]
    assert mask == scores.index(min(scores)), (mask, scores)
    for text in ("A", "x" * 106, "y" * 213, "ссылка"):
        checked = b.driver.execute_async_script("""
            const [text, done] = [arguments[0], arguments[arguments.length - 1]];
            import('/admin/qr.js').then(m => { const q = m.encodeQR(text, { mask: 3 }); done([q.version, q.modules.map(r => r.map(x => x ? 1 : 0))]); });""", text)
        assert checked == list(qr_reference(text, 3)), f"{len(text.encode())} bytes"

    look(scenario, b, "enrol", reveal="enrol-qr", walk=True)
    look(scenario, b, "enrol-codes", themes=("light",), reveal="enrol-continue")
    b.click("saved-confirm")
    b.click("enrol-continue")
    b.visible("signin-notice")
    b.fill("admin-code", fresh_code(secret))
    b.click("admin-code-submit")
    b.visible("console")
    b.wait(lambda d: rows(b, "who-role", "data-role") == ["support"], "the support role")
    b.wait(lambda d: len(b.find_all("kill-switch-toggle")) == 6, "the switches")
    assert all(not el.is_enabled() for el in b.find_all("kill-switch-toggle"))
    b.visible("scope-note")
    assert not b.find_all("nav-admins") and not b.find_all("nav-audit")
    assert psql(server, f"SELECT totp_confirmed_at IS NOT NULL FROM admin.admin_users WHERE user_id = '{scenario.ids['second']}'") == "t"
    look(scenario, b, "support-dashboard", themes=("dark",))

    scenario.done.add("enrolled")


def test_another_owner_approves_a_jit_request_and_the_requester_executes_it(server, scenario):
    scenario.need("enrolled", "jit")
    owner, second = scenario.owner, scenario.second
    psql(server, f"INSERT INTO admin.role_grants (user_id, role, kind, reason) VALUES ('{scenario.ids['second']}', 'owner', 'standing', 'second owner for approvals')")
    go_page(owner, "jit")
    owner.select("jit-role", "security_admin")
    owner.fill("jit-minutes", "30")
    owner.fill("jit-reason", f"incident review {RUN}")
    owner.click("jit-submit")
    owner.wait(lambda d: "ждёт одобрения" in owner.visible("jit-form-result").text, "the JIT request awaits approval")
    owner.visible("jit-request")

    go_page(second, "requests")
    second.wait(lambda d: "owner" in rows(second, "who-role", "data-role"), "the second admin is an owner now")
    pending = lambda: [r for r in second.find_all("request-row") if r.get_attribute("data-status") == "pending"  # noqa: E731
                       and second.find_all("request-approve", within=r)]
    second.wait(lambda d: pending(), "a pending request the second owner can approve")
    row = pending()[0]
    request_id = row.get_attribute("data-request-id")
    # The request about the second admin themself offers no decision to them.
    about_me = [r for r in second.find_all("request-row") if r.get_attribute("data-request-id") != request_id and r.get_attribute("data-status") == "pending"]
    assert about_me and not second.find_all("request-approve", within=about_me[0])
    look(scenario, second, "requests-approver", themes=("light",))
    second.click("request-approve", data_request_id=request_id)
    dialog_submit(second, f"approved for the incident {RUN}", testid="decide-dialog")
    second.wait(lambda d: second.present("request-row", data_request_id=request_id).get_attribute("data-status") == "approved", "approved")
    second.visible("request-decision", within=second.present("request-row", data_request_id=request_id))

    go_page(owner, "requests")
    owner.click("request-execute", data_request_id=request_id)
    dialog_submit(owner, None, testid="execute-dialog")
    owner.wait(lambda d: owner.present("request-row", data_request_id=request_id).get_attribute("data-status") == "consumed", "executed")
    owner.wait(lambda d: "security_admin" in rows(owner, "who-role", "data-role"), "the JIT role in the header")
    # The grant's id comes from the executed request: it can be revoked early.
    go_page(owner, "jit")
    revoke = owner.visible("jit-revoke", data_role="security_admin")
    assert revoke.is_enabled()
    owner.click("jit-revoke", data_role="security_admin")
    dialog_submit(owner, f"incident closed {RUN}", testid="revoke-dialog")
    owner.visible("jit-grants-empty")
    scenario.done.add("approvals")


def test_a_session_ended_on_the_server_returns_to_the_code_step(server, scenario):
    scenario.need("enrolled")
    b = scenario.second
    psql(server, f"UPDATE admin.sessions SET ended_at = now() WHERE user_id = '{scenario.ids['second']}' AND ended_at IS NULL")
    b.click("nav-dashboard")
    b.visible("signin-form")
    assert "закончился" in b.visible("signin-notice").text
    look(scenario, b, "signin-session-ended", themes=("dark",), sizes=(("phone", PHONE),))
    assert b.driver.execute_script(f"return sessionStorage.getItem('{TOKEN_KEY}')") is None


def test_the_owner_signs_out_and_the_token_is_refused(server, scenario):
    scenario.need("owner-in")
    b = scenario.owner
    b.click("sign-out")
    b.visible("signin-form")
    b.visible("signin-notice")
    assert b.driver.execute_script(f"return sessionStorage.getItem('{TOKEN_KEY}')") is None
    access = b.driver.execute_script(
        "const a = JSON.parse(localStorage.getItem('eco:v1:accounts')); return a[arguments[0]].session.access_token", scenario.ids["owner"])
    response = httpx.get(f"{server.url}/admin/v1/me", headers={
        "apikey": server.anon_key, "Authorization": f"Bearer {access}", "X-Admin-Session": scenario.owner_token})
    assert response.status_code == 401 and response.json()["code"] == "admin_session_invalid", response.text
    look(scenario, b, "signin-after-sign-out", themes=("light",), sizes=(("phone", PHONE),))


def test_no_layout_or_accessibility_problems_were_seen(scenario):
    """Fails with every problem the screenshots and axe runs above recorded."""
    assert not scenario.problems, "\n".join(scenario.problems)
