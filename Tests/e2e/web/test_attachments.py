"""Attachments in the browser (issue 13): Alice sends Bob a photo (a PNG made here, chosen
through the attach button's file input) and a voice message (recorded from Chromium's fake
microphone); Bob sees the photo rendered and plays the voice message (time advances, speed
1.5×, pause); the photo viewer opens and closes with focus restored. Also: the tray (pasted
and dropped files, remove), a throttled upload's percentage and cancel, an offline upload
that fails and is retried into exactly one message, the server's reason for a refused upload,
a video and a file (order kept, download link, video metadata), English strings, and Alice's
cropped avatar (256 px rendition on her profile, shown in Bob's header). Screenshots at
1280×800 and 390×844, light and dark, go to the artefacts directory.

The tests run in file order and share state (run with -x); a test whose prerequisite step
did not complete fails with that reason.
"""

from __future__ import annotations

import math
import secrets
import shutil
import struct
import subprocess
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from selenium.webdriver.common.keys import Keys

from web_support import Browser, Steps, element_text, tid

ALICE_PHONE, ALICE_CODE = "+15555550197", "197197"
BOB_PHONE, BOB_CODE = "+15555550198", "198198"

DESKTOP = (1280, 800)
PHONE = (390, 844)
# Chromium records the fake microphone (a beep) without asking.
MEDIA_ARGS = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")

RUN = secrets.token_hex(3)
CAPTION = f"Sunset {RUN}"


