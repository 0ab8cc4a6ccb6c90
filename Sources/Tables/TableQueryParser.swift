import Core

/// Parses a `/rest/v1/<table>` query string into a ``TableQuery`` (PostgREST's grammar,
/// docs/tables.md). Every failure is a 400 `PGRST100` naming the parameter; nothing here
/// touches the database.
public struct TableQueryParser: Sendable {
    public let limits: TableLimits

    public init(limits: TableLimits = TableLimits()) {
        self.limits = limits
    }

    /// Parses the raw (still percent-encoded) query string.
    public func parse(rawQuery: String) throws -> TableQuery {
        guard rawQuery.utf8.count <= limits.maximumQueryBytes else {
            throw TableError.limit("query", "at most \(limits.maximumQueryBytes) bytes")
        }
        return try parse(pairs: Self.pairs(of: rawQuery))
    }

    /// Parses decoded `key=value` pairs in their order.
    public func parse(pairs: [(String, String)]) throws -> TableQuery {
        var query = TableQuery()
        var leaves = 0
        for (key, value) in pairs {
            let (embedPath, name) = Self.splitEmbedPath(key)
            switch name {
            case "select" where embedPath.isEmpty:
                guard query.select == nil else { throw TableError.parse("select", "select given more than once") }
                var count = 0
                query.select = try parseSelect(value, depth: 0, count: &count)
            case "columns" where embedPath.isEmpty:
                query.columns = try parseNameList(value, parameter: "columns")
            case "on_conflict" where embedPath.isEmpty:
                query.onConflict = try parseNameList(value, parameter: "on_conflict")
            case "order":
                let terms = try Self.splitTopLevel(value).map { try parseOrderTerm($0) }
                if embedPath.isEmpty { query.order = terms } else { query.embedded[embedPath, default: .init()].order = terms }
            case "limit", "offset":
                let number = try Self.nonNegative(value, parameter: key)
                switch (name, embedPath.isEmpty) {
                case ("limit", true): query.limit = number
                case ("offset", true): query.offset = number
                case ("limit", false): query.embedded[embedPath, default: .init()].limit = number
                default: query.embedded[embedPath, default: .init()].offset = number
                }
            case "or", "and", "not.or", "not.and":
                let tree = try parseLogic(operator: name, body: value, depth: 0, leaves: &leaves)
                if embedPath.isEmpty { query.filters.append(tree) } else { query.embedded[embedPath, default: .init()].filters.append(tree) }
            default:
                let path = try parseColumnPath(name, parameter: key)
                let filter = try parseFilter(path: path, expression: value, parameter: key)
                leaves += 1
                if embedPath.isEmpty {
                    query.filters.append(.leaf(filter))
                } else {
                    query.embedded[embedPath, default: .init()].filters.append(.leaf(filter))
                }
            }
            guard leaves <= limits.maximumFilters else { throw TableError.limit("filters", "at most \(limits.maximumFilters) filters") }
        }
        return query
    }

    // MARK: select

    func parseSelect(_ text: String, depth: Int, count: inout Int) throws -> [SelectItem] {
        guard depth <= limits.maximumNesting else { throw TableError.limit("select", "embeddings nest at most \(limits.maximumNesting) deep") }
        let compact = Self.removingSpaces(text)
        if compact.isEmpty { return [] }
        var items: [SelectItem] = []
        for part in try Self.splitTopLevel(compact) {
            count += 1
            guard count <= limits.maximumSelectItems else { throw TableError.limit("select", "at most \(limits.maximumSelectItems) items") }
            items.append(try parseSelectItem(part, depth: depth, count: &count))
        }
        return items
    }

