"""Saved reels and editing one's own reel in the web app (issue 15, item 5), headless Chromium
against the real server:

- «Сохранённое» (#/reels/saved, from the reels bar): the empty state; Bob's saved reels newest
  save first, twelve per page and «Показать ещё» for the rest, a reel he may no longer see
  left out; a tile opens the reel, whose back link leads to the list again; unsaving it there
  takes it off the list; the error state (the RPC blocked in the browser) and its retry;
- «Мои рилсы» → «Изменить»: a caption over 2200 characters is refused by the server and the
  rule is shown under the caption field (aria-invalid, focus on the field); a valid caption
  and «Только подписчики» are saved and the row says so; Escape closes the form;
- axe-core on both screens (when axe_selenium_python is installed), and no sideways scrolling
  at 390 px; screenshots at 390×844 and 1280×800 in Tests/e2e/web/.screenshots
  (reels-saved-*.png, reels-edit-*.png).

Reels are inserted with psql as the database owner (ready and approved, without media: the
upload pipeline has its own suites); Bob's saves too, one second apart. Numbers
+15555550365…367. The tests run in file order and share state (run with -x).
"""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass, field

import pytest
from selenium.webdriver.common.keys import Keys

from web_support import Browser, Steps, database_url, screenshots_dir

ALICE = ("+15555550365", "365365")
BOB = ("+15555550366", "366366")
RUN = secrets.token_hex(3)
DESKTOP = (1280, 800)
PHONE = (390, 844)
SAVED = 14  # more than one page of 12
CAPTIONS = ["Сохранённый", "Новая подпись", "Скрытый"]  # what the tests wrote, in any language


@dataclass
class Scenario(Steps):
    browsers: dict[str, Browser] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)
    users: dict[str, str] = field(default_factory=dict)
    saved: list[str] = field(default_factory=list)  # newest save first
    hidden: str | None = None


def psql(server, sql: str) -> str:
    result = subprocess.run(["psql", database_url(server), "-v", "ON_ERROR_STOP=1", "-At", "-c", sql],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def shot(b: Browser, name: str) -> None:
    b.screenshot_to(screenshots_dir(), f"reels-{name}")


def in_both_sizes(b: Browser, name: str, testids: list[str], show: str | None = None) -> None:
    """Screenshots at 390 px (no sideways scrolling, `testids` inside the screen) and desktop,
    with the element `show` scrolled to the middle of the screen."""
    def reveal() -> None:
        if show:
            b.driver.execute_script(
                "document.querySelector(arguments[0]).scrollIntoView({block: 'center'})", f'[data-testid="{show}"]')
        b.wait_frames()
    b.set_viewport(PHONE)
    reveal()
    assert b.horizontal_overflow() <= 0, f"{name} scrolls sideways at 390 px"
    cut = b.out_of_viewport(testids)
    assert not cut, f"{name}: {cut} stick out of the 390 px screen"
    shot(b, f"{name}-phone")
    b.set_viewport(DESKTOP)
    reveal()
    shot(b, f"{name}-desktop")


def axe_serious(b: Browser) -> list[str]:
    try:
        import axe_selenium_python  # noqa: F401
    except ImportError:
        return []
    from test_accessibility import run_axe
    return [f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:4]}"
            for v in run_axe(b).get("violations", []) if v.get("impact") in ("serious", "critical")]


def tile_ids(b: Browser) -> list[str]:
    return [el.get_attribute("data-id") for el in b.find_all("reel-saved-item")]


@pytest.fixture(scope="module")
def scenario(server, browser_factory):
    s = Scenario()
    s.browsers["alice"] = browser_factory("saved-alice")
    s.browsers["bob"] = browser_factory("saved-bob")
    yield s


def test_sign_in_and_the_empty_saved_list(server, scenario):
    a, bob = scenario.browsers["alice"], scenario.browsers["bob"]
    for b, (phone, code), name in ((a, ALICE, "alice"), (bob, BOB, "bob")):
        b.open(server.url)
        b.sign_in(phone, code, f"saved_{name}_{RUN}", name.capitalize())
        scenario.users[name] = psql(server, f"SELECT id FROM auth.users WHERE phone = '{phone.lstrip('+')}'")
    bob.go("#/reels")
    bob.click("reels-saved-link")
    bob.wait(lambda d: bob.route() == "#/reels/saved", "the saved route from the reels bar")
    empty = bob.visible("empty-state")
    assert "ничего не сохранили" in empty.text, empty.text
    assert not bob.is_visible("reel-saved-more")
    in_both_sizes(bob, "saved-empty", ["reels-back"])
    scenario.done.add("signed-in")


