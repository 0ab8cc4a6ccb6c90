"""1:1 calls in the web app: two users in two Chromiums with a fake camera and microphone, each
connected to a different server instance (two extra `serve` processes on the session
database with MESSAGE_BUS=postgres), so ringing, rooms and WebRTC negotiation cross instances.

- A video-calls B from their DM while B is on another page; B's incoming screen appears, B
  accepts with video; each side's remote <video> plays decoded frames; mute and camera-off
  toggle; A's signalling socket drops, resumes and A restarts ICE, and media keeps flowing;
  A hangs up and B's page is back.
- A calls again while B is signed in on a second browser too (on A's instance): both ring, B
  declines on one and the other stops ringing; A sees "declined" and the server's call event
  «Отклонённый видеозвонок» is in the DM on both sides (no text message from the app).
- An audio call: B answers on one device (the other stops ringing), the remote audio plays, no
  video is shown, and B hangs up: A sees that the other side hung up.
- Access tokens live 45 s here: after the app refreshes its token, the calls socket sends AUTH
  again with it and is never closed for an expired token (4001).
- A's network goes away for 3 s (DevTools offline emulation, and A's open connections to its
  server aborted with `ss -K`, since the emulation leaves open WebSockets alone): the calls
  socket comes back by itself with a resuming HELLO and a call connects; the realtime socket
  comes back and a message Bob sends afterwards reaches A's open chat.

Screenshots of the incoming and in-call screens (1280×800 and 360×740, light and dark) go to
the artefacts directory. Loopback WebRTC: Chromium gathers loopback/host candidates only with
--allow-loopback-in-peer-connection and mDNS host candidates disabled.

The tests run in file order and share state (run with -x).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest

from web_support import Browser, DESKTOP, PHONE, Steps, element_text, tid

ALICE_PHONE, ALICE_CODE = "+15555550140", "140140"
BOB_PHONE, BOB_CODE = "+15555550141", "141141"

RUN = secrets.token_hex(3)

MEDIA_ARGS = (
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
)

# Media may take a while on a loaded 2-core machine; the brief allows ~20 s.
MEDIA_TIMEOUT = 20.0

# Short-lived access tokens on the two instances: the app refreshes them during the module and
# the calls socket must AUTH again with the fresh one (else the server closes it with 4001).
JWT_EXPIRY = 45

# Installed before the app loads: keeps every WebSocket of the page and records the frames of
# the calls socket (both directions), so a test can drop it and see the resume.
SOCKET_SPY = """
(() => {
  const Native = window.WebSocket;
  window.__e2eSockets = [];
  window.__e2eCalls = [];
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      window.__e2eSockets.push(this);
      if (String(args[0]).includes('/calls/v1/ws')) {
        this.addEventListener('message', e => window.__e2eCalls.push({ dir: 'in', at: Date.now(), text: String(e.data) }));
        this.addEventListener('close', e => window.__e2eCalls.push({ dir: 'close', at: Date.now(), text: JSON.stringify({ code: e.code }) }));
      }
    }
    send(data) {
      if (this.url.includes('/calls/v1/ws')) window.__e2eCalls.push({ dir: 'out', at: Date.now(), text: String(data) });
      return super.send(data);
    }
  };
})();
"""


@dataclass
class User:
    label: str
    phone: str
    code: str
    username: str
    display_name: str
    browser: Browser | None = None
    url: str = ""


@dataclass
class Scenario(Steps):
    alice: User
    bob: User
    bob2: Browser | None = None  # Bob's second device, on Alice's instance
    done: set[str] = field(default_factory=set)
    conversation_id: str | None = None


@pytest.fixture(scope="module")
def scenario(server_instances, browser_factory):
    env = {"AUTH_JWT_EXPIRY": str(JWT_EXPIRY)}
    a, b = server_instances("calls-a", env), server_instances("calls-b", env)
    s = Scenario(
        alice=User("alice", ALICE_PHONE, ALICE_CODE, f"calla_{RUN}", f"Alice {RUN}", url=a.url),
        bob=User("bob", BOB_PHONE, BOB_CODE, f"callb_{RUN}", f"Bob {RUN}", url=b.url),
    )
    for user in (s.alice, s.bob):
        user.browser = browser_factory(f"calls-{user.label}", MEDIA_ARGS)
        user.browser.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": SOCKET_SPY})
    yield s
    # The calls frames each page sent and received (for diagnosis), then quit the browsers while
    # their server instances still run (no reconnect noise in the console logs).
    for browser in (s.alice.browser, s.bob.browser, s.bob2):
        if browser is None:
            continue
        try:
            frames = browser.driver.execute_script("return window.__e2eCalls || []")
            (browser.artefacts / f"calls-frames-{browser.name}.json").write_text(json.dumps(frames, indent=1), encoding="utf-8")
        except Exception:
            pass
        browser.close()


# --------------------------------------------------------------------------- helpers


def sign_in(b: Browser, user: User) -> None:
    """Phone → code → username and display name → the app shell."""
    b.open(user.url)
    b.wait(lambda d: b.is_visible("phone-input") or b.is_visible("nav-chats"), "the sign-in form")
    b.fill("phone-input", user.phone)
    b.click("send-code")
    b.visible("code-input")
    b.fill("code-input", user.code)
    b.submit_code()
    b.wait(lambda d: b.is_visible("username-input") or b.is_visible("nav-chats"), "the profile form after the code")
    b.complete_profile(user.username, user.display_name)


def screen_attr(b: Browser, name: str) -> str | None:
    """An attribute of the call screen (None when it is not shown)."""
    return b.driver.execute_script(
        "const d = document.querySelector('[data-testid=\"call-screen\"]');"
        "return d && d.open ? d.getAttribute(arguments[0]) : null;", name)


def wait_state(b: Browser, *states: str, timeout: float = 15.0) -> str:
    b.wait(lambda d: screen_attr(b, "data-state") in states,
           f"the call screen in state {states} (now {screen_attr(b, 'data-state')!r}, "
           f"reason {screen_attr(b, 'data-reason')!r})", timeout)
    return screen_attr(b, "data-state")


def screen_gone(b: Browser, timeout: float = 15.0) -> None:
    b.wait(lambda d: screen_attr(b, "data-state") is None, "the call screen to close", timeout)


VIDEO_STATE = """
const v = document.querySelector(arguments[0]);
if (!v) return null;
const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : null;
return {frames: q ? q.totalVideoFrames : -1, paused: v.paused, ready: v.readyState, width: v.videoWidth,
        height: v.videoHeight, shown: v.getBoundingClientRect().width > 0};
