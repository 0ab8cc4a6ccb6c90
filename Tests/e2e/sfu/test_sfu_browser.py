"""The web app's group call (issue 18) against two real Janus nodes: headless Chromiums with a
fake camera and microphone (two, then three) beside aiortc devices (`SfuPeer`), all in the
SFU namespace.

- Eve signs in and starts a group call from her group's header: the waiting state, then Ben's
  and Cat's devices, rung with `call.invite` (room, token, group, video), join and publish.
  Eve's camera is published in simulcast layers: Cat takes the lowest once she decodes it; Ben
  switches to the lowest (`sfu.receive`, `sfu.layer`) and receives its keyframes at a quarter
  width, then the middle one at half; Frank's app asks for the lowest while Eve's shared
  screen fills the stage, and the highest after. Eve's app refreshes the room's join token halfway through its life
  (ROOM_TOKEN_REFRESH).
  The grid shows Eve's tile and two remote tiles named Ben and Cat, each playing video, Ben's
  marked as talking; both aiortc devices decode Eve's camera and microphone.
- Mute and camera-off go both ways: Eve's mute reaches the others as `sfu.media`; Ben's
  camera-off shows the camera-off mark on his tile.
- Frank's browser shows the invite with «Присоединиться»; he joins from it and sees everyone,
  but the room already has its three live publishers (the suite's SFU_MAX_PUBLISHERS): his
  screen says so; when Cat stops sending, Frank publishes by himself and Eve sees him.
- Eve shares her screen (a second video m-line, renegotiated): Ben asks for it and receives
  it, Frank's browser subscribes to it by itself and shows it large; she stops sharing.
- The room's Janus node is killed: both browsers keep their tiles, say they are reconnecting,
  come back at epoch 2 on the other node (publish and subscribe again) and media flows again
  both ways. Frank's receiving PeerConnection is closed under the app: it subscribes again
  on a new one.
- Eve, who started the call, ends it for all: Ben and Cat get `call.hangup`, Frank's screen
  says the organiser ended the call, both screens close.
- Eve and Frank's 1:1 video call becomes a group call with «Добавить людей»: Gina, in a third
  Chromium, is rung and joins, and each of the three browsers plays the other two's video.
- A server without media nodes: the group call shows SFU_UNAVAILABLE's message with retry.

Screenshots go to $ECOMANSONI_ARTIFACTS (default /tmp/ecomansoni-sfu-browser). Selenium
blocks, so every browser step runs in a thread (`web`) while the aiortc peers keep the event
loop. Run under scripts/sfu-netns (see sfu_fixtures.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

from sfu_fixtures import *  # noqa: F403 (the suite's fixtures)
from sfu_fixtures import requires_media_namespace
from sfu_peer import SfuPeer

from conftest import launched_server
from e2e_support import rpc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "web"))
from web_support import DESKTOP, PHONE, Browser, RunReport, browser_rpc, new_driver, tid  # noqa: E402
from test_accessibility import AXE_SCRIPT, run_axe  # noqa: E402 (the audit's axe-core and its backports)

pytestmark = requires_media_namespace

CHROMIUM = os.environ.get("ECOMANSONI_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = os.environ.get("ECOMANSONI_CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTEFACTS = Path(os.environ.get("ECOMANSONI_ARTIFACTS") or "/tmp/ecomansoni-sfu-browser")

# The browser user (test OTP of Tests/e2e/conftest.py; this server has a database of its own).
EVE_PHONE, EVE_CODE = "+15555550124", "124124"
FRANK_PHONE, FRANK_CODE = "+15555550126", "126126"
GINA_PHONE, GINA_CODE = "+15555550127", "127127"
MEDIA_ARGS = (
    # 15 frames a second (not 30): half the camera's encoding (three simulcast layers) in each
    # browser and of its decoding in the aiortc devices. On a starved machine the full
    # rate lost packets on the way, and each loss stalls aiortc's decoding (see below).
    "--use-fake-device-for-media-stream=fps=15",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
    # getDisplayMedia without a picker: the fake capture device stands in for the screen.
    "--auto-select-desktop-capture-source=Entire screen",
    "--auto-accept-this-tab-capture",
)
# Media on a loaded 2-core machine (two Chromiums, two aiortc devices, two Janus nodes) may be slow.
MEDIA_TIMEOUT = 40.0


# Installed before the app loads: records the frames of the calls socket (both directions),
# written to the artefacts directory when the browser closes (for diagnosis), and keeps the
# page's PeerConnections (a test closes one as a network would).
SOCKET_SPY = """
(() => {
  const NativePC = window.RTCPeerConnection;
  window.__e2ePCs = [];
  window.RTCPeerConnection = class extends NativePC {
    constructor(...args) { super(...args); window.__e2ePCs.push(this); }
  };
  const Native = window.WebSocket;
  window.__e2eCalls = [];
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      if (String(args[0]).includes('/calls/v1/ws')) {
        this.addEventListener('message', e => window.__e2eCalls.push({ dir: 'in', at: Date.now(), text: String(e.data).slice(0, 8000) }));
      }
    }
    send(data) {
      if (this.url.includes('/calls/v1/ws')) window.__e2eCalls.push({ dir: 'out', at: Date.now(), text: String(data).slice(0, 8000) });
      return super.send(data);
    }
  };
})();
"""


async def web(fn, *args, **kwargs):
    """A blocking Selenium step, off the event loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def make_browser(name: str) -> tuple[Browser, Path]:
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.skip("chromium and chromedriver are needed (Debian chromium, chromium-driver)")
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    profile = Path(tempfile.mkdtemp(prefix=f"ecom-sfu-{name}-"))
    report = RunReport(artefacts=ARTEFACTS)
    browser = Browser(name, new_driver(CHROMIUM, CHROMEDRIVER, profile, MEDIA_ARGS), ARTEFACTS, report)
    browser.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": SOCKET_SPY})
    report.live_browsers.append(browser)
    return browser, profile


