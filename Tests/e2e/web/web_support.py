"""Selenium helpers for the web-app suite: a thin wrapper around one headless Chromium.

Everything is located through the app's `data-testid` hooks (a contract with the app);
every wait is an explicit WebDriverWait of at most 15 s.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
from selenium import webdriver
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    ElementNotInteractableException,
    JavascriptException,
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

# The longest any single wait may take.
WAIT = 15.0
POLL = 0.1

DESKTOP = (1280, 800)
PHONE = (360, 740)

TRANSIENT = (StaleElementReferenceException, NoSuchElementException, JavascriptException)


def tid(testid: str, **attrs: str) -> str:
    """CSS selector for a test hook, optionally with attribute values."""
    selector = f'[data-testid="{testid}"]'
    for name, value in attrs.items():
        selector += f'[{name.replace("_", "-")}="{value}"]'
    return selector


def digits(text: str | None) -> str:
    return re.sub(r"\D", "", text or "")


def new_driver(chromium: str, chromedriver: str, profile_dir: Path, extra_args: tuple[str, ...] = ()) -> webdriver.Chrome:
    """A headless Chromium; `extra_args` are added to the usual switches (e.g. fake media devices)."""
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
        f"--user-data-dir={profile_dir}",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-search-engine-choice-screen",
        *extra_args,
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(WAIT)
    return driver


@dataclass
class RunReport:
    """What the run found besides pass/fail; printed by pytest_terminal_summary."""

    artefacts: Path | None = None
    screenshots: list[Path] = field(default_factory=list)
    first_load: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    soft_failures: list[str] = field(default_factory=list)
    live_browsers: list["Browser"] = field(default_factory=list)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def soft_fail(self, text: str) -> None:
        if text not in self.soft_failures:
            self.soft_failures.append(text)

    def first_load_summary(self) -> dict[str, Any]:
        keys = ("url", "total_transfer_bytes", "total_decoded_bytes", "request_count",
                "time_to_interactive_ms", "tti_source", "dom_interactive_ms",
                "dom_content_loaded_ms", "load_event_ms", "first_contentful_paint_ms",
                "app_ready_ms", "warm_reload")
        return {key: self.first_load[key] for key in keys if key in self.first_load}


class Steps:
    """A module's shared scenario whose tests build on each other: each test adds the steps it
    completed to `done` (a field of the subclass) and starts with `need(...)`."""

    done: set[str]

    def need(self, *steps: str) -> None:
        """Fails this test at once (without a traceback) when an earlier step did not complete."""
        missing = [step for step in steps if step not in self.done]
        if missing:
            pytest.fail(f"prerequisite step(s) did not complete: {', '.join(missing)}", pytrace=False)


class Browser:
    """One user's browser window."""

    def __init__(self, name: str, driver: webdriver.Chrome, artefacts: Path, report: RunReport):
        self.name = name
        self.driver = driver
        self.artefacts = artefacts
        self.report = report
        self.base_url = ""
        self.console: list[dict[str, Any]] = []
        self.expected_console: list[str] = []  # regexes of SEVERE messages a test caused on purpose

    # ------------------------------------------------------------------ waiting

    def wait(self, condition: Callable[[webdriver.Chrome], Any], description: str, timeout: float = WAIT) -> Any:
        """WebDriverWait(condition) with a readable failure message (≤ 15 s)."""
        timeout = min(timeout, WAIT)
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=POLL,
                                 ignored_exceptions=TRANSIENT).until(condition)
        except TimeoutException:
            raise AssertionError(
                f"[{self.name}] timed out after {timeout:.0f}s waiting for: {description} "
                f"(at {self.safe_url()})") from None

    def try_wait(self, condition: Callable[[webdriver.Chrome], Any], timeout: float = WAIT) -> Any:
        """Like wait, but returns None instead of failing."""
        try:
            return WebDriverWait(self.driver, min(timeout, WAIT), poll_frequency=POLL,
                                 ignored_exceptions=TRANSIENT).until(condition)
        except TimeoutException:
            return None

    def safe_url(self) -> str:
        try:
            return self.driver.current_url
        except WebDriverException:
            return "?"

    # ------------------------------------------------------------------ finding

    def find_all(self, testid: str, within: WebElement | None = None, **attrs: str) -> list[WebElement]:
        root = within if within is not None else self.driver
        return root.find_elements(By.CSS_SELECTOR, tid(testid, **attrs))

    def displayed(self, testid: str, within: WebElement | None = None, **attrs: str) -> list[WebElement]:
        result = []
        for element in self.find_all(testid, within, **attrs):
            try:
                if element.is_displayed():
                    result.append(element)
            except StaleElementReferenceException:
                pass
        return result

    def is_visible(self, testid: str, **attrs: str) -> bool:
        try:
            return bool(self.displayed(testid, **attrs))
        except TRANSIENT:
            return False

    def visible(self, testid: str, within: WebElement | None = None, timeout: float = WAIT, **attrs: str) -> WebElement:
        """The first displayed element with this hook, waiting for it."""
        return self.wait(lambda d: (self.displayed(testid, within, **attrs) or [None])[0],
                         f"visible {tid(testid, **attrs)}", timeout)

    def present(self, testid: str, timeout: float = WAIT, **attrs: str) -> WebElement:
        return self.wait(lambda d: (self.find_all(testid, **attrs) or [None])[0],
                         f"element {tid(testid, **attrs)} in the DOM", timeout)

    def gone(self, testid: str, timeout: float = WAIT, **attrs: str) -> None:
        self.wait(lambda d: not self.displayed(testid, **attrs), f"{tid(testid, **attrs)} to disappear", timeout)

    # ------------------------------------------------------------------ acting

    def click_element(self, get: Callable[[], WebElement | None], description: str, timeout: float = WAIT) -> None:
        """Clicks the element `get()` returns, retrying while it is covered, disabled or re-rendered."""
        def attempt(_):
            element = get()
            if element is None or not element.is_displayed() or not element.is_enabled():
                return False
            try:
                self.driver.execute_script("arguments[0].scrollIntoView({block: 'nearest'})", element)
                element.click()
                return True
            except (ElementClickInterceptedException, ElementNotInteractableException):
                return False
        self.wait(attempt, f"clickable {description}", timeout)

    def click(self, testid: str, within: WebElement | None = None, timeout: float = WAIT, **attrs: str) -> None:
        self.click_element(lambda: (self.displayed(testid, within, **attrs) or [None])[0],
                           tid(testid, **attrs), timeout)

    def fill(self, testid: str, text: str, within: WebElement | None = None) -> WebElement:
        """Replaces the value of an input with `text`, typed key by key (real input events)."""
        element = self.visible(testid, within)
        self.wait(lambda d: element.is_enabled(), f"{tid(testid)} enabled")
        element.click()
        element.send_keys(Keys.CONTROL, "a")
        element.send_keys(Keys.DELETE)
        element.send_keys(text)
        return element

    def submit_code(self) -> None:
        """Clicks verify-code unless the app already submitted the code on its own (it does
        once six digits are typed) or moved on to the next screen."""
        def clicked_or_moved_on(_):
            # An auth-error still on screen may be the previous attempt's: click anyway.
            if self.is_visible("username-input") or self.is_visible("nav-chats"):
                return True
            buttons = self.displayed("verify-code")
            if buttons and buttons[0].is_enabled():
                try:
                    buttons[0].click()
                    return True
                except Exception:
                    return False
            return False
        self.wait(clicked_or_moved_on, f"clickable {tid('verify-code')}")

    def complete_profile(self, username: str, display_name: str) -> None:
        """On a first sign-in, fills the username and display name; then waits for the app."""
        if self.is_visible("username-input"):
            self.fill("username-input", username)
            self.fill("display-name-input", display_name)
            self.click("save-profile")
        self.visible("nav-chats")

    def sign_in(self, phone: str, code: str, username: str, display_name: str) -> None:
        """Phone → code → (first sign-in) username and display name → the app shell; nothing
        when this browser is already signed in."""
        self.wait(lambda d: self.is_visible("phone-input") or self.is_visible("nav-chats"), "the app to render")
        if self.is_visible("nav-chats") and not self.is_visible("phone-input"):
            return
        self.fill("phone-input", phone)
        self.click("send-code")
        self.visible("code-input")
        self.fill("code-input", code)
        self.submit_code()
        self.wait(lambda d: self.is_visible("username-input") or self.is_visible("nav-chats"), "the profile form after the code")
        self.complete_profile(username, display_name)

    def set_theme(self, theme: str) -> None:
        """Chooses the theme in settings and waits for the page to wear it."""
        self.go("#/settings")
        self.select("theme-select", theme)
        self.wait(lambda d: self.root_attr("data-theme") == theme, f"<html data-theme={theme!r}>")

    def open_dm(self, username: str) -> str:
        """Opens (creating if needed) the DM with a user found in People; returns its id."""
        self.click("nav-people")
        self.fill("people-search", username)
        self.click("person-result", data_username=username)
        self.click("open-dm")
        self.wait(lambda d: self.route().startswith("#/chats/") and len(self.route()) > len("#/chats/"), "the DM route")
        self.visible("message-input")
        return self.route()[len("#/chats/"):].split("?")[0]

    def select(self, testid: str, value: str) -> None:
        element = self.visible(testid)
        options = [o.get_attribute("value") for o in Select(element).options]
        assert value in options, f"[{self.name}] {tid(testid)} has no option {value!r} (options: {options})"
        Select(element).select_by_value(value)

    def hover(self, element: WebElement) -> None:
        ActionChains(self.driver).move_to_element(element).perform()

    # ------------------------------------------------------------------ pages

    def open(self, base_url: str, route: str = "") -> None:
        self.base_url = base_url
        self.driver.get(f"{base_url}/{route}")
        self.wait(lambda d: d.execute_script("return document.readyState") == "complete", "document loaded")

    def route(self) -> str:
        return self.driver.execute_script("return location.hash")

    def go(self, route: str) -> None:
        """Navigates to a hash route (no reload)."""
        self.driver.execute_script("location.hash = arguments[0]", route)
        self.wait(lambda d: self.route() == route or self.route().startswith(route + "/")
                  or self.route().startswith(route + "?"), f"route {route}")

    def mark_page(self) -> str:
        """Puts a token on `window`; page_kept(token) then proves there was no reload since."""
        token = f"e2e-{time.monotonic_ns()}"
        self.driver.execute_script("window.__e2ePageToken = arguments[0]", token)
        return token

    def page_kept(self, token: str) -> bool:
        return self.driver.execute_script("return window.__e2ePageToken") == token

    def root_attr(self, name: str) -> str | None:
        return self.driver.execute_script("return document.documentElement.getAttribute(arguments[0])", name)

    def wait_frames(self) -> None:
        """Two animation frames plus settled web fonts: the page has painted what it rendered."""
        self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "const fonts = document.fonts ? document.fonts.ready : Promise.resolve();"
            "fonts.then(() => requestAnimationFrame(() => requestAnimationFrame(() => done(true))));")
        # Let CSS transitions on theme/size changes finish (polled, at most 0.6 s).
        self.try_wait(lambda d: d.execute_script(
            "return document.getAnimations ? document.getAnimations().every(a => a.playState !== 'running') : true"),
            timeout=0.6)

    # ------------------------------------------------------------------ viewport and theme

    def set_viewport(self, size: tuple[int, int]) -> None:
        """An exact CSS viewport: desktop at DPR 1, a phone (narrower than 600 px) as a mobile
        device at DPR 2.

        (--window-size includes the browser's own UI even headless, so the page would get less.)
        """
        width, height = size
        phone = width < 600
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 2 if phone else 1, "mobile": phone})
        self.wait(lambda d: d.execute_script("return [innerWidth, innerHeight]") == [width, height],
                  f"viewport {width}x{height}")

    def emulate_color_scheme(self, scheme: str) -> None:
        self.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {
            "features": [{"name": "prefers-color-scheme", "value": scheme}]})

    def horizontal_overflow(self) -> int:
        return self.driver.execute_script(
            "return Math.max(document.documentElement.scrollWidth, document.body ? document.body.scrollWidth : 0)"
            " - window.innerWidth")

    def out_of_viewport(self, testids: list[str]) -> list[str]:
        """Hooks among `testids` that are displayed but not fully inside the viewport horizontally."""
        return self.driver.execute_script("""
            const out = [];
            for (const id of arguments[0]) {
              for (const el of document.querySelectorAll(`[data-testid="${id}"]`)) {
                const r = el.getBoundingClientRect();
                if (r.width === 0 && r.height === 0) continue;
                if (r.left < -1 || r.right > window.innerWidth + 1) out.push(id);
              }
            }
            return [...new Set(out)];""", testids)

    def screenshot(self, name: str) -> Path:
        self.wait_frames()
        path = self.artefacts / "screenshots" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        assert self.driver.save_screenshot(str(path)), f"could not save screenshot {path}"
        if path not in self.report.screenshots:
            self.report.screenshots.append(path)
        return path

    def screenshot_to(self, directory: Path, name: str) -> Path:
        """Like screenshot, into `directory` (e.g. screenshots_dir()) as `<name>.png`."""
        self.wait_frames()
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{name}.png"
        assert self.driver.save_screenshot(str(path)), f"could not save screenshot {path}"
        if path not in self.report.screenshots:
            self.report.screenshots.append(path)
        return path

    # ------------------------------------------------------------------ text checks

    def visible_cyrillic(self, exclude: list[str] = ()) -> list[str]:
        """Visible text nodes containing Cyrillic (untranslated strings when lang=en)."""
        found = self.driver.execute_script("""
            const out = new Set();
            const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
            for (let n = walker.nextNode(); n; n = walker.nextNode()) {
              const text = n.textContent.trim();
              if (!/[\\u0400-\\u04FF]/.test(text)) continue;
              const el = n.parentElement;
              if (!el || el.closest('[data-testid="message-body"]')) continue;
              const r = el.getBoundingClientRect();
              const style = getComputedStyle(el);
              if (r.width === 0 || r.height === 0 || style.visibility === 'hidden') continue;
              out.add(text.slice(0, 80));
            }
            for (const el of document.querySelectorAll('[placeholder], [aria-label], [title]')) {
              for (const a of ['placeholder', 'aria-label', 'title']) {
                const v = el.getAttribute(a);
                if (v && /[\\u0400-\\u04FF]/.test(v)) out.add(`${a}="${v.slice(0, 80)}"`);
              }
            }
            return [...out];""")
        return [text for text in found if not any(word in text for word in exclude)]

    def close(self) -> None:
        """Quits the browser now (its console log is saved first)."""
        if self in self.report.live_browsers:
            self.save_console_log()
            self.report.live_browsers.remove(self)
            try:
                self.driver.quit()
            except WebDriverException:
                pass

    # ------------------------------------------------------------------ diagnostics

    def collect_console(self) -> list[dict[str, Any]]:
        try:
            self.console.extend(self.driver.get_log("browser"))
        except WebDriverException:
            pass
        return self.console

    def save_console_log(self) -> None:
        entries = self.collect_console()
        path = self.artefacts / f"console-{self.name}.log"
        path.write_text("\n".join(f"{e.get('level')} {e.get('message')}" for e in entries) + "\n", encoding="utf-8")
        severe = [e for e in entries if e.get("level") == "SEVERE"
                  and not any(re.search(p, str(e.get("message"))) for p in self.expected_console)]
        if severe:
            shown = "; ".join(str(e.get("message"))[:200] for e in severe[:5])
            self.report.note(f"{self.name}: {len(severe)} SEVERE browser console message(s) (see {path}): {shown}")

    def dump_failure(self, test_name: str) -> list[Path]:
        directory = self.artefacts / "failures"
        directory.mkdir(parents=True, exist_ok=True)
        stem = f"{test_name}-{self.name}"
        png = directory / f"{stem}.png"
        html = directory / f"{stem}.html"
        log = directory / f"{stem}-console.log"
        self.driver.save_screenshot(str(png))
        html.write_text(f"<!-- {self.safe_url()} -->\n" + self.driver.page_source, encoding="utf-8")
        entries = self.collect_console()
        log.write_text("\n".join(f"{e.get('level')} {e.get('message')}" for e in entries) + "\n", encoding="utf-8")
        return [png, html, log]