def png_bytes(width: int, height: int) -> bytes:
    """A small RGB PNG with a diagonal gradient (so the picture is visibly not blank)."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)
        for x in range(width):
            rows += bytes(((x * 255) // width, (y * 255) // height, 160))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(rows))) + chunk(b"IEND", b"")


@dataclass
class User:
    label: str
    phone: str
    code: str
    username: str
    display_name: str
    browser: Browser | None = None


@dataclass
class Scenario(Steps):
    alice: User
    bob: User
    files: Path
    done: set[str] = field(default_factory=set)
    conversation_id: str | None = None
    # Seconds from the record button to the stop button's effect (test_record_voice).
    voice_at_most: float = 0.0


@pytest.fixture(scope="module")
def scenario(server, browser_factory):
    files = Path(tempfile.mkdtemp(prefix="ecom-web-attachments-"))
    (files / f"sunset-{RUN}.png").write_bytes(png_bytes(320, 200))
    (files / "face.png").write_bytes(png_bytes(300, 400))
    s = Scenario(
        alice=User("alice", ALICE_PHONE, ALICE_CODE, f"att_alice_{RUN}", f"Alice {RUN}"),
        bob=User("bob", BOB_PHONE, BOB_CODE, f"att_bob_{RUN}", f"Bob {RUN}"),
        files=files,
    )
    s.alice.browser = browser_factory("att-alice", MEDIA_ARGS)
    s.bob.browser = browser_factory("att-bob", MEDIA_ARGS)
    yield s


# --------------------------------------------------------------------------- helpers


def last_message(b: Browser, kind_testid: str):
    """The last delivered (data-seq) message that contains an element with this hook."""
    return b.driver.execute_script("""
        const all = [...document.querySelectorAll('[data-testid="message"][data-seq]')]
          .filter(m => m.querySelector(`[data-testid="${arguments[0]}"]`));
        return all.length ? all[all.length - 1] : null;""", kind_testid)


def message_count(b: Browser, kind_testid: str) -> int:
    """How many delivered (data-seq) messages contain an element with this hook."""
    return b.driver.execute_script("""
        return [...document.querySelectorAll('[data-testid="message"][data-seq]')]
          .filter(m => m.querySelector(`[data-testid="${arguments[0]}"]`)).length;""", kind_testid)


def image_loaded(b: Browser) -> bool:
    return bool(b.driver.execute_script("""
        const m = [...document.querySelectorAll('[data-testid="message"][data-seq]')]
          .find(m => m.querySelector('[data-testid="attachment-image"]'));
        const img = m && m.querySelector('[data-testid="attachment-image"]');
        return !!img && img.complete && img.naturalWidth > 0;"""))


def shoot(b: Browser, name: str, back_to: str, ready) -> list[Path]:
    """Desktop and phone, light and dark screenshots of the screen at `back_to`."""
    shots = []
    for theme in ("light", "dark"):
        b.set_theme(theme)
        for size, size_name in ((DESKTOP, "desktop"), (PHONE, "phone")):
            b.set_viewport(size)
            b.go(back_to)
            ready()
            shots.append(b.screenshot(f"{name}-{size_name}-{theme}"))
            overflow = b.horizontal_overflow()
            assert overflow <= 1, f"[{b.name}] {name} {size_name} {theme}: the page scrolls sideways by {overflow}px"
    b.set_viewport(DESKTOP)
    b.set_theme("light")
    return shots


# --------------------------------------------------------------------------- the flow


def test_sign_in_and_open_dm(server, scenario):
    a, b = scenario.alice.browser, scenario.bob.browser
    for browser, user in ((a, scenario.alice), (b, scenario.bob)):
        browser.set_viewport(DESKTOP)
        browser.open(server.url)
        browser.sign_in(user.phone, user.code, user.username, user.display_name)
    a.click("nav-people")
    a.fill("people-search", scenario.bob.username)
    a.click("person-result", data_username=scenario.bob.username)
    a.click("open-dm")
    a.wait(lambda d: a.route().startswith("#/chats/") and len(a.route()) > len("#/chats/"), "the DM route")
    scenario.conversation_id = a.route()[len("#/chats/"):].split("?")[0]
    a.visible("message-input")
    a.visible("attach-button")
    scenario.done.add("dm open")


def test_send_photo(scenario):
    scenario.need("dm open")
    a = scenario.alice.browser
    photo = scenario.files / f"sunset-{RUN}.png"
    a.present("attach-input").send_keys(str(photo))
    item = a.visible("tray-item")
    assert photo.name in element_text(a.driver, item), f"the tray shows {element_text(a.driver, item)!r}"
    a.wait(lambda d: a.driver.execute_script(
        "return !!document.querySelector('[data-testid=\"tray-item\"] canvas')"), "the photo's thumbnail in the tray")
    a.screenshot("attachments-tray-desktop")
    a.fill("message-input", CAPTION)
    a.click("send-message")
    a.gone("tray-item")
    message = a.wait(lambda d: last_message(a, "attachment-image"), "Alice's photo message delivered (data-seq)")
    assert CAPTION in element_text(a.driver, message), "the caption is not shown under the photo"
    a.wait(lambda d: image_loaded(a), "Alice's photo rendered from its signed URL (naturalWidth > 0)")
    scenario.done.add("photo sent")


def test_upload_progress_and_cancel(scenario):
    """A slow upload shows its percentage; cancel aborts it and drops the bubble."""
    scenario.need("dm open")
    a = scenario.alice.browser
    big = scenario.files / "notes.bin"
    big.write_bytes(secrets.token_bytes(900 * 1024))
    a.driver.execute_cdp_cmd("Network.enable", {})
    a.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 120 * 1024})
    try:
        a.present("attach-input").send_keys(str(big))
        a.visible("tray-item")
        a.set_viewport(PHONE)
        a.screenshot("attachments-tray-phone")
        a.click("send-message")

        def percent(d):
            shown = a.displayed("upload-progress")
            text = element_text(d, shown[0]) if shown else ""
            return text if text.endswith("%") and 0 < int(text[:-1] or 0) < 100 else None
        a.wait(percent, "the upload's percentage between 0 and 100 %")
        a.screenshot("attachments-uploading-phone")
        a.click("upload-cancel")
        a.gone("upload-progress")
        assert not a.driver.execute_script(
            "return [...document.querySelectorAll('[data-testid=\"attachment-file\"]')]"
            ".some(e => e.textContent.includes('notes.bin'))"), "the canceled upload's bubble is still shown"
    finally:
        a.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
        a.set_viewport(DESKTOP)


def test_failed_upload_retries_once(scenario):
    """Offline, the upload fails with a retry; back online, the retry delivers one message."""
    scenario.need("dm open")
    a = scenario.alice.browser
    doc = scenario.files / f"offline-{RUN}.txt"
    doc.write_text("written offline\n", encoding="utf-8")
    a.driver.execute_cdp_cmd("Network.enable", {})
    a.expected_console.append(r"storage/v1/object/attachments")
    a.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    try:
        a.present("attach-input").send_keys(str(doc))
        a.visible("tray-item")
        a.click("send-message")
        a.visible("retry-message")
        a.screenshot("attachments-upload-failed-desktop")
    finally:
        a.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})

    def delivered(d):
        if a.is_visible("retry-message"):
            try:
                a.displayed("retry-message")[0].click()  # the app may also retry by itself on reconnect
            except Exception:
                pass
        return d.execute_script("""
            return [...document.querySelectorAll('[data-testid="message"][data-seq] [data-testid="attachment-file"]')]
              .filter(e => e.textContent.includes(arguments[0])).length;""", doc.name) or None
    a.wait(delivered, "the file sent after coming back online")
    time.sleep(1)
    count = a.driver.execute_script("""
        return [...document.querySelectorAll('[data-testid="attachment-file"]')]
          .filter(e => e.textContent.includes(arguments[0])).length;""", doc.name)
    assert count == 1, f"the retried file shows {count} times"


def test_refused_upload_shows_the_servers_reason(scenario):
    """A text file named .png (declared image/png) is refused by the server; the bubble says why."""
    scenario.need("dm open")
    a = scenario.alice.browser
    fake = scenario.files / f"fake-{RUN}.png"
    fake.write_text("this is not a picture\n", encoding="utf-8")
    a.expected_console.append(r"storage/v1/object/attachments")
    a.present("attach-input").send_keys(str(fake))
    a.visible("tray-item")
    a.click("send-message")
    a.visible("retry-message")
    text = a.driver.execute_script("""
        const row = [...document.querySelectorAll('[data-testid="message"]')].find(m => m.textContent.includes(arguments[0]));
        const failed = row && row.querySelector('.failed-row');
        return failed ? failed.textContent : '';""", fake.name)
    assert "image/png" in text and "text/plain" in text, f"the failure does not give the server's reason: {text!r}"
    a.screenshot("attachments-upload-refused-desktop")
    a.driver.execute_script("""
        const row = [...document.querySelectorAll('[data-testid="message"]')].find(m => m.textContent.includes(arguments[0]));
        row.querySelector('.failed-row button:last-child').click();""", fake.name)
    a.wait(lambda d: not d.execute_script("""
        return [...document.querySelectorAll('[data-testid="message"]')].some(m => m.textContent.includes(arguments[0]));""",
        fake.name), "the refused file's bubble to go after discarding it")


def test_paste_and_drop_fill_the_tray(scenario):
    """A pasted image and a dropped file land in the tray; remove takes them out again."""
    scenario.need("dm open")
    a = scenario.alice.browser
    a.driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const c = document.createElement('canvas');
        c.width = 40; c.height = 30;
        c.getContext('2d').fillRect(0, 0, 40, 30);
        c.toBlob(blob => {
          const paste = new DataTransfer();
          paste.items.add(new File([blob], 'pasted.png', { type: 'image/png' }));
          document.querySelector('[data-testid="message-input"]')
            .dispatchEvent(new ClipboardEvent('paste', { clipboardData: paste, bubbles: true, cancelable: true }));
          const drop = new DataTransfer();
          drop.items.add(new File(['hello'], 'dropped.txt', { type: 'text/plain' }));
          const target = document.querySelector('.messages');
          for (const type of ['dragenter', 'dragover', 'drop'])
            target.dispatchEvent(new DragEvent(type, { dataTransfer: drop, bubbles: true, cancelable: true }));
          done(true);
        }, 'image/png');""")
    a.wait(lambda d: len(a.displayed("tray-item")) == 2, "the pasted and the dropped file in the tray")
    kinds = [item.get_attribute("data-kind") for item in a.displayed("tray-item")]
    assert kinds == ["image", "file"], f"tray kinds are {kinds}"
    assert a.visible("message-input").get_attribute("value") == "", "pasting a file also pasted text"
    for _ in range(2):
        a.click("tray-remove")
    a.gone("tray-item")
    a.gone("attachment-tray")