"""


def video_state(b: Browser, testid: str) -> dict | None:
    return b.driver.execute_script(VIDEO_STATE, tid(testid))


def wait_frames(b: Browser, testid: str = "call-remote-video", more_than: int = 0, timeout: float = MEDIA_TIMEOUT) -> dict:
    """Polls until the <video> plays and has decoded more than `more_than` frames (≤ timeout s)."""
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        state = video_state(b, testid)
        if state and state["frames"] > more_than and not state["paused"] and state["ready"] >= 2 and state["width"] > 0:
            return state
        time.sleep(0.25)
    raise AssertionError(f"[{b.name}] {tid(testid)} is not playing new frames after {timeout:.0f}s "
                         f"(wanted > {more_than}): {state}; call screen state {screen_attr(b, 'data-state')!r}, "
                         f"ice {screen_attr(b, 'data-ice')!r}, signal {screen_attr(b, 'data-signal')!r}")


def local_track(b: Browser, kind: str) -> dict | None:
    return b.driver.execute_script("""
        const v = document.querySelector('[data-testid="call-local-video"]');
        const s = v && v.srcObject;
        const tr = s && (arguments[0] === 'audio' ? s.getAudioTracks() : s.getVideoTracks())[0];
        return tr ? {enabled: tr.enabled, state: tr.readyState} : null;""", kind)


def pressed(b: Browser, testid: str) -> str | None:
    elements = b.displayed(testid)
    return elements[0].get_attribute("aria-pressed") if elements else None


def active_testid(b: Browser) -> str | None:
    return b.driver.execute_script("return document.activeElement && document.activeElement.getAttribute('data-testid')")


def calls_frames(b: Browser, direction: str) -> list[dict]:
    """The calls-socket frames the page sent ('out') or received ('in'), parsed."""
    raw = b.driver.execute_script("return (window.__e2eCalls || []).filter(f => f.dir === arguments[0]).map(f => f.text)", direction)
    frames = []
    for text in raw:
        try:
            frames.append(json.loads(text))
        except ValueError:
            pass
    return frames


def drop_calls_socket(b: Browser) -> int:
    """Closes the page's open calls socket under the app (as a dropped connection would)."""
    return b.driver.execute_script("""
        let n = 0;
        for (const ws of window.__e2eSockets || []) {
          if (ws.url.includes('/calls/v1/ws') && ws.readyState === 1) { ws.close(4000, 'e2e drop'); n++; }
        }
        return n;""")


