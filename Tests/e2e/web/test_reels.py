"""The Reels tab (issue 15, item 5) in headless Chromium against the real server (upload,
pipeline, feed and interactions RPCs):

- the empty states: a hashtag nobody used, and «Мои рилсы» of someone with no reels;
- Alice uploads two 4-second clips made by ffmpeg through #/reels/new (file picker, caption
  with a hashtag, visibility), sees the upload and processing progress until «Опубликован»
  (at least one report coming by the realtime `reel_progress` broadcast),
  and «Мои рилсы» lists them in words; a 95-second clip is refused in the browser with the
  trim hint (its duration read from the file);
- Bob opens the feed: the first reel's <video> plays (currentTime advances, muted), the next
  reel's video is preloaded (preload=auto, a source, readyState ≥ 1); the sound toggle;
- Bob likes the reel and comments on it (and replies to the comment); after a reload the like
  and both comments come back from the server; he shares the reel into his DM with Alice as a
  link message;
- keyboard: every action of a reel and the upload form's fields are reached with Tab;
- axe-core (as test_accessibility runs it) on the feed, comments, upload and «Мои рилсы»;
- «Не интересно» and a report take reels off the hashtag's page;
- screenshots at 390×844 and 1280×800 (light and dark) in Tests/e2e/web/.screenshots, with no
  sideways scrolling on the phone.

The tests run in file order and share state (run with -x).
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from web_support import Browser, Steps, screenshots_dir, tid

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg to make the clips")

ALICE = ("+15555550340", "340340")
BOB = ("+15555550341", "341341")
RUN = secrets.token_hex(3)
TAG = f"reel_{RUN}"
DESKTOP = (1280, 800)
PHONE = (390, 844)


@dataclass
class Scenario(Steps):
    browsers: dict[str, Browser] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)
    clips: dict[str, Path] = field(default_factory=dict)
    reel_ids: list[str] = field(default_factory=list)
    first: str | None = None


def make_clip(directory: Path, name: str, seconds: int, size: str = "360x640", rate: int = 30) -> Path:
    path = directory / name
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
                    "-f", "lavfi", "-i", f"testsrc=size={size}:rate={rate}", "-f", "lavfi", "-i", "sine",
                    "-t", str(seconds), "-pix_fmt", "yuv420p", str(path)], check=True, timeout=120)
    return path


@pytest.fixture(scope="module")
def scenario(server, browser_factory):
    s = Scenario()
    with tempfile.TemporaryDirectory(prefix="reels-web-") as tmp:
        directory = Path(tmp)
        s.clips["one"] = make_clip(directory, "first.mp4", 4)
        s.clips["two"] = make_clip(directory, "second.mp4", 4)
        s.clips["long"] = make_clip(directory, "long.mp4", 95, size="64x112", rate=5)
        s.browsers["alice"] = browser_factory("reels-alice")
        s.browsers["bob"] = browser_factory("reels-bob")
        yield s


def wait_long(b: Browser, condition, description: str, seconds: float) -> object:
    """b.wait in 15-second slices up to `seconds` (processing a clip takes a while)."""
    deadline = time.monotonic() + seconds
    while True:
        result = b.try_wait(condition, timeout=min(15.0, max(1.0, deadline - time.monotonic())))
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"[{b.name}] timed out after {seconds:.0f}s waiting for: {description} (at {b.safe_url()})")


def shot(b: Browser, name: str) -> None:
    b.screenshot_to(screenshots_dir(), f"reels-{name}")


def in_both_sizes(b: Browser, name: str, check_overflow: bool = True) -> None:
    b.set_viewport(PHONE)
    if check_overflow:
        assert b.horizontal_overflow() <= 0, f"{name} scrolls sideways at 390 px"
        cut = b.out_of_viewport(["reels-back", "reels-mine-link", "reels-new-link", "reel-like", "reel-more", "reel-sound",
                                 "reel-caption", "reel-submit", "reel-mine-delete"])
        assert not cut, f"{name}: {cut} stick out of the 390 px screen"
    shot(b, f"{name}-phone")
    b.set_viewport(DESKTOP)
    shot(b, f"{name}-desktop")


def video_state(b: Browser, index: int) -> dict:
    return b.driver.execute_script("""
        const v = document.querySelectorAll('[data-testid="reel"] [data-testid="reel-video"]')[arguments[0]];
        if (!v) return null;
        return {t: v.currentTime, paused: v.paused, muted: v.muted, ready: v.readyState, preload: v.preload,
                src: v.currentSrc || v.getAttribute('src') || '', source: v.closest('[data-testid="reel"]').dataset.source || ''};""", index)


def tab_reaches(b: Browser, targets: set[str], start_testid: str, presses: int = 40) -> set[str]:
    """Focuses `start_testid`, then presses Tab up to `presses` times; returns the test ids of
    `targets` that received focus."""
    b.driver.execute_script("document.querySelector(arguments[0]).focus()", tid(start_testid))
    reached = set()
    for _ in range(presses):
        ActionChains(b.driver).send_keys(Keys.TAB).perform()  # (send_keys on a file input would pick a file)
        testid = b.driver.execute_script("return document.activeElement && document.activeElement.dataset.testid")
        if testid in targets:
            reached.add(testid)
        if reached == targets:
            break
    return reached


def test_empty_states(server, scenario):
    a, bob = scenario.browsers["alice"], scenario.browsers["bob"]
    for b, (phone, code), name in ((a, ALICE, "alice"), (bob, BOB, "bob")):
        b.open(server.url)
        b.sign_in(phone, code, f"reels_{name}_{RUN}", name.capitalize())
    bob.click("nav-reels")
    bob.wait(lambda d: bob.route() == "#/reels", "the reels route from the navigation")
    # A fresh server has no reels: the feed's empty state offers the upload.
    bob.wait(lambda d: bob.present("reels-feed").get_attribute("aria-busy") == "false", "the feed loaded")
    if bob.is_visible("reels-empty-upload"):
        in_both_sizes(bob, "feed-empty")
    bob.go(f"#/reels/tag/nothing_{RUN}")
    empty = bob.visible("empty-state")
    assert f"#nothing_{RUN}" in empty.text, empty.text
    in_both_sizes(bob, "tag-empty")
    bob.go("#/reels/mine")
    empty = bob.visible("empty-state")
    assert "нет рилсов" in empty.text, empty.text
    scenario.done.add("signed-in")


def test_trim_hint_for_a_long_video(scenario):
    scenario.need("signed-in")
    a = scenario.browsers["alice"]
    a.go("#/reels/new")
    a.visible("reel-upload-form")
    a.present("reel-file").send_keys(str(scenario.clips["long"]))
    info = a.wait(lambda d: (el := d.find_element("css selector", tid("reel-file-info"))).get_attribute("data-state") and el,
                  "the picked file checked")
    assert info.get_attribute("data-state") == "refused", info.text
    assert "1:35" in info.text and "1:30" in info.text and "Обрежьте" in info.text, info.text
    assert not a.visible("reel-submit").is_enabled(), "a 95-second video can be submitted"
    in_both_sizes(a, "upload-too-long")


def upload(a: Browser, clip: Path, caption: str) -> str:
    a.go("#/reels")
    a.go("#/reels/new")
    a.visible("reel-upload-form")
    a.present("reel-file").send_keys(str(clip))
    a.wait(lambda d: d.find_element("css selector", tid("reel-file-info")).get_attribute("data-state") == "ok",
           "the clip accepted in the browser")
    assert a.present("reel-file-info").get_attribute("data-seconds") in ("4", "4.0"), a.present("reel-file-info").text
    a.fill("reel-caption-input", caption)
    a.select("reel-visibility", "public")
    a.click("reel-submit")
    a.visible("reel-upload-progress")
    state = wait_long(a, lambda d: (s := d.find_element("css selector", tid("reel-upload-progress")).get_attribute("data-state"))
                      in ("ready", "failed", "error") and s, "the reel processed", 120)
    label = a.present("reel-progress-label").text
    assert state == "ready", f"the upload ended {state}: {label} / {a.present('reel-progress-detail').text}"
    assert "Опубликован" in label, label
    live = a.present("reel-upload-progress").get_attribute("data-live")
    assert live == "true", "no reel_progress broadcast reached the page (only the get_my_reels poll)"
    href = a.visible("reel-open").get_attribute("href")
    return href.rsplit("/", 1)[-1]


def test_upload_two_reels(scenario):
    scenario.need("signed-in")
    a = scenario.browsers["alice"]
    scenario.reel_ids.append(upload(a, scenario.clips["one"], f"Первый #{TAG} тест"))
    in_both_sizes(a, "upload-ready")
    scenario.reel_ids.append(upload(a, scenario.clips["two"], f"Второй #{TAG}"))
    a.go("#/reels/mine")
    a.wait(lambda d: len(a.find_all("reel-mine-item")) >= 2, "both reels in «Мои рилсы»")
    states = [el.text for el in a.find_all("reel-mine-state")]
    assert all("Опубликован" in s for s in states[:2]), states
    in_both_sizes(a, "mine")
    scenario.done.add("uploaded")


def open_feed_with_reels(b: Browser, ids: list[str]) -> None:
    """Opens #/reels until Alice's reels are in it (ranking may put others first)."""
    for _ in range(6):
        b.go("#/chats")
        b.go("#/reels")
        found = b.try_wait(lambda d: len(b.find_all("reel")) >= 2 and all(
            d.find_elements("css selector", f'[data-testid="reel"][data-id="{i}"]') for i in ids), timeout=10)
        if found:
            return
    raise AssertionError(f"Alice's reels {ids} are not in Bob's feed")


