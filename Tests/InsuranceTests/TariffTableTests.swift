import Foundation
import Insurance
import Testing

/// Every table family of the spec, read back through quotes.
@Suite struct TariffTableTests {
    @Test func everyKBMClassHasTheSpecValue() throws {
        let expected = ["M": "3.92", "0": "2.94", "1": "2.25", "2": "1.76", "3": "1.17", "4": "1", "5": "0.91", "6": "0.83",
                        "7": "0.78", "8": "0.74", "9": "0.68", "10": "0.63", "11": "0.57", "12": "0.52", "13": "0.46"]
        for (label, value) in expected {
            var request = Fixtures.baseline()
            request.drivers = .named([DriverInput(age: 35, experienceYears: 10, kbmClass: label)])
            #expect(try Fixtures.quote(request).coefficients[.kbm] == Fixtures.decimal(value), "class \(label)")
        }
    }

    /// The КВС table of the spec, row by row (nil: impossible combination).
    static let kvs: [(ages: ClosedRange<Int>, values: [String?])] = [
        (16...21, ["2.27", "1.92", "1.84", "1.65", "1.62", nil, nil, nil]),
        (22...24, ["1.88", "1.72", "1.71", "1.13", "1.10", "1.09", nil, nil]),
        (25...29, ["1.72", "1.60", "1.54", "1.09", "1.08", "1.07", "1.02", nil]),
        (30...34, ["1.56", "1.50", "1.48", "1.05", "1.04", "1.01", "0.97", "0.95"]),
        (35...39, ["1.54", "1.47", "1.46", "1.00", "0.97", "0.95", "0.94", "0.93"]),
        (40...49, ["1.50", "1.44", "1.43", "0.96", "0.95", "0.94", "0.93", "0.91"]),
        (50...59, ["1.46", "1.40", "1.39", "0.93", "0.92", "0.91", "0.90", "0.86"]),
        (60...100, ["1.43", "1.36", "1.35", "0.91", "0.90", "0.89", "0.88", "0.83"]),
    ]
    static let experienceBands: [ClosedRange<Int>] = [0...0, 1...1, 2...2, 3...4, 5...6, 7...9, 10...14, 15...84]

    @Test func everyKVSCellAtBothBandEdges() throws {
        var checked = 0
        for row in Self.kvs {
            for (column, band) in Self.experienceBands.enumerated() {
                for age in [row.ages.lowerBound, row.ages.upperBound] {
                    for experience in Set([band.lowerBound, band.upperBound]) {
                        var request = Fixtures.baseline()
                        request.drivers = .named([DriverInput(age: age, experienceYears: experience, kbmClass: "3")])
                        if let value = row.values[column], experience <= age - 16 {
                            #expect(try Fixtures.quote(request).coefficients[.kvs] == Fixtures.decimal(value), "age \(age) experience \(experience)")
                            checked += 1
                        } else {
                            // "—" cells and experience beyond age − 16 are refused, never guessed.
                            #expect(Fixtures.refusal(request)?.field == "drivers[0].experienceYears", "age \(age) experience \(experience)")
                        }
                    }
                }
            }
        }
        #expect(checked >= 52)
    }

    @Test(arguments: [
        ("1", "0.6"), ("50", "0.6"), ("50.5", "1"), ("51", "1"), ("70", "1"), ("70.5", "1.1"), ("71", "1.1"),
        ("100", "1.1"), ("100.1", "1.2"), ("120", "1.2"), ("121", "1.4"), ("150", "1.4"), ("150.5", "1.6"), ("500", "1.6"),
    ])
    func powerBandsIncludeTheirUpperEdge(power: String, km: String) throws {
        var request = Fixtures.baseline()
        request.powerHp = Fixtures.decimal(power)
        #expect(try Fixtures.quote(request).coefficients[.km] == Fixtures.decimal(km))
    }

    @Test func powerDoesNotApplyToMotorcycles() throws {
        var request = Fixtures.baseline()
        request.category = "A"
        request.tb = 4000
        request.powerHp = 200
        let quote = try Fixtures.quote(request)
        #expect(quote.coefficients[.km] == 1)
        request.powerHp = nil
        #expect(try Fixtures.quote(request).coefficients[.km] == 1)
    }

    @Test(arguments: [(3, "0.5"), (4, "0.6"), (5, "0.65"), (6, "0.7"), (7, "0.8"), (8, "0.9"), (9, "0.95"), (10, "1"), (11, "1"), (12, "1")])
    func usagePeriod(months: Int, ks: String) throws {
        var request = Fixtures.baseline()
        request.periodMonths = months
        #expect(try Fixtures.quote(request).coefficients[.ks] == Fixtures.decimal(ks))
    }

    @Test func legalEntitiesNeedSixMonths() throws {
        var request = Fixtures.baseline()
        request.owner = .legalEntity
        request.tb = 6000
        request.periodMonths = 6
        #expect(try Fixtures.quote(request).coefficients[.ks] == Fixtures.decimal("0.7"))
        request.periodMonths = 5
        #expect(Fixtures.refusal(request)?.field == "periodMonths")
    }

    @Test(arguments: [
        (nil, 5, "0.2"), (nil, 15, "0.2"), (1, nil, "0.3"), (2, nil, "0.4"), (3, nil, "0.5"), (4, nil, "0.6"), (5, nil, "0.65"),
        (6, nil, "0.7"), (7, nil, "0.8"), (8, nil, "0.9"), (9, nil, "0.95"), (10, nil, "1"), (12, nil, "1"),
    ] as [(Int?, Int?, String)])
    func foreignTerm(months: Int?, days: Int?, kp: String) throws {
        var request = Fixtures.baseline()
        request.registration = .foreign
        request.territory = nil
        request.termMonths = months
        request.termDays = days
        let quote = try Fixtures.quote(request)
        #expect(quote.coefficients[.kp] == Fixtures.decimal(kp))
        #expect(quote.coefficients[.ks] == nil)
        #expect(quote.coefficients[.kt] == Fixtures.decimal("1.7"))
    }

