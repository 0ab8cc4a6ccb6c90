"""OSAGO quotes over HTTP, through the supabase client and the CLI; territories; saved
calculations (issue 5, contract /tmp/notes/insurance-contract.md, spec osago-tariffs.md).

Premiums are exact decimal strings: the spec's worked examples (§7) must come out to the
kopeck on every path (HTTP, `functions.invoke`, `ecomansoni osago quote`).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest
from supabase_functions.errors import FunctionsHttpError

from e2e_support import close_client, expect_api_error, new_client, rpc, sign_in, within
from insurance_support import (
    CURRENT_VERSION, QUOTE_PATH, TERRITORIES_PATH, TERRITORY_CODES, api_headers, assert_field_error, json_body,
    quote_request, run_cli_quote, with_change,
)

ALICE, BOB = "+15555550104", "+15555550107"

# The spec's worked examples (§7): (name, request, premium).
EXAMPLES = [
    ("1: explicit КТ 1.8, ТБ 7535, class 3, 32y/12y, 150 hp",
     quote_request(tb=7535, territory=None, kt=1.8, age=32, experience=12, kbm_class="3", power=150), "21549.71"),
    ("2: Moscow, ТБ 8665, class 13, 35y/10y, 150 hp",
     quote_request(), "9441.80"),
    ("3: Saint Petersburg, ТБ 6000, class 12, 37y/16y, 100 hp, 6 months",
     quote_request(tb=6000, territory="saint_petersburg", kbm_class="12", age=37, experience=16, power=100, period=6),
     "3664.14"),
    ("4: Moscow oblast, ТБ 1399, class 13, 62y/20y, 45 hp",
     quote_request(tb=1399, territory="moscow_oblast", age=62, experience=20, power=45), "499.95"),
    ("5: Moscow, ТБ 6000, class 3, 31y/3y, 110 hp, КН",
     quote_request(tb=6000, kbm_class="3", age=31, experience=3, power=110, kn=True), "23882.04"),
]

# Inputs the spec says must be refused, and the field the contract names: (request, field).
INVALID = [
    ("class 14", with_change(quote_request(), "drivers[0].kbmClass", "14"), "drivers[0].kbmClass"),
    ("age 15", with_change(quote_request(), "drivers[0].age", 15), "drivers[0].age"),
    ("experience > age - 16", quote_request(age=20, experience=5), "drivers[0].experienceYears"),
    ("18 with 7 years", quote_request(age=18, experience=7), "drivers[0].experienceYears"),
    ("2 months for an individual", quote_request(period=2), "periodMonths"),
    ("zero hp", quote_request(power=0), "vehicle.powerHp"),
    ("negative hp", quote_request(power=-90), "vehicle.powerHp"),
    ("ТБ above the corridor", quote_request(tb=8666), "tb"),
    ("ТБ below the corridor", quote_request(tb=1398), "tb"),
    ("ТБ of the new corridor on the old version's last day", quote_request(tb=8665, date="2025-12-08"), "tb"),
    ("date before the earliest version", quote_request(date="2019-01-01"), "date"),
    ("not a date", quote_request(date="01.03.2026"), "date"),
    ("unknown territory", quote_request(territory="atlantis"), "territory"),
    ("unknown owner", quote_request(owner="alien"), "owner"),
    ("unknown category", with_change(quote_request(), "vehicle.category", "Q"), "vehicle.category"),
    ("unknown registration", with_change(quote_request(), "vehicle.registration", "mars"), "vehicle.registration"),
    ("owner class 14, unlimited", quote_request(drivers="unlimited", ownerKbmClass="14"), "ownerKbmClass"),
    # Unused with named drivers, but still not a class: refused, never ignored.
    ("owner class 14, named drivers", quote_request(ownerKbmClass="14"), "ownerKbmClass"),
    ("second driver age 15",
     quote_request(drivers=[{"age": 35, "experienceYears": 10, "kbmClass": "13"},
                            {"age": 15, "experienceYears": 0, "kbmClass": "3"}]), "drivers[1].age"),
    ("drivers is a string other than unlimited", quote_request(drivers="everyone"), "drivers"),
    ("unknown key", quote_request(colour="red"), "colour"),
]


def rounded(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01"), ROUND_HALF_UP))


async def post_quote(http: httpx.AsyncClient, server, body: Any, *, key: str | None = None) -> httpx.Response:
    return await within(http.post(QUOTE_PATH, json=body, headers=api_headers(key or server.anon_key)))


async def quote_ok(http: httpx.AsyncClient, server, body: Any) -> dict:
    response = await post_quote(http, server, body)
    data = json_body(response)
    assert response.status_code == 200, f"quote {body!r} -> {response.status_code}: {data!r}"
    return data


# ----------------------------------------------------------------- territories


async def test_territories_list_all_codes_with_their_kt(http, server):
    response = await within(http.get(TERRITORIES_PATH, headers=api_headers(server.anon_key)))
    data = json_body(response)
    assert response.status_code == 200, data
    assert data["tariffVersion"] == CURRENT_VERSION, data["tariffVersion"]
    by_code = {row["code"]: row for row in data["territories"]}
    assert set(by_code) >= TERRITORY_CODES, f"missing: {sorted(TERRITORY_CODES - set(by_code))}"
    for row in data["territories"]:
        assert {"code", "name", "nameEn", "kt", "baseKt", "correction", "confidence"} <= row.keys(), row
        assert row["confidence"] in ("V2", "V1", "M"), row
        assert Decimal(row["kt"]) == Decimal(row["baseKt"]) * Decimal(row["correction"]), row
    moscow = by_code["moscow"]
    assert (moscow["name"], moscow["nameEn"], moscow["kt"], moscow["confidence"]) == ("Москва", "Moscow", "1.8", "V2"), moscow
    novosibirsk = by_code["novosibirsk"]
    assert (Decimal(novosibirsk["kt"]), Decimal(novosibirsk["baseKt"]), Decimal(novosibirsk["correction"])) == \
        (Decimal("3.12"), Decimal("1.56"), Decimal("2")), novosibirsk
    assert Decimal(by_code["saint_petersburg"]["kt"]) == Decimal("1.64")
    assert Decimal(by_code["kazan"]["kt"]) == Decimal("1.7")
    assert Decimal(by_code["foreign"]["kt"]) == Decimal("1.7")
    for code in ("dnr", "lnr", "zaporozhye", "kherson"):
        assert Decimal(by_code[code]["kt"]) == Decimal("0.68"), by_code[code]


async def test_territories_search_by_russian_text(http, server):
    response = await within(http.get(TERRITORIES_PATH, params={"q": "моск"}, headers=api_headers(server.anon_key)))
    data = json_body(response)
    assert response.status_code == 200, data
    codes = {row["code"] for row in data["territories"]}
    assert {"moscow", "moscow_oblast"} <= codes, codes
    assert "saint_petersburg" not in codes and "kazan" not in codes, codes

    response = await within(http.get(TERRITORIES_PATH, params={"q": "Казань"}, headers=api_headers(server.anon_key)))
    assert [row["code"] for row in json_body(response)["territories"]] == ["kazan"], response.text


async def test_territories_of_an_earlier_date_use_that_version(http, server):
    response = await within(http.get(TERRITORIES_PATH, params={"date": "2025-06-01"}, headers=api_headers(server.anon_key)))
    data = json_body(response)
    assert response.status_code == 200, data
    assert data["tariffVersion"] == "2025-01-27", data["tariffVersion"]
    by_code = {row["code"]: row for row in data["territories"]}
    assert Decimal(by_code["novosibirsk"]["kt"]) == Decimal("1.56"), by_code["novosibirsk"]
    assert Decimal(by_code["kazan"]["kt"]) == Decimal("1.7"), by_code["kazan"]


async def test_territories_need_the_api_key(http):
    response = await within(http.get(TERRITORIES_PATH))
    assert response.status_code == 401, response.text


# ----------------------------------------------------------------- quotes over HTTP


@pytest.mark.parametrize("name,request_body,premium", EXAMPLES, ids=[e[0][:1] for e in EXAMPLES])
async def test_worked_examples_over_http(http, server, name, request_body, premium):
    data = await quote_ok(http, server, request_body)
    assert data["premium"] == premium, f"example {name}: {data!r}"
    assert data["uncapped"] == premium and data["capped"] is False, data
    assert data["tariffVersion"] == CURRENT_VERSION, data
    assert data["range"] is None, data


async def test_example_2_full_result_shape(http, server):
    data = await quote_ok(http, server, quote_request())
    assert data["premium"] == "9441.80"
    assert data["cap"] == {"multiplier": 3, "amount": "46791.00"}, data["cap"]
    assert data["coefficients"] == {"tb": "8665", "kt": "1.8", "kbm": "0.46", "kvs": "0.94", "ko": "1", "km": "1.4",
                                    "ks": "1", "kn": "1", "kpr": "1", "kp": None}, data["coefficients"]
    assert data["driver"] == {"index": 0, "age": 35, "experienceYears": 10, "kbmClass": "13"}, data["driver"]
    breakdown = {item["coefficient"]: item for item in data["breakdown"]}
    for name in ("tb", "kt", "kbm", "kvs", "km"):
        assert name in breakdown, f"breakdown lacks {name}: {data['breakdown']!r}"
    for item in data["breakdown"]:
        assert item["confidence"] in ("V2", "V1", "M", None), item
        assert isinstance(item["reason"], str) and item["reason"], item
    # Values read from the spec's tables carry its confidence tag; a coefficient that does
    # not apply (КП here) or a neutral rule value (КН, КПр = 1) may have none.
    for name in ("tb", "kt", "kbm", "kvs", "ko", "km", "ks"):
        assert breakdown[name]["confidence"] in ("V2", "V1", "M"), breakdown[name]
    assert breakdown["kt"]["value"] == "1.8" and "Москва" in breakdown["kt"]["reason"], breakdown["kt"]
    forecast = data["forecast"]
    assert (forecast["kbmClass"], forecast["kbm"]) == ("13", "0.46"), forecast
    assert forecast["nextYear"] == [
        {"claims": 0, "kbmClass": "13", "kbm": "0.46"},
        {"claims": 1, "kbmClass": "7", "kbm": "0.78"},
        {"claims": 2, "kbmClass": "3", "kbm": "1.17"},
        {"claims": 3, "kbmClass": "1", "kbm": "2.25"},
        {"claims": 4, "kbmClass": "M", "kbm": "3.92"},
    ], forecast["nextYear"]


async def test_example_5_cap_is_five_times_but_not_reached(http, server):
    data = await quote_ok(http, server, EXAMPLES[4][1])
    assert data["premium"] == "23882.04"
    assert data["cap"] == {"multiplier": 5, "amount": "54000.00"}, data["cap"]
    assert data["coefficients"]["kn"] == "1.5", data["coefficients"]


async def test_without_tb_the_answer_is_the_corridor_range(http, server):
    data = await quote_ok(http, server, quote_request(tb=None))
    assert data["premium"] is None and data["uncapped"] is None and data["capped"] is None and data["cap"] is None, data
    assert data["coefficients"]["tb"] is None, data["coefficients"]
    low = rounded(Decimal(1399) * Decimal("1.8") * Decimal("0.46") * Decimal("0.94") * Decimal("1.4"))
    assert data["range"] == {"min": low, "max": "9441.80", "tbMin": "1399", "tbMax": "8665",
                             "minCapped": False, "maxCapped": False}, data["range"]
    assert low == "1524.42"


async def test_cap_binds_at_five_times_with_a_raising_kbm(http, server):
    # Class M (3.92), 18 years with no experience (2.27), 200 hp (1.6): far over 5 × ТБ × КТ.
    data = await quote_ok(http, server, quote_request(kbm_class="M", age=18, experience=0, power=200))
    uncapped = rounded(Decimal(8665) * Decimal("1.8") * Decimal("3.92") * Decimal("2.27") * Decimal("1.6"))
    assert data["uncapped"] == uncapped == "222061.35", data
    assert data["capped"] is True, data
    assert data["cap"] == {"multiplier": 5, "amount": "77985.00"}, data["cap"]
    assert data["premium"] == "77985.00", data


async def test_cap_binds_at_three_times_without_a_raising_kbm(http, server):
    # Class 4 (КБМ 1.00 is not raising): 1 × 2.27 × 1.6 = 3.632 > 3.
    data = await quote_ok(http, server, quote_request(kbm_class="4", age=18, experience=0, power=200))
    assert data["uncapped"] == "56648.30", data
    assert (data["capped"], data["cap"], data["premium"]) == (True, {"multiplier": 3, "amount": "46791.00"}, "46791.00"), data


async def test_range_reports_which_end_is_capped(http, server):
    data = await quote_ok(http, server, quote_request(tb=None, kbm_class="M", age=18, experience=0, power=200))
    expected_max = rounded(Decimal(8665) * Decimal("1.8") * 5)
    expected_min = rounded(Decimal(1399) * Decimal("1.8") * 5)
    assert data["range"]["max"] == expected_max and data["range"]["maxCapped"] is True, data["range"]
    assert data["range"]["min"] == expected_min and data["range"]["minCapped"] is True, data["range"]


async def test_several_drivers_use_the_largest_product_not_the_largest_of_each(http, server):
    # Driver 0: class 13 (0.46) × 18/0 (2.27) = 1.0442; driver 1: class 0 (2.94) × 35/15 (0.93) = 2.7342.
    drivers = [{"age": 18, "experienceYears": 0, "kbmClass": "13"}, {"age": 35, "experienceYears": 15, "kbmClass": "0"}]
    data = await quote_ok(http, server, quote_request(drivers=drivers))
    assert (data["coefficients"]["kbm"], data["coefficients"]["kvs"]) == ("2.94", "0.93"), data["coefficients"]
    assert data["driver"] == {"index": 1, "age": 35, "experienceYears": 15, "kbmClass": "0"}, data["driver"]
    expected = rounded(Decimal(8665) * Decimal("1.8") * Decimal("2.94") * Decimal("0.93") * Decimal("1.4"))
    assert data["uncapped"] == expected, data


async def test_unlimited_drivers(http, server):
    data = await quote_ok(http, server, quote_request(drivers="unlimited", ownerKbmClass="13"))
    c = data["coefficients"]
    assert (c["ko"], c["kvs"], c["kbm"]) == ("2.32", "1", "0.46"), c
    assert data["driver"] is None, data
    expected = rounded(Decimal(8665) * Decimal("1.8") * Decimal("0.46") * Decimal("2.32") * Decimal("1.4"))
    assert data["premium"] == expected, data


async def test_explicit_kt_overrides_the_territory(http, server):
    data = await quote_ok(http, server, quote_request(kt=1.5))
    assert data["coefficients"]["kt"] == "1.5", data["coefficients"]
    assert data["premium"] == rounded(Decimal(8665) * Decimal("1.5") * Decimal("0.46") * Decimal("0.94") * Decimal("1.4"))


async def test_decimal_strings_are_accepted_for_tb_kt_and_power(http, server):
    data = await quote_ok(http, server, quote_request(tb="7535", territory=None, kt="1.8", age=32, experience=12,
                                                     kbm_class="3", power="150"))
    assert data["premium"] == "21549.71", data


@pytest.mark.parametrize("power,km", [(45, "0.6"), (50, "0.6"), (50.5, "1"), (51, "1"), (70, "1"), (70.5, "1.1"),
                                      (100, "1.1"), (101, "1.2"), (120, "1.2"), (121, "1.4"), (150, "1.4"),
                                      (150.5, "1.6"), (400, "1.6")])
async def test_power_bands_include_their_upper_edge(http, server, power, km):
    data = await quote_ok(http, server, quote_request(power=power))
    assert Decimal(data["coefficients"]["km"]) == Decimal(km), (power, data["coefficients"])


@pytest.mark.parametrize("months,ks", [(3, "0.5"), (4, "0.6"), (5, "0.65"), (6, "0.7"), (7, "0.8"), (8, "0.9"),
                                       (9, "0.95"), (10, "1"), (12, "1")])
async def test_period_of_use(http, server, months, ks):
    data = await quote_ok(http, server, quote_request(period=months))
    assert Decimal(data["coefficients"]["ks"]) == Decimal(ks), (months, data["coefficients"])


async def test_transit_has_no_kt_and_no_ks(http, server):
    body = quote_request(territory=None, period=None)
    body["vehicle"]["registration"] = "transit"
    data = await quote_ok(http, server, body)
    c = data["coefficients"]
    assert (c["kt"], c["ks"], c["kp"]) == (None, None, "0.2"), c
    expected = rounded(Decimal(8665) * Decimal("0.46") * Decimal("0.94") * Decimal("1.4") * Decimal("0.2"))
    assert data["premium"] == expected, data
    # The cap uses КТ = 1 for transit.
    assert data["cap"] == {"multiplier": 3, "amount": "25995.00"}, data["cap"]


@pytest.mark.parametrize("term,kp", [({"termDays": 10}, "0.2"), ({"termMonths": 1}, "0.3"), ({"termMonths": 3}, "0.5"),
                                     ({"termMonths": 10}, "1")])
async def test_foreign_registration_uses_kp_by_term(http, server, term, kp):
    body = quote_request(territory="foreign", period=None, **term)
    body["vehicle"]["registration"] = "foreign"
    data = await quote_ok(http, server, body)
    c = data["coefficients"]
    assert c["ks"] is None and Decimal(c["kp"]) == Decimal(kp) and Decimal(c["kt"]) == Decimal("1.7"), (term, c)


async def test_the_date_selects_the_tariff_version(http, server):
    # The old corridor (1 646 – 7 535) applies the day before 2025-12-09.
    data = await quote_ok(http, server, quote_request(tb=7535, date="2025-12-08"))
    assert data["tariffVersion"] != CURRENT_VERSION, data["tariffVersion"]
    data = await quote_ok(http, server, quote_request(tb=8665, date="2025-12-09"))
    assert data["tariffVersion"] == CURRENT_VERSION and data["premium"] == "9441.80", data


@pytest.mark.parametrize("name,body,field_name", INVALID, ids=[i[0] for i in INVALID])
async def test_invalid_inputs_are_refused_with_the_field(http, server, name, body, field_name):
    response = await post_quote(http, server, body)
    assert_field_error(response.status_code, json_body(response), field_name, where=name)


async def test_body_that_is_not_json_is_refused(http, server):
    response = await within(http.post(QUOTE_PATH, content=b"{not json", headers=api_headers(server.anon_key)))
    assert response.status_code == 400, response.text
    assert isinstance(json_body(response).get("error"), str)


async def test_quote_needs_the_api_key(http):
    response = await within(http.post(QUOTE_PATH, json=quote_request()))
    assert response.status_code == 401, response.text


# ----------------------------------------------------------------- supabase client


async def test_quote_through_supabase_functions_invoke(supabase_factory):
    client = await supabase_factory()
    for name, body, premium in EXAMPLES:
        data = await within(client.functions.invoke("osago-quote", {"body": body, "responseType": "json"}))
        assert isinstance(data, dict) and data["premium"] == premium, (name, data)


async def test_invalid_quote_through_supabase_functions_invoke(supabase_factory):
    client = await supabase_factory()
    with pytest.raises(FunctionsHttpError) as raised:
        await within(client.functions.invoke("osago-quote", {"body": quote_request(age=15), "responseType": "json"}))
    assert raised.value.status == 400, raised.value.to_dict()
    assert "drivers[0].age" in raised.value.message, raised.value.message


async def test_territories_through_supabase_functions_invoke(supabase_factory):
    client = await supabase_factory()
    data = await within(client.functions.invoke("osago-territories?q=Санкт", {"method": "GET", "responseType": "json"}))
    assert [row["code"] for row in data["territories"]] == ["saint_petersburg"], data


# ----------------------------------------------------------------- CLI


@pytest.mark.parametrize("name,request_body,premium", EXAMPLES, ids=[e[0][:1] for e in EXAMPLES])
async def test_cli_worked_examples(name, request_body, premium):
    result = await run_cli_quote(request_body)
    assert result.code == 0, f"exit {result.code}: {result.stdout} {result.stderr}"
    data = result.json()
    assert data["premium"] == premium, (name, data)
    assert data["tariffVersion"] == CURRENT_VERSION


async def test_cli_matches_http_exactly(http, server):
    body = quote_request(tb=None, kbm_class="M", age=18, experience=0, power=200)
    cli = (await run_cli_quote(body)).json()
    over_http = await quote_ok(http, server, body)
    assert cli == over_http


@pytest.mark.parametrize("name,body,field_name", INVALID[:11], ids=[i[0] for i in INVALID[:11]])
async def test_cli_invalid_input_exits_1_with_the_field(name, body, field_name):
    result = await run_cli_quote(body)
    assert result.code == 1, f"{name}: exit {result.code}: {result.stdout} {result.stderr}"
    data = result.json()
    assert data.get("field") == field_name and data.get("code") == "22023" and data.get("error"), (name, data)


async def test_cli_refuses_text_that_is_not_json():
    result = await run_cli_quote("this is not json")
    assert result.code == 1, result
    assert isinstance(result.json().get("error"), str)


# ----------------------------------------------------------------- saved calculations


async def clear_saved(client) -> None:
    """Deletes every saved calculation of the client's user (the database may keep earlier runs)."""
    while True:
        page = await rpc(client, "list_osago_calculations", {"limit": 50})
        if not page["items"]:
            return
        for item in page["items"]:
            assert await rpc(client, "delete_osago_calculation", {"id": item["id"]}) == {"deleted": True}


