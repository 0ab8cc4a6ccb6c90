"""The web app as an installed app (issue 14, item 3).

- Installable: index.html links the manifest (versioned) and a theme colour; the manifest is
  served as application/manifest+json with name, short_name, start_url, display standalone,
  colours and PNG icons of 192 and 512 px and a maskable one, each served and really that
  size (read from the PNG header).
- /sw.js: JavaScript, Cache-Control no-cache (also with a ?v= query), a policy with
  worker-src and manifest-src 'self'; its shell list names the versioned index.html.
- Offline: the worker registers and controls the page; with Chrome's network emulation
  offline the reload still opens the app and shows «Нет сети»; then the server itself is
  stopped (a dedicated instance) and a reload opens the app from the worker's cache with
  «Нет сети» and the app's own «no connection» state — the network really is gone.
- Notifications: the offer asks for permission only on a click (permission granted through
  CDP Browser.grantPermissions, so the browser's answer is «granted»). The tab is made hidden
  inside the page (document.visibilityState/hidden overridden, visibilitychange fired: headless
  Chromium has no real background tab). What is asserted: the app calls
  ServiceWorkerRegistration.showNotification (recorded by a wrapper installed before the app
  loads, which then calls the real one) with the sender's name, the text as preview and the
  chat's route; a beep starts a WebAudio oscillator (recorded the same way); a message in a
  muted chat (mute_conversation) gives neither; an incoming video call gives a notification;
  the worker's «open» message (what notificationclick posts) opens the chat; the title shows
  «(n)», navigator.setAppBadge gets n (recorded) and the favicon gets a dot (a data: PNG).

The tests run in file order and share state (run with -x).
"""

from __future__ import annotations

import http.client
import json
import re
import secrets
import struct
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest

from web_support import Browser, Steps

CAROL = ("+15555550262", "262262")
DAN = ("+15555550263", "263263")
ERIN = ("+15555550264", "264264")
RUN = secrets.token_hex(3)
MEDIA_ARGS = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")

# Installed before any script of the page: records notifications, beeps and app badges.
SPY = """
(() => {
  window.__e2eShown = []; window.__e2eBeeps = 0; window.__e2eBadges = [];
  const show = ServiceWorkerRegistration.prototype.showNotification;
  ServiceWorkerRegistration.prototype.showNotification = function (title, options) {
    window.__e2eShown.push({ title, body: options && options.body, tag: options && options.tag,
                             route: options && options.data && options.data.route });
    return show.call(this, title, options);
  };
  const Native = window.Notification;
  if (Native) {
    window.Notification = class extends Native {
      constructor(title, options) {
        super(title, options);
        window.__e2eShown.push({ title, body: options && options.body, tag: options && options.tag,
                                 route: options && options.data && options.data.route, page: true });
      }
    };
  }
  const osc = AudioContext.prototype.createOscillator;
  AudioContext.prototype.createOscillator = function () { window.__e2eBeeps++; return osc.call(this); };
  navigator.setAppBadge = n => { window.__e2eBadges.push(n); return Promise.resolve(); };
  navigator.clearAppBadge = () => { window.__e2eBadges.push(0); return Promise.resolve(); };
})();
"""

HIDE = """
Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
document.dispatchEvent(new Event('visibilitychange'));
"""

CACHED = """
const done = arguments[arguments.length - 1];
(async () => {
  const out = [];
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const r of await cache.keys()) out.push(new URL(r.url).pathname + new URL(r.url).search);
  }
  return out;
})().then(done, e => done(['error ' + e]));
"""


def fetch(url: str, path: str) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def send(b: Browser, text: str) -> None:
    b.fill("message-input", text)
    b.click("send-message")
    b.wait(lambda d: d.execute_script("""
        return [...document.querySelectorAll('[data-testid="message"][data-seq] [data-testid="message-body"]')]
          .some(e => e.textContent === arguments[0]);""", text), f"message {text!r} sent")


def controlled(b: Browser) -> None:
    b.wait(lambda d: d.execute_script("return !!(navigator.serviceWorker && navigator.serviceWorker.controller)"),
           "the service worker controlling the page")


@dataclass
class Scenario(Steps):
    browsers: dict[str, Browser] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)
    dm_id: str | None = None


@pytest.fixture(scope="module")
def scenario(server, browser_factory):
    yield Scenario()


# --------------------------------------------------------------------------- installable