    @Test func unlimitedDriversUseTheOwnersClassAndKO() throws {
        var request = Fixtures.baseline()
        request.drivers = .unlimited
        request.ownerKbmClass = "5"
        var quote = try Fixtures.quote(request)
        #expect(quote.coefficients[.ko] == Fixtures.decimal("2.32"))
        #expect(quote.coefficients[.kvs] == 1)
        #expect(quote.coefficients[.kbm] == Fixtures.decimal("0.91"))
        #expect(quote.driver == nil)
        request.owner = .legalEntity
        request.tb = 6000
        quote = try Fixtures.quote(request)
        #expect(quote.coefficients[.ko] == Fixtures.decimal("1.97"))
    }

    @Test func graveBreachesAndTrailer() throws {
        var request = Fixtures.baseline()
        request.kn = true
        #expect(try Fixtures.quote(request).coefficients[.kn] == Fixtures.decimal("1.5"))
        request.kn = false
        request.trailer = true
        #expect(try Fixtures.quote(request).coefficients[.kpr] == 1)
        request.owner = .legalEntity
        request.tb = 6000
        #expect(try Fixtures.quote(request).coefficients[.kpr] == Fixtures.decimal("1.16"))
    }

    @Test func territoriesFollowTheirVersion() throws {
        func kt(_ territory: String, on date: String) throws -> Decimal? {
            var request = Fixtures.baseline()
            request.territory = territory
            request.date = CalendarDate(date)
            request.tb = 7000
            return try Fixtures.quote(request).coefficients[.kt]
        }
        #expect(try kt("kazan", on: "2024-06-01") == Fixtures.decimal("1.8"))
        #expect(try kt("kazan", on: "2025-01-26") == Fixtures.decimal("1.8"))
        #expect(try kt("kazan", on: "2025-01-27") == Fixtures.decimal("1.7"))
        #expect(try kt("novosibirsk", on: "2024-06-01") == Fixtures.decimal("1.63"))
        #expect(try kt("novosibirsk", on: "2025-12-08") == Fixtures.decimal("1.56"))
        #expect(try kt("novosibirsk", on: "2025-12-09") == Fixtures.decimal("3.12"))
        #expect(try kt("saratov", on: "2025-06-01") == Fixtures.decimal("1.42"))
        #expect(try kt("dnr", on: "2026-06-01") == Fixtures.decimal("0.68"))
    }

    @Test func corridorsChangeOnTheirEffectiveDates() throws {
        var request = Fixtures.baseline()
        request.tb = nil
        request.date = CalendarDate("2025-12-08")
        var quote = try Fixtures.quote(request)
        #expect(quote.tariffVersion == "2025-01-27")
        #expect(quote.range?.tbMin == 1646)
        #expect(quote.range?.tbMax == 7535)
        request.date = CalendarDate("2025-12-09")
        quote = try Fixtures.quote(request)
        #expect(quote.tariffVersion == "2025-12-09")
        #expect(quote.range?.tbMin == 1399)
        #expect(quote.range?.tbMax == 8665)
        request.taxi = true
        quote = try Fixtures.quote(request)
        #expect(quote.range?.tbMax == 18119)
    }

    @Test func motorcycleCorridorStartsIn2025() throws {
        var request = Fixtures.baseline()
        request.category = "M"
        request.tb = nil
        request.date = CalendarDate("2025-02-01")
        #expect(try Fixtures.quote(request).range?.tbMax == 3043)
        request.date = CalendarDate("2024-02-01")
        #expect(Fixtures.refusal(request)?.field == "vehicle.category")
    }

    @Test func kbmTransitionsFollowTheTable() {
        let version = Fixtures.catalog.latest
        let table: [String: [String]] = [
            "M": ["0", "M", "M", "M", "M"], "0": ["1", "M", "M", "M", "M"], "1": ["2", "M", "M", "M", "M"],
            "2": ["3", "1", "M", "M", "M"], "3": ["4", "1", "M", "M", "M"], "4": ["5", "2", "1", "M", "M"],
            "5": ["6", "3", "1", "M", "M"], "6": ["7", "4", "2", "1", "M"], "7": ["8", "4", "2", "1", "M"],
            "8": ["9", "5", "2", "1", "M"], "9": ["10", "5", "2", "1", "M"], "10": ["11", "6", "3", "1", "M"],
            "11": ["12", "6", "3", "1", "M"], "12": ["13", "6", "3", "1", "M"], "13": ["13", "7", "3", "1", "M"],
        ]
        for (label, row) in table {
            for claims in 0...6 {
                #expect(version.nextKBMClass(from: label, claims: claims) == row[min(claims, 4)], "class \(label), \(claims) claims")
            }
        }
        #expect(version.nextKBMClass(from: "14", claims: 0) == nil)
    }

    @Test func forecastNamesNextYearsClassForTheChosenDriver() throws {
        var request = Fixtures.baseline()
        request.drivers = .named([DriverInput(age: 35, experienceYears: 10, kbmClass: "3")])
        let forecast = try Fixtures.quote(request).forecast
        #expect(forecast.kbmClass == "3")
        #expect(forecast.nextYear.map(\.kbmClass) == ["4", "1", "M", "M", "M"])
        #expect(forecast.nextYear.first?.kbm == 1)
    }
}
