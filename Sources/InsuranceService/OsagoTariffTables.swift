import Core
import Crypto
import Foundation
import Insurance

/// The tariff tables a calculator form needs (`GET /functions/v1/osago-tariff`): the КБМ
/// scale, the vehicle categories with base-rate corridors (and their typical rate), the
/// period and driver limits, КО and КМ. Served from the same catalog the engine prices with,
/// so a client never keeps its own copy.
public struct OsagoTariffTables: Sendable {
    /// The JSON body (sorted keys, stable for one tariff version).
    public let body: Data
    /// A strong validator of `body`: `"<first 32 hex digits of its SHA-256>"`.
    public let etag: String

    /// The tables of `version`.
    public init(version: TariffVersion) throws {
        let text = { (value: Decimal) in NSDecimalNumber(decimal: value).stringValue }
        var categories: [String] = []
        for row in version.baseRates { for category in row.categories where !categories.contains(category) { categories.append(category) } }
        let object: [String: Any] = [
            "tariffVersion": version.name,
            "legalBasis": version.legalBasis,
            "kbm": [
                "startClass": version.kbm.startClass,
                "confidence": version.kbm.confidence.rawValue,
                "classes": version.kbm.classes.map { ["class": $0.class, "kbm": text($0.kbm.value)] },
            ] as [String: Any],
            "categories": categories,
            "baseRates": version.baseRates.map { row -> [String: Any] in
                [
                    "categories": row.categories, "owner": row.owner?.rawValue ?? NSNull(), "taxi": row.taxi,
                    "min": text(row.min.value), "max": text(row.max.value), "typical": text(row.typical),
                    "label": row.label, "confidence": row.confidence.rawValue,
                ]
            },
            "periodMonths": ["minimum": version.ks.minimumMonths, "maximum": 12] as [String: Any],
            "drivers": ["maximum": QuoteRequest.maximumDrivers, "minimumAge": 16] as [String: Any],
            "ko": [
                "namedDrivers": text(version.ko.namedDrivers.value),
                "unlimited": version.ko.unlimited.mapValues { text($0.value.value) },
            ] as [String: Any],
            "km": [
                "categories": version.km.categories,
                "bands": version.km.bands.map { band -> [String: Any] in
                    ["upToHp": band.upToHp.map { text($0.value) } ?? NSNull(), "value": text(band.value.value)]
                },
            ] as [String: Any],
        ]
        body = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        etag = "\"" + SHA256.hash(data: body).prefix(16).map { String(format: "%02x", $0) }.joined() + "\""
    }

    /// True when an `If-None-Match` header value names this body (`*`, a list, weak tags).
    public func matches(ifNoneMatch header: String?) -> Bool {
        guard let header else { return false }
        return header.split(separator: ",").contains { item in
            var tag = item.trimmingCharacters(in: .whitespaces)
            if tag.hasPrefix("W/") { tag = String(tag.dropFirst(2)) }
            return tag == "*" || tag == etag
        }
    }
}
