"""The chat list (issue 14, item 2), in the browser: «Новый чат» → «Написать человеку» opens a
DM and a message goes out; ticks before an own last message in the list (sent → delivered →
read from the server's cursors); the search field filters the chats by name as it is typed
and Escape clears it; the message search (`search_messages`) finds a word by another form of
it, marks the query words and opens the chat at the message; drafts show as «Черновик: …»;
sign-out, sign-out of all accounts (account menu and settings) and blocking ask first, and
cancel leaves everything as it was; the account switcher shows another signed-in account's
unread messages. Screenshots at 1280×800 and 390×844, light and dark.

The tests run in file order and share state (run with -x); a test whose prerequisite step
did not complete fails with that reason.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import pytest
from selenium.webdriver.common.keys import Keys

from web_support import Browser, Steps, element_text, tid

ALICE = ("+15555550250", "250250")
BOB = ("+15555550251", "251251")
CAROL = ("+15555550252", "252252")

DESKTOP = (1280, 800)
PHONE = (390, 844)
RUN = secrets.token_hex(3)
GROUP_TITLE = f"Клуб автомобилистов {RUN}"
DM_TEXT = f"Машина уже едет к дому {RUN}"


@dataclass
class Scenario(Steps):
    browsers: dict[str, Browser] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)
    dm_id: str | None = None
    group_id: str | None = None


@pytest.fixture(scope="module")
def scenario(server, browser_factory):
    s = Scenario()
    for name in ("alice", "bob"):
        s.browsers[name] = browser_factory(f"list-{name}")
    yield s


# --------------------------------------------------------------------------- helpers


def username(name: str) -> str:
    return f"list_{name}_{RUN}"


def sign_in(b: Browser, phone: str, code: str, name: str) -> None:
    b.sign_in(phone, code, username(name), f"{name.title()} {RUN}")


def message_el(b: Browser, text: str):
    return b.driver.execute_script("""
        return [...document.querySelectorAll('[data-testid="message"][data-seq]')]
          .find(m => m.querySelector('[data-testid="message-body"]').textContent === arguments[0]) || null;""", text)


def no_offers(b: Browser) -> None:
    """The app's notifications offer would cover the composer: answered «not now» up front."""
    b.driver.execute_script("localStorage.setItem('eco:v1:notify-offer-dismissed', '1')")
    if b.is_visible("notify-later"):
        b.click("notify-later")


def send(b: Browser, text: str) -> None:
    no_offers(b)
    b.fill("message-input", text)
    b.click("send-message")
    b.wait(lambda d: message_el(b, text), f"message {text!r} delivered (data-seq)")


def api_send(b: Browser, conversation_id: str, bodies: list[str]) -> None:
    """Sends messages as the browser's active account straight through the API (test setup)."""
    error = b.driver.execute_async_script("""
        const [conv, bodies, done] = arguments;
        (async () => {
          const cfg = await (await fetch('/app-config.json')).json();
          const uid = JSON.parse(sessionStorage.getItem('eco:v1:active'));
          const token = JSON.parse(localStorage.getItem('eco:v1:accounts'))[uid].session.access_token;
          for (const body of bodies) {
            const r = await fetch('/rest/v1/rpc/send_message_v1', { method: 'POST',
              headers: { apikey: cfg.anonKey, Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
              body: JSON.stringify({ conversation_id: conv, body, client_msg_id: crypto.randomUUID() }) });
            if (!r.ok) return done(r.status + ' ' + await r.text());
          }
          done(null);
        })().catch(e => done(String(e)));""", conversation_id, bodies)
    assert error is None, f"[{b.name}] sending through the API failed: {error}"


def row_state(b: Browser, conversation_id: str) -> dict | None:
    """The inbox row's ticks and preview."""
    return b.driver.execute_script("""
        const a = document.querySelector(arguments[0]);
        if (!a) return null;
        const st = a.querySelector('[data-testid="inbox-status"]');
        return { status: st && !st.hidden ? st.dataset.status : null, label: st && st.getAttribute('aria-label'),
                 preview: a.querySelector('.preview').textContent,
                 draft: !!a.querySelector('[data-testid="inbox-draft"]'),
                 draftColor: a.querySelector('[data-testid="inbox-draft"]') ?
                   getComputedStyle(a.querySelector('[data-testid="inbox-draft"]')).color : null };""",
        tid("inbox-item", data_conversation_id=conversation_id))


def visible_rows(b: Browser) -> list[str]:
    return [el.get_attribute("data-conversation-id") for el in b.displayed("inbox-item")]


def open_menu(b: Browser) -> None:
    if not b.is_visible("sign-out-all"):
        b.click("account-switcher")
    b.visible("sign-out-all")