def test_feed_plays_and_preloads_the_next(scenario):
    scenario.need("uploaded")
    bob = scenario.browsers["bob"]
    open_feed_with_reels(bob, scenario.reel_ids)
    scenario.first = bob.driver.execute_script("return document.querySelector('[data-testid=\"reel\"]').dataset.id")
    first = bob.wait(lambda d: (v := video_state(bob, 0)) and v["t"] > 0.3 and not v["paused"] and v,
                     "the first reel's video playing")
    later = bob.wait(lambda d: (v := video_state(bob, 0)) and v["t"] > first["t"] + 0.5 and v, "the video's time advancing")
    assert later["muted"], "the feed starts muted"
    can_hls = bob.driver.execute_script("return document.createElement('video').canPlayType('application/vnd.apple.mpegurl')")
    expected = "hls" if can_hls else "mp4"
    assert later["source"] == expected, (later, can_hls)
    assert ("master.m3u8" if expected == "hls" else "video.mp4") in later["src"], later
    bob.report.note(f"reels: the feed played {later['source']} (canPlayType HLS: {can_hls!r})")
    nxt = bob.wait(lambda d: (v := video_state(bob, 1)) and v["preload"] == "auto" and v["src"] and v["ready"] >= 1 and v,
                   "the next reel's video preloaded")
    assert nxt["paused"], "the next reel plays while off screen"
    bob.click("reel-sound", within=bob.present("reel", data_id=scenario.first))
    bob.wait(lambda d: not video_state(bob, 0)["muted"], "sound on after a tap")
    assert bob.present("reel-sound", within=bob.present("reel", data_id=scenario.first)).get_attribute("aria-pressed") == "true"
    in_both_sizes(bob, "feed")
    scenario.done.add("feed")