def test_record_voice(scenario):
    scenario.need("dm open")
    a = scenario.alice.browser
    started = time.monotonic()
    a.click("record-voice")
    a.wait(lambda d: a.is_visible("recording-time") or a.is_visible("composer-note"), "recording to start")
    if a.is_visible("composer-note"):
        raise AssertionError(f"recording did not start: {element_text(a.driver, a.displayed('composer-note')[0])!r}")
    a.set_viewport(PHONE)
    a.screenshot("attachments-recording-phone")
    a.set_viewport(DESKTOP)
    time.sleep(2.2)
    a.wait(lambda d: (a.displayed("recording-time") or [None])[0] is not None
           and element_text(a.driver, a.displayed("recording-time")[0]) >= "0:02", "the elapsed time to reach 0:02")
    a.click("recording-stop")
    a.gone("recording-time")
    # How long the recording ran at most (on a loaded machine the stop lands late): Bob's
    # player must show a length from 2 s up to this.
    scenario.voice_at_most = time.monotonic() - started
    a.wait(lambda d: last_message(a, "voice-player"), "Alice's voice message delivered (data-seq)")
    scenario.done.add("voice sent")


def test_send_video_and_file(scenario):
    """A short MP4 (made by ffmpeg, if installed) and a text file go as kinds video and file."""
    scenario.need("dm open")
    a = scenario.alice.browser
    notes = scenario.files / f"заметки-{RUN}.txt"
    notes.write_text("Shopping list: milk, bread\n", encoding="utf-8")
    paths = [notes]
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg:
        clip = scenario.files / "clip.mp4"
        subprocess.run([ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=15", "-t", "2",
                        "-pix_fmt", "yuv420p", "-c:v", "libx264", "-movflags", "+faststart", str(clip)], check=True, timeout=60)
        paths.insert(0, clip)
    before = {hook: message_count(a, hook) for hook in ("attachment-video", "attachment-file")}
    a.present("attach-input").send_keys("\n".join(str(p) for p in paths))
    a.wait(lambda d: len(a.displayed("tray-item")) == len(paths), f"{len(paths)} files in the tray")
    kinds = [item.get_attribute("data-kind") for item in a.displayed("tray-item")]
    assert kinds == (["video", "file"] if ffmpeg else ["file"]), f"tray kinds are {kinds}"
    a.click("send-message")
    a.gone("tray-item")
    # Counted, not just found: an earlier test's file message is already in this chat.
    a.wait(lambda d: message_count(a, "attachment-file") > before["attachment-file"]
           and (not ffmpeg or message_count(a, "attachment-video") > before["attachment-video"]),
           "the video and file messages delivered")
    if ffmpeg:
        seqs = [int(last_message(a, hook).get_attribute("data-seq")) for hook in ("attachment-video", "attachment-file")]
        assert seqs[0] < seqs[1], f"the video (chosen first) was sent after the file: seqs {seqs}"
    scenario.done.add("video and file sent" if ffmpeg else "file sent")