def cancel_dialog(b: Browser) -> str:
    """Reads the open confirmation's text and presses «Отмена»; returns the text."""
    ok = b.visible("confirm-ok")
    text = b.driver.execute_script("return arguments[0].closest('dialog').querySelector('.dlg-body').textContent", ok)
    b.driver.execute_script("""
        [...arguments[0].closest('dialog').querySelectorAll('.dlg-foot button')]
          .find(x => x.dataset.testid !== 'confirm-ok').click();""", ok)
    b.gone("confirm-ok")
    return text


def clear_search(b: Browser) -> None:
    field_ = b.visible("chat-search")
    if field_.get_attribute("value"):
        field_.send_keys(Keys.ESCAPE)
        b.wait(lambda d: field_.get_attribute("value") == "", "the search field cleared by Escape")


def signed_in_as(b: Browser, phones: list[str]) -> bool:
    return b.driver.execute_script("""
        const all = JSON.parse(localStorage.getItem('eco:v1:accounts') || '{}');
        return Object.values(all).map(a => a.phone).sort().join(',')""") == ",".join(sorted(p.lstrip("+") for p in phones))


# --------------------------------------------------------------------------- the flow


def test_sign_in(server, scenario):
    a, b = scenario.browsers["alice"], scenario.browsers["bob"]
    for browser, (phone, code), name in ((a, ALICE, "alice"), (b, BOB, "bob")):
        browser.set_viewport(DESKTOP)
        browser.open(server.url)
        no_offers(browser)
        sign_in(browser, phone, code, name)
    scenario.done.add("signed in")


def test_new_chat_dm_and_message(scenario):
    """«Новый чат» → «Написать человеку» → Bob → the DM opens; a message goes out."""
    scenario.need("signed in")
    a, b = scenario.browsers["alice"], scenario.browsers["bob"]
    a.go("#/chats")
    b.go("#/chats")
    a.click("new-chat")
    a.visible("new-chat-dm")
    a.visible("create-group")
    a.screenshot("list-new-chat-menu-desktop")
    a.click("new-chat-dm")
    search = a.visible("new-chat-search")
    assert a.driver.switch_to.active_element == search, "the people search is not focused in the new-chat dialog"
    search.send_keys(username("bob"))
    a.click("new-chat-person", data_username=username("bob"))
    a.wait(lambda d: a.route().startswith("#/chats/") and len(a.route()) > len("#/chats/"), "the DM's route")
    scenario.dm_id = a.route()[len("#/chats/"):].split("?")[0]
    a.visible("message-input")
    assert a.is_visible("inbox-item", data_conversation_id=scenario.dm_id), "the new DM is not in Alice's own list"
    # An empty DM is not in Bob's list (the server's rule): not after a reload either.
    b.driver.refresh()
    b.wait(lambda d: b.is_visible("empty-state") or b.is_visible("inbox-item"), "Bob's list after a reload")
    assert not b.is_visible("inbox-item", data_conversation_id=scenario.dm_id), \
        "the empty DM shows in Bob's list before its first message"
    send(a, DM_TEXT)
    b.wait(lambda d: b.is_visible("inbox-item", data_conversation_id=scenario.dm_id), "the DM in Bob's list")
    scenario.done.add("dm")


def test_own_message_ticks_in_list(scenario):
    """Sent/delivered then read ticks before Alice's own last message in her chat list."""
    scenario.need("dm")
    a, b = scenario.browsers["alice"], scenario.browsers["bob"]
    a.go("#/chats")
    st = a.wait(lambda d: (r := row_state(a, scenario.dm_id)) and r["status"] in ("sent", "delivered") and r,
                f"ticks before the own message (now {row_state(a, scenario.dm_id)!r})")
    assert st["label"] in ("Отправлено", "Доставлено"), f"the ticks are labelled {st['label']!r}"
    a.wait(lambda d: (r := row_state(a, scenario.dm_id)) and r["status"] == "delivered",
           "delivered ticks once Bob's app received it")
    b.click("inbox-item", data_conversation_id=scenario.dm_id)
    b.wait(lambda d: message_el(b, DM_TEXT), "Alice's message in Bob's chat")
    read = a.wait(lambda d: (r := row_state(a, scenario.dm_id)) and r["status"] == "read" and r,
                  "read ticks in Alice's list after Bob opened the chat")
    assert read["label"] == "Прочитано", f"read is labelled {read['label']!r}"
    a.screenshot("list-own-ticks-read-desktop")
    scenario.done.add("ticks")