def message_by_text(b: Browser, text: str):
    return b.driver.execute_script("""
        for (const m of document.querySelectorAll('[data-testid="message"]')) {
          const body = m.querySelector('[data-testid="message-body"]');
          if (body && body.textContent.trim() === arguments[0] && m.dataset.seq) return m;
        }
        return null;""", text)


def call_event_texts(b: Browser) -> list[str]:
    """The texts of the call events in the open chat, oldest first."""
    return b.driver.execute_script(
        "return [...document.querySelectorAll('[data-testid=\"call-event-text\"]')].map(e => e.textContent.trim())")


def shots(b: Browser, name: str) -> None:
    """Screenshots at desktop and phone size in light and dark; checks nothing overflows sideways."""
    try:
        for scheme in ("light", "dark"):
            b.emulate_color_scheme(scheme)
            for size, label in ((DESKTOP, "desktop"), (PHONE, "phone")):
                b.set_viewport(size)
                b.screenshot(f"calls-{name}-{label}-{scheme}")
                overflow = b.horizontal_overflow()
                assert overflow <= 1, f"[{b.name}] {name} ({label}, {scheme}) overflows horizontally by {overflow}px"
                outside = b.out_of_viewport(["call-hangup", "call-mute", "call-camera", "call-decline",
                                             "call-accept-audio", "call-accept-video", "call-cancel", "call-peer-name"])
                assert not outside, f"[{b.name}] {name} ({label}, {scheme}): outside the viewport: {outside}"
    finally:
        b.emulate_color_scheme("light")
        b.set_viewport(DESKTOP)


# --------------------------------------------------------------------------- tests


def test_sign_in_both_on_different_instances_and_open_a_dm(scenario):
    alice, bob = scenario.alice, scenario.bob
    assert alice.url != bob.url
    sign_in(alice.browser, alice)
    sign_in(bob.browser, bob)
    a = alice.browser
    a.click("nav-people")
    a.fill("people-search", bob.username)
    a.click("person-result", data_username=bob.username)
    a.click("open-dm")
    a.wait(lambda d: re.fullmatch(r"#/chats/[0-9a-f-]{36}", a.route()) is not None, "the DM route after open-dm")
    scenario.conversation_id = a.route()[len("#/chats/"):]
    a.visible("call-video")
    a.visible("call-audio")
    assert a.displayed("call-video")[0].get_attribute("aria-label"), "the call button has no accessible name"
    try:
        a.set_viewport(PHONE)
        a.screenshot("calls-dm-header-phone-light")
        outside = a.out_of_viewport(["call-audio", "call-video"])
        assert not outside, f"call buttons outside the phone viewport: {outside}"
    finally:
        a.set_viewport(DESKTOP)
    scenario.done.add("dm")