    private func parseSelectItem(_ part: String, depth: Int, count: inout Int) throws -> SelectItem {
        if part == "*" { return .all }
        if part.isEmpty { throw TableError.parse("select", "an empty item") }
        if part.hasPrefix("...") {
            let rest = String(part.dropFirst(3))
            guard Self.firstTopLevel("(", in: rest) != nil, Self.splitAlias(rest).0 == nil,
                  case .embed(var embedding) = try parseSelectItem(rest, depth: depth, count: &count) else {
                throw TableError.parse("select", "a spread (...) takes an embedded resource without an alias: \(part)")
            }
            embedding.spread = true
            return .embed(embedding)
        }
        if Self.isAggregate(part) { throw TableError.aggregatesNotAllowed() }
        if let open = Self.firstTopLevel("(", in: part) {
            guard part.hasSuffix(")") else { throw TableError.parse("select", "unbalanced parentheses in \(part)") }
            let head = String(part[..<open])
            let inner = String(part[part.index(after: open)..<part.index(before: part.endIndex)])
            let (alias, target) = Self.splitAlias(head)
            var pieces = target.split(separator: "!", omittingEmptySubsequences: false).map(String.init)
            let relation = Self.unquote(pieces.removeFirst())
            var hint: String?
            var inner_ = false
            for piece in pieces {
                switch piece {
                case "inner": inner_ = true
                case "left": inner_ = false
                case "": throw TableError.parse("select", "an empty hint in \(part)")
                default:
                    guard hint == nil else { throw TableError.parse("select", "more than one hint in \(part)") }
                    hint = Self.unquote(piece)
                }
            }
            guard !relation.isEmpty else {
                throw TableError.parse("select", "aggregate functions are not enabled: \(part)")
            }
            return .embed(Embedding(
                relation: relation, alias: alias.map(Self.unquote), hint: hint, inner: inner_,
                items: try parseSelect(inner, depth: depth + 1, count: &count)))
        }
        let (alias, rest) = Self.splitAlias(part)
        var expression = rest
        var cast: String?
        if let range = Self.lastTopLevelCast(in: rest) {
            cast = String(rest[range.upperBound...])
            expression = String(rest[..<range.lowerBound])
            guard let cast, Self.isTypeName(cast) else { throw TableError.parse("select", "not a type name after :: in \(part)") }
        }
        return .field(try parseColumnPath(expression, parameter: "select"), alias: alias.map(Self.unquote), cast: cast)
    }

    /// PostgREST's aggregate functions in `select`.
    static let aggregateFunctions: Set<String> = ["avg", "count", "max", "min", "sum"]

    /// Whether a select item is an aggregate: `count()`, or `column.fn()`, with an optional
    /// alias and cast (`total:amount.sum()::int`).
    static func isAggregate(_ part: String) -> Bool {
        var call = splitAlias(part).1
        if let cast = lastTopLevelCast(in: call) { call = String(call[..<cast.lowerBound]) }
        guard call.hasSuffix("()") else { return false }
        let head = call.dropLast(2)
        let function = head.split(separator: ".", omittingEmptySubsequences: false).last.map(String.init) ?? ""
        return aggregateFunctions.contains(function) && (head == "count" || head.contains("."))
    }

    // MARK: filters

    func parseFilter(path: ColumnPath, expression: String, parameter: String) throws -> Filter {
        var rest = Substring(expression)
        var negated = false
        if rest.hasPrefix("not.") {
            negated = true
            rest = rest.dropFirst(4)
        }
        guard let dot = rest.firstIndex(of: ".") else {
            throw TableError.parse("filter (\(parameter))", "expected operator.value, got '\(expression)'")
        }
        let token = rest[..<dot]
        let operand = String(rest[rest.index(after: dot)...])
        var name = token
        var modifier: String?
        if let open = token.firstIndex(of: "("), token.hasSuffix(")") {
            name = token[..<open]
            modifier = String(token[token.index(after: open)..<token.index(before: token.endIndex)])
        }
        guard let operation = FilterOperator(rawValue: String(name)) else {
            throw TableError.parse("filter (\(parameter))", "unknown operator '\(name)'")
        }
        let value: FilterValue
        switch operation {
        case .in:
            guard modifier == nil else { throw TableError.parse("filter (\(parameter))", "in takes no modifier") }
            guard operand.hasPrefix("("), operand.hasSuffix(")"), operand.count >= 2 else {
                throw TableError.parse("filter (\(parameter))", "in expects a list in parentheses: in.(a,b)")
            }
            let inner = String(operand.dropFirst().dropLast())
            let items = inner.isEmpty ? [] : try Self.splitTopLevel(inner).map { Self.unquote($0) }
            guard items.count <= limits.maximumListItems else {
                throw TableError.limit(parameter, "an in.(…) list has at most \(limits.maximumListItems) items")
            }
            value = .list(items)
        case .is:
            guard modifier == nil, let truth = TruthValue(rawValue: operand.lowercased()) else {
                throw TableError.parse("filter (\(parameter))", "is expects null, not_null, true, false or unknown")
            }
            value = .truth(truth)
        case .fts, .plfts, .phfts, .wfts:
            if let modifier, !Self.isTypeName(modifier) { throw TableError.parse("filter (\(parameter))", "not a text search configuration: \(modifier)") }
            value = .fullText(language: modifier, query: operand)
        default:
            if let modifier {
                guard operation.quantifiable, let quantifier = Quantifier(rawValue: modifier) else {
                    throw TableError.parse("filter (\(parameter))", "\(name) does not take (\(modifier))")
                }
                value = .quantified(quantifier, operand)
            } else {
                value = .single(operand)
            }
        }
        return Filter(path: path, negated: negated, operation: operation, value: value)
    }