def test_local_filter(scenario):
    """Typing filters the chats by name at once; Escape clears the field and the filter."""
    scenario.need("dm")
    a = scenario.browsers["alice"]
    a.go("#/chats")
    a.click("new-chat")
    a.click("create-group")
    a.fill("group-title-input", GROUP_TITLE)
    a.click("create-group-submit")
    a.wait(lambda d: a.route().startswith("#/chats/") and a.route().split("/")[-1] != scenario.dm_id
           and len(a.route()) > len("#/chats/"), "the group's route")
    scenario.group_id = a.route()[len("#/chats/"):].split("?")[0]
    a.go("#/chats")
    a.wait(lambda d: {scenario.dm_id, scenario.group_id} <= set(visible_rows(a)), "both chats in the list")

    field_ = a.fill("chat-search", "Bob")
    a.wait(lambda d: visible_rows(a) == [scenario.dm_id], f"only the DM for «Bob» (rows: {visible_rows(a)})")
    a.fill("chat-search", "клуб АВТО")
    a.wait(lambda d: visible_rows(a) == [scenario.group_id], f"only the group for «клуб АВТО» (rows: {visible_rows(a)})")
    a.fill("chat-search", f"нет такого {RUN}")
    a.visible("no-chats-match")
    assert not visible_rows(a), "rows shown for a name nobody has"
    field_.send_keys(Keys.ESCAPE)
    a.wait(lambda d: field_.get_attribute("value") == "", "Escape to clear the search field")
    a.wait(lambda d: {scenario.dm_id, scenario.group_id} <= set(visible_rows(a)), "every chat back after Escape")
    assert not a.is_visible("message-results"), "the message results stay after Escape"
    scenario.done.add("filter")


def test_message_search(scenario):
    """«машины» finds «Машина уже едет…» (stemming), marks «Машина», and opens the chat at it."""
    scenario.need("dm")
    a = scenario.browsers["alice"]
    a.go("#/chats")
    a.fill("chat-search", "машины")
    a.visible("message-results")
    outcome = a.wait(lambda d: ("ok" if a.displayed("message-result") else
                                "404" if a.is_visible("search-unavailable") else
                                "empty" if a.is_visible("search-empty") else
                                "error" if a.is_visible("error-state") else None),
                     "message search results, an empty or an unavailable state", 20)
    if outcome == "404":
        clear_search(a)
        pytest.skip("search_messages answers 404: the chat-server part is not in this binary yet")
    assert outcome == "ok", f"the message search for «машины» shows {outcome!r}, not «{DM_TEXT}»"
    result = a.visible("message-result", data_conversation_id=scenario.dm_id)
    marks = a.driver.execute_script(
        "return [...arguments[0].querySelectorAll('mark')].map(m => m.textContent)", result)
    assert marks and marks[0].lower() == "машина", f"the headline marks {marks!r}, not «Машина»"
    assert "ничего" not in element_text(a.driver, result).lower()
    for theme in ("light", "dark"):
        a.set_theme(theme)
        for size, size_name in ((DESKTOP, "desktop"), (PHONE, "phone")):
            a.set_viewport(size)
            a.go("#/chats")
            a.fill("chat-search", "машины")
            a.visible("message-result", data_conversation_id=scenario.dm_id)
            a.screenshot(f"list-message-search-{size_name}-{theme}")
            assert a.horizontal_overflow() <= 1, f"{size_name} {theme}: the page scrolls sideways"
    a.set_viewport(DESKTOP)
    a.set_theme("light")
    a.go("#/chats")
    a.fill("chat-search", "машины")
    seq = a.visible("message-result", data_conversation_id=scenario.dm_id).get_attribute("data-seq")
    a.click("message-result", data_conversation_id=scenario.dm_id)
    # The result opens #/chats/<id>?seq=<n>; the conversation then drops ?seq= from the address
    # once it has jumped (test_conversation checks the jump and the highlight).
    a.wait(lambda d: a.route() in (f"#/chats/{scenario.dm_id}?seq={seq}", f"#/chats/{scenario.dm_id}"),
           "the result's chat opened")
    a.wait(lambda d: message_el(a, DM_TEXT), "the found message in the opened chat")

    # Sender, chat and date on the result.
    a.go("#/chats")
    a.fill("chat-search", "машины")
    result = a.visible("message-result", data_conversation_id=scenario.dm_id)
    parts = a.driver.execute_script("""
        const r = arguments[0], q = s => r.querySelector(`[data-testid="${s}"]`);
        return [q('search-chat').textContent, q('search-sender') && q('search-sender').textContent,
                r.querySelector('time').textContent, r.querySelector('time').getAttribute('datetime')];""", result)
    assert parts[0] == f"Bob {RUN}" and parts[1] == "Вы: " and parts[2] and parts[3], f"the result shows {parts!r}"

    # «Показать ещё» pages with `next`: 22 of Bob's messages, 20 a page.
    b = scenario.browsers["bob"]
    api_send(b, scenario.dm_id, [f"Грузовики номер {i} {RUN}" for i in range(22)])
    a.fill("chat-search", "грузовик")
    a.wait(lambda d: len(a.displayed("message-result")) == 20, "the first page of 20 results")
    assert a.is_visible("search-more"), "no «Показать ещё» after a full page"
    a.click("search-more")
    a.wait(lambda d: len(a.displayed("message-result")) == 22, "all 22 results after «Показать ещё»")
    a.wait(lambda d: not a.is_visible("search-more"), "«Показать ещё» gone on the last page")
    seqs = [int(el.get_attribute("data-seq")) for el in a.displayed("message-result")]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == 22, f"results not newest first or repeated: {seqs}"
    sender = a.driver.execute_script(
        "return document.querySelector('[data-testid=\"search-sender\"]')")
    assert sender is None, "the other person's name repeated on DM results (the chat's name says it)"

    # A failed search says so and offers a retry, which then finds the message.
    a.fill("chat-search", "")
    a.driver.execute_script("""
        if (!window.__e2eFetch) {
          window.__e2eFetch = window.fetch;
          window.fetch = function (url) {
            if (window.__e2eFailSearch && String(url).includes('/rpc/search_messages'))
              return Promise.reject(new TypeError('Failed to fetch'));
            return window.__e2eFetch.apply(this, arguments);
          };
        }
        window.__e2eFailSearch = true;""")
    a.fill("chat-search", "машины")
    box = a.visible("error-state", within=a.visible("message-results"))
    assert "нет связи" in element_text(a.driver, box).lower(), f"the failed search says {element_text(a.driver, box)!r}"
    a.screenshot("list-message-search-error-desktop")
    a.driver.execute_script("window.__e2eFailSearch = false")
    a.click("retry", within=a.visible("message-results"))
    a.visible("message-result", data_conversation_id=scenario.dm_id)

    # Nothing found: said in words.
    a.go("#/chats")
    a.fill("chat-search", f"зюзябра{RUN}")
    a.visible("search-empty")
    assert element_text(a.driver, a.visible("search-empty")) == "Ничего не найдено"
    a.visible("chat-search").send_keys(Keys.ESCAPE)
    scenario.done.add("search")