@pytest.fixture(scope="module")
async def savers(server):
    clients = []
    try:
        for phone in (ALICE, BOB):
            client = await new_client(server.url, server.anon_key)
            clients.append(client)
            await sign_in(client, phone)
            await clear_saved(client)
        yield clients
    finally:
        for client in clients:
            await close_client(client)


SAVED_KEYS = {"id", "title", "created_at", "request", "result"}


async def test_save_list_delete_round_trip(savers):
    alice, _ = savers
    saved = await rpc(alice, "save_osago_calculation", {"request": quote_request(), "title": "Моя машина"})
    assert SAVED_KEYS <= saved.keys(), saved
    assert saved["title"] == "Моя машина"
    assert saved["result"]["premium"] == "9441.80", saved["result"]
    assert saved["request"]["territory"] == "moscow", saved["request"]

    page = await rpc(alice, "list_osago_calculations", {})
    assert set(page) >= {"items", "next_cursor"}, page
    assert page["items"][0]["id"] == saved["id"], page
    assert page["items"][0]["result"]["premium"] == "9441.80"

    assert await rpc(alice, "delete_osago_calculation", {"id": saved["id"]}) == {"deleted": True}
    page = await rpc(alice, "list_osago_calculations", {})
    assert saved["id"] not in [item["id"] for item in page["items"]], page
    error = await expect_api_error(alice.rpc("delete_osago_calculation", {"id": saved["id"]}).execute())
    assert error.code == "PGRST116", error


