import Foundation

/// Compact JSON text for the values the service sends: what `JSONSerialization` parsed from a
/// client (`NSNumber`, `NSNull`, `String`, arrays, dictionaries) and what the server builds
/// (Swift `Bool`, `Int`, `Int64`, `Double`, `String`, `[String: String]`, …). Written by hand
/// because `JSONSerialization.data(withJSONObject:)` bridges every dictionary to `NSDictionary`
/// and was a quarter of the server's CPU per relayed frame (docs/performance.md, Calls).
/// A value of any other type makes ``encode(_:)`` fall back to `JSONSerialization`.
enum JSONText {
    /// The JSON text of an object.
    static func encode(_ object: [String: Any]) -> String {
        if object.isEmpty { return "{}" }
        var out = ""
        out.reserveCapacity(128)
        guard write(object, into: &out, depth: 0) else { return OutboundFrame.encodeSlow(object) }
        return out
    }

    /// `"text"` with JSON escapes (`"`, `\`, control characters; `/` is not escaped).
    static func quoted(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count + 2)
        appendQuoted(text, into: &out)
        return out
    }

    static func appendQuoted(_ text: String, into out: inout String) {
        out.append("\"")
        var needsEscape = false
        for byte in text.utf8 where byte < 0x20 || byte == 0x22 || byte == 0x5C {
            needsEscape = true
            break
        }
        guard needsEscape else {
            out.append(text)
            out.append("\"")
            return
        }
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out.append("\\\"")
            case "\\": out.append("\\\\")
            case "\n": out.append("\\n")
            case "\r": out.append("\\r")
            case "\t": out.append("\\t")
            case "\u{8}": out.append("\\b")
            case "\u{C}": out.append("\\f")
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out.append("\"")
    }

    /// Appends `value`; false for a type this writer does not know (nesting beyond 64 too).
    private static func write(_ value: Any, into out: inout String, depth: Int) -> Bool {
        guard depth < 64 else { return false }
        switch value {
        case let text as String:
            appendQuoted(text, into: &out)
        case let object as [String: Any]:
            out.append("{")
            var first = true
            for (key, member) in object {
                if !first { out.append(",") }
                first = false
                appendQuoted(key, into: &out)
                out.append(":")
                guard write(member, into: &out, depth: depth + 1) else { return false }
            }
            out.append("}")
        case let list as [Any]:
            out.append("[")
            var first = true
            for item in list {
                if !first { out.append(",") }
                first = false
                guard write(item, into: &out, depth: depth + 1) else { return false }
            }
            out.append("]")
        case is NSNull:
            out.append("null")
        default:
            // Swift scalars by their exact type: on Linux an NSNumber also casts to Bool or Int.
            let kind = type(of: value)
            if kind == Bool.self, let flag = value as? Bool {
                out.append(flag ? "true" : "false")
            } else if kind == Int.self, let integer = value as? Int {
                out.append(String(integer))
            } else if kind == Int64.self, let integer = value as? Int64 {
                out.append(String(integer))
            } else if kind == Double.self, let double = value as? Double {
                guard let text = doubleText(double) else { return false }
                out.append(text)
            } else if let number = value as? NSNumber {
                guard let text = numberText(number) else { return false }
                out.append(text)
            } else {
                return false
            }
        }
        return true
    }

    /// A number as JSON: booleans as `true`/`false`, whole values as integers.
    private static func numberText(_ number: NSNumber) -> String? {
        let type = String(cString: number.objCType)
        if type == "c" || type == "B" { return number.boolValue ? "true" : "false" }
        switch type {
        case "q", "l", "i", "s": return String(number.int64Value)
        case "Q", "L", "I", "S", "C": return String(number.uint64Value)
        default: return doubleText(number.doubleValue)
        }
    }

    /// Whole values as integers (no trapping conversion: bounded first), others in Swift's
    /// shortest round-trip form, which is valid JSON for finite values.
    private static func doubleText(_ double: Double) -> String? {
        guard double.isFinite else { return nil }
        if abs(double) < 9e15, let whole = Int64(exactly: double) { return String(whole) }
        return "\(double)"
    }
}