def test_video_call_across_instances(scenario):
    scenario.need("dm")
    a, b = scenario.alice.browser, scenario.bob.browser
    # B is somewhere else in the app: the incoming call must show up anyway.
    b.click("nav-settings")
    b.wait(lambda d: b.route().startswith("#/settings"), "B on the settings page")

    a.click("call-video")
    wait_state(a, "outgoing", "ringing")
    wait_state(b, "incoming")
    assert element_text(b.driver, b.visible("call-peer-name")) == scenario.alice.display_name
    assert active_testid(b) == "call-accept-video", f"focus on the incoming screen is on {active_testid(b)!r}"
    assert b.is_visible("call-decline") and b.is_visible("call-accept-audio")
    wait_state(a, "ringing")
    shots(b, "incoming")
    a.screenshot("calls-outgoing-desktop-light")

    b.click("call-accept-video")
    wait_state(a, "active", timeout=MEDIA_TIMEOUT)
    wait_state(b, "active", timeout=MEDIA_TIMEOUT)
    first_a = wait_frames(a)
    first_b = wait_frames(b)
    wait_frames(a, more_than=first_a["frames"] + 5)
    wait_frames(b, more_than=first_b["frames"] + 5)
    assert wait_frames(a, "call-local-video")["frames"] > 0, "A's own preview is not playing"
    assert re.fullmatch(r"\d\d:\d\d", element_text(a.driver, a.visible("call-timer"))), "no call duration on A"
    assert screen_attr(a, "data-signal") == "ready"

    # Mute and camera off: pressed state, the track, and back.
    assert pressed(a, "call-mute") == "false" and local_track(a, "audio")["enabled"] is True
    a.click("call-mute")
    a.wait(lambda d: pressed(a, "call-mute") == "true", "call-mute aria-pressed=true")
    assert local_track(a, "audio")["enabled"] is False, "muted, yet the microphone track is enabled"
    a.click("call-camera")
    a.wait(lambda d: pressed(a, "call-camera") == "true", "call-camera aria-pressed=true")
    assert local_track(a, "video")["enabled"] is False, "camera off, yet the camera track is enabled"
    a.screenshot("calls-in-call-muted-camera-off-desktop-light")
    a.click("call-mute")
    a.click("call-camera")
    a.wait(lambda d: pressed(a, "call-mute") == "false" and pressed(a, "call-camera") == "false", "toggles released")
    assert local_track(a, "audio")["enabled"] is True and local_track(a, "video")["enabled"] is True

    shots(a, "in-call")
    b.screenshot("calls-in-call-callee-desktop-light")

    # A network drop of A's signalling: it resumes (WELCOME resumed:true) and A restarts ICE.
    sent_before = len(calls_frames(a, "out"))
    assert drop_calls_socket(a) == 1, "A has no open calls socket"
    a.wait(lambda d: any(f.get("type") == "WELCOME" and (f.get("payload") or {}).get("resumed") is True
                         for f in calls_frames(a, "in")), "A's WELCOME with resumed:true after the drop")
    a.wait(lambda d: screen_attr(a, "data-signal") == "ready", "A's signalling ready again")
    a.wait(lambda d: any(f.get("type") == "webrtc.offer" and (f.get("payload") or {}).get("iceRestart") is True
                         for f in calls_frames(a, "out")[sent_before:]), "A's webrtc.offer with iceRestart:true")
    b.wait(lambda d: int(screen_attr(b, "data-restarts") or 0) >= 1, "B to answer the ICE-restart offer")
    hello = next(f for f in calls_frames(a, "out")[sent_before:] if f.get("type") == "HELLO")
    assert (hello.get("payload") or {}).get("resume", {}).get("resumeToken"), f"A reconnected without resume: {hello}"
    wait_state(a, "active", timeout=MEDIA_TIMEOUT)
    now_a, now_b = video_state(a, "call-remote-video")["frames"], video_state(b, "call-remote-video")["frames"]
    wait_frames(a, more_than=now_a + 10)
    wait_frames(b, more_than=now_b + 10)
    # Every server frame the page accepted arrived once, in order (seq strictly increasing per session).
    seqs = [f["seq"] for f in calls_frames(a, "in") if f.get("type") != "ACK" and isinstance(f.get("seq"), int)]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs)), f"A got repeated or reordered frames: {seqs}"

    a.click("call-hangup")
    wait_state(a, "ended")
    assert screen_attr(a, "data-reason") == "hungUp"
    b.wait(lambda d: screen_attr(b, "data-state") in ("ended", None), "B to see the call end")
    screen_gone(a)
    screen_gone(b)
    assert b.route().startswith("#/settings"), f"B left the page it was on: {b.route()}"
    b.visible("nav-settings")
    assert b.driver.execute_script("return document.activeElement !== document.body"), "B's focus was lost"
    scenario.done.add("call")