    func parseLogic(operator name: String, body: String, depth: Int, leaves: inout Int) throws -> FilterTree {
        guard depth < limits.maximumNesting else { throw TableError.limit(name, "and/or nest at most \(limits.maximumNesting) deep") }
        let negated = name.hasPrefix("not.")
        let isOr = name.hasSuffix("or")
        guard body.hasPrefix("("), body.hasSuffix(")"), body.count >= 2 else {
            throw TableError.parse("logic tree (\(name))", "expected a list in parentheses: \(name)=(a.eq.1,b.eq.2)")
        }
        var children: [FilterTree] = []
        for item in try Self.splitTopLevel(String(body.dropFirst().dropLast())) {
            if let open = item.firstIndex(of: "("),
               ["or", "and", "not.or", "not.and"].contains(String(item[..<open])) {
                children.append(try parseLogic(
                    operator: String(item[..<open]), body: String(item[open...]), depth: depth + 1, leaves: &leaves))
                continue
            }
            guard let dot = Self.firstTopLevel(".", in: item) else {
                throw TableError.parse("logic tree (\(name))", "expected column.operator.value, got '\(item)'")
            }
            let path = try parseColumnPath(String(item[..<dot]), parameter: name)
            var expression = String(item[item.index(after: dot)...])
            // A value quoted because it holds , . : ( ) loses its quotes.
            if let lastDot = expression.range(of: ".\""), expression.hasSuffix("\"") {
                expression = String(expression[..<lastDot.lowerBound]) + "." + Self.unquote(String(expression[expression.index(after: lastDot.lowerBound)...]))
            }
            children.append(.leaf(try parseFilter(path: path, expression: expression, parameter: name)))
            leaves += 1
            guard leaves <= limits.maximumFilters else { throw TableError.limit("filters", "at most \(limits.maximumFilters) filters") }
        }
        guard !children.isEmpty else { throw TableError.parse("logic tree (\(name))", "an empty list") }
        return isOr ? .or(children, negated: negated) : .and(children, negated: negated)
    }

    // MARK: order, names, numbers

    func parseOrderTerm(_ term: String) throws -> OrderTerm {
        var parts = term.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        var descending = false
        var nulls: OrderTerm.Nulls?
        while parts.count > 1, let last = parts.last {
            if last == "asc" || last == "desc" {
                descending = last == "desc"
            } else if let value = OrderTerm.Nulls(rawValue: last) {
                nulls = value
            } else {
                break
            }
            parts.removeLast()
        }
        var column = parts.joined(separator: ".")
        guard !column.isEmpty else { throw TableError.parse("order", "an empty term") }
        // `rel(col)`: a column of an embedded resource.
        var relation: String?
        if let open = column.firstIndex(of: "("), column.hasSuffix(")"), !column.hasPrefix("\"") {
            relation = Self.unquote(String(column[..<open]))
            column = String(column[column.index(after: open)..<column.index(before: column.endIndex)])
            guard relation?.isEmpty == false, !column.isEmpty else { throw TableError.parse("order (\(term))", "expected relation(column)") }
        }
        // `col.asc.nullslast` is the whole grammar: any other dot in an unquoted name is a
        // modifier that is not one (`nope.sideways`), not part of the column's name.
        let name = column.range(of: "->").map { String(column[..<$0.lowerBound]) } ?? column
        if !name.hasPrefix("\""), let dot = name.firstIndex(of: ".") {
            throw TableError.parse("order (\(term))", "unexpected \"\(name[dot...])\", expected asc, desc, nullsfirst or nullslast")
        }
        return OrderTerm(path: try parseColumnPath(column, parameter: "order"), descending: descending, nulls: nulls, relation: relation)
    }

