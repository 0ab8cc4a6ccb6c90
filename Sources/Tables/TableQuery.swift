/// A `/rest/v1/<table>` request's query string, parsed (PostgREST's grammar): what to select,
/// which rows, in what order, how many. Column names here are not yet checked against the
/// table; ``TableSQL`` does that against the ``SchemaCache``.
public struct TableQuery: Sendable, Equatable {
    /// `select=`: nil means every column (`*`).
    public var select: [SelectItem]?
    /// Horizontal filters, all of which must hold (`col=op.value`, `or=(…)`, `and=(…)`).
    public var filters: [FilterTree] = []
    /// `order=`.
    public var order: [OrderTerm] = []
    /// `limit=`.
    public var limit: Int?
    /// `offset=`.
    public var offset: Int?
    /// `columns=`: the payload keys an insert or update uses.
    public var columns: [String]?
    /// `on_conflict=`: the unique columns an upsert resolves on.
    public var onConflict: [String]?
    /// Filters, order and limits on embedded resources (`author.name=eq.x`, `author.order=…`),
    /// keyed by the embedding's name or alias path (`author`, `author.posts`).
    public var embedded: [String: EmbeddedModifiers] = [:]

    public init() {}
}

/// Filters, order and limits on one embedded resource.
public struct EmbeddedModifiers: Sendable, Equatable {
    public var filters: [FilterTree] = []
    public var order: [OrderTerm] = []
    public var limit: Int?
    public var offset: Int?

    public init() {}
}

/// One step of a JSON path: `->key` (JSON) or `->>key` (text). Numeric keys index arrays.
public struct JSONStep: Sendable, Equatable {
    public var key: String
    public var asText: Bool

    public init(key: String, asText: Bool) {
        self.key = key
        self.asText = asText
    }
}

/// A column, possibly followed by a JSON path: `data->meta->>kind`.
public struct ColumnPath: Sendable, Equatable {
    public var column: String
    public var json: [JSONStep]

    public init(column: String, json: [JSONStep] = []) {
        self.column = column
        self.json = json
    }

    /// The key the value gets in the output: the last JSON key, or the column.
    public var outputName: String { json.last?.key ?? column }
}

/// One entry of `select=`.
public indirect enum SelectItem: Sendable, Equatable {
    /// `*`.
    case all
    /// `alias:column->path::cast`.
    case field(ColumnPath, alias: String?, cast: String?)
    /// `alias:relation!hint!inner(items)`.
    case embed(Embedding)
}

/// A resource embedded through a foreign key: `author:profiles!messages_sender_fkey!inner(*)`.
public struct Embedding: Sendable, Equatable {
    public var relation: String
    public var alias: String?
    /// A foreign-key constraint name or a column that disambiguates the relationship.
    public var hint: String?
    /// `!inner`: parent rows without a match are left out.
    public var inner: Bool
    /// `...rel(cols)`: the columns join the parent's row instead of nesting (many-to-one only).
    public var spread: Bool
    public var items: [SelectItem]

    public init(
        relation: String, alias: String? = nil, hint: String? = nil, inner: Bool = false, spread: Bool = false, items: [SelectItem]
    ) {
        self.relation = relation
        self.alias = alias
        self.hint = hint
        self.inner = inner
        self.spread = spread
        self.items = items
    }

    /// The key this embedding has in the output and in modifier paths.
    public var name: String { alias ?? relation }
}

/// A filter tree: leaves joined by `and`/`or`, each node possibly negated.
public indirect enum FilterTree: Sendable, Equatable {
    case leaf(Filter)
    case and([FilterTree], negated: Bool)
    case or([FilterTree], negated: Bool)
}

extension FilterTree {
    /// The tree as one SQL condition: each leaf written by `leaf`, children joined by `AND` or
    /// `OR`, negated nodes wrapped in `NOT`.
    func sql(_ leaf: (Filter) throws -> String) rethrows -> String {
        switch self {
        case .leaf(let filter):
            return try leaf(filter)
        case .and(let children, let negated), .or(let children, let negated):
            let joiner: String
            if case .and = self { joiner = " AND " } else { joiner = " OR " }
            let inner = "(" + (try children.map { try $0.sql(leaf) }).joined(separator: joiner) + ")"
            return negated ? "NOT \(inner)" : inner
        }
    }
}

/// `column=[not.]operator[(modifier)].value`.
public struct Filter: Sendable, Equatable {
    public var path: ColumnPath
    public var negated: Bool
    public var operation: FilterOperator
    public var value: FilterValue

    public init(path: ColumnPath, negated: Bool, operation: FilterOperator, value: FilterValue) {
        self.path = path
        self.negated = negated
        self.operation = operation
        self.value = value
    }
}

/// PostgREST's horizontal filter operators.
public enum FilterOperator: String, Sendable, CaseIterable {
    case eq, neq, gt, gte, lt, lte, like, ilike, match, imatch
    case `in`, `is`, isdistinct
    case fts, plfts, phfts, wfts
    case cs, cd, ov, sl, sr, nxl, nxr, adj

    /// Operators that take `(any)` / `(all)` with an array value.
    var quantifiable: Bool {
        switch self {
        case .eq, .neq, .gt, .gte, .lt, .lte, .like, .ilike, .match, .imatch: true
        default: false
        }
    }
}

/// A filter's operand.
public enum FilterValue: Sendable, Equatable {
    /// One value, compared as the column's type.
    case single(String)
    /// `in.(a,b)`.
    case list([String])
    /// `is.null|not_null|true|false|unknown`.
    case truth(TruthValue)
    /// `op(any).{a,b}` / `op(all).{a,b}`: an array literal.
    case quantified(Quantifier, String)
    /// `fts(language).query`.
    case fullText(language: String?, query: String)
}

/// `is.` operands.
public enum TruthValue: String, Sendable {
    case null, notNull = "not_null", `true`, `false`, unknown
}

/// `(any)` / `(all)`.
public enum Quantifier: String, Sendable {
    case any, all
}

/// `order=column[->path].asc|desc[.nullsfirst|.nullslast]`.
public struct OrderTerm: Sendable, Equatable {
    public enum Nulls: String, Sendable { case first = "nullsfirst", last = "nullslast" }
    public var path: ColumnPath
    public var descending: Bool
    public var nulls: Nulls?
    /// `order=rel(col)`: the column is the embedded (many-to-one) resource `rel`'s.
    public var relation: String?

    public init(path: ColumnPath, descending: Bool = false, nulls: Nulls? = nil, relation: String? = nil) {
        self.path = path
        self.descending = descending
        self.nulls = nulls
        self.relation = relation
    }
}
