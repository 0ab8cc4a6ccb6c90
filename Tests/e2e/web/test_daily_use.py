"""Bugs a new user hits at once (issue 14, item 1), in the browser: a conversation URL
reloaded four times opens the chat every time; ticks come from the server's cursors
(delivered while the other user only has the app open, read once they open the chat, still
read on a second device; in a group read only when every other member read it); long
previews in the chat list end with «…» and never scroll sideways; a group named with an
emoji gets a whole emoji as its initial; a 10 000-character paste is not cut but counted and
split into messages of at most 4 000 characters, sent in order; status words are Russian,
live in aria-label/title only and are not copied with the text. Screenshots at 1280×800 and
390×844, light and dark, go to the artefacts directory.

The tests run in file order and share state (run with -x); a test whose prerequisite step
did not complete fails with that reason.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

import pytest

from web_support import Browser, Steps, element_text, tid

ALICE = ("+15555550200", "200200")
ALICE_AGAIN = ("+15555550200", "200200")
BOB = ("+15555550201", "201201")
CAROL = ("+15555550202", "202202")

DESKTOP = (1280, 800)
PHONE = (390, 844)
RUN = secrets.token_hex(3)
GROUP_TITLE = f"🚗 Машины {RUN}"
LIMIT = 4000


@dataclass
class Scenario(Steps):
    browsers: dict[str, Browser] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)
    dm_id: str | None = None
    group_id: str | None = None


@pytest.fixture(scope="module")
def scenario(server, browser_factory):
    s = Scenario()
    for name in ("alice", "bob", "carol"):
        s.browsers[name] = browser_factory(f"daily-{name}")
    yield s


# --------------------------------------------------------------------------- helpers


def message_el(b: Browser, text: str):
    return b.driver.execute_script("""
        return [...document.querySelectorAll('[data-testid="message"][data-seq]')]
          .find(m => m.querySelector('[data-testid="message-body"]').textContent === arguments[0]) || null;""", text)


def send(b: Browser, text: str) -> None:
    b.fill("message-input", text)
    b.click("send-message")
    b.wait(lambda d: message_el(b, text), f"message {text!r} delivered (data-seq)")


def status(b: Browser, text: str) -> dict | None:
    """The own message's status element: data-status, aria-label, title, text."""
    return b.driver.execute_script("""
        const m = [...document.querySelectorAll('[data-testid="message"][data-seq]')]
          .find(m => m.querySelector('[data-testid="message-body"]').textContent === arguments[0]);
        const el = m && m.querySelector('[data-testid="message-status"]');
        return el && { state: el.dataset.status, label: el.getAttribute('aria-label'), title: el.title,
                       text: el.textContent, color: getComputedStyle(el).color,
                       ticks: el.querySelector('svg') ? el.querySelector('svg').getAttribute('class') : null };""", text)


def wait_state(b: Browser, text: str, state: str) -> dict:
    return b.wait(lambda d: (st := status(b, text)) and st["state"] == state and st,
                  f"message {text!r} to show {state!r} (now {status(b, text)!r})")


def chat_opened(driver) -> bool | str:
    """True once the conversation shows its messages; 'not found' if it gave up."""
    return driver.execute_script("""
        if ([...document.querySelectorAll('.pane-conv, main')].some(e => e.textContent.includes(arguments[0]))) return 'not found';
        return document.querySelectorAll('[data-testid="message"][data-seq]').length > 0;""",
        "Чат не найден") or False


# --------------------------------------------------------------------------- the flow


def test_sign_in_and_dm(server, scenario):
    a, b, c = (scenario.browsers[n] for n in ("alice", "bob", "carol"))
    for browser, (phone, code), name in ((a, ALICE, "alice"), (b, BOB, "bob"), (c, CAROL, "carol")):
        browser.set_viewport(DESKTOP)
        browser.open(server.url)
        browser.sign_in(phone, code, f"daily_{name}_{RUN}", f"{name.title()} {RUN}")
    scenario.dm_id = a.open_dm(f"daily_bob_{RUN}")
    scenario.done.add("signed in")