def in_dm(b: Browser, conversation: str) -> None:
    if not b.route().startswith(f"#/chats/{conversation}"):
        b.go(f"#/chats/{conversation}")
    b.wait(lambda d: b.is_visible("call-video") and b.displayed("call-video")[0].is_enabled(), "the call buttons enabled")


def test_declined_call_stops_every_device_and_leaves_a_call_event(scenario, browser_factory):
    scenario.need("dm")
    a, b = scenario.alice.browser, scenario.bob.browser
    conversation = scenario.conversation_id
    # Bob's second device, connected to Alice's instance.
    b2 = scenario.bob2 = browser_factory("calls-bob-2", MEDIA_ARGS)
    b2.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": SOCKET_SPY})
    sign_in(b2, User("bob2", BOB_PHONE, BOB_CODE, scenario.bob.username, scenario.bob.display_name, url=scenario.alice.url))
    b2.wait(lambda d: b2.driver.execute_script(
        "return Object.keys(localStorage).some(k => k.endsWith(':callsDevice'))"), "B's second device to get a calls device id")
    time.sleep(1)  # its calls socket authenticates right after the shell renders
    in_dm(a, conversation)

    a.click("call-video")
    wait_state(b, "incoming")
    wait_state(b2, "incoming")
    b.click("call-decline")
    wait_state(a, "ended")
    assert screen_attr(a, "data-reason") == "declined"
    status = element_text(a.driver, a.visible("call-status"))
    assert status == "Звонок отклонён", f"A's status after the decline: {status!r}"
    screen_gone(b, timeout=5)
    screen_gone(b2, timeout=5)

    # The chat shows the server's call event (not a text message from the caller's app).
    declined = "Отклонённый видеозвонок"
    a.wait(lambda d: call_event_texts(a) and call_event_texts(a)[-1] == declined, f"the call event {declined!r} in A's DM", 15)
    screen_gone(a)
    b.go(f"#/chats/{conversation}")
    b.wait(lambda d: call_event_texts(b) and call_event_texts(b)[-1] == declined, f"the call event {declined!r} in B's DM")
    for browser in (a, b):
        assert message_by_text(browser, "📞 Пропущенный видеозвонок") is None, f"[{browser.name}] a missed-call text message besides the event"


def test_audio_call_answered_on_one_device_and_hung_up_by_the_callee(scenario):
    scenario.need("dm")
    a, b, b2 = scenario.alice.browser, scenario.bob.browser, scenario.bob2
    assert b2 is not None, "B's second device was not set up"
    screen_gone(a)
    in_dm(a, scenario.conversation_id)

    a.click("call-audio")
    wait_state(b, "incoming")
    wait_state(b2, "incoming")
    assert screen_attr(b, "data-call-type") == "audio"
    assert not b.is_visible("call-accept-video"), "an audio call offers to answer with video"
    assert active_testid(b) == "call-accept-audio", f"focus on the incoming screen is on {active_testid(b)!r}"
    b2.click("call-accept-audio")
    screen_gone(b, timeout=5)  # answered on the other device
    wait_state(a, "active", timeout=MEDIA_TIMEOUT)
    wait_state(b2, "active", timeout=MEDIA_TIMEOUT)
    for browser in (a, b2):
        browser.wait(lambda d, br=browser: br.driver.execute_script("""
            const el = document.querySelector('[data-testid="call-screen"] audio');
            const s = el && el.srcObject;
            return !!s && s.getAudioTracks().some(t => t.readyState === 'live') && !el.paused;"""),
            "the remote audio playing")
        assert "has-remote-video" not in (browser.driver.execute_script(
            "return document.querySelector('[data-testid=\"call-screen\"]').className") or "")
        assert not browser.is_visible("call-camera"), "an audio call shows the camera toggle"
        assert local_track(browser, "video") is None
    b2.screenshot("calls-audio-call-desktop-light")

    b2.click("call-hangup")
    wait_state(a, "ended")
    assert screen_attr(a, "data-reason") == "remoteHungUp"
    screen_gone(a)
    screen_gone(b2)


