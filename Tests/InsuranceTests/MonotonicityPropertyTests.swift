import Foundation
import Insurance
import PropertyBased
import Testing

/// Properties over random valid requests: the premium never falls when the power band
/// rises, never rises with more experience, and never falls with a worse КБМ class.
@Suite struct MonotonicityPropertyTests {
    static let classes = ["M", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13"]
    static let territories = ["moscow", "saint_petersburg", "moscow_oblast", "kazan", "novosibirsk", "dnr"]

    /// A random valid request: driver age 16–80, experience within age − 16.
    static let requests = zip(
        Gen.int(in: 16...80), Gen.int(in: 0...64), Gen.int(in: 0...14), Gen.int(in: 1...400),
        Gen.int(in: 0...5), Gen.int(in: 3...12), Gen.int(in: 1399...8665), Gen.bool
    ).map { (age: Int, experienceSeed: Int, classIndex: Int, power: Int, territoryIndex: Int, months: Int, tb: Int, kn: Bool) -> QuoteRequest in
        QuoteRequest(
            date: Fixtures.day, powerHp: Decimal(power), territory: territories[territoryIndex], tb: Decimal(tb),
            periodMonths: months,
            drivers: .named([DriverInput(age: age, experienceYears: experienceSeed % (age - 15), kbmClass: classes[classIndex])]),
            kn: kn)
    }

    static func premium(_ request: QuoteRequest) -> Decimal? {
        try? Fixtures.quote(request).premium
    }

    static func driver(_ request: QuoteRequest) -> DriverInput {
        guard case .named(let drivers) = request.drivers else { fatalError("named drivers expected") }
        return drivers[0]
    }

    @Test func premiumNeverFallsWithMorePower() async {
        await propertyCheck(count: 300, input: Self.requests, Gen.int(in: 0...300)) { request, extra in
            var stronger = request
            stronger.powerHp = request.powerHp! + Decimal(extra)
            guard let low = Self.premium(request), let high = Self.premium(stronger) else {
                Issue.record("a valid request was refused: \(request)")
                return
            }
            #expect(low <= high)
        }
    }

    @Test func premiumNeverRisesWithMoreExperience() async {
        await propertyCheck(count: 300, input: Self.requests, Gen.int(in: 1...20)) { request, extra in
            let driver = Self.driver(request)
            let experience = min(driver.experienceYears + extra, driver.age - 16)
            var seasoned = request
            seasoned.drivers = .named([DriverInput(age: driver.age, experienceYears: experience, kbmClass: driver.kbmClass)])
            guard let novice = Self.premium(request), let veteran = Self.premium(seasoned) else {
                Issue.record("a valid request was refused: \(request)")
                return
            }
            #expect(veteran <= novice)
        }
    }

    @Test func premiumNeverFallsWithAWorseClass() async {
        await propertyCheck(count: 300, input: Self.requests, Gen.int(in: 1...14)) { request, steps in
            let driver = Self.driver(request)
            let index = Self.classes.firstIndex(of: driver.kbmClass)!
            var worse = request
            worse.drivers = .named([DriverInput(age: driver.age, experienceYears: driver.experienceYears, kbmClass: Self.classes[max(0, index - steps)])])
            guard let good = Self.premium(request), let bad = Self.premium(worse) else {
                Issue.record("a valid request was refused: \(request)")
                return
            }
            #expect(good <= bad)
        }
    }

    @Test func premiumNeverExceedsTheCapAndIsRoundedToKopecks() async {
        await propertyCheck(count: 300, input: Self.requests) { request in
            guard let quote = try? Fixtures.quote(request), let premium = quote.premium, let cap = quote.cap else {
                Issue.record("a valid request was refused: \(request)")
                return
            }
            #expect(premium <= cap.amount)
            #expect(premium * 100 == (premium * 100).rounded())
        }
    }
}

private extension Decimal {
    func rounded() -> Decimal {
        var value = self
        var result = Decimal()
        NSDecimalRound(&result, &value, 0, .plain)
        return result
    }
}