def test_manifest_and_icons(server):
    status, _, body = fetch(server.url, "/")
    index = body.decode()
    assert status == 200
    link = re.search(r'<link rel="manifest" href="(manifest\.webmanifest\?v=[0-9a-f]+)">', index)
    assert link, "index.html links no versioned manifest"
    assert re.search(r'<meta name="theme-color" content="#[0-9a-fA-F]{6}">', index), "no theme-color"
    status, headers, body = fetch(server.url, "/" + link.group(1))
    assert status == 200 and headers["content-type"] == "application/manifest+json", (status, headers)
    manifest = json.loads(body)
    for key in ("name", "short_name", "start_url", "theme_color", "background_color"):
        assert manifest.get(key), f"manifest has no {key}"
    assert manifest["display"] == "standalone"
    assert manifest["start_url"].startswith("/")
    sizes = set()
    for icon in manifest["icons"]:
        status, headers, data = fetch(server.url, icon["src"])
        assert status == 200, f"{icon['src']}: {status}"
        assert headers["content-type"] == icon["type"], (icon, headers["content-type"])
        if icon["type"] != "image/png":
            continue
        w, h = png_size(data)
        assert f"{w}x{h}" == icon["sizes"], f"{icon['src']} is {w}x{h}, declared {icon['sizes']}"
        sizes.add((icon["sizes"], icon.get("purpose", "any")))
    assert ("192x192", "any") in sizes and ("512x512", "any") in sizes, sizes
    assert any(purpose == "maskable" for _, purpose in sizes), sizes


def test_service_worker_headers(server):
    for path in ("/sw.js", "/sw.js?v=0123456789abcdef"):
        status, headers, body = fetch(server.url, path)
        assert status == 200, path
        assert "javascript" in headers["content-type"], headers["content-type"]
        assert headers["cache-control"] == "no-cache", (path, headers["cache-control"])
        policy = headers["content-security-policy"]
        assert "worker-src 'self'" in policy and "manifest-src 'self'" in policy, policy
        assert re.search(r"'\./index\.html\?v=[0-9a-f]+'", body.decode()), "the shell list names no versioned index.html"


# --------------------------------------------------------------------------- offline


def test_shell_opens_offline(server_instances, browser_factory, scenario):
    instance = server_instances("app-offline")
    b = browser_factory("app-offline")
    b.expected_console += ["ERR_INTERNET_DISCONNECTED", "ERR_CONNECTION_REFUSED", "Failed to fetch", "service worker"]
    b.open(instance.url)
    b.sign_in(*ERIN, f"app_erin_{RUN}", "Erin")
    controlled(b)
    b.wait(lambda d: (urls := d.execute_async_script(CACHED))
           and any(u.startswith("/index.html?v=") for u in urls)
           and any(u.startswith("/app/session.js?v=") for u in urls)
           and any(u.startswith("/app/views/shell.js?v=") for u in urls),
           "the shell and the signed-in modules in the worker's cache")

    # 1. Chrome's network emulation: the browser says it is offline.
    b.driver.execute_cdp_cmd("Network.enable", {})
    b.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    b.driver.refresh()
    banner = b.visible("offline-banner")
    assert "Нет сети" in banner.text, banner.text
    b.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    b.gone("offline-banner")

    # 2. The server is gone: the page still opens, from the worker's cache.
    instance.process.terminate()
    instance.process.wait(timeout=20)
    b.driver.refresh()
    b.wait(lambda d: d.execute_script("return document.readyState") == "complete", "the page loaded")
    banner = b.visible("offline-banner", timeout=15)
    assert "Нет сети" in banner.text
    b.visible("error-state")
    assert "Нет связи" in b.visible("error-state").text
    b.screenshot("app-offline-desktop")
    b.close()


# --------------------------------------------------------------------------- notifications


def test_permission_asked_from_a_click(server, browser_factory, scenario):
    carol = browser_factory("app-carol")
    dan = browser_factory("app-dan", MEDIA_ARGS)
    scenario.browsers.update(carol=carol, dan=dan)
    carol.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": SPY})
    for b, (phone, code), name in ((carol, CAROL, "carol"), (dan, DAN, "dan")):
        b.open(server.url)
        b.sign_in(phone, code, f"app_{name}_{RUN}", name.capitalize())
    assert carol.driver.execute_script("return Notification.permission") == "default", "permission asked on load"
    carol.driver.execute_cdp_cmd("Browser.grantPermissions", {"origin": server.url, "permissions": ["notifications"]})
    offer = carol.visible("notify-offer")
    assert "уведомления" in offer.text.lower(), offer.text
    carol.screenshot("app-notify-offer-desktop")
    carol.click("notify-enable")
    carol.gone("notify-offer")
    assert carol.driver.execute_script("return Notification.permission") == "granted"
    controlled(carol)
    # Settings say so too.
    carol.go("#/settings")
    assert "Включены" in carol.visible("notify-setting").text
    carol.go("#/chats")
    scenario.done.add("granted")