async def test_save_without_title_and_range_result(savers):
    alice, _ = savers
    saved = await rpc(alice, "save_osago_calculation", {"request": quote_request(tb=None)})
    try:
        assert saved["result"]["premium"] is None and saved["result"]["range"]["max"] == "9441.80", saved
    finally:
        await rpc(alice, "delete_osago_calculation", {"id": saved["id"]})


async def test_list_is_newest_first_and_pages_with_a_cursor(savers):
    alice, _ = savers
    ids = []
    try:
        for n in range(3):
            saved = await rpc(alice, "save_osago_calculation", {"request": quote_request(power=100 + n), "title": f"p{n}"})
            ids.append(saved["id"])
        first = await rpc(alice, "list_osago_calculations", {"limit": 2})
        assert [item["id"] for item in first["items"]] == [ids[2], ids[1]], first
        assert isinstance(first["next_cursor"], str) and first["next_cursor"], first
        second = await rpc(alice, "list_osago_calculations", {"limit": 2, "cursor": first["next_cursor"]})
        assert [item["id"] for item in second["items"]] == [ids[0]], second
        assert second["next_cursor"] is None, second
    finally:
        for saved_id in ids:
            await rpc(alice, "delete_osago_calculation", {"id": saved_id})


async def test_users_cannot_see_or_delete_each_others_calculations(savers):
    alice, bob = savers
    saved = await rpc(alice, "save_osago_calculation", {"request": quote_request(), "title": "только моё"})
    try:
        page = await rpc(bob, "list_osago_calculations", {"limit": 50})
        assert saved["id"] not in [item["id"] for item in page["items"]], page
        error = await expect_api_error(bob.rpc("delete_osago_calculation", {"id": saved["id"]}).execute())
        assert error.code == "PGRST116", error
        page = await rpc(alice, "list_osago_calculations", {"limit": 50})
        assert saved["id"] in [item["id"] for item in page["items"]], "bob's delete removed alice's calculation"
    finally:
        await rpc(alice, "delete_osago_calculation", {"id": saved["id"]})