def browser_rpc(b: Browser, name: str, args: dict) -> dict:
    """An RPC as the browser's signed-in user, sent from the page: {status, body}."""
    return b.driver.execute_async_script("""
        const [name, args, done] = arguments;
        (async () => {
          const cfg = await (await fetch('/app-config.json')).json();
          const acc = Object.values(JSON.parse(localStorage.getItem('eco:v1:accounts')))[0];
          const r = await fetch('/rest/v1/rpc/' + name, { method: 'POST', headers: {
            apikey: cfg.anonKey, Authorization: 'Bearer ' + acc.session.access_token, 'Content-Type': 'application/json' },
            body: JSON.stringify(args) });
          let body = null;
          try { body = await r.json(); } catch {}
          return { status: r.status, body };
        })().then(done, e => done({ status: 0, body: String(e) }));""", name, args)


def choose_territory(b: Browser, typed: str, code: str, name: str | None = None) -> None:
    """Types `typed` into the OSAGO territory combobox and picks the option `code`; with `name`,
    waits until the field shows it. A press can go astray: the list may be repainted by a later
    search answer between locating the option and pressing it, so the press lands on a
    neighbour (say «Московская обл.») and closes the list. Then the option is pressed again,
    typing the search anew when the list has closed."""
    b.fill("territory-input", typed)
    b.visible("territory-option", data_code=code)
    b.click("territory-option", data_code=code)
    if name is not None:
        def chosen(_):
            if b.visible("territory-input").get_attribute("value") == name:
                return True
            options = b.displayed("territory-option", data_code=code)[:1]
            for option in options:
                try:
                    option.click()
                except (ElementClickInterceptedException, ElementNotInteractableException):
                    pass
            if not options and not b.is_visible("territory-listbox"):
                b.fill("territory-input", typed)
            return False
        b.wait(chosen, f"{name} chosen from the territory list")
    b.wait(lambda d: not b.is_visible("territory-listbox"), "the territory list to close after choosing")