def test_scrolling_plays_the_next_and_pauses_the_first(scenario):
    scenario.need("feed")
    bob = scenario.browsers["bob"]
    bob.driver.execute_script("document.querySelector('[data-testid=\"reels-feed\"]').focus()")
    bob.driver.switch_to.active_element.send_keys(Keys.ARROW_DOWN)
    bob.wait(lambda d: (v := video_state(bob, 1)) and not v["paused"] and v["t"] > 0.2, "the second reel playing after ↓")
    bob.wait(lambda d: video_state(bob, 0)["paused"], "the first reel paused off screen")
    bob.driver.switch_to.active_element.send_keys(Keys.ARROW_UP)
    bob.wait(lambda d: not video_state(bob, 0)["paused"], "the first reel playing again after ↑")


def test_like_and_comment(scenario):
    scenario.need("feed")
    bob = scenario.browsers["bob"]
    reel = lambda: bob.present("reel", data_id=scenario.first)  # noqa: E731
    bob.click("reel-like", within=reel())
    bob.wait(lambda d: bob.present("reel-like", within=reel()).get_attribute("aria-pressed") == "true", "liked")
    bob.wait(lambda d: bob.present("reel-like", within=reel()).text.strip() == "1", "one like counted")
    bob.click("reel-comments", within=reel())
    bob.visible("reel-comments-sheet")
    bob.visible("empty-state", within=bob.present("reel-comments-sheet"))
    bob.fill("reel-comment-input", "Отличный рилс!")
    bob.click("reel-comment-send")
    bob.wait(lambda d: any("Отличный рилс!" in el.text for el in bob.find_all("reel-comment-body")), "the comment listed")
    bob.click("reel-comment-reply")
    bob.visible("reel-reply-to")
    bob.fill("reel-comment-input", "И ответ")
    bob.click("reel-comment-send")
    bob.wait(lambda d: d.find_elements("css selector", ".reel-comment.reply [data-testid='reel-comment-body']"), "the reply under it")
    in_both_sizes(bob, "comments", check_overflow=False)
    bob.driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    bob.gone("reel-comments-sheet")
    bob.wait(lambda d: bob.present("reel-comments", within=reel()).text.strip() == "2", "two comments counted")
    # From the server after a reload: the reel's own page.
    bob.driver.refresh()
    bob.go(f"#/reels/{scenario.first}")
    bob.wait(lambda d: bob.present("reel-like", within=reel()).get_attribute("aria-pressed") == "true", "the like kept after a reload")
    bob.click("reel-comments", within=reel())
    bob.wait(lambda d: len(bob.find_all("reel-comment")) == 2, "both comments from the server")
    assert bob.driver.find_elements("css selector", ".reel-comment.reply"), "the reply is not under its comment"
    bob.driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    scenario.done.add("interactions")