async def test_save_recomputes_and_refuses_invalid_requests(savers):
    alice, _ = savers
    error = await expect_api_error(alice.rpc("save_osago_calculation", {"request": quote_request(age=15)}).execute())
    assert error.code == "22023" and "age" in (error.message or ""), error
    error = await expect_api_error(alice.rpc("save_osago_calculation", {"request": quote_request(), "title": "x" * 101}).execute())
    assert error.code == "22023" and "title" in (error.message or ""), error
    for limit in (0, 51):
        error = await expect_api_error(alice.rpc("list_osago_calculations", {"limit": limit}).execute())
        assert error.code == "22023" and "limit" in (error.message or ""), (limit, error)
    # A client-supplied result is not an argument the function takes.
    error = await expect_api_error(alice.rpc("save_osago_calculation", {
        "request": quote_request(), "result": {"premium": "1.00"}}).execute())
    assert error.code == "PGRST202", error


async def test_anon_cannot_use_saved_calculations(server, http):
    for name, args in (("save_osago_calculation", {"request": quote_request()}),
                       ("list_osago_calculations", {}),
                       ("delete_osago_calculation", {"id": "00000000-0000-4000-8000-000000000000"})):
        response = await within(http.post(f"/rest/v1/rpc/{name}", json=args, headers=api_headers(server.anon_key)))
        assert response.status_code in (401, 403), (name, response.status_code, response.text)
        assert json_body(response).get("code") == "42501", (name, response.text)


async def test_at_most_200_saved_calculations(savers, server, http):
    _, bob = savers
    token = (await within(bob.auth.get_session())).access_token
    headers = api_headers(server.anon_key, token)
    try:
        body = {"request": quote_request()}
        for n in range(200):
            response = await within(http.post("/rest/v1/rpc/save_osago_calculation", json=body, headers=headers))
            assert response.status_code == 200, (n, response.status_code, response.text)
        response = await within(http.post("/rest/v1/rpc/save_osago_calculation", json=body, headers=headers))
        assert response.status_code == 409, (response.status_code, response.text)
    finally:
        await clear_saved(bob)
