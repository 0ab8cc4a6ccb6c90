import Core
import Foundation
import Insurance
@testable import InsuranceService
import Testing
import TestSupport

/// `GET /functions/v1/osago-tariff`: the tables the web form reads instead of a JavaScript copy.
@Suite struct OsagoTariffTablesTests {
    static let catalog = Result { try TariffCatalog.bundled() }

    static func object(_ tables: OsagoTariffTables) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: tables.body) as? [String: Any])
    }

    @Test func currentVersionListsTheScaleCorridorsAndLimits() throws {
        let catalog = try Self.catalog.get()
        let version = try #require(catalog.version(on: CalendarDate("2026-03-01")!))
        let json = try Self.object(try OsagoTariffTables(version: version))
        #expect(json["tariffVersion"] as? String == "2025-12-09")
        let kbm = try #require(json["kbm"] as? [String: Any])
        #expect(kbm["startClass"] as? String == "3")
        let classes = try #require(kbm["classes"] as? [[String: String]])
        #expect(classes.map { $0["class"] ?? "" } == ["M", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13"])
        #expect(classes.first { $0["class"] == "3" }?["kbm"] == "1.17")
        #expect(classes.first { $0["class"] == "13" }?["kbm"] == "0.46")
        #expect(json["categories"] as? [String] == ["B", "BE", "A", "M"])
        let rates = try #require(json["baseRates"] as? [[String: Any]])
        let car = try #require(rates.first { $0["owner"] as? String == "individual" && $0["taxi"] as? Bool == false })
        #expect(car["min"] as? String == "1399")
        #expect(car["max"] as? String == "8665")
        #expect(car["typical"] as? String == "5032")  // (1399 + 8665) / 2
        let taxi = try #require(rates.first { $0["taxi"] as? Bool == true })
        #expect(taxi["owner"] is NSNull)
        let period = try #require(json["periodMonths"] as? [String: Any])
        #expect((period["minimum"] as? [String: Int])?["individual"] == 3)
        #expect((period["minimum"] as? [String: Int])?["legal_entity"] == 6)
        #expect(((json["ko"] as? [String: Any])?["unlimited"] as? [String: String])?["individual"] == "2.32")
    }

    @Test func olderDatesGetTheirOwnVersionAndEtag() throws {
        let catalog = try Self.catalog.get()
        let old = try OsagoTariffTables(version: try #require(catalog.version(on: CalendarDate("2024-06-01")!)))
        let new = try OsagoTariffTables(version: catalog.latest)
        let json = try Self.object(old)
        #expect(json["tariffVersion"] as? String == "2022-09-01")
        #expect(json["categories"] as? [String] == ["B", "BE"])
        let car = try #require((json["baseRates"] as? [[String: Any]])?.first)
        #expect(car["min"] as? String == "1646" && car["max"] as? String == "7535")
        #expect(old.etag != new.etag)
        // The same version gives the same body and validator.
        #expect(try OsagoTariffTables(version: catalog.latest).etag == new.etag)
    }

    @Test func ifNoneMatchMatchesTheTagInAnyForm() throws {
        let tables = try OsagoTariffTables(version: try Self.catalog.get().latest)
        #expect(tables.etag.hasPrefix("\"") && tables.etag.hasSuffix("\"") && tables.etag.count == 34)
        #expect(tables.matches(ifNoneMatch: tables.etag))
        #expect(tables.matches(ifNoneMatch: "W/" + tables.etag))
        #expect(tables.matches(ifNoneMatch: "\"other\", " + tables.etag))
        #expect(tables.matches(ifNoneMatch: "*"))
        #expect(!tables.matches(ifNoneMatch: nil))
        #expect(!tables.matches(ifNoneMatch: "\"other\""))
    }

    @Test func theServiceRefusesBadDates() async throws {
        try await TestDatabase.withDatabase { database in
            let service = OsagoService(catalog: try Self.catalog.get(), database: database, today: { CalendarDate("2026-03-01")! })
            #expect(try service.tariffTables(date: nil).etag == (try OsagoTariffTables(version: try Self.catalog.get().latest)).etag)
            for bad in ["2026-3-1", "tomorrow", "2026-02-30", String(repeating: "1", count: 5000)] {
                do {
                    _ = try service.tariffTables(date: bad)
                    Issue.record("date \(bad.prefix(20)) accepted")
                } catch let error as APIError {
                    #expect(error.field == "date", "\(error)")
                }
            }
            #expect(throws: APIError.self) { try service.tariffTables(date: "2020-01-01") }
        }
    }

    @Test func aRangeQuoteCarriesThePriceAtTheTypicalRate() throws {
        let calculator = OsagoCalculator(catalog: try Self.catalog.get())
        let request = QuoteRequest(
            date: CalendarDate("2026-03-01"), powerHp: 150, territory: "moscow",
            drivers: .named([DriverInput(age: 35, experienceYears: 10, kbmClass: "13")]))
        let quote = try calculator.quote(request, today: CalendarDate("2026-03-01")!)
        let typical = try #require(quote.typical)
        #expect(typical.tb == 5032)
        var priced = request
        priced.tb = 5032
        #expect(typical.premium == (try calculator.quote(priced, today: CalendarDate("2026-03-01")!)).premium)
        #expect(quote.range?.min ?? 0 < typical.premium && typical.premium < quote.range?.max ?? 0)
        let json = String(decoding: try quote.jsonData(), as: UTF8.self)
        #expect(json.contains(#""typical":{"capped":false,"premium":"5483.11","tb":"5032"}"#), "\(json)")
        // With a base rate there is no typical price.
        #expect(try calculator.quote(priced, today: CalendarDate("2026-03-01")!).typical == nil)
    }
}