def test_ticks_from_server(server, scenario, browser_factory):
    """Sent → delivered while Bob only has the app open → read when he opens the chat; a
    second device of Alice shows the same ticks, from the server."""
    scenario.need("signed in")
    a, b = scenario.browsers["alice"], scenario.browsers["bob"]
    b.go("#/chats")
    text = f"Привет, Боб {RUN}"
    send(a, text)
    st = wait_state(a, text, "delivered")
    assert st["ticks"] == "i-ticks", f"delivered shows {st['ticks']!r}, not two ticks"
    assert st["label"] == "Доставлено" and st["title"] == "Доставлено", f"delivered is labelled {st!r}"
    assert st["text"] == "", f"the status has visible text {st['text']!r} (it would be copied with the message)"
    a.screenshot("daily-dm-delivered-desktop")

    # Bob's delivery ack comes back to him as his own participants UPDATE: no inbox reload.
    loads = "return performance.getEntriesByType('resource').filter(e => e.name.includes('chat_get_inbox_v2')).length"
    before = b.driver.execute_script(loads)
    second_text = f"Ещё одно {RUN}"
    send(a, second_text)
    wait_state(a, second_text, "delivered")
    time.sleep(1.5)  # longer than the inbox refresh's debounce and one request
    assert b.driver.execute_script(loads) == before, "Bob's app reloaded the inbox after acking delivery"

    b.click("inbox-item", data_conversation_id=scenario.dm_id)
    b.wait(lambda d: message_el(b, text), "Alice's message in Bob's chat")
    read = wait_state(a, text, "read")
    assert read["label"] == "Прочитано", f"read is labelled {read['label']!r}"
    assert read["color"] != st["color"], "read ticks have the same colour as delivered ones"

    # A second device (a fresh browser profile) shows read from the server's cursors.
    second = browser_factory("daily-alice-2")
    try:
        second.set_viewport(DESKTOP)
        second.open(server.url, f"#/chats/{scenario.dm_id}")
        second.sign_in(*ALICE_AGAIN, f"daily_alice_{RUN}", f"Alice {RUN}")
        second.go(f"#/chats/{scenario.dm_id}")
        wait_state(second, text, "read")
    finally:
        second.close()
    scenario.done.add("dm read")


def test_status_words_not_copied(scenario):
    """Selecting a whole own bubble and copying gives the text, without status words or time."""
    scenario.need("dm read")
    a = scenario.browsers["alice"]
    text = f"Привет, Боб {RUN}"
    copied = a.driver.execute_script("""
        const m = arguments[0];
        const r = document.createRange();
        r.selectNodeContents(m.querySelector('.bubble'));
        const sel = getSelection();
        sel.removeAllRanges();
        sel.addRange(r);
        const out = sel.toString();
        sel.removeAllRanges();
        return out;""", message_el(a, text))
    assert copied.strip() == text, f"copying the bubble gives {copied!r}"
    words = a.driver.execute_script("""
        return [...document.querySelectorAll('[data-testid="message-status"]')]
          .map(e => [e.getAttribute('aria-label'), e.title, e.textContent].join('|'))""")
    english = [w for w in words if any(x in w.lower() for x in ("sent", "read", "failed", "delivered"))]
    assert not english, f"English status words in the Russian UI: {english}"


def test_reload_opens_chat_every_time(scenario):
    """Reloading a conversation URL four times opens the chat every time (not «Чат не найден»)."""
    scenario.need("dm read")
    b = scenario.browsers["bob"]
    b.go(f"#/chats/{scenario.dm_id}")
    for attempt in range(1, 5):
        b.driver.refresh()
        result = b.wait(chat_opened, f"the chat after reload {attempt}")
        assert result is True, f"reload {attempt} showed «Чат не найден»"
        assert b.route() == f"#/chats/{scenario.dm_id}", f"reload {attempt} left the route: {b.route()}"


