import Core
import Foundation

/// A postgres_changes row filter as clients send it: `column=op.value`, several joined by
/// commas (all must hold). Operators: eq, neq, lt, lte, gt, gte, in, is, like, ilike, and a
/// `not.` prefix.
public struct ChangeFilter: Sendable, Equatable {
    struct Condition: Sendable, Equatable {
        var column: String
        var op: String
        var negated: Bool
        var value: String
    }

    let conditions: [Condition]

    static let operators: Set<String> = ["eq", "neq", "lt", "lte", "gt", "gte", "in", "is", "like", "ilike"]

    /// Parses a filter; the error names what is wrong.
    public init(parsing text: String) throws {
        var conditions: [Condition] = []
        for part in Self.splitTopLevel(text) where !part.isEmpty {
            guard let equals = part.firstIndex(of: "=") else { throw FilterError("filter '\(part)' must look like column=op.value") }
            let column = String(part[..<equals]).trimmingCharacters(in: .whitespaces)
            var rest = String(part[part.index(after: equals)...])
            var negated = false
            if rest.hasPrefix("not.") {
                negated = true
                rest.removeFirst(4)
            }
            guard let dot = rest.firstIndex(of: "."), !column.isEmpty else {
                throw FilterError("filter '\(part)' must look like column=op.value")
            }
            let op = String(rest[..<dot])
            guard Self.operators.contains(op) else { throw FilterError("filter operator '\(op)' is not supported") }
            conditions.append(Condition(column: column, op: op, negated: negated, value: String(rest[rest.index(after: dot)...])))
        }
        self.conditions = conditions
    }

    /// The columns the filter reads.
    public var columns: [String] { conditions.map(\.column) }

    /// The value a filter pins a column to with `eq` (used to authorise a subscription).
    public func equality(on column: String) -> String? {
        conditions.first { $0.column == column && $0.op == "eq" && !$0.negated }?.value
    }

    /// Whether a record satisfies every condition.
    public func matches(_ record: [String: JSONValue]) -> Bool {
        conditions.allSatisfy { condition in
            let result = Self.evaluate(condition, record[condition.column] ?? .null)
            return condition.negated ? !result : result
        }
    }

    static func evaluate(_ condition: Condition, _ value: JSONValue) -> Bool {
        let text = Self.text(value)
        switch condition.op {
        case "eq": return text == condition.value
        case "neq": return text != condition.value
        case "is":
            switch condition.value.lowercased() {
            case "null": return value == .null
            case "true": return value == .bool(true)
            case "false": return value == .bool(false)
            default: return false
            }
        case "in":
            let inner = condition.value.trimmingCharacters(in: CharacterSet(charactersIn: "()"))
            let options = inner.split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")) }
            return text.map(options.contains) ?? false
        case "like", "ilike":
            guard let text else { return false }
            return Self.like(text, condition.value, caseInsensitive: condition.op == "ilike")
        default:
            guard let text else { return false }
            let order: ComparisonResult
            if let left = Double(text), let right = Double(condition.value) {
                order = left < right ? .orderedAscending : (left > right ? .orderedDescending : .orderedSame)
            } else {
                order = text.compare(condition.value)
            }
            switch condition.op {
            case "lt": return order == .orderedAscending
            case "lte": return order != .orderedDescending
            case "gt": return order == .orderedDescending
            case "gte": return order != .orderedAscending
            default: return false
            }
        }
    }

    static func text(_ value: JSONValue) -> String? {
        switch value {
        case .string(let text): return text
        case .number(let number): return number.rounded() == number ? String(Int64(number)) : String(number)
        case .bool(let flag): return flag ? "true" : "false"
        default: return nil
        }
    }

    /// SQL LIKE with `%` and `_` (PostgREST also accepts `*` for `%`).
    static func like(_ text: String, _ pattern: String, caseInsensitive: Bool) -> Bool {
        var regex = "^"
        for character in pattern {
            switch character {
            case "%", "*": regex += ".*"
            case "_": regex += "."
            default: regex += NSRegularExpression.escapedPattern(for: String(character))
            }
        }
        regex += "$"
        let options: String.CompareOptions = caseInsensitive ? [.regularExpression, .caseInsensitive] : [.regularExpression]
        return text.range(of: regex, options: options) != nil
    }

    /// Splits on commas outside parentheses (`in.(a,b)` stays whole).
    static func splitTopLevel(_ text: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var depth = 0
        for character in text {
            if character == "(" { depth += 1 }
            if character == ")" { depth = max(0, depth - 1) }
            if character == ",", depth == 0 {
                parts.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        parts.append(current)
        return parts
    }
}

/// A filter a client sent that cannot be used.
public struct FilterError: Error, CustomStringConvertible, Equatable {
    public var description: String
    init(_ description: String) { self.description = description }
}