def browser_fixture(name: str):
    @pytest.fixture(scope="module")
    def fixture():
        browser, profile = make_browser(name)
        try:
            yield browser
        finally:
            try:
                frames = browser.driver.execute_script("return window.__e2eCalls || []")
                (ARTEFACTS / f"calls-frames-{name}.json").write_text(json.dumps(frames, indent=1), encoding="utf-8")
            except Exception:
                pass
            browser.close()
            shutil.rmtree(profile, ignore_errors=True)
    return fixture


eve_browser = browser_fixture("eve")
frank_browser = browser_fixture("frank")
gina_browser = browser_fixture("gina")


def sign_in(b: Browser, url: str, phone: str, code: str, username: str, name: str) -> str:
    """Signs a user in (first sign-in: the profile too); returns the user id."""
    b.open(url)
    b.sign_in(phone, code, username, name)
    return b.driver.execute_script("return Object.values(JSON.parse(localStorage.getItem('eco:v1:accounts')))[0].userId")


def wait_long(b: Browser, condition, description: str, timeout: float) -> None:
    """Browser.wait for longer than its 15 s cap."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition(b.driver):
                return
        except Exception:  # the page is changing under the check
            pass
        time.sleep(0.2)
    raise AssertionError(f"[{b.name}] timed out after {timeout:.0f}s waiting for: {description}")


def axe_problems(b: Browser) -> list[str]:
    """axe-core's serious and critical violations on the page (as the accessibility audit fails them)."""
    if AXE_SCRIPT is None:
        pytest.skip("axe-selenium-python is not installed")
    results = run_axe(b)
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:4]}"
            for v in results["violations"] if v["impact"] in ("serious", "critical")]


STATE_RECORDER = """
window.__gcStates = [];
clearInterval(window.__gcStatesTimer);
window.__gcStatesTimer = setInterval(() => {
  const d = document.querySelector('[data-testid="group-call-screen"]');
  const st = d ? d.dataset.state + '/' + (document.querySelector('[data-testid="group-call-status"]') || {}).textContent : 'none';
  if (window.__gcStates[window.__gcStates.length - 1] !== st) window.__gcStates.push(st);
}, 20);
"""


def shot_when(b: Browser, condition, name: str, timeout: float = 15.0) -> None:
    """A screenshot as soon as `condition()` holds (a passing state: no failure if it is missed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            assert b.driver.save_screenshot(str(ARTEFACTS / "screenshots" / f"{name}.png"))
            return
        time.sleep(0.05)


def open_group(b: Browser, conversation_id: str) -> None:
    b.go(f"#/chats/{conversation_id}")
    b.visible("message-input")
    b.wait(lambda d: b.is_visible("group-call-start") and d.find_element("css selector", tid("group-call-start")).is_enabled(),
           "the group call button in the group's header")


TILES = """
return [...document.querySelectorAll('[data-testid="group-tile"]')].map(el => {
  const v = el.querySelector('video');
  const q = v && v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : null;
  return {device: el.dataset.deviceId, user: el.dataset.userId, self: el.hasAttribute('data-self'),
    label: el.getAttribute('aria-label'), name: el.querySelector('[data-testid="group-tile-name"]').textContent,
    micOff: !el.querySelector('[data-testid="group-tile-mic-off"]').hidden,
    camOff: !el.querySelector('[data-testid="group-tile-cam-off"]').hidden,
    hasVideo: el.classList.contains('has-video'), talking: el.classList.contains('talking'),
    time: v ? v.currentTime : 0, frames: q ? q.totalVideoFrames : -1, width: v ? v.videoWidth : 0,
    paused: v ? v.paused : true, audio: !!(el.querySelector('audio') && el.querySelector('audio').srcObject)};
});
"""


def tiles(b: Browser) -> list[dict]:
    return b.driver.execute_script(TILES)


def screen_attr(b: Browser, name: str) -> str | None:
    return b.driver.execute_script(
        "const d = document.querySelector('[data-testid=\"group-call-screen\"]');"
        "return d && d.open ? d.getAttribute(arguments[0]) : null;", name)


def wait_remote_video(b: Browser, user_ids: list[str], timeout: float = MEDIA_TIMEOUT) -> list[dict]:
    """Polls until each user's tile plays video whose time and frame count advance."""
    deadline = time.monotonic() + timeout
    first: dict[str, dict] = {}
    last: list[dict] = []
    while time.monotonic() < deadline:
        last = tiles(b)
        done = True
        for user in user_ids:
            tile = next((t for t in last if t["user"] == user and not t["self"]), None)
            if not tile or not tile["hasVideo"] or tile["paused"] or tile["width"] <= 0:
                done = False
                continue
            seen = first.setdefault(user, tile)
            if not (tile["time"] > seen["time"] + 0.5 and tile["frames"] > seen["frames"] + 10):
                done = False
        if done:
            return last
        time.sleep(0.25)
    raise AssertionError(f"remote video not playing for {user_ids} within {timeout}s: {last}; "
                         f"screen state {screen_attr(b, 'data-state')!r}, status {status_text(b)!r}")


