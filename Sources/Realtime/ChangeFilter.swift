import Core
import Foundation

/// A postgres_changes row filter as clients send it: `column=op.value`, several joined by
/// commas (all must hold). Operators: eq, neq, lt, lte, gt, gte, in, is, like, ilike, and a
/// `not.` prefix.
///
/// A filter is read against its table's columns when the channel is joined: the column must
/// exist, and each value is read as the column's type (``TypedValue``), so it compares the
/// way PostgreSQL would (`conversation_id=eq.<UPPER-CASE UUID>` matches). Anything that cannot
/// be read is refused then, with the condition and the rule in the error.
public struct ChangeFilter: Sendable, Equatable {
    /// Longest filter accepted, in characters (Unicode code points).
    static let maximumLength = 256
    /// Most values an `in` list may hold (as Supabase Realtime).
    static let maximumListValues = 100

    /// What a condition compares the column with.
    enum Operand: Sendable, Equatable {
        /// eq, neq, lt, lte, gt, gte.
        case value(TypedValue)
        /// in.
        case list([TypedValue])
        /// like, ilike.
        case pattern(LikePattern)
        /// is.null, is.true, is.false (is.unknown is is.null).
        case isNull
        case isTrue
        case isFalse
    }

    struct Condition: Sendable, Equatable {
        var column: String
        var op: String
        var negated: Bool
        /// The value as the client wrote it.
        var value: String
        var operand: Operand
        var type: ColumnType
    }

    let conditions: [Condition]

    static let operators: Set<String> = ["eq", "neq", "lt", "lte", "gt", "gte", "in", "is", "like", "ilike"]

    /// Parses a filter on one of `tables`; the error names the condition and the rule.
    public init(parsing text: String, table: String, in tables: [ChangeTable]) throws {
        guard let columns = ChangeCatalog(tables).columnTypes(of: table) else {
            throw FilterError("table \(table) cannot be filtered")
        }
        try self.init(parsing: text, table: table, columns: columns)
    }

    /// Parses a filter on `table`, whose columns compare as `columns` says; the error names the
    /// condition and the rule.
    init(parsing text: String, table: String, columns: [String: ColumnType]) throws {
        let length = text.unicodeScalars.count
        guard length <= Self.maximumLength else {
            throw FilterError("filter '\(Self.excerpt(text))' is \(length) characters long; at most \(Self.maximumLength) are allowed")
        }
        var conditions: [Condition] = []
        for part in Self.splitTopLevel(text) where !part.isEmpty {
            conditions.append(try Self.condition(part, columns: columns, table: table))
        }
        self.conditions = conditions
    }

    private static func condition(_ part: String, columns: [String: ColumnType], table: String) throws -> Condition {
        guard let equals = part.firstIndex(of: "=") else { throw FilterError("filter '\(part)' must look like column=op.value") }
        let column = String(part[..<equals]).trimmingCharacters(in: .whitespaces)
        var rest = Substring(part[part.index(after: equals)...])
        var negated = false
        if rest.hasPrefix("not.") {
            negated = true
            rest = rest.dropFirst(4)
        }
        guard let dot = rest.firstIndex(of: "."), !column.isEmpty else {
            throw FilterError("filter '\(part)' must look like column=op.value")
        }
        let op = String(rest[..<dot])
        let value = String(rest[rest.index(after: dot)...])
        guard operators.contains(op) else {
            throw FilterError("filter '\(part)': operator '\(op)' is not supported (use \(operators.sorted().joined(separator: ", ")))")
        }
        guard let type = columns[column] else {
            throw FilterError("filter '\(part)': invalid column for filter \(column); \(table) has \(columns.keys.sorted().joined(separator: ", "))")
        }
        let operand = try self.operand(op: op, value: value, column: column, type: type, part: part)
        return Condition(column: column, op: op, negated: negated, value: value, operand: operand, type: type)
    }

    private static func operand(op: String, value: String, column: String, type: ColumnType, part: String) throws -> Operand {
        func typed(_ literal: String) throws -> TypedValue {
            guard let typed = TypedValue.literal(literal, as: type) else {
                throw FilterError("filter '\(part)': \(column) is a \(type.rawValue) column and '\(excerpt(literal))' is not \(type.expected)")
            }
            return typed
        }
        switch op {
        case "is":
            switch value.lowercased() {
            case "null": return .isNull
            case "unknown" where type == .boolean: return .isNull
            case "true" where type == .boolean: return .isTrue
            case "false" where type == .boolean: return .isFalse
            case "true", "false", "unknown":
                throw FilterError("filter '\(part)': is.\(value.lowercased()) applies to boolean columns only; \(column) is a \(type.rawValue) column")
            default:
                throw FilterError("filter '\(part)': is takes null, true, false or unknown")
            }
        case "like", "ilike":
            guard type == .text else {
                throw FilterError("filter '\(part)': \(op) applies to text columns only; \(column) is a \(type.rawValue) column")
            }
            do {
                return .pattern(try LikePattern(value, caseInsensitive: op == "ilike"))
            } catch {
                throw FilterError("filter '\(part)': \(error)")
            }
        case "in":
            guard value.hasPrefix("("), value.hasSuffix(")"), value.count >= 2 else {
                throw FilterError("filter '\(part)': in takes a list in parentheses, e.g. in.(a,b)")
            }
            let items = try listItems(String(value.dropFirst().dropLast()), part: part)
            guard items.count <= maximumListValues else {
                throw FilterError("filter '\(part)': at most \(maximumListValues) values in an in list")
            }
            return .list(try items.map(typed))
        default:
            if type == .json, op != "eq", op != "neq" {
                throw FilterError("filter '\(part)': \(op) does not apply to \(column), a json column (use eq, neq or is)")
            }
            return .value(try typed(value))
        }
    }