def test_hidden_tab_gets_a_notification_sound_and_badge(scenario):
    scenario.need("granted")
    carol, dan = scenario.browsers["carol"], scenario.browsers["dan"]
    scenario.dm_id = dan.open_dm(f"app_carol_{RUN}")
    carol.driver.execute_script(HIDE)
    send(dan, "Привет из фона")
    shown = carol.wait(lambda d: d.execute_script("return window.__e2eShown"), "a notification for the hidden tab")
    assert shown[0]["title"] == "Dan", shown
    assert shown[0]["body"] == "Привет из фона", shown
    assert shown[0]["route"] == f"#/chats/{scenario.dm_id}", shown
    assert carol.driver.execute_script("return window.__e2eBeeps") >= 1, "no beep"
    carol.wait(lambda d: d.title.startswith("(1) "), "the unread count in the title")
    carol.wait(lambda d: d.execute_script("return window.__e2eBadges.at(-1)") == 1, "navigator.setAppBadge(1)")
    icon = carol.driver.execute_script(
        "const l = document.querySelector('link[rel=icon]'); return [l.getAttribute('href').slice(0, 22), l.dataset.badge];")
    assert icon == ["data:image/png;base64,", "1"], icon
    # What notificationclick posts to the page: the chat opens.
    carol.driver.execute_script(
        "navigator.serviceWorker.dispatchEvent(new MessageEvent('message', {data: {type: 'open', route: arguments[0]}}))",
        shown[0]["route"])
    carol.wait(lambda d: carol.route() == f"#/chats/{scenario.dm_id}", "the chat opened by the notification")
    scenario.done.add("notified")


def test_muted_chat_gets_no_notification(server, scenario):
    scenario.need("notified")
    carol, dan = scenario.browsers["carol"], scenario.browsers["dan"]
    carol.go("#/chats")
    result = carol.driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const accounts = JSON.parse(localStorage.getItem('eco:v1:accounts'));
        const token = Object.values(accounts)[0].session.access_token;
        fetch('/app-config.json').then(r => r.json()).then(c => fetch('/rest/v1/rpc/mute_conversation', {
          method: 'POST', headers: { apikey: c.anonKey, authorization: 'Bearer ' + token, 'content-type': 'application/json' },
          body: JSON.stringify({ conversation_id: arguments[0], muted: true }) })).then(r => done(r.status), e => done(String(e)));""",
        scenario.dm_id)
    assert result == 200, result
    carol.driver.refresh()
    carol.visible("nav-chats")
    carol.wait(lambda d: d.execute_script("return document.querySelector('link[rel=icon]') !== null"), "favicon")
    carol.driver.execute_script(HIDE)
    before = carol.driver.execute_script("return [window.__e2eShown.length, window.__e2eBeeps]")
    send(dan, "Тихое сообщение")
    carol.wait(lambda d: "Тихое сообщение" in d.execute_script("return document.body.textContent"),
               "the muted chat's new message in Carol's inbox")
    after = carol.driver.execute_script("return [window.__e2eShown.length, window.__e2eBeeps]")
    assert after == before, f"a muted chat notified or beeped: {before} -> {after}"


def test_incoming_call_notifies(scenario):
    scenario.need("notified")
    carol, dan = scenario.browsers["carol"], scenario.browsers["dan"]
    carol.driver.execute_script(HIDE)
    dan.click("call-video")
    shown = carol.wait(lambda d: [n for n in d.execute_script("return window.__e2eShown") if n["tag"].startswith("call:")],
                       "a notification for the incoming call", timeout=15)
    assert shown[0]["title"] == "Dan" and shown[0]["body"] == "Входящий видеозвонок", shown
    # Dan cancels (the call screen may be gone already if the call failed to set up).
    if dan.try_wait(lambda d: dan.is_visible("call-hangup"), 5):
        dan.click("call-hangup")
