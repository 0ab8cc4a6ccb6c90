import Foundation

/// One complete tariff version: every table in force from `effectiveFrom` until the next
/// version takes effect.
public struct TariffVersion: Sendable {
    public let effectiveFrom: CalendarDate
    public let legalBasis: String
    public let baseRates: [BaseRateRow]
    public let territories: [TerritoryRow]
    public let kbm: KBMTable
    public let kvs: KVSTable
    public let km: KMTable
    public let ks: KSTable
    public let kp: KPTable
    public let ko: KOTable
    public let kn: KNRule
    public let kpr: [KPrRow]
    public let cap: CapRule

    /// The version's name: its effective date (`2025-12-09`).
    public var name: String { effectiveFrom.description }

    /// The territory with this code, if the version lists it.
    public func territory(code: String) -> TerritoryRow? {
        territories.first { $0.code == code }
    }

    /// The КБМ of a class label, if the scale has it.
    public func kbmValue(ofClass label: String) -> Decimal? {
        kbm.classes.first { $0.class == label }?.kbm.value
    }

    /// The class labels in scale order (M, 0 … 13).
    public var kbmClassLabels: [String] { kbm.classes.map(\.class) }

    /// Territories whose name, English name, code or alias contains `query` (case-insensitive).
    public func searchTerritories(_ query: String) -> [TerritoryRow] {
        let needle = query.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        let sorted = territories.sorted { $0.name < $1.name }
        guard !needle.isEmpty else { return sorted }
        return sorted.filter { row in
            ([row.code, row.name, row.nameEn] + (row.aliases ?? [])).contains { $0.lowercased().contains(needle) }
        }
    }
}
