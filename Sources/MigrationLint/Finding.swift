/// One rule violation at a place in a migration file.
public struct Finding: Sendable, Hashable, Codable {
    /// The violated rule's id, e.g. `drop-column`.
    public var ruleID: String
    /// One line saying what is wrong (the rule's message, with specifics when useful).
    public var message: String
    /// One line saying how to fix it.
    public var hint: String
    /// The migration file's path as it was given to the linter.
    public var path: String
    /// 1-based line of the statement's first token (or of the marker, for marker findings).
    public var line: Int
    /// 1-based column, in Unicode scalars, of that token.
    public var column: Int
    /// The first line of the offending statement (or marker); nil for file-level findings.
    public var statement: String?

    public init(ruleID: String, message: String, hint: String, path: String, line: Int, column: Int,
                statement: String? = nil) {
        self.ruleID = ruleID
        self.message = message
        self.hint = hint
        self.path = path
        self.line = line
        self.column = column
        self.statement = statement
    }

    init(rule: RuleDescriptor, detail: String? = nil, hint: String? = nil, path: String, line: Int, column: Int,
         statement: String?) {
        self.init(ruleID: rule.id, message: Self.message(rule.message, detail), hint: hint ?? rule.hint,
                  path: path, line: line, column: column, statement: statement)
    }

    /// `message` with `(detail)` placed before its final full stop.
    static func message(_ message: String, _ detail: String?) -> String {
        guard let detail, !detail.isEmpty else { return message }
        if message.hasSuffix(".") {
            return "\(message.dropLast()) (\(detail))."
        }
        return "\(message) (\(detail))"
    }

    enum CodingKeys: String, CodingKey {
        case ruleID = "rule", message, hint, path, line, column, statement
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ruleID = try c.decode(String.self, forKey: .ruleID)
        message = try c.decode(String.self, forKey: .message)
        hint = try c.decode(String.self, forKey: .hint)
        path = try c.decode(String.self, forKey: .path)
        line = try c.decode(Int.self, forKey: .line)
        column = try c.decode(Int.self, forKey: .column)
        statement = try c.decodeIfPresent(String.self, forKey: .statement)
    }

    /// Encodes every key, with `statement` as `null` when absent, so the shape is fixed.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(ruleID, forKey: .ruleID)
        try c.encode(message, forKey: .message)
        try c.encode(hint, forKey: .hint)
        try c.encode(path, forKey: .path)
        try c.encode(line, forKey: .line)
        try c.encode(column, forKey: .column)
        try c.encode(statement, forKey: .statement)
    }
}
