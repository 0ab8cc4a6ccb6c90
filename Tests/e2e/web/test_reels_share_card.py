"""A reel shared into a chat shows as a card (issue 15, item 5) in headless Chromium against
the real server:

- Alice uploads a clip (test_reels.upload) and sends it to her DM with Bob through the reel's
  «Отправить в чат»; Bob's chat shows the card in place of the bare link: the poster loaded
  (naturalWidth > 0), the author, the caption, the duration, an accessible name with the
  author and caption; screenshots at 390×844 and 1280×800, light and dark, with nothing
  sticking out of the phone's screen;
- another site's «#/reels/<id>» link and a reels link without an id stay plain links;
- axe-core finds nothing serious on the card (light and dark);
- Enter on the focused card opens the reel's page, and a click does too; the video plays
  (currentTime advances);
- while get_reel is slow the card is a skeleton (aria-busy); while it cannot be reached the card offers «Повторить», which then brings it in;
- Alice makes the reel private (update_reel): after a reload (the card keeps answers for the
  session) Bob's card says «Рилс недоступен» with no poster, name or caption of it, while
  Alice still sees hers; in English it says «Reel unavailable»; tapping it opens the reel's
  page, which does not show the reel.

Screenshots go to $ECOMANSONI_SCREENSHOTS (default Tests/e2e/web/.screenshots) as
reel-card-*.png. The tests run in file order and share state (run with -x).
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from selenium.webdriver.common.keys import Keys

from test_reels import DESKTOP, PHONE, make_clip, upload, video_state
from web_support import Browser, Steps, screenshots_dir

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg to make the clip")

ALICE = ("+15555550355", "355355")
BOB = ("+15555550356", "356356")
RUN = secrets.token_hex(3)
CAPTION = f"Закат над морем, второй дубль #card_{RUN} и ещё немного слов, чтобы подпись заняла больше двух строк в карточке"


@dataclass
class Scenario(Steps):
    browsers: dict[str, Browser] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)
    clip: Path | None = None
    reel: str = ""
    dm: str = ""


@pytest.fixture(scope="module")
def scenario(server, browser_factory):
    s = Scenario()
    with tempfile.TemporaryDirectory(prefix="reel-card-web-") as tmp:
        s.clip = make_clip(Path(tmp), "card.mp4", 4)
        s.browsers["alice"] = browser_factory("card-alice")
        s.browsers["bob"] = browser_factory("card-bob")
        yield s


def card_in_chat(b: Browser, dm: str, reel: str) -> dict:
    """Opens the DM and waits for the reel's card to settle; returns what it shows."""
    b.go("#/chats")
    b.go(f"#/chats/{dm}")
    return b.wait(lambda d: (c := card_state(b, reel)) and c["state"] not in ("", "loading") and c,
                  "the reel's card in the chat")


def card_state(b: Browser, reel: str) -> dict | None:
    return b.driver.execute_script("""
        const cards = [...document.querySelectorAll('[data-testid="message"] [data-testid="reel-card"]')]
          .filter(c => c.dataset.id === arguments[0]);
        const c = cards.at(-1);
        if (!c) return null;
        const img = c.querySelector('[data-testid="reel-card-poster"]');
        const body = c.closest('.bubble').querySelector('[data-testid="message-body"]');
        const link = body.querySelector('a[data-testid="message-link"]');
        const r = c.getBoundingClientRect();
        return {state: c.dataset.state, label: c.getAttribute('aria-label') || '', text: c.textContent,
                tag: c.tagName, href: c.getAttribute('href'), img: !!img,
                posterWidth: img ? img.naturalWidth : 0, posterDone: img ? img.complete : false,
                linkShown: !!link && link.offsetParent !== null, bodyText: body.innerText,
                domainShown: !!c.closest('.bubble').querySelector('[data-testid="link-domain"]:not([hidden])'),
                width: r.width, height: r.height};""", reel)


def shot(b: Browser, name: str) -> Path:
    return b.screenshot_to(screenshots_dir(), f"reel-card-{name}")


def both_sizes(b: Browser, name: str) -> None:
    b.set_viewport(PHONE)
    assert b.horizontal_overflow() <= 0, f"{name} scrolls sideways at 390 px"
    cut = b.out_of_viewport(["reel-card", "reel-card-caption", "reel-card-author", "message-body"])
    assert not cut, f"{name}: {cut} stick out of the 390 px screen"
    shot(b, f"{name}-phone")
    b.set_viewport(DESKTOP)
    shot(b, f"{name}-desktop")


