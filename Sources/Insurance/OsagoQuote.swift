import Foundation

/// The engine's answer: the premium (or its range), every coefficient with its reason,
/// the cap, the tariff version used and the КБМ forecast.
public struct OsagoQuote: Sendable, Encodable {
    /// The premium cap that applied: `multiplier × ТБ × КТ`.
    public struct Cap: Sendable, Encodable {
        public var multiplier: Int
        public var amount: Decimal

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(multiplier, forKey: .multiplier)
            try container.encode(DecimalText.money(amount), forKey: .amount)
        }
        private enum Key: String, CodingKey { case multiplier, amount }
    }

    /// The premium at the corridor's minimum and maximum base rate (when no ТБ was given).
    public struct PremiumRange: Sendable, Encodable {
        public var min: Decimal
        public var max: Decimal
        public var tbMin: Decimal
        public var tbMax: Decimal
        public var minCapped: Bool
        public var maxCapped: Bool

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(DecimalText.money(min), forKey: .min)
            try container.encode(DecimalText.money(max), forKey: .max)
            try container.encode(DecimalText.plain(tbMin), forKey: .tbMin)
            try container.encode(DecimalText.plain(tbMax), forKey: .tbMax)
            try container.encode(minCapped, forKey: .minCapped)
            try container.encode(maxCapped, forKey: .maxCapped)
        }
        private enum Key: String, CodingKey { case min, max, tbMin, tbMax, minCapped, maxCapped }
    }

    /// The premium at a typical base rate (the corridor's middle, see `BaseRateRow.typical`),
    /// given with the range when no ТБ was asked for.
    public struct TypicalPrice: Sendable, Encodable {
        public var tb: Decimal
        public var premium: Decimal
        public var capped: Bool

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(DecimalText.plain(tb), forKey: .tb)
            try container.encode(DecimalText.money(premium), forKey: .premium)
            try container.encode(capped, forKey: .capped)
        }
        private enum Key: String, CodingKey { case tb, premium, capped }
    }

    /// The named driver whose КБМ × КВС set the price.
    public struct ChosenDriver: Sendable, Encodable {
        public var index: Int
        public var age: Int
        public var experienceYears: Int
        public var kbmClass: String
    }

    public var tariffVersion: String
    /// Rounded once to kopecks; nil when no ТБ was given.
    public var premium: Decimal?
    public var uncapped: Decimal?
    public var capped: Bool?
    public var cap: Cap?
    /// Every coefficient that applies; absent ones (КП for a Russian registration, …) are null in JSON.
    public var coefficients: [Coefficient: Decimal]
    public var range: PremiumRange?
    public var breakdown: [BreakdownLine]
    public var driver: ChosenDriver?
    public var forecast: KBMForecast
    /// With a range only: the premium at the typical base rate.
    public var typical: TypicalPrice? = nil

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(tariffVersion, forKey: .tariffVersion)
        try container.encode(premium.map(DecimalText.money), forKey: .premium)
        try container.encode(uncapped.map(DecimalText.money), forKey: .uncapped)
        try container.encode(capped, forKey: .capped)
        try container.encode(cap, forKey: .cap)
        var values = container.nestedContainer(keyedBy: Coefficient.self, forKey: .coefficients)
        for coefficient in Coefficient.allCases {
            try values.encode(coefficients[coefficient].map(DecimalText.plain), forKey: coefficient)
        }
        try container.encode(range, forKey: .range)
        try container.encode(breakdown, forKey: .breakdown)
        try container.encode(driver, forKey: .driver)
        try container.encode(forecast, forKey: .forecast)
        try container.encode(typical, forKey: .typical)
    }

    private enum Key: String, CodingKey {
        case tariffVersion, premium, uncapped, capped, cap, coefficients, range, breakdown, driver, forecast, typical
    }
}

/// The factors of the formula, named as in the result's `coefficients` object.
public enum Coefficient: String, Sendable, CaseIterable, Encodable, CodingKey {
    case tb, kt, kbm, kvs, ko, km, ks, kn, kpr, kp
}

/// One coefficient in the breakdown: its value and why (table row or rule).
public struct BreakdownLine: Sendable, Encodable {
    public var coefficient: Coefficient
    public var value: Decimal?
    public var reason: String
    /// Nil for values the caller gave explicitly.
    public var confidence: Confidence?

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(coefficient, forKey: .coefficient)
        try container.encode(value.map(DecimalText.plain), forKey: .value)
        try container.encode(reason, forKey: .reason)
        try container.encode(confidence, forKey: .confidence)
    }
    private enum Key: String, CodingKey { case coefficient, value, reason, confidence }
}

/// The КБМ class used now and where it goes next year with 0, 1, 2, 3 or 4+ paid claims.
public struct KBMForecast: Sendable, Encodable {
    public struct Step: Sendable, Encodable {
        public var claims: Int
        public var kbmClass: String
        public var kbm: Decimal

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(claims, forKey: .claims)
            try container.encode(kbmClass, forKey: .kbmClass)
            try container.encode(DecimalText.plain(kbm), forKey: .kbm)
        }
        private enum Key: String, CodingKey { case claims, kbmClass, kbm }
    }
    public var kbmClass: String
    public var kbm: Decimal
    public var nextYear: [Step]

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(kbmClass, forKey: .kbmClass)
        try container.encode(DecimalText.plain(kbm), forKey: .kbm)
        try container.encode(nextYear, forKey: .nextYear)
    }
    private enum Key: String, CodingKey { case kbmClass, kbm, nextYear }
}

extension OsagoQuote {
    /// The result as JSON text with sorted keys (the CLI and HTTP body).
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// The premium as money text (`9441.80`), or nil for a range.
    public var premiumText: String? { premium.map(DecimalText.money) }
}