def test_draft_in_list(scenario):
    """A draft (the composer's localStorage contract) shows as «Черновик: …» in red."""
    scenario.need("filter")
    a = scenario.browsers["alice"]
    a.go("#/chats")
    clear_search(a)
    a.driver.execute_script("""
        const uid = JSON.parse(sessionStorage.getItem('eco:v1:active'));
        localStorage.setItem(`ecomansoni.draft.${uid}.${arguments[0]}`, 'Не забыть\\nкупить шины');
        dispatchEvent(new CustomEvent('ecomansoni:draft', { detail: { conversationId: arguments[0] } }));""",
        scenario.group_id)
    st = a.wait(lambda d: (r := row_state(a, scenario.group_id)) and r["draft"] and r,
                "«Черновик:» in the group's row")
    assert st["preview"] == "Черновик: Не забыть купить шины", f"the draft preview is {st['preview']!r}"
    assert st["draftColor"] in ("rgb(180, 35, 24)",), f"«Черновик» is not red: {st['draftColor']}"
    assert st["status"] is None, "ticks shown beside a draft"
    a.screenshot("list-draft-desktop")
    a.driver.execute_script("""
        const uid = JSON.parse(sessionStorage.getItem('eco:v1:active'));
        localStorage.removeItem(`ecomansoni.draft.${uid}.${arguments[0]}`);
        dispatchEvent(new CustomEvent('ecomansoni:draft', { detail: { conversationId: arguments[0] } }));""",
        scenario.group_id)
    a.wait(lambda d: (r := row_state(a, scenario.group_id)) and not r["draft"], "the draft gone from the row")


def test_block_asks_first(scenario):
    """Blocking asks; cancel leaves Bob unblocked, confirm blocks him."""
    scenario.need("dm")
    a = scenario.browsers["alice"]
    a.go(f"#/u/{username('bob')}")
    a.click("block-button")
    text = cancel_dialog(a)
    assert "Заблокировать" in text and f"Bob {RUN}" in text, f"the block confirmation says {text!r}"
    assert a.visible("block-button").get_attribute("data-state") == "none", "cancel blocked Bob anyway"
    a.visible("follow-button")
    a.click("block-button")
    a.visible("confirm-ok")
    a.screenshot("list-block-confirm-desktop")
    a.click("confirm-ok")
    a.wait(lambda d: a.visible("block-button").get_attribute("data-state") == "blocked", "Bob blocked after confirming")
    a.click("block-button")  # unblocking does not ask
    a.wait(lambda d: a.visible("block-button").get_attribute("data-state") == "none", "Bob unblocked")
    assert not a.is_visible("confirm-ok"), "unblocking asked for confirmation"
    scenario.done.add("block")


