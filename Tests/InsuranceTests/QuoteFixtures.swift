import Foundation
import Insurance

/// Shared helpers: the bundled catalog and a baseline request to vary.
enum Fixtures {
    static let catalog = try! TariffCatalog.bundled()
    static let calculator = OsagoCalculator(catalog: catalog)
    static let day = CalendarDate("2026-03-01")!

    static func decimal(_ text: String) -> Decimal { Decimal(string: text, locale: Locale(identifier: "en_US_POSIX"))! }

    /// Moscow, 150 hp, one driver 35/10 in class 13, ТБ 8665 (the spec's example 2).
    static func baseline() -> QuoteRequest {
        QuoteRequest(
            date: day, powerHp: 150, territory: "moscow", tb: 8665,
            drivers: .named([DriverInput(age: 35, experienceYears: 10, kbmClass: "13")]))
    }

    static func quote(_ request: QuoteRequest) throws -> OsagoQuote {
        try calculator.quote(request, today: day)
    }

    /// The error the engine refuses `request` with (nil if it accepted it).
    static func refusal(_ request: QuoteRequest) -> QuoteInputError? {
        do {
            _ = try calculator.quote(request, today: day)
            return nil
        } catch {
            return error
        }
    }

    static func refusal(json: String) -> QuoteInputError? {
        do {
            _ = try calculator.quote(try QuoteRequest.decode(json: Data(json.utf8)), today: day)
            return nil
        } catch {
            return error
        }
    }
}
