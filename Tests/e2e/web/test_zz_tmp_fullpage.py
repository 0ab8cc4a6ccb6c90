# TEMPORARY (helper's layout check, not for commit)
import base64
from test_insurance import sign_in, choose_territory, driver_input, type_into, set_theme, text_of
from web_support import DESKTOP

def big(b, w, hgt, name, mobile):
    if mobile:
        b.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 360, "height": 740, "deviceScaleFactor": 1, "mobile": True})
        total = b.driver.execute_script("return document.querySelector('main').scrollHeight")
        y, i = 0, 0
        while y < total:
            b.driver.execute_script("document.querySelector('main').scrollTop = arguments[0]", y)
            b.wait_frames()
            b.screenshot(f"{name}-{i}")
            y += 600; i += 1
        return
    b.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": w, "height": hgt, "deviceScaleFactor": 1, "mobile": mobile})
    b.wait_frames()
    b.screenshot(name)

def test_full(server, browser_factory):
    b = browser_factory("full")
    b.set_viewport(DESKTOP)
    b.open(server.url)
    b.wait(lambda d: b.is_visible("phone-input") or b.is_visible("nav-chats"), "start")
    sign_in(b)
    b.go("#/insurance/osago")
    b.visible("osago-form")
    b.click("add-driver")
    b.fill("power-input", "0")
    type_into(b, driver_input(b, "driver-age-input"), "20")
    type_into(b, driver_input(b, "driver-experience-input"), "10")
    big(b, 360, 2600, "full-osago-phone-errors", True)
    b.set_viewport(DESKTOP)
    choose_territory(b, "Моск", "moscow")
    b.fill("power-input", "150")
    type_into(b, driver_input(b, "driver-age-input"), "35")
    type_into(b, driver_input(b, "driver-experience-input"), "10")
    type_into(b, driver_input(b, "driver-age-input", 1), "22")
    type_into(b, driver_input(b, "driver-experience-input", 1), "1")
    b.click("calculate")
    b.visible("osago-range")
    b.fill("osago-save-title", "x")
    b.click("osago-save")
    b.visible("saved-calc")
    for theme in ("light", "dark"):
        set_theme(b, theme)
        b.go("#/insurance/osago")
        b.visible("osago-range")
        big(b, 360, 4200, f"full-osago-phone-{theme}", True)
        big(b, 1280, 2400, f"full-osago-desktop-{theme}", False)
        b.set_viewport(DESKTOP)
    b.select("registration-select", "foreign")
    b.click("driver-mode-unlimited")
    big(b, 1280, 1800, "full-osago-foreign", False)

    b.go("#/settings")
    b.select("language-select", "en")
    b.wait(lambda d: b.root_attr("lang") == "en", "en")
    for route in ("#/insurance/osago", "#/insurance/assistant"):
        b.go(route)
        b.wait_frames()
        b.screenshot("en-" + route.split("/")[-1])
        print(route, b.visible_cyrillic())
    b.go("#/insurance/osago")
    b.driver.execute_script("document.querySelector('main').scrollTop = 0")
    b.fill("tb-input", "abc")
    b.fill("power-input", "-1")
    b.click("calculate")
    b.wait_frames()
    big(b, 1280, 2000, "en-osago-errors", False)
    print("errors", b.visible_cyrillic())