def test_share_into_a_chat(scenario):
    scenario.need("interactions")
    a, bob = scenario.browsers["alice"], scenario.browsers["bob"]
    dm = bob.open_dm(f"reels_alice_{RUN}")
    bob.go(f"#/reels/{scenario.first}")
    bob.click("reel-share", within=bob.present("reel", data_id=scenario.first))
    bob.visible("reel-share-dialog")
    bob.click("reel-share-chat", data_id=dm)
    bob.gone("reel-share-dialog")
    a.go(f"#/chats/{dm}")
    a.wait(lambda d: any(f"#/reels/{scenario.first}" in (el.get_attribute("href") or "")
                         for el in d.find_elements("css selector", '[data-testid="message"] a')), "the reel's link in Alice's DM")


def test_views_and_impressions_reach_the_author(scenario):
    """Bob watched the first reel for seconds (record_reel_view when it stopped playing):
    Alice's «Мои рилсы» counts a view of it."""
    scenario.need("interactions")
    a = scenario.browsers["alice"]
    a.go("#/chats")
    a.go("#/reels/mine")
    item = a.present("reel-mine-item", data_id=scenario.first)
    a.wait(lambda d: re.search(r"Просмотры: [1-9]", a.present("reel-mine-item", data_id=scenario.first).text),
           f"a view counted on the first reel ({item.text!r})")


def test_keyboard_reaches_every_action(scenario):
    scenario.need("feed")
    bob = scenario.browsers["bob"]
    bob.go(f"#/reels/tag/{TAG}")
    bob.wait(lambda d: len(bob.find_all("reel")) >= 1, "the hashtag's reels")
    actions = {"reel-sound", "reel-like", "reel-comments", "reel-save", "reel-share", "reel-more"}
    reached = tab_reaches(bob, actions, "reels-feed")
    assert reached == actions, f"Tab did not reach {actions - reached}"
    # The «⋯» menu opens from the keyboard and closes with Escape, focus back on its button.
    more = bob.present("reel-more", within=bob.driver.execute_script(
        "return document.activeElement.closest('[data-testid=\"reel\"]')") or bob.present("reel"))
    bob.driver.execute_script("arguments[0].focus()", more)
    more.send_keys(Keys.ENTER)
    bob.visible("reel-not-interested")
    bob.driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    bob.gone("reel-not-interested")
    a = scenario.browsers["alice"]
    a.go("#/reels/new")
    form = {"reel-file", "reel-caption-input", "reel-visibility"}
    a.visible("reel-upload-form")
    reached = tab_reaches(a, form, "reels-new-link" if a.is_visible("reels-new-link") else "nav-reels")
    assert reached == form, f"Tab did not reach {form - reached}"


def test_dark_theme_screens(scenario):
    scenario.need("feed")
    bob = scenario.browsers["bob"]
    bob.set_theme("dark")
    # The hashtag's page: the feed caps reels Bob has already been shown many times.
    bob.go(f"#/reels/tag/{TAG}")
    bob.wait(lambda d: len(bob.find_all("reel")) >= 1, "the feed")
    in_both_sizes(bob, "feed-dark")
    bob.go("#/reels/mine")
    bob.visible("empty-state")
    in_both_sizes(bob, "mine-empty-dark")
    bob.set_theme("light")


def serious(results: dict) -> list[str]:
    return [f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:4]}"
            for v in results.get("violations", []) if v.get("impact") in ("serious", "critical")]