def test_saved_reels_page_newest_save_first_and_skip_the_unseen(server, scenario):
    scenario.need("signed-in")
    alice = scenario.users["alice"]
    bob = scenario.users["bob"]
    made = []
    for n in range(SAVED):
        made.append(psql(server, "INSERT INTO reels.reels (author_id, visibility, state, moderation, original_path, caption) "
                                 f"VALUES ('{alice}', 'public', 'ready', 'approved', '{alice}/{RUN}-{n}.mp4', "
                                 f"'Сохранённый {n} #saved_{RUN}') RETURNING id").splitlines()[0])
    scenario.hidden = psql(server, "INSERT INTO reels.reels (author_id, visibility, state, moderation, original_path, caption) "
                                   f"VALUES ('{alice}', 'public', 'ready', 'approved', '{alice}/{RUN}-hidden.mp4', "
                                   f"'Скрытый {RUN}') RETURNING id").splitlines()[0]
    # Saved one second apart in this order; the hidden one last (it would be the newest).
    values = ", ".join(f"('{reel}', '{bob}', now() - interval '{SAVED + 1 - i} seconds')"
                       for i, reel in enumerate(made + [scenario.hidden]))
    psql(server, f"INSERT INTO reels.saves (reel_id, user_id, created_at) VALUES {values}")
    psql(server, f"UPDATE reels.reels SET visibility = 'private' WHERE id = '{scenario.hidden}'")
    scenario.saved = list(reversed(made))

    b = scenario.browsers["bob"]
    b.go("#/chats")
    b.go("#/reels/saved")
    b.wait(lambda d: len(tile_ids(b)) == 12, "the first page of 12 saved reels")
    assert tile_ids(b) == scenario.saved[:12]
    more = b.visible("reel-saved-more")
    assert more.text == "Показать ещё"
    first = b.find_all("reel-saved-open")[0]
    label = first.get_attribute("aria-label")
    assert "Alice" in label and f"Сохранённый {SAVED - 1}" in label, label
    in_both_sizes(b, "saved-list", ["reels-back", "reel-saved-open"])
    # Three tiles a row on the phone.
    b.set_viewport(PHONE)
    lefts = b.driver.execute_script(
        "return [...document.querySelectorAll('[data-testid=reel-saved-item]')].slice(0, 4).map(e => Math.round(e.getBoundingClientRect().top))")
    assert lefts[0] == lefts[1] == lefts[2] and lefts[3] > lefts[0], lefts
    b.set_viewport(DESKTOP)
    b.click("reel-saved-more")
    b.wait(lambda d: len(tile_ids(b)) == SAVED, "the second page")
    assert tile_ids(b) == scenario.saved
    assert scenario.hidden not in tile_ids(b)
    b.gone("reel-saved-more")
    scenario.done.add("saved")


def test_a_tile_opens_the_reel_and_back_leads_to_the_list(server, scenario):
    scenario.need("saved")
    b = scenario.browsers["bob"]
    target = scenario.saved[0]
    b.click("reel-saved-open", within=b.present("reel-saved-item", data_id=target))
    b.wait(lambda d: b.route() == f"#/reels/{target}", "the reel's route")
    reel = b.present("reel", data_id=target)
    assert reel.is_displayed()
    back = b.visible("reels-back")
    assert back.get_attribute("href").endswith("#/reels/saved") and "К сохранённому" in back.text, back.get_attribute("outerHTML")
    save = b.visible("reel-save", within=reel)
    assert save.get_attribute("aria-pressed") == "true"
    in_both_sizes(b, "saved-opened", ["reels-back", "reels-saved-link", "reels-mine-link", "reels-new-link", "reel-save"])
    # Unsaving here takes it off the list.
    b.click("reel-save", within=reel)
    b.wait(lambda d: save.get_attribute("aria-pressed") == "false", "the reel unsaved")
    b.wait(lambda d: psql(server, f"SELECT count(*) FROM reels.saves WHERE reel_id = '{target}'") == "0", "the save removed")
    b.click("reels-back")
    b.wait(lambda d: b.route() == "#/reels/saved", "back on the saved list")
    b.wait(lambda d: len(tile_ids(b)) == 12 and tile_ids(b)[0] == scenario.saved[1], "the list without the unsaved reel")


def test_error_state_and_retry(server, scenario):
    scenario.need("saved")
    b = scenario.browsers["bob"]
    b.go("#/chats")
    b.driver.execute_cdp_cmd("Network.enable", {})
    b.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*rpc/get_saved_reels*"]})
    b.expected_console += [r"rpc/get_saved_reels", r"ERR_BLOCKED_BY_CLIENT"]
    try:
        b.go("#/reels/saved")
        error = b.visible("error-state")
        assert error.text.strip(), "an empty error state"
        shot(b, "saved-error-desktop")
    finally:
        b.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
    b.click("retry")
    b.wait(lambda d: len(tile_ids(b)) == 12, "the list after retrying")
    assert not b.is_visible("error-state")