def test_refreshed_token_is_sent_to_the_calls_socket(scenario):
    scenario.need("dm")
    a = scenario.alice.browser

    def auths():
        return [f for f in calls_frames(a, "out") if f.get("type") == "AUTH"]

    # The token is refreshed a few seconds before it expires (at most JWT_EXPIRY after sign-in).
    deadline = time.monotonic() + JWT_EXPIRY + 15
    while len(auths()) < 2 and time.monotonic() < deadline:
        time.sleep(1)
    sent = auths()
    assert len(sent) >= 2, f"A's calls socket never sent AUTH again after a token refresh: {len(sent)} AUTH frame(s)"
    tokens = [(f.get("payload") or {}).get("accessToken") for f in sent]
    assert len(set(tokens)) == len(tokens), "AUTH was sent again with the same token"
    a.wait(lambda d: sent[-1]["msgId"] in {f["ack"]["ackOfMsgId"] for f in calls_frames(a, "in") if f.get("type") == "ACK"},
           "the ACK of the second AUTH")
    acks = {f["ack"]["ackOfMsgId"]: f["ack"] for f in calls_frames(a, "in") if f.get("type") == "ACK"}
    assert acks[sent[-1]["msgId"]].get("ok") is True, f"the re-AUTH was refused: {acks[sent[-1]['msgId']]}"
    closes = [json.loads(x["text"])["code"] for x in
              a.driver.execute_script("return (window.__e2eCalls || []).filter(f => f.dir === 'close')")]
    assert 4001 not in closes, f"the calls socket was closed for an expired token: {closes}"
    assert screen_attr(a, "data-signal") in (None, "ready")



