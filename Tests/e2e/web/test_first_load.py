"""First load of `/` in a cold browser: bytes transferred and time to interactive on this machine.

Written to <artefacts>/first-load.json and printed at the end of the run.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from web_support import tid, to_json

FIRST_LOAD_BUDGET = 45_000

# Runs before any script of the page (CDP), so it sees the DOM grow from the start.
MARKS_SCRIPT = """
(() => {
  const marks = window.__e2eMarks = { longTasks: [] };
  const check = () => {
    const root = document.documentElement;
    if (!marks.ui && document.querySelector('[data-testid="phone-input"], [data-testid="nav-chats"]'))
      marks.ui = performance.now();
    if (!marks.ready && root && root.hasAttribute('data-ready') && root.dataset.ready !== 'false')
      marks.ready = performance.now();
    return marks.ui && marks.ready;
  };
  const observer = new MutationObserver(() => { if (check()) observer.disconnect(); });
  observer.observe(document, { subtree: true, childList: true, attributes: true });
  try {
    new PerformanceObserver(list => {
      for (const e of list.getEntries()) marks.longTasks.push([e.startTime, e.duration]);
    }).observe({ type: 'longtask', buffered: true });
  } catch (e) {}
})();
"""

COLLECT_SCRIPT = """
const nav = performance.getEntriesByType('navigation')[0];
const res = performance.getEntriesByType('resource');
const paint = performance.getEntriesByType('paint');
const fcp = paint.find(p => p.name === 'first-contentful-paint');
const entry = e => ({ name: e.name, initiatorType: e.initiatorType || 'navigation',
  transferSize: e.transferSize, encodedBodySize: e.encodedBodySize, decodedBodySize: e.decodedBodySize,
  startTime: Math.round(e.startTime), duration: Math.round(e.duration), status: e.responseStatus });
return {
  navigation: entry(nav),
  resources: res.map(entry),
  domInteractive: nav.domInteractive, domContentLoaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
  fcp: fcp ? fcp.startTime : null,
  marks: window.__e2eMarks || {},
  dataReady: document.documentElement.getAttribute('data-ready'),
};
"""


def _measure(browser, url: str) -> dict:
    driver = browser.driver
    browser.wait(lambda d: d.execute_script("return document.readyState") == "complete", "document loaded")
    browser.wait(lambda d: browser.is_visible("phone-input") or browser.is_visible("nav-chats"),
                 f"the sign-in form ({tid('phone-input')}) after loading {url}")
    # Network quiet: no new resource entries for 0.5 s (polled).
    state = {"count": -1, "since": 0.0}

    def quiet(d):
        count = d.execute_script("return performance.getEntriesByType('resource').length")
        now = d.execute_script("return performance.now()")
        if count != state["count"]:
            state.update(count=count, since=now)
            return False
        return now - state["since"] >= 500
    browser.wait(quiet, "network quiet (no new resources for 0.5 s)")
    browser.try_wait(lambda d: d.execute_script("return document.readyState === 'complete' && "
                                                "performance.getEntriesByType('navigation')[0].loadEventEnd > 0"), 5)
    raw = driver.execute_script(COLLECT_SCRIPT)

    entries = [raw["navigation"]] + [r for r in raw["resources"] if not r["name"].startswith("data:")]
    for entry in entries:
        entry["path"] = urlsplit(entry["name"]).path or "/"
    marks = raw["marks"] or {}
    ui = marks.get("ui")
    ready = marks.get("ready")
    candidates = [raw["domContentLoaded"]]
    source = "domContentLoadedEventEnd"
    if ready:
        candidates.append(ready)
        source = "data-ready on <html>"
    elif ui:
        candidates.append(ui)
        source = "first render of the sign-in form"
    tti = max(candidates)
    # Like Lighthouse: interactive only once no long task is still running.
    long_tasks = marks.get("longTasks") or []
    for start, duration in long_tasks:
        if start <= tti and start + duration > tti:
            tti = start + duration
            source += " + trailing long task"
    return {
        "url": url,
        "total_transfer_bytes": sum(e["transferSize"] or 0 for e in entries),
        "total_encoded_body_bytes": sum(e["encodedBodySize"] or 0 for e in entries),
        "total_decoded_bytes": sum(e["decodedBodySize"] or 0 for e in entries),
        "request_count": len(entries),
        "time_to_interactive_ms": round(tti, 1),
        "tti_source": source,
        "dom_interactive_ms": round(raw["domInteractive"], 1),
        "dom_content_loaded_ms": round(raw["domContentLoaded"], 1),
        "load_event_ms": round(raw["load"], 1),
        "first_contentful_paint_ms": round(raw["fcp"], 1) if raw["fcp"] is not None else None,
        "sign_in_form_rendered_ms": round(ui, 1) if ui else None,
        "app_ready_ms": round(ready, 1) if ready else None,
        "data_ready_attribute": raw["dataReady"],
        "long_tasks": [[round(s, 1), round(d, 1)] for s, d in long_tasks],
        "requests": [{k: e[k] for k in ("path", "initiatorType", "status", "transferSize", "encodedBodySize",
                                         "decodedBodySize", "startTime", "duration")} for e in entries],
    }


def test_first_load_bytes_and_time_to_interactive(server, browser_factory, artefacts, report):
    browser = browser_factory("first-load")
    driver = browser.driver
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": MARKS_SCRIPT})
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False})

    url = f"{server.url}/"
    driver.get(url)
    cold = _measure(browser, url)
    assert cold["total_transfer_bytes"] > 0, f"Performance API reported no transferred bytes: {to_json(cold)}"
    status = cold["requests"][0]["status"]
    assert status in (200, 0, None), f"GET / answered {status}"

    driver.refresh()
    warm = _measure(browser, url)
    cold["warm_reload"] = {k: warm[k] for k in ("total_transfer_bytes", "request_count", "time_to_interactive_ms",
                                                "dom_interactive_ms")}

    uncompressed = [r["path"] for r in cold["requests"]
                    if r["decodedBodySize"] > 4096 and r["encodedBodySize"] == r["decodedBodySize"]]
    if uncompressed:
        report.note(f"first load: responses over 4 KiB sent without compression: {', '.join(uncompressed)}")
    if cold["app_ready_ms"] is None:
        report.note("first load: the app sets no data-ready marker on <html>; time to interactive uses the "
                    "first render of the sign-in form")

    report.first_load = cold
    (artefacts / "first-load.json").write_text(json.dumps(cold, indent=2) + "\n", encoding="utf-8")
    print("\nfirst load:", to_json(report.first_load_summary()))
    browser.close()
    # Issue 12's budget, as the browser counts it (bodies as sent, plus its estimate of each
    # response's headers).
    assert cold["total_transfer_bytes"] <= FIRST_LOAD_BUDGET, (
        f"the first load transferred {cold['total_transfer_bytes']} bytes, over {FIRST_LOAD_BUDGET}: {to_json(cold['requests'])}")
