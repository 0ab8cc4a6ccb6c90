"""The insurance section of the web app: the OSAGO calculator and the insurance assistant.

One user signs in (test number +15555550113, code 113113 — add it to AUTH_SMS_TEST_OTP in
Tests/e2e/conftest.py), prices a policy (Moscow, 150 hp, age 35, experience 10, class 13,
ТБ 8665, 12 months → 9 441,80 ₽) and reads the breakdown, gets a range without ТБ, sees an
inline error for an invalid input, saves and deletes a calculation, then asks the assistant a
premium question (streamed answer with a rouble amount; a Stop button while it streams) and a
knowledge question (an answer citing its source). The assistant's stop, error and rate-limit
states are also checked against a stubbed stream in the page. Screenshots (1280×800 and
360×740, light and dark) of both pages go to the artefacts directory.

The tests run in file order and share state (run with -x).
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field

import pytest
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from web_support import DESKTOP, PHONE, Browser, choose_territory, Steps, element_text

PHONE_NUMBER, CODE = "+15555550113", "113113"
RUN = secrets.token_hex(3)
PREMIUM = "9 441,80 ₽"
ROUBLES = re.compile(r"\d[\d  ]*(?:,\d{1,2})?\s?(?:₽|руб)")


@dataclass
class State(Steps):
    browser: Browser | None = None
    done: set[str] = field(default_factory=set)


@pytest.fixture(scope="module")
def state(server, browser_factory) -> State:
    return State(browser=browser_factory("insurer"))


# --------------------------------------------------------------------------- helpers


def norm(text: str | None) -> str:
    """Text with the no-break and thin spaces money formatting uses turned into plain spaces."""
    return re.sub(r"[\u00a0\u202f]", " ", text or "").strip()


def text_of(b: Browser, testid: str, **attrs: str) -> str:
    return norm(element_text(b.driver, b.visible(testid, **attrs)))


def sign_in(b: Browser) -> None:
    b.fill("phone-input", PHONE_NUMBER)
    b.click("send-code")
    b.fill("code-input", CODE)
    b.submit_code()
    b.wait(lambda d: b.is_visible("username-input") or b.is_visible("nav-chats"),
           f"the profile form or the app after the code for {PHONE_NUMBER} "
           "(is the number in AUTH_SMS_TEST_OTP of Tests/e2e/conftest.py?)")
    b.complete_profile(f"insurer_{RUN}", f"Insurer {RUN}")


def field_error(b: Browser, path: str) -> str | None:
    """The displayed inline error of a request field (data-field = its path), or None."""
    shown = b.displayed("field-error", data_field=path)
    return norm(element_text(b.driver, shown[0])) if shown else None


def driver_input(b: Browser, testid: str, index: int = 0):
    rows = b.displayed("driver-row")
    assert len(rows) > index, f"no driver row {index} (rows: {len(rows)})"
    return b.find_all(testid, within=rows[index])[0]


def type_into(b: Browser, element, text: str) -> None:
    element.click()
    element.send_keys(Keys.CONTROL, "a")
    element.send_keys(Keys.DELETE)
    if text:
        element.send_keys(text)


def calculate(b: Browser) -> None:
    b.click("calculate")


def open_expert(b: Browser) -> None:
    """Opens «Для профессионалов» (ТБ and the other expert fields live there since the simple mode)."""
    details = b.visible("osago-expert")
    if details.get_attribute("open") is None:
        b.click("osago-expert-toggle")
    b.wait(lambda d: b.visible("osago-expert").get_attribute("open") is not None and b.is_visible("tb-input"),
           "«Для профессионалов» open with the ТБ field")


def layout_ok(b: Browser, where: str, testids: list[str]) -> None:
    overflow = b.horizontal_overflow()
    assert overflow <= 1, f"{where}: the page scrolls horizontally by {overflow}px"
    outside = b.out_of_viewport(testids)
    assert not outside, f"{where}: not fully inside the viewport horizontally: {outside}"


def shoot(b: Browser, screen: str, route: str, prepare, required: list[str]) -> None:
    """1280×800 and 360×740, light and dark, of one page (themes chosen in the settings)."""
    for theme in ("light", "dark"):
        b.set_theme(theme)
        for size, size_name in ((DESKTOP, "desktop"), (PHONE, "phone")):
            b.set_viewport(size)
            b.go(route)
            prepare(size_name)
            for testid in required:
                b.visible(testid)
            assert b.root_attr("data-theme") == theme
            b.screenshot(f"{screen}-{size_name}-{theme}")
            layout_ok(b, f"{screen} {size_name} {theme}", required)
    b.set_viewport(DESKTOP)


# --------------------------------------------------------------------------- calculator


def test_sign_in_and_open_the_calculator(server, state):
    b = state.browser
    b.set_viewport(DESKTOP)
    b.open(server.url)
    b.wait(lambda d: b.is_visible("phone-input") or b.is_visible("nav-chats"), "the app to start")
    sign_in(b)
    b.click("nav-insurance")
    b.wait(lambda d: b.route() == "#/insurance/osago", "route #/insurance/osago after nav-insurance")
    b.visible("osago-form")
    assert b.visible("nav-insurance").get_attribute("aria-current") == "page"
    assert b.visible("insurance-tab-osago").get_attribute("aria-current") == "page"
    b.visible("insurance-tab-assistant")
    b.visible("osago-saved")
    state.done.add("calculator open")


def test_quote_shows_premium_and_breakdown(state):
    state.need("calculator open")
    b = state.browser
    choose_territory(b, "Моск", "moscow", "Москва")
    b.fill("power-input", "150")
    type_into(b, driver_input(b, "driver-age-input"), "35")
    type_into(b, driver_input(b, "driver-experience-input"), "10")
    Select(driver_input(b, "driver-class-select")).select_by_value("13")
    b.select("period-select", "12")
    open_expert(b)
    b.fill("tb-input", "8665")
    calculate(b)

    premium = b.wait(lambda d: text_of(b, "osago-premium"), "the premium in the result card")
    assert premium == PREMIUM, f"premium shown as {premium!r}, expected {PREMIUM!r}"
    assert b.visible("osago-premium").get_attribute("data-value") == "9441.80"
    rows = {r.get_attribute("data-coefficient"): norm(element_text(b.driver, b.find_all("coef-value", within=r)[0]))
            for r in b.displayed("coef-row")}
    expected = {"kt": "1,8", "kbm": "0,46", "kvs": "0,94", "km": "1,4"}
    for name, value in expected.items():
        assert rows.get(name) == value, f"breakdown row {name}: {rows.get(name)!r}, expected {value!r} (rows: {rows})"
    assert len(b.displayed("confidence-tag")) >= 4, "the breakdown shows no confidence tags"
    assert b.visible("osago-tariff-version").get_attribute("data-version"), "no tariff version in the result"
    assert len(b.displayed("forecast-row")) == 5, "the КБМ forecast should list 0..4 claims"
    assert not b.is_visible("osago-cap-notice"), "the cap notice shows although 9 441,80 is below the cap"
    state.done.add("premium")


def test_empty_base_rate_shows_a_range(state):
    state.need("premium")
    b = state.browser
    b.fill("tb-input", "")
    calculate(b)
    shown = b.wait(lambda d: b.is_visible("osago-range") and text_of(b, "osago-range"), "the price range without ТБ")
    assert re.fullmatch(r"от \d[\d ]*,\d\d ₽ до \d[\d ]*,\d\d ₽", shown), f"range shown as {shown!r}"
    assert shown.endswith(f"до {PREMIUM}"), f"the range's maximum (ТБ 8 665) should be {PREMIUM}: {shown!r}"
    assert not b.is_visible("osago-premium"), "a single premium is shown without ТБ"
    b.visible("osago-range-note")
    b.fill("tb-input", "8665")
    state.done.add("range")


def test_invalid_inputs_show_inline_errors_and_no_result(state):
    state.need("premium")
    b = state.browser
    age = driver_input(b, "driver-age-input")
    type_into(b, age, "15")
    message = b.wait(lambda d: field_error(b, "drivers[0].age"), "an inline error on the age while typing 15")
    assert "Возраст" in message and "16" in message, f"the age error does not name the field or the limit: {message!r}"
    assert age.get_attribute("aria-invalid") == "true"
    calculate(b)
    b.visible("form-error")
    assert not b.is_visible("osago-result"), "a result is shown for age 15"
    assert b.driver.switch_to.active_element == age, "the invalid age field does not get the focus on calculate"

    # Experience greater than age − 16.
    type_into(b, age, "20")
    type_into(b, driver_input(b, "driver-experience-input"), "10")
    message = b.wait(lambda d: field_error(b, "drivers[0].experienceYears"), "an inline error on experience 10 at age 20")
    assert "Стаж" in message and "4" in message, f"the experience error: {message!r}"

    # Zero horsepower.
    b.fill("power-input", "0")
    message = b.wait(lambda d: field_error(b, "vehicle.powerHp"), "an inline error on power 0")
    assert "Мощность" in message, f"the power error: {message!r}"

    # Fixed inputs, but a base rate outside the corridor: the server's 400 lands on the ТБ field.
    b.fill("power-input", "150")
    type_into(b, age, "35")
    type_into(b, driver_input(b, "driver-experience-input"), "10")
    b.wait(lambda d: not b.displayed("field-error"), "the inline errors to clear once the inputs are valid")
    b.expected_console.append(r"osago-quote .*status of 400")
    b.fill("tb-input", "100")
    calculate(b)
    message = b.wait(lambda d: field_error(b, "tb"), "the server's refusal of ТБ 100 shown on the ТБ field")
    assert message, message
    assert not b.is_visible("osago-result"), "a result is shown for a refused ТБ"
    b.fill("tb-input", "8665")
    calculate(b)
    assert b.wait(lambda d: text_of(b, "osago-premium"), "the premium again") == PREMIUM
    state.done.add("validation")


def test_save_then_delete_a_calculation(state):
    state.need("premium")
    b = state.browser
    b.wait(lambda d: b.is_visible("empty-state") or b.is_visible("saved-calc"), "the saved calculations list")
    before = len(b.displayed("saved-calc"))
    b.fill("osago-save-title", f"Москва {RUN}")
    b.click("osago-save")
    item = b.wait(lambda d: next((i for i in b.displayed("saved-calc")
                                  if RUN in element_text(b.driver, i)), None), "the saved calculation in the list")
    assert PREMIUM in norm(element_text(b.driver, item)), f"the saved item shows {norm(element_text(b.driver, item))!r}"
    assert not b.visible("osago-save").is_enabled(), "the same result can be saved twice"

    # Stored on the server: still there after a reload.
    b.driver.refresh()
    b.visible("osago-form")
    item = b.wait(lambda d: next((i for i in b.displayed("saved-calc") if RUN in element_text(b.driver, i)), None),
                  "the saved calculation after a reload")
    assert len(b.displayed("saved-calc")) == before + 1
    calc_id = item.get_attribute("data-id")

    b.click("saved-calc-delete", within=item)
    b.click("confirm-ok")
    b.wait(lambda d: not b.displayed("saved-calc", data_id=calc_id), "the deleted calculation to leave the list")
    b.driver.refresh()
    b.visible("osago-form")
    b.wait(lambda d: b.is_visible("empty-state") or b.is_visible("saved-calc"), "the saved list after a reload")
    assert not b.find_all("saved-calc", data_id=calc_id), "the deleted calculation is back after a reload"
    state.done.add("saved")


def test_calculator_screenshots(state):
    state.need("premium")
    b = state.browser

    def prepare(size_name):
        b.visible("osago-form")
        if not b.is_visible("osago-result"):
            # After a reload the form starts empty: price the example again.
            choose_territory(b, "Моск", "moscow", "Москва")
            b.fill("power-input", "150")
            type_into(b, driver_input(b, "driver-age-input"), "35")
            type_into(b, driver_input(b, "driver-experience-input"), "10")
            Select(driver_input(b, "driver-class-select")).select_by_value("13")
            open_expert(b)
            b.fill("tb-input", "8665")
            calculate(b)
        b.visible("osago-premium")
        b.driver.execute_script("document.querySelector('main').scrollTop = 0")

    shoot(b, "osago", "#/insurance/osago", prepare, ["osago-form", "territory-input", "calculate", "nav-insurance"])
    # The result card and breakdown on a phone.
    for theme in ("light", "dark"):
        b.set_theme(theme)
        b.set_viewport(PHONE)
        b.go("#/insurance/osago")
        result = b.visible("osago-result")
        b.driver.execute_script("arguments[0].scrollIntoView({block: 'start'})", result)
        b.screenshot(f"osago-result-phone-{theme}")
        layout_ok(b, f"osago result phone {theme}", ["osago-result", "osago-breakdown", "osago-premium", "osago-save"])
        # The territory list open on a phone.
        b.driver.execute_script("document.querySelector('main').scrollTop = 0")
        b.fill("territory-input", "Мо")
        b.visible("territory-option", data_code="moscow")
        b.visible("territory-option", data_code="moscow_oblast")
        b.screenshot(f"osago-territory-list-phone-{theme}")
        layout_ok(b, f"osago territory list phone {theme}", ["territory-listbox", "territory-option"])
        b.click("territory-option", data_code="moscow")
    b.set_viewport(DESKTOP)
    b.set_theme("light")
    state.done.add("calculator screenshots")


# --------------------------------------------------------------------------- assistant

WATCH_SCRIPT = """
const w = window.__e2eAssist = { sawStop: false, lengths: [] };
const check = () => {
  const stop = document.querySelector('[data-testid="assistant-stop"]');
  if (stop && !stop.hidden && stop.offsetParent) w.sawStop = true;
  const msgs = document.querySelectorAll('[data-testid="assistant-message"][data-role="assistant"]');
  const last = msgs[msgs.length - 1];
  if (last) {
    const n = (last.querySelector('[data-testid="assistant-message-body"]') || last).textContent.length;
    if (w.lengths[w.lengths.length - 1] !== n) w.lengths.push(n);
  }
};
new MutationObserver(check).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
"""


def last_answer(b: Browser):
    answers = b.displayed("assistant-message", data_role="assistant")
    return answers[-1] if answers else None


def answer_text(b: Browser, answer) -> str:
    return norm(element_text(b.driver, b.find_all("assistant-message-body", within=answer)[0]))


def wait_answer(b: Browser, description: str):
    def finished(d):
        answer = last_answer(b)
        return answer if answer is not None and answer.get_attribute("data-state") in ("done", "error", "stopped", "limited") else None
    answer = b.wait(finished, description)
    if answer.get_attribute("data-state") != "done":
        errors = b.find_all("assistant-error", within=answer)
        detail = norm(element_text(b.driver, errors[0])) if errors else answer.get_attribute("data-state")
        raise AssertionError(f"the assistant's answer ended with {detail!r}: {answer_text(b, answer)!r}")
    return answer


def test_assistant_streams_a_premium_answer(state, report):
    state.need("calculator open")
    b = state.browser
    b.click("nav-insurance")
    b.click("insurance-tab-assistant")
    b.wait(lambda d: b.route() == "#/insurance/assistant", "route #/insurance/assistant")
    b.visible("assistant-empty")
    assert len(b.displayed("assistant-suggestion")) >= 4, "the empty assistant offers fewer than 4 suggested questions"
    b.driver.execute_script(WATCH_SCRIPT)
    b.click("assistant-suggestion", data_key="suggestPremium")
    b.visible("assistant-message", data_role="user")
    answer = wait_answer(b, "the streamed answer to the premium question")
    text = answer_text(b, answer)
    assert ROUBLES.search(text), f"the premium answer names no rouble amount: {text!r}"
    watched = b.driver.execute_script("return window.__e2eAssist")
    assert watched["sawStop"], "no Stop button was shown while the answer streamed"
    if len([n for n in watched["lengths"] if n > 0]) < 2:
        report.note(f"assistant: the premium answer arrived in one paint (lengths seen: {watched['lengths'][:10]})")
    assert not b.is_visible("assistant-stop"), "the Stop button stays after the answer is complete"
    if not b.is_visible("assistant-engine"):
        report.note("assistant: the answer carries no X-Assistant-Engine header (no engine caption shown)")
    state.done.add("premium answer")


def test_assistant_knowledge_answer_cites_a_source(state):
    state.need("premium answer")
    b = state.browser
    b.click("assistant-clear")
    b.visible("assistant-empty")
    question = "Какие документы нужны для ОСАГО?"
    box = b.fill("assistant-input", question)
    box.send_keys(Keys.ENTER)
    b.wait(lambda d: any(question in element_text(b.driver, m) for m in b.displayed("assistant-message", data_role="user")),
           "the typed question in the conversation (sent with Enter)")
    answer = wait_answer(b, "the answer to a knowledge question")
    text = answer_text(b, answer)
    assert "Источник" in text, f"the knowledge answer cites no source: {text!r}"
    state.done.add("knowledge answer")


# A stream stub for the states a live server will not produce on demand: each scenario is a
# list of [delay ms, text] pieces (cut mid-line on purpose), or an HTTP error status.
STUB_SCRIPT = """
if (!window.__e2eRealFetch) {
  window.__e2eRealFetch = window.fetch;
  window.fetch = (url, opts) => {
    const stub = window.__e2eStub;
    if (!stub || !String(url).includes('/functions/v1/insurance-assistant')) return window.__e2eRealFetch(url, opts);
    window.__e2eStubCalls = (window.__e2eStubCalls || 0) + 1;
    if (stub.status) {
      return Promise.resolve(new Response(JSON.stringify({ error: 'too many', code: 'rate_limited' }),
        { status: stub.status, headers: { 'Content-Type': 'application/json', 'Retry-After': String(stub.retryAfter || 3) } }));
    }
    const enc = new TextEncoder();
    let i = 0, timer = null, ctrl;
    const body = new ReadableStream({
      start(c) {
        ctrl = c;
        opts?.signal?.addEventListener('abort', () => { clearTimeout(timer); try { c.error(new DOMException('aborted', 'AbortError')); } catch (e) {} });
      },
      pull(c) {
        return new Promise(resolve => {
          if (i >= stub.pieces.length) { c.close(); resolve(); return; }
          const [delay, text] = stub.pieces[i++];
          timer = setTimeout(() => { try { c.enqueue(enc.encode(text)); } catch (e) {} resolve(); }, delay);
        });
      },
    });
    return Promise.resolve(new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream', 'X-Assistant-Engine': 'builtin' } }));
  };
}
"""


def frame(content: str) -> str:
    return "data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}]},
                                 ensure_ascii=False) + "\n\n"


def pieces(*texts: str, delay: int = 30) -> list:
    raw = "".join(texts)
    cut = [raw[i:i + 7] for i in range(0, len(raw), 7)]  # mid-line and mid-frame cuts
    return [[delay, piece] for piece in cut]


def set_stub(b: Browser, stub) -> None:
    b.driver.execute_script(STUB_SCRIPT)
    b.driver.execute_script("window.__e2eStub = arguments[0]", stub)


def test_assistant_stop_error_and_rate_limit_states(state):
    state.need("premium answer")
    b = state.browser
    b.click("assistant-clear")
    b.visible("assistant-empty")

    # Stop keeps the partial answer.
    slow = pieces(": keep-alive\n\n", *[frame(f"Часть {n}. ") for n in range(40)], delay=40)
    set_stub(b, {"pieces": slow})
    b.fill("assistant-input", "медленный ответ")
    b.click("assistant-send")
    b.wait(lambda d: last_answer(b) is not None and "Часть 1." in answer_text(b, last_answer(b)), "the first parts of the slow answer")
    b.click("assistant-stop")
    answer = b.wait(lambda d: (lambda a: a if a is not None and a.get_attribute("data-state") == "stopped" else None)(last_answer(b)),
                    "the answer marked as stopped")
    kept = answer_text(b, answer)
    assert kept.startswith("Часть 0."), f"the partial answer was not kept: {kept!r}"
    b.visible("assistant-stopped", within=answer)
    assert not b.is_visible("assistant-stop")
    b.driver.execute_script("return new Promise(r => setTimeout(r, 600))")
    assert answer_text(b, answer) == kept, "text kept arriving after Stop"

    # An error in the stream: partial text stays, with a retry.
    set_stub(b, {"pieces": pieces(frame("Начало ответа"), 'data: {"error":{"message":"provider failed","code":"provider_error"}}\n\n',
                                  "data: [DONE]\n\n")})
    b.fill("assistant-input", "ошибка")
    b.click("assistant-send")
    answer = b.wait(lambda d: (lambda a: a if a is not None and a.get_attribute("data-state") == "error" else None)(last_answer(b)),
                    "the error state of a failed stream")
    assert "Начало ответа" in answer_text(b, answer)
    set_stub(b, {"pieces": pieces(frame("Повторный ответ."), "data: [DONE]\n\n")})
    b.click("assistant-retry", within=answer)
    answer = wait_answer(b, "the answer after retry")
    assert "Повторный ответ." in answer_text(b, answer)

    # 429 with Retry-After: the wait is shown and sending is off until it passes.
    set_stub(b, {"status": 429, "retryAfter": 3})
    b.fill("assistant-input", "ещё вопрос")
    b.click("assistant-send")
    limited = b.wait(lambda d: (lambda a: a if a is not None and a.get_attribute("data-state") == "limited" else None)(last_answer(b)),
                     "the rate-limited state")
    note = norm(element_text(b.driver, b.find_all("assistant-error", within=limited)[0]))
    assert re.search(r"\d:\d\d", note), f"the rate-limit message shows no wait: {note!r}"
    b.visible("assistant-rate-limit")
    assert not b.visible("assistant-send").is_enabled(), "sending stays possible during the rate limit"
    b.screenshot("assistant-rate-limited-desktop")
    set_stub(b, {"pieces": pieces(frame("Ответ после паузы."), "data: [DONE]\n\n")})
    b.wait(lambda d: b.find_all("assistant-retry", within=limited)[0].is_enabled(), "retry enabled once the wait is over", timeout=8)
    b.click("assistant-retry", within=limited)
    answer = wait_answer(b, "the answer after the rate limit")
    assert "Ответ после паузы." in answer_text(b, answer)
    b.driver.execute_script("window.__e2eStub = null")
    state.done.add("assistant states")


def test_assistant_screenshots(state):
    state.need("premium answer")
    b = state.browser
    b.click("assistant-clear")
    b.visible("assistant-empty")
    b.screenshot("assistant-empty-desktop-light")
    b.set_viewport(PHONE)
    b.screenshot("assistant-empty-phone-light")
    layout_ok(b, "assistant empty phone", ["assistant-suggestion", "assistant-input", "assistant-send"])
    b.set_viewport(DESKTOP)
    b.click("assistant-suggestion", data_key="suggestPremium")
    wait_answer(b, "the premium answer for the screenshots")
    b.fill("assistant-input", "Что делать после ДТП?")
    b.click("assistant-send")
    wait_answer(b, "the knowledge answer for the screenshots")

    def prepare(size_name):
        b.wait(lambda d: len(b.displayed("assistant-message")) >= 4, "the conversation kept in memory")

    shoot(b, "assistant", "#/insurance/assistant", prepare,
          ["assistant-log", "assistant-input", "assistant-send", "assistant-message", "nav-insurance"])
    b.set_theme("light")
    state.done.add("assistant screenshots")