def test_group_initial_and_ticks_per_member(scenario):
    """«🚗 Машины» gets the whole 🚗 as its initial; a message is read only when Bob and Carol both read it."""
    scenario.need("signed in")
    a, b, c = (scenario.browsers[n] for n in ("alice", "bob", "carol"))
    a.go("#/chats")
    a.click("new-chat")  # «Новый чат» → «Создать группу»
    a.click("create-group")
    a.fill("group-title-input", GROUP_TITLE)
    for name in ("bob", "carol"):
        a.fill("group-member-search", f"daily_{name}_{RUN}")
        a.click("group-member-option", data_username=f"daily_{name}_{RUN}")
    a.click("create-group-submit")
    a.wait(lambda d: a.route().startswith("#/chats/") and len(a.route()) > len("#/chats/"), "the group's route")
    scenario.group_id = a.route()[len("#/chats/"):].split("?")[0]
    a.visible("message-input")

    initial = a.driver.execute_script("""
        const a = document.querySelector(arguments[0]);
        return a && a.querySelector('.avatar').textContent;""", tid("inbox-item", data_conversation_id=scenario.group_id))
    assert initial == "🚗", f"the group's initial is {initial!r}, not the whole emoji"
    assert "\ufffd" not in initial and all(not 0xD800 <= ord(ch) <= 0xDFFF for ch in initial), "a broken surrogate"

    text = f"Кто едет? {RUN}"
    for other in (b, c):
        other.go("#/chats")
    send(a, text)
    wait_state(a, text, "delivered")
    b.click("inbox-item", data_conversation_id=scenario.group_id)
    b.wait(lambda d: message_el(b, text), "the group message in Bob's chat")
    half = a.wait(lambda d: (st := status(a, text)) and "1 из 2" in (st["label"] or "") and st,
                  "the label 'Прочитали 1 из 2' after Bob read it")
    assert half["state"] == "delivered", f"read by one of two shows {half['state']!r}"
    a.screenshot("daily-group-read-by-one-desktop")
    c.click("inbox-item", data_conversation_id=scenario.group_id)
    c.wait(lambda d: message_el(c, text), "the group message in Carol's chat")
    assert wait_state(a, text, "read")["label"] == "Прочитано"
    scenario.done.add("group")


