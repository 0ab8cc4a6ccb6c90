import Foundation
import Insurance
import Testing

/// The formula's variants, the cap, the multi-driver rule, the range and the rounding.
@Suite struct FormulaVariantTests {
    @Test func roundsOnceAtTheEnd() throws {
        // Rounding after every factor would give 6044.80; the exact product is 6044.7868…
        let quote = try Fixtures.quote(QuoteRequest(
            date: Fixtures.day, powerHp: 100, territory: "saint_petersburg", tb: 1399, periodMonths: 5,
            drivers: .named([DriverInput(age: 35, experienceYears: 10, kbmClass: "M")])))
        #expect(quote.premiumText == "6044.79")
    }

    @Test func premiumIsTheProductOfTheReportedCoefficients() throws {
        var request = Fixtures.baseline()
        request.drivers = .named([DriverInput(age: 23, experienceYears: 2, kbmClass: "1")])
        request.periodMonths = 7
        request.kn = true
        let quote = try Fixtures.quote(request)
        let product = quote.coefficients.values.reduce(Decimal(1), *)
        var exact = product
        var rounded = Decimal()
        NSDecimalRound(&rounded, &exact, 2, .plain)
        #expect(quote.uncapped == rounded)
    }

    @Test func severalDriversUseTheLargestProductNotTheLargestOfEach() throws {
        // A: КБМ 2.25 (class 1) × КВС 0.93 (age 45, 12 years) = 2.0925
        // B: КБМ 1.17 (class 3) × КВС 1.88 (age 22, 0 years) = 2.1996 ← the policy's driver
        // The largest of each (2.25 × 1.88) would overstate the premium.
        var request = Fixtures.baseline()
        request.drivers = .named([
            DriverInput(age: 45, experienceYears: 12, kbmClass: "1"),
            DriverInput(age: 22, experienceYears: 0, kbmClass: "3"),
        ])
        let quote = try Fixtures.quote(request)
        #expect(quote.coefficients[.kbm] == Fixtures.decimal("1.17"))
        #expect(quote.coefficients[.kvs] == Fixtures.decimal("1.88"))
        #expect(quote.driver?.index == 1)
        #expect(quote.forecast.kbmClass == "3")
    }

    @Test func capBindsAtThreeOrFiveTimesTBTimesKT() throws {
        var request = Fixtures.baseline()
        request.drivers = .named([DriverInput(age: 18, experienceYears: 0, kbmClass: "M")])
        request.powerHp = 200
        var quote = try Fixtures.quote(request)
        // 3.92 × 2.27 × 1.6 = 14.24 > 5: capped at 5 × 8665 × 1.8 = 77985.
        #expect(quote.capped == true)
        #expect(quote.cap?.multiplier == 5)
        #expect(quote.premiumText == "77985.00")
        #expect(quote.uncapped! > quote.premium!)

        request.drivers = .unlimited
        request.ownerKbmClass = "4"
        request.trailer = true
        request.owner = .legalEntity
        request.tb = 6580
        // КБМ 1, КО 1.97, КМ 1.6, КПр 1.16: 3.656… > 3 — capped at 3 × 6580 × 1.8.
        quote = try Fixtures.quote(request)
        #expect(quote.capped == true)
        #expect(quote.cap?.multiplier == 3)
        #expect(quote.premiumText == "35532.00")
    }

    @Test func transitHasNoKTNorKSAndCapsWithKTOne() throws {
        var request = Fixtures.baseline()
        request.registration = .transit
        request.territory = nil
        let quote = try Fixtures.quote(request)
        #expect(quote.coefficients[.kt] == nil)
        #expect(quote.coefficients[.ks] == nil)
        #expect(quote.coefficients[.kp] == Fixtures.decimal("0.2"))
        #expect(quote.cap?.amount == Fixtures.decimal("25995"))
        // 8665 × 0.46 × 0.94 × 1.4 × 0.2 = 1049.088…
        #expect(quote.premiumText == "1049.09")
    }

    @Test func explicitKTOverridesTheTerritory() throws {
        var request = Fixtures.baseline()
        request.kt = Fixtures.decimal("1.3")
        let quote = try Fixtures.quote(request)
        #expect(quote.coefficients[.kt] == Fixtures.decimal("1.3"))
        #expect(quote.breakdown.first { $0.coefficient == .kt }?.confidence == nil)
    }

    @Test func withoutTBTheRangeSpansTheCorridor() throws {
        var request = Fixtures.baseline()
        request.tb = nil
        let quote = try Fixtures.quote(request)
        #expect(quote.premium == nil)
        #expect(quote.range?.max == Fixtures.decimal("9441.8"))
        // 1399 × 1.8 × 0.46 × 0.94 × 1.4 = 1524.42…
        #expect(quote.range?.min == Fixtures.decimal("1524.42"))
        let json = String(decoding: try quote.jsonData(), as: UTF8.self)
        #expect(json.contains(#""premium":null"#))
        #expect(json.contains(#""range":{"max":"9441.80","maxCapped":false,"min":"1524.42","minCapped":false,"tbMax":"8665","tbMin":"1399"}"#))
    }

    @Test func resultJSONHasTheDocumentedShape() throws {
        let quote = try Fixtures.quote(Fixtures.baseline())
        let object = try JSONSerialization.jsonObject(with: quote.jsonData()) as! [String: Any]
        #expect(object["premium"] as? String == "9441.80")
        #expect(object["uncapped"] as? String == "9441.80")
        #expect(object["capped"] as? Bool == false)
        #expect(object["tariffVersion"] as? String == "2025-12-09")
        #expect(object["range"] is NSNull)
        let cap = object["cap"] as! [String: Any]
        #expect(cap["multiplier"] as? Int == 3)
        #expect(cap["amount"] as? String == "46791.00")
        let coefficients = object["coefficients"] as! [String: Any]
        let expected: [String: String] = ["tb": "8665", "kt": "1.8", "kbm": "0.46", "kvs": "0.94", "ko": "1", "km": "1.4", "ks": "1", "kn": "1", "kpr": "1"]
        for (key, value) in expected { #expect(coefficients[key] as? String == value, "\(key)") }
        #expect(coefficients["kp"] is NSNull)
        #expect((object["breakdown"] as? [Any])?.count == 10)
    }

    @Test func requestWithoutDateIsPricedToday() throws {
        var request = Fixtures.baseline()
        request.date = nil
        request.tb = 7000
        let before = try Fixtures.calculator.quote(request, today: CalendarDate("2025-06-01")!)
        #expect(before.tariffVersion == "2025-01-27")
        request.tb = 8000
        #expect(throws: QuoteInputError.self) { try Fixtures.calculator.quote(request, today: CalendarDate("2025-06-01")!) }
    }
}