NETWORK_ON = {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
NETWORK_OFF = {**NETWORK_ON, "offline": True}


def socket_count(b: Browser, part: str) -> int:
    """How many WebSockets the page has opened to URLs containing `part`."""
    return b.driver.execute_script(
        "return (window.__e2eSockets || []).filter(ws => ws.url.includes(arguments[0])).length", part)


def browser_pids(b: Browser) -> set[int]:
    """chromedriver's process and all its descendants (Chromium and its network service)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    pids, stack = set(), [b.driver.service.process.pid]
    while stack:
        pid = stack.pop()
        if pid not in pids:
            pids.add(pid)
            stack.extend(children.get(pid, []))
    return pids


def cut_connections(b: Browser, server_url: str) -> int:
    """Aborts every TCP connection of this browser to the server (as a dead network or a server
    dropping its sockets would), with `ss -K`; returns how many. Needs root and a kernel with
    socket destroy (INET_DIAG_DESTROY)."""
    port = urlsplit(server_url).port
    listing = subprocess.run(["ss", "-tnpH", "state", "established", "dport", "=", f":{port}"],
                             capture_output=True, text=True, timeout=10).stdout
    pids, cut = browser_pids(b), 0
    for line in listing.splitlines():
        if not {int(p) for p in re.findall(r"pid=(\d+)", line)} & pids:
            continue
        local_port = line.split()[2].rsplit(":", 1)[1]
        done = subprocess.run(["ss", "-K", "state", "established", "sport", "=", f":{local_port}", "dport", "=", f":{port}"],
                              capture_output=True, text=True, timeout=10)
        cut += done.returncode == 0 and local_port in done.stdout
    return cut


def test_sockets_come_back_after_the_network_drops(scenario, report):
    """A's network goes away for 3 s: DevTools offline emulation (the page sees offline, then
    online; new connections fail meanwhile) and A's open connections to its server aborted
    (offline emulation leaves open WebSockets alone). Nothing in the page is poked. Afterwards
    the calls signalling is back (HELLO with resume) and a call connects, and the realtime
    socket is back: a message Bob sends after the outage reaches A's open chat by itself."""
    if shutil.which("ss") is None:
        pytest.skip("ss (iproute2) is needed to abort the browser's connections")
    scenario.need("dm")
    alice, a, b, b2 = scenario.alice, scenario.alice.browser, scenario.bob.browser, scenario.bob2
    conversation = scenario.conversation_id
    for browser in (a, b, b2):
        if browser is not None:
            screen_gone(browser)
    in_dm(a, conversation)
    in_dm(b, conversation)

    def hellos():
        return [f for f in calls_frames(a, "out") if f.get("type") == "HELLO"]

    hellos_before = len(hellos())
    realtime_before = socket_count(a, "/realtime/v1/websocket")
    # What the outage makes the browser log on purpose (failed requests and sockets while offline).
    a.expected_console += [r"ERR_INTERNET_DISCONNECTED", r"WebSocket connection to .* failed"]

    a.driver.execute_cdp_cmd("Network.enable", {})
    a.driver.execute_cdp_cmd("Network.emulateNetworkConditions", NETWORK_OFF)
    try:
        a.wait(lambda d: d.execute_script("return navigator.onLine") is False, "A's browser to be offline")
        cut = cut_connections(a, alice.url)
        if cut == 0:
            pytest.skip("could not abort the browser's connections here (ss -K needs root and INET_DIAG_DESTROY)")
        a.wait(lambda d: d.execute_script(
            "return !(window.__e2eSockets || []).some(ws => ws.readyState === 1)"), "A's WebSockets to notice the drop")
        time.sleep(3)
    finally:
        a.driver.execute_cdp_cmd("Network.emulateNetworkConditions", NETWORK_ON)
    a.wait(lambda d: d.execute_script("return navigator.onLine") is True, "A's browser to be online again")
    outage_over = time.monotonic()

    # The calls signalling: a new HELLO that resumes the session, acknowledged.
    a.wait(lambda d: len(hellos()) > hellos_before, "A's calls socket to say HELLO again after the outage", 30)
    hello = hellos()[hellos_before]
    assert (hello.get("payload") or {}).get("resume", {}).get("resumeToken"), f"A reconnected without resume: {hello}"
    a.wait(lambda d: any(f.get("type") == "ACK" and f["ack"].get("ackOfMsgId") == hellos()[-1]["msgId"] and f["ack"].get("ok")
                         for f in calls_frames(a, "in")), "the ACK of A's HELLO after the outage", 30)
    calls_back = time.monotonic() - outage_over

    # The realtime socket: a new connection, and a message Bob sends now reaches A by itself.
    a.wait(lambda d: socket_count(a, "/realtime/v1/websocket") > realtime_before, "a new realtime socket on A", 30)
    text = f"После обрыва {RUN}"
    b.fill("message-input", text)
    b.click("send-message")
    a.wait(lambda d: message_by_text(a, text) is not None, f"Bob's message {text!r} on A after the outage", 30)
    report.note(f"network drop: {cut} connection(s) of A aborted; calls signalling back {calls_back:.1f}s and Bob's "
                f"message on A {time.monotonic() - outage_over:.1f}s after the outage")

    # A call connects over the recovered signalling.
    a.click("call-audio")
    wait_state(a, "outgoing", "ringing", timeout=30)
    wait_state(b, "incoming", timeout=30)
    b.click("call-accept-audio")
    wait_state(a, "active", timeout=MEDIA_TIMEOUT)
    wait_state(b, "active", timeout=MEDIA_TIMEOUT)
    assert screen_attr(a, "data-signal") == "ready"
    a.click("call-hangup")
    wait_state(a, "ended")
    for browser in (a, b, b2):
        if browser is not None:
            screen_gone(browser)
