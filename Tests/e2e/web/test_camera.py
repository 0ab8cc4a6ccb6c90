"""The camera page #/camera (issue 14, item 6) in Chromium with a fake camera
(--use-fake-device-for-media-stream: a moving test picture; --use-fake-ui-for-media-stream:
the permission is granted without a prompt; --enable-unsafe-swiftshader: WebGL in software).

- Alice opens the camera from the composer of her DM with Bob: the page plays the camera's
  <video> and draws it on the canvas (WebGL, or the 2D fallback — the renderer is recorded).
- A look changes the pixels read back from the canvas: «Ч/б» makes every pixel grey (R = G =
  B), the original has coloured pixels, «Сепия» makes R ≥ G ≥ B.
- A photo taken and sent to the chat becomes an image bubble that loads for Bob.
- From #/camera without a chat, «Отправить в чат» lists the inbox; the picked chat gets it.
- From the profile (#/camera/avatar), «Сделать аватаром» goes through the crop dialog and the
  profile shows the new avatar.
- No camera (Bob's browser has none): «Камера не найдена» with a retry; a refusal of the
  permission (getUserMedia rejected with NotAllowedError in the page): the permission message.

Screenshots of the camera at 1280×800 and 390×844 go to the artefacts directory.
The tests run in file order and share state (run with -x).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import pytest

from web_support import Browser, Steps

ALICE = ("+15555550260", "260260")
BOB = ("+15555550261", "261261")
RUN = secrets.token_hex(3)
DESKTOP = (1280, 800)
PHONE = (390, 844)

MEDIA_ARGS = (
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--enable-unsafe-swiftshader",
    "--autoplay-policy=no-user-gesture-required",
)

# Reads the live canvas back through a small 2D canvas: [[r, g, b], ...] of 32x24 pixels.
PIXELS = """
const src = document.querySelector('[data-testid="camera-canvas"]');
if (!src || !src.width) return null;
const c = document.createElement('canvas');
c.width = 32; c.height = 24;
const g = c.getContext('2d');
g.drawImage(src, 0, 0, 32, 24);
const d = g.getImageData(0, 0, 32, 24).data;
const out = [];
for (let i = 0; i < d.length; i += 4) out.push([d[i], d[i + 1], d[i + 2]]);
return out;
"""


@dataclass
class Scenario(Steps):
    browsers: dict[str, Browser] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)
    dm_id: str | None = None
    renderer: str | None = None


@pytest.fixture(scope="module")
def scenario(server, browser_factory):
    s = Scenario()
    s.browsers["alice"] = browser_factory("camera-alice", MEDIA_ARGS)
    s.browsers["bob"] = browser_factory("camera-bob")
    yield s


def image_messages(b: Browser) -> int:
    """Delivered image bubbles whose picture has loaded."""
    return b.driver.execute_script("""
        return [...document.querySelectorAll('[data-testid="message"][data-seq]')].filter(m => {
          const img = m.querySelector('[data-testid="attachment-image"]');
          return img && (img.tagName !== 'IMG' || (img.complete && img.naturalWidth > 0));
        }).length;""")


def camera_live(b: Browser) -> None:
    b.wait(lambda d: d.execute_script("""
        const v = document.querySelector('[data-testid="camera-video"]');
        const c = document.querySelector('[data-testid="camera-canvas"]');
        return v && v.readyState >= 2 && v.videoWidth > 0 && c && c.dataset.renderer && !c.hidden && c.width > 0;"""),
        "the camera's video playing and drawn on the canvas", timeout=20)


def pixels(b: Browser) -> list[list[int]]:
    return b.wait(lambda d: d.execute_script(PIXELS), "pixels of the camera canvas")


def test_camera_from_the_composer(server, scenario):
    a, bob = scenario.browsers["alice"], scenario.browsers["bob"]
    for b, (phone, code), name in ((a, ALICE, "alice"), (bob, BOB, "bob")):
        b.open(server.url)
        b.sign_in(phone, code, f"cam_{name}_{RUN}", name.capitalize())
    scenario.dm_id = a.open_dm(f"cam_bob_{RUN}")
    a.fill("message-input", "камера")
    a.click("send-message")
    a.click("camera-entry")
    a.wait(lambda d: a.route() == f"#/camera/{scenario.dm_id}", "the camera route of the DM")
    a.visible("camera-page")
    camera_live(a)
    scenario.renderer = a.driver.execute_script("return document.querySelector('[data-testid=\"camera-canvas\"]').dataset.renderer")
    a.report.note(f"camera: filters drawn with {scenario.renderer}")
    filters = [el.get_attribute("data-filter") for el in a.displayed("camera-filter")]
    assert filters == ["original", "mono", "sepia", "warm", "cold", "vignette"], filters
    labels = [el.text for el in a.displayed("camera-filter")]
    assert labels[1] == "Ч/б" and labels[2] == "Сепия", labels
    a.screenshot("camera-live-desktop")
    a.set_viewport(PHONE)
    assert a.horizontal_overflow() <= 0, "the camera page scrolls sideways at 390 px"
    a.screenshot("camera-live-phone")
    a.set_viewport(DESKTOP)
    scenario.done.add("camera")


def test_a_look_changes_the_pixels(scenario):
    scenario.need("camera")
    a = scenario.browsers["alice"]
    original = pixels(a)
    assert max(max(p) - min(p) for p in original) > 20, "the fake camera's picture has no colour to begin with"
    a.click("camera-filter", data_filter="mono")
    a.wait(lambda d: d.execute_script("return document.querySelector('[data-testid=\"camera-canvas\"]').dataset.look") == "mono",
           "the mono look applied")
    grey = a.wait(lambda d: (px := d.execute_script(PIXELS)) and max(max(p) - min(p) for p in px) <= 3 and px,
                  "every pixel grey (R = G = B) with «Ч/б»")
    assert grey
    a.click("camera-filter", data_filter="sepia")
    a.wait(lambda d: (px := d.execute_script(PIXELS)) and all(p[0] + 2 >= p[1] >= p[2] - 2 for p in px)
           and any(p[0] - p[2] > 10 for p in px), "sepia pixels (R ≥ G ≥ B, warm)")
    assert a.driver.execute_script(
        "return document.querySelector('[data-testid=\"camera-filter\"][data-filter=\"sepia\"]').getAttribute('aria-pressed')") == "true"
    a.click("camera-filter", data_filter="original")
    scenario.done.add("looks")


def test_photo_sent_to_the_chat(scenario):
    scenario.need("camera")
    a, bob = scenario.browsers["alice"], scenario.browsers["bob"]
    a.click("camera-shoot")
    a.visible("camera-still")
    a.visible("camera-photo-actions")
    a.screenshot("camera-photo-desktop")
    a.click("camera-send")
    a.wait(lambda d: a.route() == f"#/chats/{scenario.dm_id}", "back in the DM after sending")
    a.wait(lambda d: image_messages(a) >= 1, "Alice's photo delivered in the DM")
    bob.go(f"#/chats/{scenario.dm_id}")
    bob.wait(lambda d: image_messages(bob) >= 1, "the photo as an image bubble for Bob", timeout=20)
    scenario.done.add("sent")


def test_photo_sent_to_a_chat_picked_from_the_inbox(scenario):
    scenario.need("sent")
    a, bob = scenario.browsers["alice"], scenario.browsers["bob"]
    a.go("#/camera")
    camera_live(a)
    a.click("camera-shoot")
    a.click("camera-send")
    a.visible("camera-chat-list")
    a.screenshot("camera-pick-chat-desktop")
    a.click("camera-chat", data_conversation=scenario.dm_id)
    a.wait(lambda d: a.route() == f"#/chats/{scenario.dm_id}", "the picked chat opened")
    bob.wait(lambda d: image_messages(bob) >= 2, "the second photo for Bob", timeout=20)


def test_photo_as_avatar(scenario):
    scenario.need("camera")
    a = scenario.browsers["alice"]
    a.go("#/me")
    a.click("camera-for-avatar")
    a.wait(lambda d: a.route() == "#/camera/avatar", "the camera for the avatar")
    camera_live(a)
    a.click("camera-filter", data_filter="warm")
    a.click("camera-shoot")
    a.click("camera-avatar-save")
    a.visible("crop-stage")
    a.click("crop-save")
    a.gone("crop-stage", timeout=20)
    a.wait(lambda d: a.route() == "#/me", "back on the profile")

    def avatar_img(d):
        return d.execute_script("""
            const img = document.querySelector('.profile-head .avatar img');
            return img && img.complete && img.naturalWidth > 0 ? img.getAttribute('src') : null;""")
    src = a.wait(avatar_img, "the new avatar on the profile page", timeout=20)
    assert src.startswith("/storage/v1/object/public/avatars/"), src


def test_no_camera_and_denied(server, scenario):
    """Bob's browser has no fake camera: «Камера не найдена» with a retry. Then a refusal
    (getUserMedia rejected with NotAllowedError inside the page: a headless browser with a
    fake camera UI always grants) gives the permission message on retry."""
    scenario.need("camera")
    bob = scenario.browsers["bob"]
    bob.go("#/camera")
    error = bob.visible("camera-error", timeout=20)
    assert "Камера не найдена" in error.text, error.text
    bob.screenshot("camera-missing-desktop")
    bob.driver.execute_script(
        "navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('denied', 'NotAllowedError'))")
    bob.click("camera-retry")
    bob.wait(lambda d: "Доступ к камере запрещён" in (bob.visible("camera-error").text or ""),
             "the permission message after a refusal")
    bob.screenshot("camera-denied-desktop")


def test_dark_theme_screenshots(scenario):
    """The camera page in the dark theme at 1280×800 and 390×844 (looked at, not compared)."""
    scenario.need("camera")
    a = scenario.browsers["alice"]
    a.go("#/settings")
    a.select("theme-select", "dark")
    a.wait(lambda d: a.root_attr("data-theme") == "dark", "<html data-theme=dark>")
    a.driver.execute_cdp_cmd("Browser.grantPermissions", {"origin": a.base_url, "permissions": ["videoCapture"]})
    a.go("#/camera")
    camera_live(a)
    a.screenshot("camera-live-dark-desktop")
    a.set_viewport(PHONE)
    assert a.horizontal_overflow() <= 0, "the camera page scrolls sideways at 390 px (dark)"
    a.screenshot("camera-live-dark-phone")
    a.set_viewport(DESKTOP)
    a.go("#/settings")
    a.select("theme-select", "light")