def test_axe_on_the_reels_screens(scenario):
    """axe-core (as in test_accessibility) on the hashtag feed, the comments sheet, the upload
    page and «Мои рилсы», at 390×844 dark and 1280×800 light: no serious or critical violation."""
    scenario.need("feed")
    pytest.importorskip("axe_selenium_python")
    from test_accessibility import run_axe

    a, bob = scenario.browsers["alice"], scenario.browsers["bob"]
    found: list[str] = []
    for size, theme in ((PHONE, "dark"), (DESKTOP, "light")):
        for b in (a, bob):
            b.set_theme(theme)
            b.set_viewport(size)
        bob.go(f"#/reels/tag/{TAG}")
        bob.wait(lambda d: len(bob.find_all("reel")) >= 1, "the hashtag's reels")
        top = bob.wait(lambda d: d.execute_script(
            "const s = document.querySelector('[data-testid=\"reels-feed\"]');"
            "const r = document.querySelector('[data-testid=\"reel\"][aria-current=\"true\"]');"
            "return r && [s.scrollTop, r === document.querySelector('[data-testid=\"reel\"]')];"), "a reel on screen")
        assert top == [0, True], f"the page opened at {top} instead of its first reel"
        found += [f"feed {theme}: {v}" for v in serious(run_axe(bob))]
        bob.click("reel-comments", within=bob.present("reel", aria_current="true"))
        sheet = bob.visible("reel-comments-sheet")
        bob.wait(lambda d: bob.find_all("reel-comment") or bob.find_all("empty-state", within=sheet), "the comments loaded")
        found += [f"comments {theme}: {v}" for v in serious(run_axe(bob))]
        bob.driver.switch_to.active_element.send_keys(Keys.ESCAPE)
        bob.gone("reel-comments-sheet")
        a.go("#/reels/new")
        a.visible("reel-upload-form")
        found += [f"upload {theme}: {v}" for v in serious(run_axe(a))]
        a.go("#/reels/mine")
        a.wait(lambda d: len(a.find_all("reel-mine-item")) >= 2, "my reels")
        found += [f"mine {theme}: {v}" for v in serious(run_axe(a))]
    for b in (a, bob):
        b.set_theme("light")
    assert not found, "\n".join(found)


def test_english(scenario):
    """In English no Russian is left on the reels pages (but the captions Alice wrote)."""
    scenario.need("uploaded")
    a = scenario.browsers["alice"]
    a.go("#/settings")
    a.select("language-select", "en")
    a.wait(lambda d: a.root_attr("lang") == "en", "the page in English")
    captions = ["Первый", "Второй", "тест"]
    try:
        for route, ready in ((f"#/reels/tag/{TAG}", "reel"), ("#/reels/mine", "reel-mine-item"), ("#/reels/new", "reel-upload-form")):
            a.go("#/chats")
            a.go(route)
            a.visible(ready)
            a.wait_frames()
            left = a.visible_cyrillic(exclude=captions)
            assert not left, f"{route} in English shows {left}"
        shot(a, "upload-en-desktop")
    finally:
        a.go("#/settings")
        a.select("language-select", "ru")
        a.wait(lambda d: a.root_attr("lang") == "ru", "the page in Russian again")


def test_not_interested_and_report(scenario):
    """Last (it takes Alice's reels out of Bob's pages): «Не интересно» drops the reel from the
    page, «Пожаловаться» with a reason drops the other; the hashtag page is then empty."""
    scenario.need("feed")
    bob = scenario.browsers["bob"]
    bob.go("#/chats")
    bob.go(f"#/reels/tag/{TAG}")
    bob.wait(lambda d: len(bob.find_all("reel")) == 2, "both reels on the hashtag's page")
    first, second = (el.get_attribute("data-id") for el in bob.find_all("reel"))
    bob.click("reel-more", within=bob.present("reel", data_id=first))
    bob.click("reel-not-interested")
    bob.wait(lambda d: not d.find_elements("css selector", f'[data-testid="reel"][data-id="{first}"]'), "the reel gone from the page")
    bob.click("reel-more", within=bob.present("reel", data_id=second))
    bob.click("reel-report")
    bob.visible("reel-report-dialog")
    bob.click("reel-report-reason", value="spam")
    bob.fill("reel-report-details", "реклама")
    bob.click("reel-report-send")
    bob.gone("reel-report-dialog")
    bob.visible("empty-state")
    bob.go("#/chats")
    bob.go(f"#/reels/tag/{TAG}")
    empty = bob.visible("empty-state")
    assert TAG in empty.text, empty.text