    /// The items of an `in` list: separated by commas; an item may be double-quoted (then it
    /// may hold commas, and `\"` / `\\` are escapes). Spaces around items are dropped.
    private static func listItems(_ text: String, part: String) throws -> [String] {
        var items: [String] = []
        var current = ""
        var quoted = false
        var wasQuoted = false
        var escaped = false
        for character in text {
            if escaped {
                current.append(character)
                escaped = false
            } else if quoted {
                switch character {
                case "\\": escaped = true
                case "\"": quoted = false
                default: current.append(character)
                }
            } else {
                switch character {
                case ",":
                    items.append(wasQuoted ? current : current.trimmingCharacters(in: .whitespaces))
                    current = ""
                    wasQuoted = false
                case "\"" where current.trimmingCharacters(in: .whitespaces).isEmpty:
                    current = ""
                    quoted = true
                    wasQuoted = true
                case " " where wasQuoted:
                    break
                default:
                    guard !wasQuoted else { throw FilterError("filter '\(part)': nothing may follow a quoted in value") }
                    current.append(character)
                }
            }
        }
        guard !quoted, !escaped else { throw FilterError("filter '\(part)': an in value's quote is not closed") }
        if !current.isEmpty || wasQuoted || !items.isEmpty {
            items.append(wasQuoted ? current : current.trimmingCharacters(in: .whitespaces))
        }
        return items
    }

    /// The columns the filter reads.
    public var columns: [String] { conditions.map(\.column) }

    /// The value a filter pins a column to with `eq` (used to authorise a subscription); a
    /// UUID comes back in its canonical lower-case form.
    public func equality(on column: String) -> String? {
        guard let condition = conditions.first(where: { $0.column == column && $0.op == "eq" && !$0.negated }) else { return nil }
        if case .value(.uuid(let id)) = condition.operand { return id.uuidString.lowercased() }
        return condition.value
    }

    /// Whether a record satisfies every condition. As in SQL, a condition on a `null` (or
    /// missing) value is unknown, and unknown, negated or not, does not match.
    public func matches(_ record: [String: JSONValue]) -> Bool {
        conditions.allSatisfy { condition in
            guard let result = Self.evaluate(condition, record[condition.column] ?? .null) else { return false }
            return condition.negated ? !result : result
        }
    }

    /// The condition's truth for one value: nil when unknown (SQL `NULL`).
    static func evaluate(_ condition: Condition, _ value: JSONValue) -> Bool? {
        let typed = TypedValue.record(value, as: condition.type)
        switch condition.operand {
        case .isNull: return typed == nil
        case .isTrue: return typed == .boolean(true)
        case .isFalse: return typed == .boolean(false)
        case .pattern(let pattern):
            guard case .text(let text)? = typed else { return nil }
            return pattern.matches(text)
        case .list(let options):
            guard let typed else { return nil }
            return options.contains { typed.order(against: $0) == .orderedSame }
        case .value(let operand):
            guard let order = typed?.order(against: operand) else { return nil }
            switch condition.op {
            case "eq": return order == .orderedSame
            case "neq": return order != .orderedSame
            case "lt": return order == .orderedAscending
            case "lte": return order != .orderedDescending
            case "gt": return order == .orderedDescending
            case "gte": return order != .orderedAscending
            default: return nil
            }
        }
    }

    /// A JSON scalar as text: strings as they are, whole numbers without decimals, booleans
    /// as `true` / `false`; nil for null, arrays and objects. Never traps, whatever the number.
    static func text(_ value: JSONValue) -> String? {
        switch value {
        case .string(let text): return text
        case .number(let number): return Int64(exactly: number).map { String($0) } ?? String(number)
        case .bool(let flag): return flag ? "true" : "false"
        default: return nil
        }
    }

    /// The start of a long client string, for error messages.
    static func excerpt(_ text: String) -> String {
        text.unicodeScalars.count <= 40 ? text : String(String.UnicodeScalarView(text.unicodeScalars.prefix(40))) + "…"
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