def status_text(b: Browser) -> str:
    return b.driver.execute_script(
        "const s = document.querySelector('[data-testid=\"group-call-status\"]'); return s ? s.textContent : null;")


def shot(b: Browser, name: str, size: tuple[int, int] = DESKTOP) -> Path:
    b.set_viewport(size)
    path = b.screenshot(name)
    b.set_viewport(DESKTOP)
    return path


async def feed_of(client, user_id: str, *, source: str | None = None, timeout: float = 15.0, start: int = 0) -> dict:
    """The feed of `user_id` announced to `client` (with a `source` stream, when given)."""
    def matches(frame):
        if frame.get("type") != "sfu.feeds":
            return False
        for feed in (frame["payload"].get("added") or []) + (frame["payload"].get("feeds") or []):
            if feed["userId"] == user_id and (source is None or any(s["source"] == source for s in feed["streams"])):
                return True
        return False
    frame = await client.next(matches, timeout=timeout, what=f"the feed of {user_id} ({source or 'any'})", start=start)
    entries = (frame["payload"].get("added") or []) + (frame["payload"].get("feeds") or [])
    return next(f for f in entries if f["userId"] == user_id)


async def join_peer(client, room_id: str, token: str, *, loud: bool) -> SfuPeer:
    """An aiortc device joins the sfu room, publishes and subscribes to everyone."""
    reply = await client.request("ROOM_JOIN", {"roomId": room_id, "joinToken": token}, timeout=10)
    reply.expect_ok()
    joined = reply.response("ROOM_JOIN_OK")["payload"]
    assert joined["mode"] == "sfu", joined
    return await start_peer(client, room_id, joined["sfu"]["epoch"], loud=loud)


async def start_peer(client, room_id: str, epoch: int, *, loud: bool, publish: bool = True) -> SfuPeer:
    peer = SfuPeer(client, room_id, epoch, loud=loud)
    if publish:
        await peer.publish()
    peer.follow_offers()
    (await client.request("sfu.subscribe", {"roomId": room_id, "epoch": epoch, "all": True}, timeout=10)).expect_ok()
    return peer


async def decodes(peers: list[SfuPeer], feed_id: str, count: int = 30) -> None:
    for peer in peers:
        await peer.wait_frames(feed_id, "video", count=count, timeout=MEDIA_TIMEOUT)
        await peer.wait_frames(feed_id, "audio", count=count, timeout=MEDIA_TIMEOUT)


def js(b: Browser, script: str, *args):
    return b.driver.execute_script(script, *args)


def pressed(b: Browser, testid: str) -> str | None:
    return js(b, "return document.querySelector(arguments[0]).getAttribute('aria-pressed')", tid(testid))


def layers_asked(b: Browser) -> list[int]:
    """The simulcast substreams the page asked for with sfu.receive, in order."""
    sent = b.driver.execute_script("return window.__e2eCalls.filter(f => f.dir === 'out' && f.text.includes('\"sfu.receive\"'))"
                                   ".map(f => f.text)")
    return [stream["substream"] for text in sent for stream in json.loads(text)["payload"]["streams"] if "substream" in stream]