def screenshots_dir() -> Path:
    """Where the accessibility audit puts its screen × size × theme screenshots:
    $ECOMANSONI_SCREENSHOTS, else Tests/e2e/web/.screenshots (git-ignored)."""
    configured = os.environ.get("ECOMANSONI_SCREENSHOTS")
    path = Path(configured).resolve() if configured else Path(__file__).resolve().parent / ".screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def element_text(driver: webdriver.Chrome, element: WebElement) -> str:
    return driver.execute_script("return (arguments[0].textContent || '').trim()", element)


def status_of(driver: webdriver.Chrome, element: WebElement) -> str:
    """'read', 'delivered', 'sent' or the raw text of a `message-status` element (text, aria-label, title, data-status)."""
    raw = driver.execute_script("""
        const el = arguments[0];
        return [el.dataset.status, el.getAttribute('aria-label'), el.getAttribute('title'), el.textContent]
          .filter(Boolean).join(' ').toLowerCase();""", element)
    if "read" in raw:
        return "read"
    if "delivered" in raw:
        return "delivered"
    if "sent" in raw:
        return "sent"
    return raw.strip()


def to_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


def database_url(server) -> str:
    """The session server's database: E2E_DATABASE_URL or its embedded cluster."""
    configured = os.environ.get("E2E_DATABASE_URL")
    if configured:
        return configured
    port = (Path(server.data_dir) / "postgres" / "postmaster.pid").read_text().splitlines()[3].strip()
    password = (Path(server.data_dir) / "postgres.password").read_text().strip()
    return f"postgres://postgres:{password}@127.0.0.1:{port}/ecomansoni"