def test_edit_caption_shows_the_servers_rule_then_saves(server, scenario):
    scenario.need("saved")
    a = scenario.browsers["alice"]
    a.go("#/chats")
    a.go("#/reels/mine")
    a.wait(lambda d: len(a.find_all("reel-mine-item")) >= 12, "Alice's reels")
    reel = scenario.saved[2]
    row = a.present("reel-mine-item", data_id=reel)
    a.click("reel-mine-edit", within=row)
    form = a.visible("reel-edit-form")
    caption = a.visible("reel-edit-caption", within=form)
    assert a.driver.switch_to.active_element == caption, "the caption field has the focus"
    assert caption.get_attribute("value").startswith("Сохранённый")
    # Over the limit: the browser lets it through, the server refuses it, the rule shows under the field.
    a.expected_console.append(r"rpc/update_reel")
    a.driver.execute_script(
        "arguments[0].value = 'я'.repeat(2201); arguments[0].dispatchEvent(new Event('input', {bubbles: true}))", caption)
    assert "2201 из 2200" in a.visible("reel-edit-counter", within=form).text
    a.click("reel-edit-save", within=form)
    error = a.visible("reel-edit-caption-error", within=form)
    assert error.text == "Подпись длиннее 2200 символов — сократите её.", error.text
    assert caption.get_attribute("aria-invalid") == "true"
    assert error.get_attribute("id") in caption.get_attribute("aria-describedby")
    a.wait(lambda d: d.switch_to.active_element == caption, "the focus back on the caption")
    assert psql(server, f"SELECT caption FROM reels.reels WHERE id = '{reel}'").startswith("Сохранённый")
    in_both_sizes(a, "edit-error", ["reel-edit-caption", "reel-edit-save", "reel-edit-visibility"], show="reel-edit-caption-error")
    found = axe_serious(a)

    a.fill("reel-edit-caption", f"Новая подпись #edited_{RUN}", within=form)
    a.select("reel-edit-visibility", "followers")
    a.click("reel-edit-save", within=form)
    a.gone("reel-edit-form")
    row = a.present("reel-mine-item", data_id=reel)
    a.wait(lambda d: "Новая подпись" in row.text and "Опубликован для подписчиков" in row.text, "the row with the change")
    assert psql(server, f"SELECT caption, visibility, hashtags FROM reels.reels WHERE id = '{reel}'") == \
        f"Новая подпись #edited_{RUN}|followers|{{edited_{RUN}}}"
    a.wait(lambda d: d.switch_to.active_element.get_attribute("data-testid") == "reel-mine-edit", "the focus back on «Изменить»")

    # Escape closes the form without saving.
    a.click("reel-mine-edit", within=a.present("reel-mine-item", data_id=reel))
    caption = a.visible("reel-edit-caption")
    caption.send_keys(" и ещё")
    caption.send_keys(Keys.ESCAPE)
    a.gone("reel-edit-form")
    assert psql(server, f"SELECT caption FROM reels.reels WHERE id = '{reel}'") == f"Новая подпись #edited_{RUN}"

    b = scenario.browsers["bob"]
    b.go("#/chats")
    b.go("#/reels/saved")
    b.wait(lambda d: len(tile_ids(b)) == 12, "Bob's saved list")
    found += axe_serious(b)
    assert not found, "\n".join(found)


def test_english(scenario):
    """In English no Russian is left on «Saved» and the edit form (but the captions)."""
    scenario.need("saved")
    b, a = scenario.browsers["bob"], scenario.browsers["alice"]
    for user in (a, b):
        user.go("#/settings")
        user.select("language-select", "en")
        user.wait(lambda d, user=user: user.root_attr("lang") == "en", "the page in English")
    try:
        b.go("#/reels/saved")
        b.wait(lambda d: len(tile_ids(b)) >= 1, "the saved list")
        # (a toast shown in Russian before the switch may still be fading out)
        b.wait(lambda d: not b.visible_cyrillic(exclude=CAPTIONS), "no Russian left on «Saved»")
        a.go("#/reels/mine")
        a.click("reel-mine-edit", within=a.present("reel-mine-item", data_id=scenario.saved[3]))
        a.visible("reel-edit-form")
        a.wait(lambda d: not a.visible_cyrillic(exclude=CAPTIONS), f"no Russian left on «My reels»: {a.visible_cyrillic(exclude=CAPTIONS)}")
        shot(a, "edit-en-desktop")
    finally:
        for user in (a, b):
            user.go("#/settings")
            user.select("language-select", "ru")
            user.wait(lambda d, user=user: user.root_attr("lang") == "ru", "the page in Russian again")