    func parseNameList(_ text: String, parameter: String) throws -> [String] {
        let names = try Self.splitTopLevel(Self.removingSpaces(text)).map { Self.unquote($0) }
        guard !names.isEmpty, !names.contains(where: \.isEmpty) else { throw TableError.parse(parameter, "expected column names separated by commas") }
        return names
    }

    /// `column`, `"quoted column"` or `column->key->>key`.
    func parseColumnPath(_ text: String, parameter: String) throws -> ColumnPath {
        var segments: [(String, Bool)] = []
        var rest = Substring(text)
        var head: Substring
        if let arrow = rest.range(of: "->") {
            head = rest[..<arrow.lowerBound]
            rest = rest[arrow.lowerBound...]
        } else {
            head = rest
            rest = ""
        }
        while !rest.isEmpty {
            let asText = rest.hasPrefix("->>")
            rest = rest.dropFirst(asText ? 3 : 2)
            let end = rest.range(of: "->")?.lowerBound ?? rest.endIndex
            let key = Self.unquote(String(rest[..<end]))
            guard !key.isEmpty else { throw TableError.parse(parameter, "an empty JSON key in \(text)") }
            segments.append((key, asText))
            rest = rest[end...]
        }
        let column = Self.unquote(String(head))
        guard !column.isEmpty else { throw TableError.parse(parameter, "an empty column name") }
        guard !column.unicodeScalars.contains("\u{0}"), !segments.contains(where: { $0.0.unicodeScalars.contains("\u{0}") }) else {
            throw TableError.parse(parameter, "U+0000 in a name")
        }
        return ColumnPath(column: column, json: segments.map { JSONStep(key: $0.0, asText: $0.1) })
    }

    static func nonNegative(_ text: String, parameter: String) throws -> Int {
        guard !text.isEmpty, text.utf8.count <= 12, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let number = Int(text) else {
            throw TableError.parse(parameter, "expected a non-negative whole number, got '\(text)'")
        }
        return number
    }

    // MARK: lexing

    /// Splits `a.b.c` keys into the embedding path (`a.b`) and the last name (`c`); the
    /// names `not.or`/`not.and` stay whole.
    static func splitEmbedPath(_ key: String) -> (String, String) {
        for suffix in ["not.or", "not.and"] {
            if key == suffix { return ("", suffix) }
            if key.hasSuffix("." + suffix) { return (String(key.dropLast(suffix.count + 1)), suffix) }
        }
        guard !Self.holdsQuoteOrArrow(key), let dot = key.lastIndex(of: ".") else { return ("", key) }
        return (String(key[..<dot]), String(key[key.index(after: dot)...]))
    }

    /// Whether `key` holds a `"` or a `->` (a byte scan: Foundation's `contains` showed in
    /// the table read's profile, once per query parameter).
    static func holdsQuoteOrArrow(_ key: String) -> Bool {
        var previous: UInt8 = 0
        for byte in key.utf8 {
            if byte == UInt8(ascii: "\"") || (previous == UInt8(ascii: "-") && byte == UInt8(ascii: ">")) { return true }
            previous = byte
        }
        return false
    }

