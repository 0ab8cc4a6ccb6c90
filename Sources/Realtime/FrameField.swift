import Core

/// Reads the fields of a client frame without trusting their JSON types: a field that must
/// be a string and is something else (a number such as `1e300`, an object, …) is an error
/// that names the field, never a conversion.
enum FrameField {
    /// A string field; absent or `null` reads as nil.
    static func string(_ value: JSONValue?, _ name: String) throws(FieldError) -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let text)?: return text
        default: throw FieldError(field: name, rule: "must be a string")
        }
    }

    /// A ref (`ref`, `join_ref`): a string, or a whole number of at most 2^53 in magnitude
    /// (read as its decimal text, as Phoenix clients that count refs send them).
    static func ref(_ value: JSONValue?, _ name: String) throws(FieldError) -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let text)?: return text
        case .number(let number)?:
            guard let whole = Int64(exactly: number), whole.magnitude <= 1 << 53 else {
                throw FieldError(field: name, rule: "must be a string")
            }
            return String(whole)
        default: throw FieldError(field: name, rule: "must be a string")
        }
    }

    /// A whole number within `range`; nil when absent or not such a number.
    static func integer(_ value: JSONValue?, in range: ClosedRange<Int64>) -> Int64? {
        guard case .number(let number)? = value, let whole = Int64(exactly: number), range.contains(whole) else { return nil }
        return whole
    }
}

/// A frame field of the wrong type; the text names the field and the rule.
struct FieldError: Error, Equatable, CustomStringConvertible {
    var field: String
    var rule: String
    var description: String { "\(field) \(rule)" }
}
