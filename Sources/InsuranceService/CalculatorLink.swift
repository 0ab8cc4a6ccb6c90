import Core
import Foundation
import Insurance

/// The web calculator's link for a quote request: `#/insurance/osago?calc=<base64url of the
/// request JSON>` (the request shape of `osago-quote`, without a date: the calculator prices
/// it on the day it is opened). The assistant ends a priced answer with it, and a shared
/// calculation in a chat carries the same parameter.
enum CalculatorLink {
    static let prefix = "#/insurance/osago?calc="

    /// The link for `request`.
    static func fragment(for request: QuoteRequest) -> String {
        prefix + Base64URL.encode(json(request))
    }

    /// The request as the documented JSON object (keys sorted).
    static func json(_ request: QuoteRequest) -> Data {
        func number(_ value: Decimal) -> Any {
            let text = NSDecimalNumber(decimal: value).stringValue
            return Int(text).map { $0 as Any } ?? text
        }
        var vehicle: [String: Any] = [
            "category": request.category, "registration": request.registration.rawValue, "taxi": request.taxi,
        ]
        if let power = request.powerHp { vehicle["powerHp"] = number(power) }
        var object: [String: Any] = [
            "owner": request.owner.rawValue, "vehicle": vehicle, "kn": request.kn, "trailer": request.trailer,
        ]
        if let territory = request.territory { object["territory"] = territory }
        if let kt = request.kt { object["kt"] = number(kt) }
        if let tb = request.tb { object["tb"] = number(tb) }
        if let months = request.periodMonths { object["periodMonths"] = months }
        if let months = request.termMonths { object["termMonths"] = months }
        if let days = request.termDays { object["termDays"] = days }
        if let owner = request.ownerKbmClass { object["ownerKbmClass"] = owner }
        switch request.drivers {
        case .unlimited: object["drivers"] = "unlimited"
        case .named(let list):
            object["drivers"] = list.map { ["age": $0.age, "experienceYears": $0.experienceYears, "kbmClass": $0.kbmClass] }
        }
        // Plain JSON values only: serialization cannot fail.
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    }
}
