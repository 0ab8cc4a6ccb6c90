import Foundation

// Allow markers: `-- lint:allow <rule-id>[, <rule-id>…] reason: <text>` on the comment
// lines directly above a statement silence those rules for that one statement.

extension RuleDescriptor {
    /// An allow marker without `reason: <text>`.
    public static let allowMissingReason = RuleDescriptor(
        id: "allow-missing-reason", category: .markers,
        message: "Allow marker has no reason, so it silences nothing.",
        hint: "Write the marker as `-- lint:allow <rule-id> reason: <why this statement is safe>`.", allowable: false)

    /// An allow marker naming no rule, an unknown rule, or one that markers cannot silence.
    public static let allowUnknownRule = RuleDescriptor(
        id: "allow-unknown-rule", category: .markers,
        message: "Allow marker names a rule that does not exist or cannot be allowed, so it silences nothing.",
        hint: "Name statement rules by their exact ids, e.g. `-- lint:allow drop-column reason: …`.", allowable: false)
}

/// One `-- lint:allow` comment.
struct AllowMarker: Sendable, Equatable {
    /// The rule ids it names, lowercased.
    var ruleIDs: [String]
    /// The text after `reason:`, trimmed; nil when missing or empty.
    var reason: String?
    var line: Int
    var column: Int
    /// The comment as written, for reports.
    var text: String

    /// Ids that are not statement rules a marker can silence.
    var invalidIDs: [String] {
        ruleIDs.filter { Rules.descriptor(for: $0)?.allowable != true }
    }

    /// A marker that names only known, allowable rules and gives a reason.
    var isValid: Bool {
        reason != nil && !ruleIDs.isEmpty && invalidIDs.isEmpty
    }

    static let prefix = "lint:allow"

    /// Parses a line comment's text (after `--`); nil when it is not an allow marker.
    static func parse(comment: String, line: Int, column: Int, text: String) -> AllowMarker? {
        let body = comment.drop(while: { $0 == " " || $0 == "\t" || $0 == "-" })
        guard body.hasPrefix(prefix) else { return nil }
        let rest = body.dropFirst(prefix.count)
        if let next = rest.first, next != " " && next != "\t" && next != "," { return nil }
        var idsPart = Substring(rest)
        var reason: String?
        if let range = rest.range(of: "reason:", options: .caseInsensitive) {
            idsPart = rest[rest.startIndex..<range.lowerBound]
            let text = rest[range.upperBound...].trimmingCharacters(in: .whitespaces)
            reason = text.isEmpty ? nil : text
        }
        let ids = idsPart.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" }).map { $0.lowercased() }
        return AllowMarker(ruleIDs: ids, reason: reason, line: line, column: column, text: text)
    }
}

/// The allow markers of one tokenized source and the statements they sit above.
struct AllowMarkerIndex: Sendable {
    let source: TokenizedSource
    /// Markers by index into `source.comments`.
    let markers: [Int: AllowMarker]

    init(source: TokenizedSource) {
        self.source = source
        var markers: [Int: AllowMarker] = [:]
        let needle = Array(AllowMarker.prefix.utf8)
        for (index, comment) in source.comments.enumerated() where comment.kind == .lineComment {
            // Cheap byte test before building strings.
            guard Self.contains(source.bytes, comment.bodyStart..<comment.bodyEnd, needle) else { continue }
            let text = source.text(comment.bodyStart..<comment.bodyEnd)
            if let marker = AllowMarker.parse(comment: text, line: comment.line, column: comment.column,
                                              text: source.text(comment.start..<comment.end)) {
                markers[index] = marker
            }
        }
        self.markers = markers
    }

    /// Every marker of the source, in order, for validation.
    var all: [AllowMarker] {
        markers.sorted { $0.key < $1.key }.map(\.value)
    }

    /// The rule ids silenced for the statement whose first token is `source.tokens[tokenIndex]`:
    /// those of valid markers on the own-line `--` comments directly above it, with no blank
    /// line in between, when the statement is the first thing on its line.
    func allowedRules(forTokenAt tokenIndex: Int) -> Set<String> {
        guard !markers.isEmpty else { return [] }
        let tokens = source.tokens
        let first = tokens[tokenIndex]
        let previousEnd = tokenIndex > 0 ? tokens[tokenIndex - 1].end : -1
        if tokenIndex > 0, tokens[tokenIndex - 1].endLine >= first.line { return [] }
        let comments = source.comments
        // The last comment before the statement.
        var c = Self.lastIndex(in: comments, before: first.start)
        if c >= 0, comments[c].endLine >= first.line { return [] }  // `/* … */ DELETE …`
        var expectedLine = first.line - 1
        var allowed: Set<String> = []
        while c >= 0 {
            let comment = comments[c]
            guard comment.kind == .lineComment, comment.line == expectedLine, comment.start > previousEnd,
                  isOwnLine(comment) else { break }
            if let marker = markers[c], marker.isValid { allowed.formUnion(marker.ruleIDs) }
            expectedLine -= 1
            c -= 1
        }
        return allowed
    }

    private func isOwnLine(_ comment: Token) -> Bool {
        var k = comment.start - 1
        let bytes = source.bytes
        while k >= 0 {
            let b = bytes[k]
            if b == UInt8(ascii: "\n") { return true }
            if b != UInt8(ascii: " ") && b != UInt8(ascii: "\t") && b != UInt8(ascii: "\r") { return false }
            k -= 1
        }
        return true
    }

    private static func lastIndex(in comments: [Token], before offset: Int) -> Int {
        var low = 0
        var high = comments.count
        while low < high {
            let mid = (low + high) / 2
            if comments[mid].start < offset { low = mid + 1 } else { high = mid }
        }
        return low - 1
    }

    private static func contains(_ bytes: [UInt8], _ range: Range<Int>, _ needle: [UInt8]) -> Bool {
        guard range.count >= needle.count else { return false }
        var i = range.lowerBound
        let last = range.upperBound - needle.count
        while i <= last {
            if bytes[i] == needle[0] {
                var k = 1
                while k < needle.count, bytes[i + k] == needle[k] { k += 1 }
                if k == needle.count { return true }
            }
            i += 1
        }
        return false
    }
}
