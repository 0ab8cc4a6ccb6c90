import Foundation

/// A decimal written as a string in a tariff file (`"1.8"`), kept exact.
public struct TariffDecimal: Sendable, Hashable, Decodable {
    public let value: Decimal

    public init(_ value: Decimal) { self.value = value }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = DecimalText.parse(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a decimal literal: \(text)"))
        }
        self.value = value
    }
}

/// One tariff file (`Tariffs/<effective date>.json`) as written: every section is optional
/// and an omitted section is inherited from the previous version.
struct TariffFile: Decodable {
    var version: String
    var legalBasis: String?
    var baseRates: [BaseRateRow]?
    var territories: [TerritoryRow]?
    var kbm: KBMTable?
    var kvs: KVSTable?
    var km: KMTable?
    var ks: KSTable?
    var kp: KPTable?
    var ko: KOTable?
    var kn: KNRule?
    var kpr: [KPrRow]?
    var cap: CapRule?
}

/// A base-rate corridor for some categories and owners.
public struct BaseRateRow: Sendable, Decodable {
    public var categories: [String]
    /// `individual`, `legal_entity`, or nil for any owner.
    public var owner: OwnerKind?
    public var taxi: Bool
    public var min: TariffDecimal
    public var max: TariffDecimal
    public var confidence: Confidence
    /// What the row is called in a breakdown ("легковой, физическое лицо").
    public var label: String

    /// The "typical" base rate shown to drivers: the middle of the corridor, rounded half-up
    /// to whole roubles. Not market data — insurers pick any rate inside the corridor.
    public var typical: Decimal { DecimalText.rounded((min.value + max.value) / 2, scale: 0) }
}

/// A territory row: base КТ and, from 2025-12-09, a correction multiplier.
public struct TerritoryRow: Sendable, Decodable {
    public var code: String
    public var name: String
    public var nameEn: String
    public var aliases: [String]?
    public var baseKt: TariffDecimal
    public var correction: TariffDecimal?
    public var confidence: Confidence

    /// КТ = base × correction.
    public var kt: Decimal { baseKt.value * (correction?.value ?? 1) }
}

/// The bonus–malus scale and its yearly transitions.
public struct KBMTable: Sendable, Decodable {
    public struct ClassValue: Sendable, Decodable {
        public var `class`: String
        public var kbm: TariffDecimal
    }
    public var classes: [ClassValue]
    public var startClass: String
    public var confidence: Confidence
    /// Next year's class by current class, indexed by claims 0, 1, 2, 3, 4+.
    public var transitions: [String: [String]]
    public var transitionsConfidence: Confidence
}

/// КВС by age band × experience band; null cells are impossible combinations.
public struct KVSTable: Sendable, Decodable {
    public struct Band: Sendable, Decodable {
        public var min: Int
        public var max: Int?
        func contains(_ value: Int) -> Bool { value >= min && value <= (max ?? Int.max) }
        var label: String { max.map { $0 == min ? "\(min)" : "\(min)–\($0)" } ?? "\(min)+" }
    }
    public var ageBands: [Band]
    public var experienceBands: [Band]
    public var values: [[TariffDecimal?]]
    public var confidence: Confidence
}

/// КМ by engine power for the categories listed; 1 for the others.
public struct KMTable: Sendable, Decodable {
    public struct Band: Sendable, Decodable {
        /// Inclusive upper edge in hp; nil for the last band.
        public var upToHp: TariffDecimal?
        public var value: TariffDecimal
    }
    public var categories: [String]
    public var bands: [Band]
    public var confidence: Confidence
}

/// КС by months of use; the row with the largest `fromMonths` not above the period applies.
public struct KSTable: Sendable, Decodable {
    public struct Row: Sendable, Decodable {
        public var fromMonths: Int
        public var value: TariffDecimal
    }
    public var rows: [Row]
    public var minimumMonths: [String: Int]
    public var minimumConfidence: Confidence
    public var confidence: Confidence
}

/// КП for foreign-registered vehicles (by term) and for transit.
public struct KPTable: Sendable, Decodable {
    public struct DaysRow: Sendable, Decodable {
        public var fromDays: Int
        public var toDays: Int
        public var value: TariffDecimal
    }
    public struct MonthsRow: Sendable, Decodable {
        public var fromMonths: Int
        public var value: TariffDecimal
    }
    public var days: DaysRow
    public var months: [MonthsRow]
    public var confidence: Confidence
    public var transit: TariffDecimal
    public var transitConfidence: Confidence
}

/// КО: 1 with a driver list, by owner kind for unlimited drivers.
public struct KOTable: Sendable, Decodable {
    public struct Value: Sendable, Decodable {
        public var value: TariffDecimal
        public var confidence: Confidence
    }
    public var namedDrivers: TariffDecimal
    public var unlimited: [String: Value]
}

/// КН when the insurer found grave breaches.
public struct KNRule: Sendable, Decodable {
    public var value: TariffDecimal
    public var confidence: Confidence
}

/// КПр (trailer) for an owner kind and categories (nil categories: all).
public struct KPrRow: Sendable, Decodable {
    public var owner: OwnerKind
    public var categories: [String]?
    public var value: TariffDecimal
    public var confidence: Confidence
}

/// The premium cap of 40-ФЗ art. 9 p. 3.
public struct CapRule: Sendable, Decodable {
    public var multiplier: TariffDecimal
    public var raisedMultiplier: TariffDecimal
    public var confidence: Confidence
}