def outbound_video(b: Browser) -> list[dict]:
    """What the page's PeerConnections send of video, per layer (getStats' outbound-rtp): for a
    failure's message, to tell a stream the browser holds back from one lost on the way."""
    return b.driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        Promise.all((window.__e2ePCs || []).filter(pc => pc.connectionState !== 'closed').map(pc => pc.getStats()))
          .then(all => done(all.flatMap(stats => [...stats.values()]
            .filter(r => r.type === 'outbound-rtp' && r.kind === 'video')
            .map(r => ({mid: r.mid, rid: r.rid, active: r.active, width: r.frameWidth, fps: r.framesPerSecond,
                        encoded: r.framesEncoded, keyframes: r.keyFramesEncoded, sent: r.bytesSent, plis: r.pliCount,
                        nacks: r.nackCount, limitation: r.qualityLimitationReason, target: r.targetBitrate})))))
          .catch(e => done([String(e)]));""")


def stage_playing(b: Browser) -> bool:
    return js(b, """const st = document.querySelector('[data-testid="group-call-stage"]');
        const v = st && st.querySelector('video');
        return !!(st && !st.hidden && v && v.videoWidth > 0 && !v.paused && v.currentTime > 0.5);""")


async def test_group_call_in_the_browser(eve_browser, frank_browser, devices, sfu_users, sfu_server, janus_nodes):
    b, f = eve_browser, frank_browser
    ben_user, cat_user = sfu_users.ben, sfu_users.cat
    for user, name in ((ben_user, "Ben"), (cat_user, "Cat")):
        await rpc(user.client, "update_my_profile", {"display_name": name, "username": f"{name.lower()}_{user.id[:6]}"})
    frank_id = await web(sign_in, f, sfu_server.url, FRANK_PHONE, FRANK_CODE, "frank_group", "Frank")
    eve_id = await web(sign_in, b, sfu_server.url, EVE_PHONE, EVE_CODE, "eve_group", "Eve")
    created = await web(browser_rpc, b, "create_group_chat", {"title": "Crew", "member_ids": [ben_user.id, cat_user.id, frank_id]})
    assert created["status"] == 200, created
    conversation_id = created["body"] if isinstance(created["body"], str) else created["body"].get("id")
    ben, cat = await asyncio.gather(devices(ben_user), devices(cat_user))
    await web(open_group, b, conversation_id)

    # Eve starts the call: the room is created, she joins it and rings every member.
    await web(b.click, "group-call-start")
    invites = [await c.expect("call.invite", timeout=15) for c in (ben, cat)]
    for invite in invites:
        p = invite["payload"]
        assert invite["from"]["userId"] == eve_id
        assert p["callType"] == "video" and p["conversationId"] == conversation_id, p
        assert p["roomId"] == invites[0]["payload"]["roomId"] and p["joinToken"], p
    room_id, token, call_id = (invites[0]["payload"][k] for k in ("roomId", "joinToken", "callId"))
    await web(b.wait, lambda d: screen_attr(b, "data-state") == "active", "Eve's group call screen, active")
    assert await web(status_text, b) == "Ждём остальных"
    await web(b.visible, "group-call-empty")
    await web(shot, b, "group-call-waiting")

    peers: list[SfuPeer] = []
    killed = None
    try:
        peers = [await join_peer(ben, room_id, token, loud=True), await join_peer(cat, room_id, token, loud=False)]

        # The browser's feed reaches both peers, and both decode its camera and microphone.
        eve_feed = await feed_of(ben, eve_id)
        assert sorted((s["kind"], s["source"]) for s in eve_feed["streams"]) == [("audio", "mic"), ("video", "camera")], eve_feed
        await decodes(peers, eve_feed["feedId"])
        # Cat takes Eve's lowest layer from now on: less to decode for the rest of the call.
        [cat_eve_video] = peers[1].streams_of(eve_feed["feedId"], "video")
        (await cat.request("sfu.receive", {"roomId": room_id, "epoch": peers[1].epoch,
                                           "streams": [{"mid": cat_eve_video.mid, "substream": 0}]})).expect_ok()

        # The grid: Eve and the two of them, named, each playing video, sound attached.
        shown = await web(wait_remote_video, b, [ben_user.id, cat_user.id])
        assert len(shown) == 3 and sum(t["self"] for t in shown) == 1, shown
        assert sorted(t["name"] for t in shown if not t["self"]) == ["Ben", "Cat"], shown
        assert all(t["audio"] for t in shown if not t["self"]), shown
        assert all(t["label"].startswith(t["name"]) for t in shown), shown
        assert await web(status_text, b) == "3 участника в звонке"
        assert await web(js, b, "return document.querySelector('[data-testid=\"group-call-grid\"]').dataset.count") == "3"
        # Ben's tone is loud: he is the one talking.
        await web(b.wait, lambda d: any(t["talking"] and t["user"] == ben_user.id for t in tiles(b)), "Ben's tile marked as talking")
        await web(shot, b, "group-call-desktop")
        await web(shot, b, "group-call-phone", PHONE)

        # Eve mutes: the others hear of it; Ben turns his camera off: Eve's grid shows it.
        await web(b.click, "group-call-mute")
        media = await ben.next(lambda fr: fr.get("type") == "sfu.media" and fr["payload"].get("kind") == "audio", timeout=10, what="sfu.media audio")
        assert media["payload"]["muted"] is True and media["payload"]["userId"] == eve_id, media
        assert await web(pressed, b, "group-call-mute") == "true"
        (await ben.request("sfu.mute", {"roomId": room_id, "epoch": peers[0].epoch, "kind": "video", "muted": True})).expect_ok()
        await web(b.wait, lambda d: any(t["camOff"] and not t["hasVideo"] and t["user"] == ben_user.id for t in tiles(b)),
                  "the camera-off mark on Ben's tile")
        await web(b.wait, lambda d: any(t["micOff"] and t["self"] for t in tiles(b)), "the muted mark on Eve's own tile")
        (await ben.request("sfu.mute", {"roomId": room_id, "epoch": peers[0].epoch, "kind": "video", "muted": False})).expect_ok()
        await web(b.click, "group-call-mute")
        await web(wait_remote_video, b, [ben_user.id])

        # Frank's browser rings with an offer to join; he joins from the invite.
        await web(f.wait, lambda d: f.is_visible("call-accept-video"), "the group call invite on Frank's screen")
        assert await web(lambda: f.visible("call-peer-name").text) == "Crew"
        assert await web(lambda: f.visible("call-accept-video").text) == "Присоединиться"
        assert not await web(f.is_visible, "call-accept-audio")
        await web(shot, f, "group-call-invite")
        await web(f.click, "call-accept-video")
        await web(f.wait, lambda d: screen_attr(f, "data-state") == "active", "Frank's group call screen, active")
        await web(wait_remote_video, f, [eve_id, ben_user.id, cat_user.id])
        problems = await web(axe_problems, f)
        assert not problems, problems
        # The room allows three live publishers here (SFU_MAX_PUBLISHERS): Frank watches and is told why.
        notice = await web(lambda: f.visible("group-call-notice").text)
        assert "Слишком много участников уже передают видео" in notice, notice
        await web(shot, f, "group-call-publishers-full")
        # Cat stops sending: Frank publishes by himself and everyone gets his camera.
        marks = len(ben.frames)
        (await cat.request("sfu.unpublish", {"roomId": room_id, "epoch": peers[1].epoch})).expect_ok()
        frank_feed = await feed_of(ben, frank_id, start=marks, timeout=20)
        await decodes([peers[0]], frank_feed["feedId"], count=10)
        await web(wait_remote_video, b, [ben_user.id, frank_id])
        await web(f.wait, lambda d: not f.is_visible("group-call-notice"), "Frank's notice gone once he publishes")
        await web(b.wait, lambda d: any(t["camOff"] and t["micOff"] and t["user"] == cat_user.id for t in tiles(b)),
                  "Cat's tile without camera and microphone once she stopped sending")

        # Eve's camera goes out in simulcast layers: Ben picks the lowest and receives it at a
        # quarter of the camera's width, then the middle one at half. He stays there, with less to
        # decode for the rest of the call. (Only now: Frank's invite rings 45 s, and on a starved
        # machine everything before his answer takes long.)
        camera = next(st for st in eve_feed["streams"] if st["kind"] == "video")
        assert camera["simulcast"] is True, eve_feed
        [eve_video] = peers[0].streams_of(eve_feed["feedId"], "video")
        for substream, narrowest, widest in ((0, 1, 320), (1, 321, 640)):
            start = len(ben.frames)
            asked = time.monotonic()
            (await ben.request("sfu.receive", {"roomId": room_id, "epoch": peers[0].epoch,
                                               "streams": [{"mid": eve_video.mid, "substream": substream}]})).expect_ok()
            await ben.next(lambda fr: fr.get("type") == "sfu.layer" and fr["payload"].get("mid") == eve_video.mid
                           and fr["payload"].get("substream") == substream, start=start, timeout=20, what=f"sfu.layer {substream}")
            # Janus has switched (sfu.layer), at a keyframe of the new layer: its width is the
            # layer's. It is read as it reaches Ben's m-line, not from decoded frames: a starved
            # aiortc device decodes seconds behind what it receives (in CI, a decoded frame
            # of the old width came 40 s after the switch).
            def switched() -> list[tuple[float, int]]:
                return [(t, w) for t, w in eve_video.keyframes if t >= asked and narrowest <= w <= widest]
            deadline = time.monotonic() + 20
            while not switched() and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            layers = [(round(ben.arrived[i], 2), fr["payload"].get("substream")) for i, fr in enumerate(ben.frames)
                      if i >= start and fr.get("type") == "sfu.layer"]
            assert switched(), (
                f"Ben receives no keyframe of Eve's layer {substream} ({narrowest}-{widest} px wide); keyframes "
                f"{eve_video.keyframes[-12:]}, decoded widths {eve_video.widths[-12:]}, asked at {asked:.2f}, "
                f"layers {layers}, Eve sends {await web(outbound_video, b)}; {peers[0].story()}")

        # Eve shares her screen: a second video m-line; Ben asks for it and receives it; Frank sees it large.
        assert await web(b.is_visible, "group-call-share"), "getDisplayMedia is missing: the share button is hidden"
        await web(b.click, "group-call-share")
        shared_at = len(ben.frames)
        screen_feed = await feed_of(ben, eve_id, source="screen", timeout=15)
        screen_mid = next(s["mid"] for s in screen_feed["streams"] if s["source"] == "screen")
        screen_stream = {"feedId": screen_feed["feedId"], "mid": screen_mid}

        def screen_mids() -> list[str]:
            return [m for m, st in peers[0].offer_streams.items()
                    if st.get("feedId") == screen_feed["feedId"] and st.get("source") == "screen" and st.get("active", True)]

        async def ben_receives_screen(seconds: float) -> bool:
            """Ben decodes Eve's screen, or at least its packets reach his m-line. aiortc's jitter
            buffer holds every packet behind a lost one until NACK brings it or 512 more have come
            (half a minute of a screen's packets), where a browser would drop the frame and ask for
            a keyframe: with the CPU half taken it decoded nothing in 40 s while the packets
            came. Frank's browser decodes the screen below."""
            before = {mid: packets for mid, _, packets, _ in await peers[0].inbound()}
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                if any(m in peers[0].received and peers[0].received[m].frames >= 3 for m in screen_mids()):
                    return True
                await asyncio.sleep(0.1)
            after = {mid: packets for mid, _, packets, _ in await peers[0].inbound()}
            return any(after.get(m, 0) - before.get(m, 0) >= 50 for m in screen_mids())

        (await ben.request("sfu.subscribe", {"roomId": room_id, "epoch": peers[0].epoch, "streams": [screen_stream]},
                           timeout=10)).expect_ok()
        if not await ben_receives_screen(MEDIA_TIMEOUT):
            told = [(fr.get("type"), {k: v for k, v in (fr.get("payload") or {}).items() if k not in ("sdp", "roomId")})
                    for fr in ben.frames[shared_at:] if str(fr.get("type", "")).startswith(("sfu.", "ACK"))]
            raise AssertionError(f"Ben receives no screen of Eve; Eve's browser sends {await web(outbound_video, b)}; "
                                 f"Ben was told {told}; Ben's inbound (mid, ssrc, received, lost) {await peers[0].inbound()}; "
                                 f"{peers[0].story()}; Ben's streams {peers[0].offer_streams} {peers[0].received}")
        assert await web(pressed, b, "group-call-share") == "true"
        await web(b.wait, lambda d: stage_playing(b), "Eve's own screen, large")
        await web(wait_long, f, lambda d: stage_playing(f), "Eve's screen, large on Frank's screen", MEDIA_TIMEOUT)
        assert await web(lambda: f.visible("group-call-stage").get_attribute("aria-label")) == "Экран: Eve"
        await web(shot, b, "group-call-screen-share")
        await web(shot, f, "group-call-screen-share-frank")
        # With the screen large, Frank's app takes Eve's camera (simulcast) at its lowest layer.
        await web(f.wait, lambda d: layers_asked(f)[-1:] == [0], "Frank's sfu.receive of the lowest layer")
        await web(b.click, "group-call-share")
        await web(wait_long, f, lambda d: not f.is_visible("group-call-stage"), "the shared screen gone from Frank's screen", MEDIA_TIMEOUT)
        await web(f.wait, lambda d: layers_asked(f)[-1:] == [2], "Frank's sfu.receive of the highest layer again")

        # The room's node dies: everyone keeps their tiles, reconnects on the other node (epoch 2).
        node_id = sql(sfu_server, f"SELECT node_id FROM calls.sfu_rooms WHERE room_id = '{room_id}'")[0][0]
        killed = next(n for n in janus_nodes if n.node_id == node_id)
        marks = {c: len(c.frames) for c in (ben, cat)}
        for browser in (b, f):
            await web(js, browser, STATE_RECORDER)
        killed.kill()
        await web(shot_when, b, lambda: screen_attr(b, "data-state") == "reconnecting", "group-call-reconnecting")
        restarts = [await c.next(lambda fr: fr.get("type") == "sfu.restart", timeout=40, what="sfu.restart", start=marks[c]) for c in (ben, cat)]
        epoch = restarts[0]["payload"]["epoch"]
        assert epoch == 2, restarts
        await asyncio.gather(*(p.close() for p in peers))
        peers = [await start_peer(ben, room_id, epoch, loud=True), await start_peer(cat, room_id, epoch, loud=False, publish=False)]
        for browser in (b, f):
            await web(wait_long, browser, lambda d, browser=browser: screen_attr(browser, "data-state") == "active"
                      and screen_attr(browser, "data-epoch") == "2", f"{browser.name}'s call back at epoch 2", 40)
        for browser in (b, f):
            states = await web(js, browser, "clearInterval(window.__gcStatesTimer); return window.__gcStates")
            assert "reconnecting/Восстанавливаем связь…" in states and states[-1].startswith("active/"), (browser.name, states)
        eve_feed = await feed_of(ben, eve_id, start=marks[ben])
        await decodes(peers, eve_feed["feedId"])
        await web(wait_remote_video, b, [ben_user.id, frank_id])
        await web(wait_remote_video, f, [eve_id, ben_user.id])
        await web(shot, b, "group-call-after-failover")

        # Frank's receiving PeerConnection closes under the app: the SFU says so, the app
        # subscribes again on a new one and the videos come back.
        marks = len(ben.frames)
        closed = await web(js, f, """
            const pc = window.__e2ePCs.find(p => p.connectionState !== 'closed' && p.getTransceivers().some(t => t.direction === 'recvonly'));
            if (!pc) return false;
            pc.close();
            return true;""")
        assert closed, "no open subscriber PeerConnection on Frank's page"
        await web(wait_long, f, lambda d: js(f, "return window.__e2ePCs.filter(p => p.connectionState === 'connected' "
                                             "&& p.getTransceivers().some(t => t.direction === 'recvonly')).length") == 1,
                  "a new subscriber PeerConnection on Frank's page", MEDIA_TIMEOUT)
        await web(wait_remote_video, f, [eve_id, ben_user.id])

        # Halfway through the join token's life (60 s in this suite) Eve's app got a fresh one,
        # which a late invite or a rejoin after a drop would carry.
        def refreshed() -> list[str]:
            return [fr["text"] for fr in js(b, "return window.__e2eCalls") if fr["dir"] == "in" and '"ROOM_TOKEN_REFRESHED"' in fr["text"]]
        await web(wait_long, b, lambda d: refreshed(), "Eve's app refreshing the room's join token", MEDIA_TIMEOUT)
        asked = [fr["text"] for fr in await web(js, b, "return window.__e2eCalls") if fr["dir"] == "out" and '"ROOM_TOKEN_REFRESH"' in fr["text"]]
        assert asked and f'"roomId":"{room_id}"' in asked[0], asked

        # Eve, who started the call, ends it for all: the others are hung up; both screens close.
        await web(b.click, "group-call-end")
        for client in (ben, cat):
            hangup = await client.expect("call.hangup", timeout=10)
            assert hangup["payload"]["callId"] == call_id, hangup
        await web(b.wait, lambda d: screen_attr(b, "data-state") is None, "Eve's group call screen to close")
        await web(f.wait, lambda d: screen_attr(f, "data-state") == "ended", "Frank's screen: the organiser ended the call")
        assert await web(status_text, f) == "Организатор завершил звонок"
        await web(shot, f, "group-call-ended-by-host")
        await web(f.wait, lambda d: screen_attr(f, "data-state") is None, "Frank's group call screen to close")
    finally:
        await asyncio.gather(*(p.close() for p in peers))
        if killed is not None:
            killed.start()


def call_state(b: Browser) -> str | None:
    """The 1:1 call screen's state (None when it is not open)."""
    return b.driver.execute_script(
        "const d = document.querySelector('[data-testid=\"call-screen\"]'); return d && d.open ? d.dataset.state : null;")


def active_testid(b: Browser) -> str | None:
    return js(b, "return document.activeElement && document.activeElement.dataset.testid || null")


async def test_one_to_one_call_becomes_a_group_call_of_three_browsers(eve_browser, frank_browser, gina_browser, sfu_server, janus_nodes):
    """Eve and Frank are in a 1:1 video call (Eve calls from their DM, Frank answers); Eve adds
    Gina with «Добавить людей» (a dialog of checkboxes of the people she chats with):
    ROOM_UPGRADE, both browsers get ROOM_UPGRADED, leave the p2p room and join the sfu room
    with their camera; Gina's browser is rung (mode sfu), she joins from the invite, and each of
    the three browsers' grids plays the other two browsers' videos."""
    from selenium.webdriver.common.keys import Keys

    b, f, g = eve_browser, frank_browser, gina_browser
    gina_id = await web(sign_in, g, sfu_server.url, GINA_PHONE, GINA_CODE, "gina_group", "Gina")
    frank_id = await web(sign_in, f, sfu_server.url, FRANK_PHONE, FRANK_CODE, "frank_group", "Frank")
    eve_id = await web(sign_in, b, sfu_server.url, EVE_PHONE, EVE_CODE, "eve_group", "Eve")
    # Gina is among the people Eve chats with (a group of theirs); the app learns of it on load.
    created = await web(browser_rpc, b, "create_group_chat", {"title": "Pals", "member_ids": [gina_id]})
    assert created["status"] == 200, created
    await web(b.open, sfu_server.url)
    await web(b.sign_in, EVE_PHONE, EVE_CODE, "eve_group", "Eve")
    dm = await web(b.open_dm, "frank_group")

    # The 1:1 video call: Eve calls from the DM, Frank answers with video.
    await web(b.wait, lambda d: b.is_visible("call-video") and d.find_element("css selector", tid("call-video")).is_enabled(),
              "the call buttons in the DM")
    await web(b.click, "call-video")
    await web(f.wait, lambda d: call_state(f) == "incoming", "Frank's incoming call")
    await web(f.click, "call-accept-video")
    for browser in (b, f):
        await web(wait_long, browser, lambda d, browser=browser: call_state(browser) == "active", f"{browser.name}'s 1:1 call active", MEDIA_TIMEOUT)
    p2p_room = [json.loads(fr["text"])["payload"]["roomId"] for fr in await web(js, b, "return window.__e2eCalls")
                if fr["dir"] == "out" and '"ROOM_JOIN"' in fr["text"]][-1]
    assert await web(b.is_visible, "call-add-people") and await web(f.is_visible, "call-add-people")
    assert await web(lambda: b.visible("call-add-people").text) == "Добавить людей"

    # The picker: a modal dialog, a labelled group of checkboxes; Escape closes it and focus returns.
    await web(b.click, "call-add-people")
    dialog = await web(b.visible, "add-people-dialog")
    assert await web(dialog.get_attribute, "aria-labelledby")
    options = await web(js, b, """return [...document.querySelectorAll('[data-testid="add-people-option"]')].map(el =>
        ({user: el.dataset.userId, type: el.type, label: el.closest('label').textContent}));""")
    users = {o["user"] for o in options}
    assert gina_id in users and frank_id not in users and eve_id not in users, options
    assert all(o["type"] == "checkbox" for o in options), options
    assert await web(js, b, """const g = document.querySelector('[data-testid="add-people-list"]');
        return g.getAttribute('role') === 'group' && !!document.getElementById(g.getAttribute('aria-labelledby')).textContent;""")
    assert await web(active_testid, b) == "add-people-option"
    # Tab from the last control wraps to the first.
    await web(js, b, "document.querySelector('[data-testid=\"add-people-confirm\"]').disabled = false;"
              "document.querySelector('[data-testid=\"add-people-confirm\"]').focus()")
    await web(lambda: b.driver.switch_to.active_element.send_keys(Keys.TAB))
    assert await web(js, b, "return document.querySelector('[data-testid=\"add-people-dialog\"]').contains(document.activeElement)")
    problems = await web(axe_problems, b)
    assert not problems, problems
    await web(lambda: b.driver.switch_to.active_element.send_keys(Keys.ESCAPE))
    await web(b.wait, lambda d: not b.is_visible("add-people-dialog"), "the picker to close on Escape")
    assert await web(active_testid, b) == "call-add-people"
    assert await web(call_state, b) == "active"

    await web(b.click, "call-add-people")
    await web(b.click, "add-people-option", data_user_id=gina_id)
    await web(shot, b, "add-people-picker")
    await web(b.click, "add-people-confirm")

    # Gina is rung into the new sfu room; both browsers move into the group call.
    await web(g.wait, lambda d: g.is_visible("call-accept-video"), "the group call invite on Gina's screen")
    assert await web(lambda: g.visible("call-accept-video").text) == "Присоединиться"
    rung = [fr["text"] for fr in await web(js, g, "return window.__e2eCalls") if fr["dir"] == "in" and '"call.invite"' in fr["text"]]
    assert rung and '"mode":"sfu"' in rung[-1] and '"callType":"video"' in rung[-1] and p2p_room not in rung[-1], rung
    # Frank's app was told by the server (the spy keeps each frame's first 8000 characters: a join token grows with the room's users).
    upgraded = [fr["text"] for fr in await web(js, f, "return window.__e2eCalls") if fr["dir"] == "in" and '"ROOM_UPGRADED"' in fr["text"]]
    assert upgraded and p2p_room in upgraded[0], upgraded
    for browser in (b, f):
        sent = [fr["text"] for fr in await web(js, browser, "return window.__e2eCalls") if fr["dir"] == "out"]
        assert any('"ROOM_LEAVE"' in t and p2p_room in t for t in sent), (browser.name, "no ROOM_LEAVE of the 1:1 room")
        await web(wait_long, browser, lambda d, browser=browser: screen_attr(browser, "data-state") == "active",
                  f"{browser.name}'s group call screen, active", MEDIA_TIMEOUT)
        assert await web(call_state, browser) is None, f"{browser.name}'s 1:1 call screen is still open"
    await web(g.click, "call-accept-video")

    # Three browsers, each playing the other two.
    names = {eve_id: "Eve", frank_id: "Frank", gina_id: "Gina"}
    for browser, me in ((b, eve_id), (f, frank_id), (g, gina_id)):
        others = [user for user in names if user != me]
        shown = await web(wait_remote_video, browser, others)
        assert sorted(t["name"] for t in shown if not t["self"]) == sorted(names[u] for u in others), (browser.name, shown)
        assert all(t["audio"] for t in shown if not t["self"]), (browser.name, shown)
    await web(shot, b, "add-people-group-grid")
    await web(shot, g, "group-grid-gina", PHONE)

    # Eve started the group call: she ends it for all.
    await web(b.click, "group-call-end")
    await web(b.wait, lambda d: screen_attr(b, "data-state") is None, "Eve's group call screen to close")
    for browser in (f, g):
        await web(wait_long, browser, lambda d, browser=browser: screen_attr(browser, "data-state") is None,
                  f"{browser.name}'s group call screen to close", 20)
    assert dm


async def test_no_media_server(eve_browser):
    """A deployment without SFU nodes: the group call says so and offers to retry."""
    b = eve_browser
    with launched_server("no sfu server") as server:
        eve_id = await web(sign_in, b, server.url, EVE_PHONE, EVE_CODE, "eve_nosfu", "Eve")
        # A member with an account on this server: a second phone signed in over the API.
        from e2e_support import close_client, new_client, sign_in as api_sign_in
        client = await new_client(server.url, server.anon_key)
        try:
            other = (await api_sign_in(client, "+15555550125", "125125")).session.user.id
            created = await web(browser_rpc, b, "create_group_chat", {"title": "Solo", "member_ids": [other]})
            assert created["status"] == 200, created
            conversation_id = created["body"] if isinstance(created["body"], str) else created["body"].get("id")
            await web(open_group, b, conversation_id)
            await web(b.click, "group-call-start")
            await web(b.wait, lambda d: screen_attr(b, "data-state") == "error", "the group call's error state")
            text = await web(lambda: b.visible("group-call-error-text").text)
            assert "Медиасервер сейчас недоступен" in text, text
            assert (await web(b.visible, "group-call-retry")).is_displayed()
            assert await web(js, b, "return document.activeElement.dataset.testid") == "group-call-retry"
            problems = await web(axe_problems, b)
            assert not problems, problems
            await web(shot, b, "group-call-sfu-unavailable")
            await web(b.click, "group-call-close")
            await web(b.wait, lambda d: screen_attr(b, "data-state") is None, "the error screen to close")
            # The same in English.
            await web(b.go, "#/settings")
            await web(b.select, "language-select", "en")
            await web(b.wait, lambda d: b.root_attr("lang") == "en", "the page in English")
            await web(open_group, b, conversation_id)
            await web(b.click, "group-call-start")
            await web(b.wait, lambda d: screen_attr(b, "data-state") == "error", "the group call's error state, in English")
            text = await web(lambda: b.visible("group-call-error-text").text)
            assert text.startswith("The media server is unavailable right now."), text
            assert await web(lambda: b.visible("group-call-retry").text) == "Try again"
            await web(shot, b, "group-call-sfu-unavailable-en", PHONE)
            await web(b.click, "group-call-close")
            await web(b.wait, lambda d: screen_attr(b, "data-state") is None, "the error screen to close")
        finally:
            await close_client(client)
        assert eve_id