def test_bob_sees_photo_and_plays_voice(scenario):
    scenario.need("photo sent", "voice sent")
    b = scenario.bob.browser
    b.go(f"#/chats/{scenario.conversation_id}")
    b.wait(lambda d: image_loaded(b), "the photo rendered in Bob's conversation (naturalWidth > 0)")
    voice = b.wait(lambda d: last_message(b, "voice-player"), "the voice message in Bob's conversation")
    # The length comes from the server before anything is played: Chromium's WebM has no
    # duration in its container, so the server measures it by decoding (about 2.2 s).
    length = element_text(b.driver, voice.find_element("css selector", ".voice-time"))
    minutes, _, seconds = length.partition(":")
    shown = int(minutes) * 60 + int(seconds) if minutes.isdigit() and seconds.isdigit() else -1
    assert 2 <= shown <= max(3, math.ceil(scenario.voice_at_most)), (
        f"the voice message shows {length!r} as its length before playing (recorded for at most "
        f"{scenario.voice_at_most:.1f} s)")
    play = voice.find_element("css selector", tid("voice-play"))
    b.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", play)
    play.click()

    def advancing(d):
        state = d.execute_script("""
            const p = arguments[0].querySelector('[data-testid="voice-player"]');
            const audio = p && p.querySelector('audio');
            return p ? [p.dataset.state, audio ? audio.currentTime : 0] : null;""", voice)
        return state and (state[1] > 0.2 or state[0] == "playing") and state
    b.wait(advancing, "the voice message to play (state 'playing' or currentTime advancing)")
    b.wait(lambda d: d.execute_script(
        "return arguments[0].querySelector('audio').currentTime", voice) > 0.2, "audio currentTime to advance")
    speed = voice.find_element("css selector", tid("voice-speed"))
    speed.click()
    assert element_text(b.driver, speed) == "1.5×", f"the speed toggle shows {element_text(b.driver, speed)!r}"
    assert b.driver.execute_script("return arguments[0].querySelector('audio').playbackRate", voice) == 1.5
    play.click()
    b.wait(lambda d: d.execute_script(
        "return arguments[0].querySelector('[data-testid=\"voice-player\"]').dataset.state", voice) == "paused",
        "the voice message to pause")
    scenario.done.add("bob played")


