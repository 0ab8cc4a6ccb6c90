/// One SQL statement: a run of tokens ended by a top-level `;` (or the end of input).
struct SQLStatement: Sendable {
    /// The tokenized text the statement's tokens index into.
    let source: TokenizedSource
    /// Index range into `source.tokens`, without the closing `;`.
    let range: Range<Int>
    /// Nesting: 0 for a statement of the migration file, 1+ for one inside a function body.
    let depth: Int
    /// Inside a function body: the statement runs under an `IF`, `CASE` or exception handler.
    let isConditional: Bool

    init(source: TokenizedSource, range: Range<Int>, depth: Int = 0, isConditional: Bool = false) {
        self.source = source
        self.range = range
        self.depth = depth
        self.isConditional = isConditional
    }

    /// The statement's tokens, indexed from 0.
    var tokens: TokenView { TokenView(base: source.tokens, range: range) }

    var firstToken: Token { source.tokens[range.lowerBound] }

    /// Line of the statement's first token.
    var line: Int { firstToken.line }

    /// Column of the statement's first token.
    var column: Int { firstToken.column }

    /// The statement's source text (from its first to its last token).
    var text: String {
        let first = source.tokens[range.lowerBound]
        let last = source.tokens[range.upperBound - 1]
        return source.text(first.start..<last.end)
    }

    /// The first line of the statement, trimmed and shortened, for reports.
    var excerpt: String {
        let first = source.tokens[range.lowerBound]
        let bytes = source.bytes
        var end = first.start
        let limit = source.tokens[range.upperBound - 1].end
        while end < limit, bytes[end] != UInt8(ascii: "\n"), bytes[end] != UInt8(ascii: "\r") { end += 1 }
        var line = source.text(first.start..<end)
        while let last = line.last, last == " " || last == "\t" { line.removeLast() }
        if line.count > 120 {
            line = String(line.prefix(117)) + "..."
        }
        return line
    }
}

/// A zero-based window onto a statement's tokens with keyword-matching helpers.
struct TokenView: Sendable {
    let base: [Token]
    let range: Range<Int>

    init(base: [Token], range: Range<Int>) {
        self.base = base
        self.range = range
    }

    var count: Int { range.count }
    var isEmpty: Bool { range.isEmpty }

    subscript(_ i: Int) -> Token {
        _read { yield base[range.lowerBound + i] }
    }

    /// A sub-window, in this view's indices.
    func slice(_ from: Int, _ to: Int) -> TokenView {
        TokenView(base: base, range: (range.lowerBound + from)..<(range.lowerBound + to))
    }

    /// The lowercased word at `i`, or nil when `i` is out of range or not a word.
    @inline(__always)
    func word(_ i: Int) -> String? {
        guard i >= 0, i < count else { return nil }
        return self[i].kind == .word ? self[i].text : nil
    }

    @inline(__always)
    func isWord(_ i: Int, _ word: String) -> Bool {
        guard i >= 0, i < count else { return false }
        return self[i].isWord(word)
    }

    /// Whether the words `words` appear in order starting at `i`.
    func matches(_ i: Int, _ words: String...) -> Bool {
        matches(i, words)
    }

    func matches(_ i: Int, _ words: [String]) -> Bool {
        guard i + words.count <= count, i >= 0 else { return false }
        for (k, word) in words.enumerated() where !self[i + k].isWord(word) {
            return false
        }
        return true
    }

    /// The first index at or after `from` of `word` outside parentheses (relative to `from`).
    func firstTopLevel(_ word: String, from: Int = 0, to: Int? = nil) -> Int? {
        var depth = 0
        var i = from
        let end = to ?? count
        while i < end {
            switch self[i].kind {
            case .leftParen, .leftBracket: depth += 1
            case .rightParen, .rightBracket:
                if depth == 0 { return nil }
                depth -= 1
            case .word where depth == 0 && self[i].text == word: return i
            default: break
            }
            i += 1
        }
        return nil
    }

    /// Whether the word sequence `words` appears outside parentheses between `from` and `to`.
    func containsTopLevel(_ words: [String], from: Int = 0, to: Int? = nil) -> Bool {
        var depth = 0
        var i = from
        let end = to ?? count
        while i < end {
            switch self[i].kind {
            case .leftParen, .leftBracket: depth += 1
            case .rightParen, .rightBracket: depth = max(0, depth - 1)
            case .word where depth == 0 && self[i].text == words[0]:
                if i + words.count <= end, matches(i, words) { return true }
            default: break
            }
            i += 1
        }
        return false
    }

    /// Splits `from..<to` at top-level commas.
    func splitTopLevelCommas(from: Int, to: Int? = nil) -> [TokenView] {
        var parts: [TokenView] = []
        var depth = 0
        var partStart = from
        let end = to ?? count
        var i = from
        while i < end {
            switch self[i].kind {
            case .leftParen, .leftBracket: depth += 1
            case .rightParen, .rightBracket: depth = max(0, depth - 1)
            case .comma where depth == 0:
                parts.append(slice(partStart, i))
                partStart = i + 1
            default: break
            }
            i += 1
        }
        if partStart < end { parts.append(slice(partStart, end)) }
        return parts
    }

    /// Index just past the parenthesised group opening at `i` (or `i` when there is none).
    func skipParens(_ i: Int) -> Int {
        guard i < count, self[i].kind == .leftParen else { return i }
        var depth = 0
        var k = i
        while k < count {
            switch self[k].kind {
            case .leftParen: depth += 1
            case .rightParen:
                depth -= 1
                if depth == 0 { return k + 1 }
            default: break
            }
            k += 1
        }
        return count
    }
}

/// Splits tokens into statements the way `psql` does: at `;` outside parentheses and
/// outside the `BEGIN ATOMIC … END` body of `CREATE FUNCTION`/`CREATE PROCEDURE`.
enum StatementSplitter {
    /// A statement's token range, and whether it ran into the end of input unbalanced.
    struct Piece: Sendable {
        var range: Range<Int>
        var unbalanced: Bool
    }

    static func split(_ source: TokenizedSource) -> [Piece] {
        split(source.tokens, in: 0..<source.tokens.count)
    }

    static func split(_ tokens: [Token], in bounds: Range<Int>) -> [Piece] {
        var pieces: [Piece] = []
        var start = bounds.lowerBound
        var parens = 0
        var begins = 0
        var routine = false
        var i = bounds.lowerBound
        while i < bounds.upperBound {
            switch tokens[i].kind {
            case .semicolon:
                if parens == 0 && begins == 0 {
                    if start < i { pieces.append(Piece(range: start..<i, unbalanced: false)) }
                    start = i + 1
                    routine = false
                }
            case .leftParen:
                parens += 1
            case .rightParen:
                if parens > 0 { parens -= 1 }
            case .word:
                let position = i - start
                if position == 1 || position == 3 {
                    if tokens[i].text == "function" || tokens[i].text == "procedure" {
                        if tokens[start].isWord("create")
                            && (position == 1
                                || (tokens[start + 1].isWord("or") && tokens[start + 2].isWord("replace"))) {
                            routine = true
                        }
                    }
                }
                if routine {
                    if tokens[i].text == "begin" || tokens[i].text == "case" {
                        begins += 1
                    } else if tokens[i].text == "end", begins > 0 {
                        begins -= 1
                    }
                }
            default:
                break
            }
            i += 1
        }
        if start < bounds.upperBound {
            pieces.append(Piece(range: start..<bounds.upperBound, unbalanced: parens > 0 || begins > 0))
        }
        return pieces
    }
}