def test_other_account_unread(scenario):
    """With Carol active, Alice's unread messages show on the account switcher and in its menu."""
    scenario.need("dm")
    a, b = scenario.browsers["alice"], scenario.browsers["bob"]
    # Alice reads what Bob sent (the search test's messages) first.
    a.go(f"#/chats/{scenario.dm_id}")
    a.wait(lambda d: not a.find_all("unread-badge", within=a.visible("inbox-item", data_conversation_id=scenario.dm_id)),
           "Alice's DM read (no unread badge)")
    open_menu(a)
    a.click("add-account")
    a.visible("phone-input")
    sign_in(a, *CAROL, "carol")
    a.go("#/chats")
    assert signed_in_as(a, [ALICE[0], CAROL[0]]), "Alice and Carol are not both signed in"
    assert not a.is_visible("accounts-unread"), "an unread badge while Alice has nothing unread"

    b.go(f"#/chats/{scenario.dm_id}")
    text = f"Алиса, ты где? {RUN}"
    send(b, text)
    # The switcher asks on focus (and each minute): a focus event stands for the user coming back.
    a.driver.execute_script("dispatchEvent(new Event('focus'))")
    badge = a.visible("accounts-unread")
    assert badge.get_attribute("data-count") == "1", f"the switcher badge counts {badge.get_attribute('data-count')}"
    label = a.visible("account-switcher").get_attribute("aria-label")
    assert "В других аккаунтах 1 непрочитанное" in label, f"the switcher's label is {label!r}"
    open_menu(a)
    per = a.driver.execute_script("""
        return [...document.querySelectorAll('[data-testid="account-option"]')].map(o => {
          const b = o.querySelector('[data-testid="account-unread"]');
          return [o.dataset.phone, b && !b.hidden ? b.dataset.count : null];
        });""")
    assert [ALICE[0].lstrip("+"), "1"] in per, f"Alice's row in the account menu: {per}"
    assert [CAROL[0].lstrip("+"), None] in per, f"Carol (active) shows an unread count: {per}"
    a.screenshot("list-accounts-unread-desktop")
    a.set_viewport(PHONE)
    open_menu(a)
    a.screenshot("list-accounts-unread-phone")
    a.set_viewport(DESKTOP)
    a.driver.find_element("tag name", "body").send_keys(Keys.ESCAPE)
    # Carol's own inbox never shows Alice's chat.
    assert not a.is_visible("inbox-item", data_conversation_id=scenario.dm_id), "Alice's DM in Carol's list"
    scenario.done.add("two accounts")


def test_sign_out_asks_first(scenario):
    """Sign-out and sign-out of all accounts ask, in the menu and in the settings; cancel keeps
    both accounts; confirming signs out Carol, then everyone."""
    scenario.need("two accounts")
    a = scenario.browsers["alice"]
    both = [ALICE[0], CAROL[0]]
    for where in ("menu", "settings"):
        for action, words in (("sign-out", "Выйти из аккаунта"), ("sign-out-all", "Выйти из всех 2 аккаунтов")):
            if where == "menu":
                a.go("#/chats")
                open_menu(a)
            else:
                a.go("#/settings")
            a.click(action)
            text = cancel_dialog(a)
            assert words in text, f"{where} {action}: the confirmation says {text!r}"
            assert signed_in_as(a, both) and a.is_visible("nav-chats"), f"{where} {action}: cancel signed someone out"
            if where == "menu":
                a.wait(lambda d: a.driver.switch_to.active_element.get_attribute("data-testid") == "account-switcher",
                       "focus back on the account switcher after cancel")
    a.go("#/chats")
    open_menu(a)
    a.click("sign-out")
    a.visible("confirm-ok")
    a.screenshot("list-sign-out-confirm-desktop")
    a.click("confirm-ok")
    a.wait(lambda d: signed_in_as(a, [ALICE[0]]), "Carol signed out after confirming")
    a.visible("nav-chats")
    open_menu(a)
    a.click("sign-out-all")
    a.click("confirm-ok")
    a.visible("phone-input")
    assert signed_in_as(a, []), "accounts left after confirming sign-out of all"