def test_long_preview_is_cut(scenario):
    """A long preview ends with «…» in the desktop list: the time stays visible, no sideways scroll."""
    scenario.need("dm read")
    a, b = scenario.browsers["alice"], scenario.browsers["bob"]
    long_text = "Очень длинное сообщение без конца " * 12 + RUN
    b.go(f"#/chats/{scenario.dm_id}")
    send(b, long_text)
    a.go("#/chats")
    item_css = tid("inbox-item", data_conversation_id=scenario.dm_id)
    a.wait(lambda d: long_text[:40] in (d.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.textContent : ''", item_css)), "the long preview")
    for theme in ("light", "dark"):
        a.set_theme(theme)
        for size, size_name in ((DESKTOP, "desktop"), (PHONE, "phone")):
            a.set_viewport(size)
            a.go("#/chats")
            m = a.driver.execute_script("""
                const item = document.querySelector(arguments[0]);
                const list = item.closest('.inbox');
                const p = item.querySelector('.preview'), time = item.querySelector('.time');
                const ir = item.getBoundingClientRect(), tr = time.getBoundingClientRect();
                return { cut: p.scrollWidth > p.clientWidth, overflow: getComputedStyle(p).textOverflow,
                         listScroll: list.scrollWidth, listClient: list.clientWidth,
                         timeInside: tr.width > 0 && tr.right <= ir.right + 1 && tr.left >= ir.left };""", item_css)
            where = f"{size_name} {theme}"
            assert m["cut"] and m["overflow"] == "ellipsis", f"{where}: the preview is not cut with «…»: {m}"
            assert m["timeInside"], f"{where}: the time is pushed out of the row: {m}"
            assert m["listScroll"] <= m["listClient"], f"{where}: the chat list scrolls sideways: {m}"
            assert a.horizontal_overflow() <= 1, f"{where}: the page scrolls sideways"
            a.screenshot(f"daily-inbox-long-preview-{size_name}-{theme}")
    a.set_viewport(DESKTOP)
    a.set_theme("light")


def paste(b: Browser, text: str) -> None:
    """Puts text into the message input as a paste does (one insertText, input event)."""
    field_ = b.visible("message-input")
    field_.click()
    b.driver.execute_script("arguments[0].value = ''", field_)
    b.driver.execute_cdp_cmd("Input.insertText", {"text": text})


def test_long_paste_counter_and_split(scenario):
    scenario.need("dm read")
    a, b = scenario.browsers["alice"], scenario.browsers["bob"]
    hello = f"Привет, Боб {RUN}"
    a.go(f"#/chats/{scenario.dm_id}")
    a.wait(lambda d: message_el(a, hello), "the conversation's messages")
    before = len(a.find_all("message"))

    # Near the limit: a counter, no offer; the text is kept whole.
    paste(a, "д" * 3950)
    counter = a.visible("length-counter")
    assert element_text(a.driver, counter).replace("\u202f", " ").replace("\xa0", " ") == "3 950 / 4 000", \
        f"counter shows {element_text(a.driver, counter)!r}"
    assert not a.displayed("split-message"), "an offer to split below the limit"

    # 10 000 characters: nothing is cut; Enter does not send; split sends pieces in order.
    lines = [f"Строка {i:04d} длинного текста {RUN}." for i in range(300)]
    big = "\n".join(lines)
    while len(big) < 10_000:
        big += " дополнение"
    big = big[:10_000].rstrip()
    paste(a, big)
    assert len(a.visible("message-input").get_attribute("value")) == len(big), "the paste was cut"
    a.visible("split-message")
    for theme in ("light", "dark"):
        a.set_theme(theme)
        for size, size_name in ((DESKTOP, "desktop"), (PHONE, "phone")):
            a.set_viewport(size)
            a.go(f"#/chats/{scenario.dm_id}")
            paste(a, big)  # the conversation view was rebuilt: no drafts yet
            a.visible("split-message")
            a.screenshot(f"daily-composer-over-limit-{size_name}-{theme}")
            assert a.horizontal_overflow() <= 1, f"{size_name} {theme}: the page scrolls sideways"
    a.set_viewport(DESKTOP)
    a.set_theme("light")
    a.go(f"#/chats/{scenario.dm_id}")
    a.wait(lambda d: message_el(a, hello), "the conversation's messages")
    paste(a, big)
    a.visible("message-input").send_keys("\n")
    a.wait(lambda d: d.execute_script("return document.activeElement.dataset.testid") == "split-message",
           "Enter over the limit moves focus to the offer to split")
    assert len(a.find_all("message")) == before, "an over-limit text was sent by Enter"
    a.click("split-message")
    a.wait(lambda d: not a.visible("message-input").get_attribute("value"), "the input cleared after splitting")
    bodies = a.wait(lambda d: (got := d.execute_script("""
        return [...document.querySelectorAll('[data-testid="message"][data-seq]')].slice(arguments[0])
          .map(m => m.querySelector('[data-testid="message-body"]').textContent);""", before)) and len(got) >= 3 and got,
        "three delivered pieces")
    assert all(len(body) <= LIMIT for body in bodies), f"a piece is longer than {LIMIT}: {[len(x) for x in bodies]}"
    assert "".join(bodies).replace("\n", "").replace(" ", "") == big.replace("\n", "").replace(" ", ""), \
        "the pieces, in order, are not the pasted text"
    b.go(f"#/chats/{scenario.dm_id}")
    b.wait(lambda d: all(message_el(b, body) for body in bodies), "Bob has the pieces")

    # Trim keeps the first 4 000 characters.
    paste(a, "ж" * 4100)
    a.click("trim-message")
    assert len(a.visible("message-input").get_attribute("value")) == LIMIT, "trim did not leave 4 000 characters"
    a.fill("message-input", "")
