"""Browser fixtures for the web-app suite (headless Chromium through Selenium).

The server itself comes from the `server` fixture of Tests/e2e/conftest.py.

Environment:
  ECOMANSONI_ARTIFACTS   directory for screenshots, first-load.json and failure dumps
                         (default: a new temporary directory; printed at the end of the run)
  ECOMANSONI_SCREENSHOTS directory for the accessibility audit's screenshots and axe-report.json
                         (test_accessibility.py; default Tests/e2e/web/.screenshots, git-ignored)
  ECOMANSONI_FOCUS_WALK  1: test_accessibility.py also tabs through each screen and reports focus
                         stops without a visible focus indicator
  ECOMANSONI_CHROMIUM    browser binary (default /usr/bin/chromium, else `chromium` on PATH)
  ECOMANSONI_CHROMEDRIVER  driver binary (default /usr/bin/chromedriver, else on PATH)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from web_support import Browser, RunReport, database_url, new_driver  # noqa: E402

WEB_DIR = Path(__file__).resolve().parent


def _find(env_name: str, default: str, name: str) -> str | None:
    configured = os.environ.get(env_name)
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    if os.access(default, os.X_OK):
        return default
    return shutil.which(name)


CHROMIUM = _find("ECOMANSONI_CHROMIUM", "/usr/bin/chromium", "chromium")
CHROMEDRIVER = _find("ECOMANSONI_CHROMEDRIVER", "/usr/bin/chromedriver", "chromedriver")

REPORT = RunReport()


def _in_web_suite(item: pytest.Item) -> bool:
    try:
        return Path(str(item.path)).resolve().is_relative_to(WEB_DIR)
    except (OSError, ValueError):
        return False


def pytest_collection_modifyitems(config, items):
    """Skips every web test (with the reason) when Chromium or chromedriver is missing."""
    missing = []
    if CHROMIUM is None:
        missing.append("chromium (Debian package `chromium`; or set ECOMANSONI_CHROMIUM)")
    if CHROMEDRIVER is None:
        missing.append("chromedriver (Debian package `chromium-driver`; or set ECOMANSONI_CHROMEDRIVER)")
    if not missing:
        return
    marker = pytest.mark.skip(reason="web e2e suite needs " + " and ".join(missing))
    for item in items:
        if _in_web_suite(item):
            item.add_marker(marker)


@pytest.fixture(scope="session")
def artefacts() -> Path:
    """The directory screenshots and metrics are written to (printed at the end of the run)."""
    configured = os.environ.get("ECOMANSONI_ARTIFACTS")
    if configured:
        path = Path(configured).resolve()
        path.mkdir(parents=True, exist_ok=True)
    else:
        path = Path(tempfile.mkdtemp(prefix="ecomansoni-web-artifacts-"))
    REPORT.artefacts = path
    return path


@pytest.fixture(scope="session")
def report() -> RunReport:
    return REPORT


@pytest.fixture(scope="module")
def browser_factory(artefacts: Path):
    """`browser_factory(name, extra_args=())` -> a new headless Chromium (own profile dir, extra
    command-line switches), quit when the test module ends: an idle browser left open keeps
    its page's timers, sockets and fake camera running (one kept half a core busy for the
    rest of the suite)."""
    created: list[Browser] = []
    profiles: list[Path] = []

    def make(name: str, extra_args: tuple[str, ...] = ()) -> Browser:
        profile = Path(tempfile.mkdtemp(prefix=f"ecom-web-profile-{name}-"))
        profiles.append(profile)
        driver = new_driver(CHROMIUM, CHROMEDRIVER, profile, tuple(extra_args))
        browser = Browser(name, driver, artefacts, REPORT)
        created.append(browser)
        REPORT.live_browsers.append(browser)
        return browser

    yield make
    for browser in created:
        browser.close()
    for profile in profiles:
        shutil.rmtree(profile, ignore_errors=True)


@dataclass
class ServerInstance:
    """Another server process on the session server's database."""

    name: str
    url: str
    process: subprocess.Popen
    log_path: Path


def _e2e_conftest(config):
    """Tests/e2e/conftest.py as pytest loaded it (the name `conftest` is this file's here)."""
    wanted = (WEB_DIR.parent / "conftest.py").resolve()
    for plugin in config.pluginmanager.get_plugins():
        path = getattr(plugin, "__file__", None)
        if path and Path(path).resolve() == wanted:
            return plugin
    raise RuntimeError(f"{wanted} is not loaded")


@pytest.fixture(scope="module")
def server_instances(request, server):
    """`server_instances(name, env=None)` -> a ServerInstance: another `ecomansoni serve` on the
    session database with MESSAGE_BUS=postgres (cross-instance realtime and calls), serving this
    checkout's web app; stopped when the module ends. Its log tail is attached to failures."""
    e2e = _e2e_conftest(request.config)
    started: list[ServerInstance] = []

    def start(name: str, env: dict[str, str] | None = None) -> ServerInstance:
        port = e2e._free_port()
        environment = e2e._environment()
        environment["DATABASE_URL"] = database_url(server)
        environment["MESSAGE_BUS"] = "postgres"
        environment.update(env or {})
        log_path = Path(server.data_dir) / f"web-{name}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [str(e2e._binary()), "serve", "--port", str(port)], env=environment, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        instance = ServerInstance(name, f"http://127.0.0.1:{port}", process, log_path)
        started.append(instance)
        e2e.EXTRA_SERVER_LOGS[f"instance {name}"] = log_path
        e2e._wait_ready(instance.url, process, log_path)
        return instance

    yield start
    for instance in started:
        e2e.EXTRA_SERVER_LOGS.pop(f"instance {instance.name}", None)
        if instance.process.poll() is None and e2e._stop(instance.process) is None:
            instance.process.kill()
            instance.process.wait(timeout=10)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failing web test: a screenshot, the DOM and the console log of every open browser."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed or not _in_web_suite(item):
        return
    dumps = []
    for browser in list(REPORT.live_browsers):
        try:
            dumps.extend(str(path) for path in browser.dump_failure(item.name))
        except Exception as error:  # the browser may be gone
            dumps.append(f"{browser.name}: could not dump ({error!r})")
    if dumps:
        report.sections.append(("browser state at failure", "\n".join(dumps)))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if REPORT.artefacts is None:
        return
    write = terminalreporter.write_line
    terminalreporter.section("ECOMANSONI web app: artefacts")
    write(f"artefacts directory: {REPORT.artefacts}")
    if REPORT.screenshots:
        write(f"screenshots ({len(REPORT.screenshots)}):")
        for path in REPORT.screenshots:
            write(f"  {path}")
    if REPORT.first_load:
        write(f"first load (also in {REPORT.artefacts / 'first-load.json'}):")
        for line in json.dumps(REPORT.first_load_summary(), indent=2).splitlines():
            write(f"  {line}")
    if REPORT.notes:
        write("observations (not failures):")
        for note in REPORT.notes:
            write(f"  - {note}")
    if REPORT.soft_failures:
        write("soft check failures (fail test_soft_checks_passed):")
        for failure in REPORT.soft_failures:
            write(f"  - {failure}")