    /// Splits at commas outside parentheses and double quotes.
    static func splitTopLevel(_ text: String) throws -> [String] {
        var parts: [String] = []
        var current = ""
        var depth = 0
        var quoted = false
        var escaped = false
        for character in text {
            if escaped {
                escaped = false
                current.append(character)
                continue
            }
            switch character {
            case "\\" where quoted:
                escaped = true
            case "\"":
                quoted.toggle()
            case "(" where !quoted:
                depth += 1
            case ")" where !quoted:
                depth -= 1
                if depth < 0 { throw TableError.parse("query", "unbalanced parentheses in '\(text)'") }
            case "," where !quoted && depth == 0:
                parts.append(current)
                current = ""
                continue
            default:
                break
            }
            current.append(character)
        }
        guard depth == 0, !quoted else { throw TableError.parse("query", "unbalanced parentheses or quotes in '\(text)'") }
        parts.append(current)
        return parts
    }

    /// The first `character` outside parentheses and double quotes.
    static func firstTopLevel(_ character: Character, in text: String) -> String.Index? {
        var depth = 0
        var quoted = false
        var index = text.startIndex
        while index < text.endIndex {
            let current = text[index]
            if current == "\"" {
                quoted.toggle()
            } else if !quoted {
                if current == character && depth == 0 { return index }
                if current == "(" { depth += 1 }
                if current == ")" { depth -= 1 }
            }
            index = text.index(after: index)
        }
        return nil
    }

    /// The range of the last `::` outside quotes (a cast), if any.
    static func lastTopLevelCast(in text: String) -> Range<String.Index>? {
        var found: Range<String.Index>?
        var quoted = false
        var index = text.startIndex
        while index < text.endIndex {
            if text[index] == "\"" { quoted.toggle() }
            let next = text.index(after: index)
            if !quoted, text[index] == ":", next < text.endIndex, text[next] == ":" {
                found = index..<text.index(after: next)
                index = text.index(after: next)
                continue
            }
            index = next
        }
        return found
    }

    /// `alias:rest` → (alias, rest); a `::` cast is not an alias.
    static func splitAlias(_ text: String) -> (String?, String) {
        var quoted = false
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            if character == "\"" { quoted.toggle() }
            if !quoted, character == "(" { break }
            if !quoted, character == ":" {
                let next = text.index(after: index)
                if next < text.endIndex, text[next] == ":" { return (nil, text) }
                let alias = String(text[..<index])
                return (alias.isEmpty ? nil : alias, String(text[next...]))
            }
            index = text.index(after: index)
        }
        return (nil, text)
    }

    /// `"a \"b\""` → `a "b"`; unquoted text is returned as is.
    static func unquote(_ text: String) -> String {
        guard text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") else { return text }
        var result = ""
        var escaped = false
        for character in text.dropFirst().dropLast() {
            if escaped {
                result.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else {
                result.append(character)
            }
        }
        return result
    }

    /// Whitespace outside double quotes removed (PostgREST ignores it in `select`).
    static func removingSpaces(_ text: String) -> String {
        var quoted = false
        var result = ""
        for character in text {
            if character == "\"" { quoted.toggle() }
            if !quoted, character.isWhitespace { continue }
            result.append(character)
        }
        return result
    }

    /// A type name as written after `::` (`int8`, `text`, `double precision`, `text[]`):
    /// letters, digits, `_` and spaces, optionally ending in `[]`.
    static func isTypeName(_ text: String) -> Bool {
        let body = text.hasSuffix("[]") ? text.dropLast(2) : Substring(text)
        guard let first = body.unicodeScalars.first, first.properties.isAlphabetic || first == "_", body.utf8.count <= 63 else { return false }
        return body.unicodeScalars.allSatisfy { ($0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil)) || $0 == "_" || $0 == " " }
    }

    /// Splits a raw query string into decoded pairs (`+` is a space, as in forms).
    static func pairs(of raw: String) -> [(String, String)] {
        raw.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (percentDecoded(parts[0]), parts.count > 1 ? percentDecoded(parts[1]) : "")
        }
    }

    static func percentDecoded(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "+") {
                bytes.append(0x20)
            } else if byte == UInt8(ascii: "%"), iterator.count >= 2,
                      let high = hexValue(iterator[iterator.startIndex]), let low = hexValue(iterator[iterator.startIndex + 1]) {
                bytes.append(high << 4 | low)
                iterator = iterator.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }
}
