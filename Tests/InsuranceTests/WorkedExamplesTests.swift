import Foundation
import Insurance
import Testing

/// The spec's worked examples (§7), each an exact premium in roubles.
@Suite struct WorkedExamplesTests {
    let calculator = OsagoCalculator(catalog: try! TariffCatalog.bundled())
    let policyDay = CalendarDate("2026-03-01")!

    @Test func example1PublishedInsurerCalculation() throws {
        // ТБ 7535, КТ 1.8 given, КБМ 1.17 (class 3), КВС 0.97 (age 35–39, 5–6 years), КМ 1.4.
        let quote = try calculator.quote(
            QuoteRequest(
                date: policyDay, powerHp: 150, kt: Decimal(string: "1.8"), tb: 7535,
                drivers: .named([DriverInput(age: 36, experienceYears: 5, kbmClass: "3")])),
            today: policyDay)
        #expect(quote.premiumText == "21549.71")
        #expect(quote.coefficients[.kvs] == Decimal(string: "0.97"))
        #expect(quote.capped == false)
    }

    @Test func example2MoscowBestClass() throws {
        let quote = try calculator.quote(
            QuoteRequest(
                date: policyDay, powerHp: 150, territory: "moscow", tb: 8665, periodMonths: 12,
                drivers: .named([DriverInput(age: 35, experienceYears: 10, kbmClass: "13")])),
            today: policyDay)
        #expect(quote.premiumText == "9441.80")
        #expect(quote.tariffVersion == "2025-12-09")
        #expect(quote.cap?.multiplier == 3)
        #expect(quote.cap?.amount == 46791)
        #expect(quote.capped == false)
    }

    @Test func example3SaintPetersburgSixMonths() throws {
        let quote = try calculator.quote(
            QuoteRequest(
                date: policyDay, powerHp: 100, territory: "saint_petersburg", tb: 6000, periodMonths: 6,
                drivers: .named([DriverInput(age: 37, experienceYears: 16, kbmClass: "12")])),
            today: policyDay)
        #expect(quote.premiumText == "3664.14")
        #expect(quote.coefficients[.ks] == Decimal(string: "0.7"))
    }

    @Test func example4MoscowOblastSmallEngine() throws {
        let quote = try calculator.quote(
            QuoteRequest(
                date: policyDay, powerHp: 45, territory: "moscow_oblast", tb: 1399,
                drivers: .named([DriverInput(age: 62, experienceYears: 20, kbmClass: "13")])),
            today: policyDay)
        #expect(quote.premiumText == "499.95")
    }

    @Test func example5GraveBreachesRaiseTheCapToFive() throws {
        let quote = try calculator.quote(
            QuoteRequest(
                date: policyDay, powerHp: 110, territory: "moscow", tb: 6000,
                drivers: .named([DriverInput(age: 31, experienceYears: 3, kbmClass: "3")]), kn: true),
            today: policyDay)
        #expect(quote.premiumText == "23882.04")
        #expect(quote.cap?.multiplier == 5)
        #expect(quote.cap?.amount == 54000)
        #expect(quote.capped == false)
    }
}