def test_bob_sees_video_and_file(scenario):
    scenario.need("dm open")
    b = scenario.bob.browser
    b.go(f"#/chats/{scenario.conversation_id}")
    b.wait(lambda d: last_message(b, "attachment-file"), "the file message in Bob's conversation")

    def download_link(d):
        # Looked up afresh on every poll: the list may repaint the row while its link resolves.
        card = last_message(b, "attachment-file")
        link = card and d.execute_script(
            "return arguments[0].querySelector(arguments[1])", card, tid("attachment-download"))
        return (card, link) if link is not None and link.get_attribute("href") else None
    card, link = b.wait(download_link, "the file's download link")
    assert f"заметки-{RUN}.txt" in element_text(b.driver, card), f"the file card (a Cyrillic name) shows {element_text(b.driver, card)!r}"
    assert "download=" in link.get_attribute("href"), "the download link does not ask for a download"
    if "video and file sent" in scenario.done:
        video = b.wait(lambda d: last_message(b, "attachment-video"), "the video message")
        b.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", video)
        b.wait(lambda d: d.execute_script(
            "const v = arguments[0].querySelector('video'); return v && v.readyState >= 1 && v.videoWidth > 0", video),
            "the video's metadata loaded (videoWidth > 0)")
        b.screenshot("attachments-video-file-bob-desktop")


def test_photo_viewer(scenario):
    scenario.need("photo sent")
    b = scenario.bob.browser
    opener = b.visible("attachment-image-open")
    b.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", opener)
    opener.click()
    viewer = b.visible("image-viewer")
    b.wait(lambda d: d.execute_script("const i = arguments[0].querySelector('img'); return i && i.naturalWidth > 0", viewer),
           "the photo in the viewer")
    assert b.driver.execute_script("return arguments[0].querySelector('img').alt", viewer), "the viewer's photo has no alt text"
    b.screenshot("attachments-viewer-desktop")
    b.driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    b.gone("image-viewer")
    assert b.driver.execute_script(
        "return document.activeElement && document.activeElement.dataset.testid") == "attachment-image-open", \
        "focus did not return to the photo after closing the viewer"


def test_screenshots(scenario):
    scenario.need("photo sent", "voice sent")
    route = f"#/chats/{scenario.conversation_id}"
    for who, browser in (("alice", scenario.alice.browser), ("bob", scenario.bob.browser)):
        shoot(browser, f"attachments-{who}", route, lambda b=browser: (
            b.wait(lambda d: image_loaded(b), "the photo rendered"), b.visible("voice-player")))
    # English: no Russian string left in the attachment UI.
    b = scenario.bob.browser
    b.go("#/settings")
    b.select("language-select", "en")
    b.wait(lambda d: b.root_attr("lang") == "en", "<html lang=en>")
    b.go(route)
    b.wait(lambda d: image_loaded(b), "the photo rendered")
    b.visible("voice-player")
    b.screenshot("attachments-bob-desktop-light-en")
    # User content stays as written: the names and the Cyrillic file name are not UI strings.
    cyrillic = [text for text in b.visible_cyrillic(exclude=[scenario.alice.display_name, scenario.bob.display_name])
                if f"заметки-{RUN}.txt" not in text]
    b.go("#/settings")
    b.select("language-select", "ru")
    b.wait(lambda d: b.root_attr("lang") == "ru", "<html lang=ru>")
    assert not cyrillic, f"untranslated strings in English: {cyrillic}"


def test_avatar_crop(scenario):
    scenario.need("dm open")
    a = scenario.alice.browser
    a.go("#/me")
    a.present("avatar-file").send_keys(str(scenario.files / "face.png"))
    stage = a.visible("crop-stage")
    stage.send_keys(Keys.ARROW_LEFT, "+", "+")
    a.screenshot("avatar-crop-desktop")
    a.set_viewport(PHONE)
    a.screenshot("avatar-crop-phone")
    a.set_viewport(DESKTOP)
    a.click("crop-save")
    a.gone("crop-stage")

    def avatar_img(d):
        return d.execute_script("""
            const img = document.querySelector('.profile-head .avatar img');
            return img && img.complete && img.naturalWidth > 0 ? img.getAttribute('src') : null;""")
    src = a.wait(avatar_img, "the new avatar shown on the profile page")
    assert src.startswith("/storage/v1/object/public/avatars/"), f"avatar src is {src!r}"
    assert src.endswith(".jpg.256.jpg"), f"the profile avatar is not the server's 256 px square: {src!r}"
    a.screenshot("avatar-profile-desktop")
    # The other user sees it too (DM header).
    b = scenario.bob.browser
    b.driver.refresh()
    b.go(f"#/chats/{scenario.conversation_id}")
    b.wait(lambda d: d.execute_script("""
        const img = document.querySelector('.conv-head .avatar img');
        return img && img.complete && img.naturalWidth > 0;"""), "Alice's new avatar in Bob's conversation header")
    b.set_viewport(PHONE)
    b.screenshot("avatar-in-conversation-bob-phone")
    b.set_viewport(DESKTOP)