def scroll_card_into_view(b: Browser, reel: str) -> None:
    b.driver.execute_script("""
        const c = [...document.querySelectorAll('[data-testid="reel-card"]')].filter(c => c.dataset.id === arguments[0]).at(-1);
        c && c.scrollIntoView({block: 'center'});""", reel)


def rpc_in_browser(b: Browser, name: str, args: dict) -> int:
    """Calls an RPC with the browser's signed-in session (as test_app does); returns the status."""
    return b.driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const accounts = JSON.parse(localStorage.getItem('eco:v1:accounts'));
        const token = Object.values(accounts)[0].session.access_token;
        fetch('/app-config.json').then(r => r.json()).then(c => fetch('/rest/v1/rpc/' + arguments[0], {
          method: 'POST', headers: { apikey: c.anonKey, authorization: 'Bearer ' + token, 'content-type': 'application/json' },
          body: JSON.stringify(arguments[1]) })).then(r => done(r.status), e => done(String(e)));""", name, args)


def test_share_a_reel_into_a_chat(server, scenario):
    a, bob = scenario.browsers["alice"], scenario.browsers["bob"]
    for b, (phone, code), name in ((a, ALICE, "alice"), (bob, BOB, "bob")):
        b.open(server.url)
        b.sign_in(phone, code, f"card_{name}_{RUN}", name.capitalize())
    scenario.reel = upload(a, scenario.clip, CAPTION)
    scenario.dm = a.open_dm(f"card_bob_{RUN}")
    a.go(f"#/reels/{scenario.reel}")
    a.click("reel-share", within=a.present("reel", data_id=scenario.reel))
    a.visible("reel-share-dialog")
    a.click("reel-share-chat", data_id=scenario.dm)
    a.gone("reel-share-dialog")
    scenario.done.add("shared")


def test_the_recipient_sees_a_card(scenario):
    scenario.need("shared")
    bob = scenario.browsers["bob"]
    bob.set_viewport(PHONE)
    card = card_in_chat(bob, scenario.dm, scenario.reel)
    assert card["state"] == "ready", card
    assert card["tag"] == "A" and card["href"] == f"#/reels/{scenario.reel}", card
    scroll_card_into_view(bob, scenario.reel)
    card = bob.wait(lambda d: (c := card_state(bob, scenario.reel)) and c["posterDone"] and c,
                    "the poster loaded (it is lazy)")
    assert card["posterWidth"] > 0, f"the poster did not load: {card}"
    assert "Alice" in card["text"] and "Закат над морем" in card["text"], card["text"]
    assert "0:04" in card["text"], card["text"]
    assert card["label"].startswith("Рилс: Alice, 4 секунды: Закат над морем"), card["label"]
    assert not card["linkShown"], "the bare link is shown beside the card"
    assert not card["domainShown"], "the link's domain line is shown beside the card"
    assert card["bodyText"].strip() == "Рилс: Alice", card["bodyText"]
    # Two lines of caption at most: the caption element is clipped.
    lines = bob.driver.execute_script("""
        const c = document.querySelector('[data-testid="reel-card"][data-id="' + arguments[0] + '"] [data-testid="reel-card-caption"]');
        return c.getBoundingClientRect().height / parseFloat(getComputedStyle(c).lineHeight);""", scenario.reel)
    assert lines <= 2.1, f"the caption takes {lines:.1f} lines"
    both_sizes(bob, "ready")
    bob.set_theme("dark")
    bob.go(f"#/chats/{scenario.dm}")
    bob.wait(lambda d: (c := card_state(bob, scenario.reel)) and c["state"] == "ready", "the card in dark")
    both_sizes(bob, "ready-dark")
    bob.set_theme("light")
    # The sender's own (blue) bubble carries the card too.
    a = scenario.browsers["alice"]
    a.set_viewport(PHONE)
    own = card_in_chat(a, scenario.dm, scenario.reel)
    assert own["state"] == "ready", own
    shot(a, "own-phone")
    scenario.done.add("card")


def test_only_this_apps_reel_links_become_cards(server, scenario):
    """Another site's «#/reels/<id>» and a reels link without a reel id stay links (with the
    domain line); no card, no get_reel."""
    scenario.need("card")
    bob = scenario.browsers["bob"]
    bob.set_viewport(DESKTOP)
    bob.go(f"#/chats/{scenario.dm}")
    texts = [f"Чужой https://example.com/#/reels/{scenario.reel}", f"Не рилс {server.url}/#/reels/mine"]
    for text in texts:
        bob.wait(lambda d: bob.fill("message-input", text).get_attribute("value") == text, f"{text!r} typed")
        bob.click("send-message")
    rows = bob.wait(lambda d: d.execute_script("""
        const rows = [...document.querySelectorAll('[data-testid="message"][data-seq]')]
          .filter(r => arguments[0].includes(r.querySelector('[data-testid="message-body"]').textContent));
        return rows.length === arguments[0].length && rows.map(r => ({
          cards: r.querySelectorAll('[data-testid="reel-card"]').length,
          link: !!r.querySelector('a[data-testid="message-link"]')?.offsetParent,
          domain: !r.querySelector('[data-testid="link-domain"]').hidden}));""", texts), "both messages sent")
    assert rows == [{"cards": 0, "link": True, "domain": True}] * 2, rows


def test_axe_on_the_card(scenario):
    """axe-core (as test_accessibility runs it) on Bob's chat with the card, 390×844 dark and
    1280×800 light: no serious or critical violation on the card (the rest of the page is
    test_accessibility's)."""
    scenario.need("card")
    pytest.importorskip("axe_selenium_python")
    from test_accessibility import run_axe

    bob = scenario.browsers["bob"]
    found = []
    try:
        for size, theme in ((PHONE, "dark"), (DESKTOP, "light")):
            bob.set_theme(theme)
            bob.set_viewport(size)
            card_in_chat(bob, scenario.dm, scenario.reel)
            for v in run_axe(bob).get("violations", []):
                nodes = [n["target"] for n in v["nodes"] if "reel-card" in json.dumps(n["target"]) + n["html"]]
                if v.get("impact") in ("serious", "critical") and nodes:
                    found.append(f"{theme}: {v['id']} ({v['impact']}): {v['help']} — {nodes[:4]}")
    finally:
        bob.set_theme("light")
    assert not found, "\n".join(found)


def test_enter_and_click_open_the_reel_which_plays(scenario):
    scenario.need("card")
    bob = scenario.browsers["bob"]
    bob.set_viewport(DESKTOP)
    card_in_chat(bob, scenario.dm, scenario.reel)
    card = bob.driver.execute_script(
        "return [...document.querySelectorAll('[data-testid=\"reel-card\"]')].filter(c => c.dataset.id === arguments[0]).at(-1)",
        scenario.reel)
    bob.driver.execute_script("arguments[0].focus()", card)
    card.send_keys(Keys.SHIFT)  # a key press: the focus is a keyboard user's (:focus-visible)
    ring = bob.driver.execute_script("""
        const s = getComputedStyle(document.activeElement);
        return document.activeElement.dataset.testid + ' ' + s.outlineStyle + ' ' + s.outlineWidth;""")
    assert ring.startswith("reel-card solid") and not ring.endswith(" 0px"), f"no focus ring on the card: {ring}"
    card.send_keys(Keys.ENTER)
    bob.wait(lambda d: bob.route() == f"#/reels/{scenario.reel}", "the reel's page after Enter")
    bob.present("reel", data_id=scenario.reel)
    bob.go(f"#/chats/{scenario.dm}")
    bob.wait(lambda d: (c := card_state(bob, scenario.reel)) and c["state"] == "ready", "the card again")
    scroll_card_into_view(bob, scenario.reel)
    bob.click_element(lambda: ([c for c in bob.find_all("reel-card") if c.get_attribute("data-id") == scenario.reel] or [None])[-1],
                      "the reel's card")
    bob.wait(lambda d: bob.route() == f"#/reels/{scenario.reel}", "the reel's page after a click")
    bob.present("reel", data_id=scenario.reel)
    first = bob.wait(lambda d: (v := video_state(bob, 0)) and v["t"] > 0.2 and not v["paused"] and v, "the reel's video playing")
    bob.wait(lambda d: (v := video_state(bob, 0)) and v["t"] > first["t"] + 0.5, "the video's time advancing")
    scenario.done.add("opened")


def test_a_failed_request_offers_retry(scenario):
    scenario.need("card")
    bob = scenario.browsers["bob"]
    # A fresh page (the card keeps answers for the session) with get_reel blocked.
    bob.driver.execute_cdp_cmd("Network.enable", {})
    bob.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/rest/v1/rpc/get_reel*"]})
    bob.expected_console.append(r"get_reel.*ERR_BLOCKED_BY_CLIENT|ERR_BLOCKED_BY_CLIENT")
    try:
        bob.driver.refresh()
        bob.visible("nav-chats")
        card = card_in_chat(bob, scenario.dm, scenario.reel)
        assert card["state"] == "error", card
        assert "Не удалось загрузить рилс" in card["text"], card["text"]
        shot(bob, "error-desktop")
    finally:
        bob.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
    bob.click("reel-card-retry")
    bob.wait(lambda d: (c := card_state(bob, scenario.reel)) and c["state"] == "ready", "the card after «Повторить»")
    focused = bob.driver.execute_script("return document.activeElement && document.activeElement.dataset.testid")
    assert focused == "reel-card", f"focus after «Повторить» is on {focused!r}, not the card"


def test_loading_state_is_a_skeleton(scenario):
    scenario.need("card")
    bob = scenario.browsers["bob"]
    # A fresh page on the chat list: the card's answers are kept for the session.
    bob.set_viewport(DESKTOP)
    bob.go("#/chats")
    bob.driver.refresh()
    bob.visible("nav-chats")
    bob.set_viewport(PHONE)
    bob.driver.execute_cdp_cmd("Network.enable", {})
    bob.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": False, "latency": 1500, "downloadThroughput": -1, "uploadThroughput": -1})
    try:
        bob.go(f"#/chats/{scenario.dm}")
        loading = bob.wait(lambda d: (c := card_state(bob, scenario.reel)) and c["state"] == "loading" and c,
                           "the card loading", timeout=15)
        assert not loading["img"] and not loading["linkShown"], loading
        busy = bob.driver.execute_script(
            "const c = document.querySelector('[data-testid=\"reel-card\"][data-state=\"loading\"]');"
            "return c && [c.getAttribute('aria-busy'), c.querySelectorAll('.skel').length];")
        assert busy and busy[0] == "true" and busy[1] >= 2, busy
        shot(bob, "loading-phone")
    finally:
        bob.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    bob.wait(lambda d: (c := card_state(bob, scenario.reel)) and c["state"] == "ready", "the card after loading")


def test_a_private_reel_is_unavailable_to_the_recipient(scenario):
    scenario.need("card")
    a, bob = scenario.browsers["alice"], scenario.browsers["bob"]
    assert rpc_in_browser(a, "update_reel", {"reel_id": scenario.reel, "visibility": "private"}) == 200
    bob.expected_console.append(r"rpc/get_reel - Failed to load resource: the server responded with a status of 404")
    bob.set_viewport(DESKTOP)
    bob.driver.refresh()
    bob.visible("nav-chats")
    bob.set_viewport(PHONE)
    card = card_in_chat(bob, scenario.dm, scenario.reel)
    assert card["state"] == "unavailable", card
    assert "Рилс недоступен" in card["text"] and card["label"] == "Рилс недоступен", card
    assert not card["img"], "an unavailable card shows a poster"
    for leak in ("Alice", "Закат", f"card_alice_{RUN}", "0:04"):
        assert leak not in card["text"] and leak not in card["label"], f"the unavailable card shows {leak!r}: {card}"
    assert not card["linkShown"], card
    both_sizes(bob, "unavailable")
    # The author still sees her reel's card.
    a.set_viewport(DESKTOP)
    a.driver.refresh()
    a.visible("nav-chats")
    own = card_in_chat(a, scenario.dm, scenario.reel)
    assert own["state"] == "ready", own
    # In English.
    bob.go("#/settings")
    bob.select("language-select", "en")
    bob.wait(lambda d: bob.root_attr("lang") == "en", "the page in English")
    try:
        bob.driver.refresh()
        bob.visible("nav-chats")
        card = card_in_chat(bob, scenario.dm, scenario.reel)
        assert "Reel unavailable" in card["text"] and card["label"] == "Reel unavailable", card
        shot(bob, "unavailable-en-desktop")
    finally:
        bob.go("#/settings")
        bob.select("language-select", "ru")
        bob.wait(lambda d: bob.root_attr("lang") == "ru", "the page in Russian again")
    # Tapping it opens the reel's page, which says it is gone.
    bob.go(f"#/chats/{scenario.dm}")
    bob.wait(lambda d: (c := card_state(bob, scenario.reel)) and c["state"] == "unavailable", "the card again")
    bob.click_element(lambda: ([c for c in bob.find_all("reel-card") if c.get_attribute("data-id") == scenario.reel] or [None])[-1],
                      "the unavailable card")
    bob.wait(lambda d: bob.route() == f"#/reels/{scenario.reel}", "the reel's page")
    # (reels-feed.js shows a 404 of get_reel as «Не найдено» with «Повторить» today.)
    bob.wait(lambda d: bob.is_visible("empty-state") or bob.is_visible("error-state"), "the page saying the reel is not there")
    assert not bob.find_all("reel"), "the private reel's page shows it to Bob"
