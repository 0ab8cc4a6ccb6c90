/// What a lexical token of PostgreSQL SQL is.
enum TokenKind: UInt8, Sendable {
    /// A keyword or unquoted identifier; `text` is its ASCII-lowercased spelling.
    case word
    /// A `"quoted identifier"` (or `U&"…"`); `text` is its name with `""` undoubled.
    case quotedIdentifier
    /// A standard `'string'` (also `N'…'` and `U&'…'`); doubled quotes inside.
    case string
    /// An `E'escape string'`: backslash escapes and doubled quotes inside.
    case escapeString
    /// A `B'…'` or `X'…'` bit-string constant.
    case bitString
    /// A `$tag$ … $tag$` dollar-quoted string; `bodyStart..<bodyEnd` is its content.
    case dollarString
    /// A numeric constant.
    case number
    /// A positional parameter such as `$1`.
    case parameter
    /// An operator such as `=`, `->>`, `<<` or `:=`'s `=`.
    case op
    case leftParen, rightParen, leftBracket, rightBracket
    case comma, semicolon, dot, colon, doubleColon
    /// `-- …` up to the end of the line.
    case lineComment
    /// `/* … */`, possibly nested.
    case blockComment
    /// A byte that starts no other token.
    case other
}

/// One lexical token: its kind, where it is in the source, and its normalised text.
struct Token: Sendable {
    var kind: TokenKind
    /// Byte offset of the first byte of the token.
    var start: Int
    /// Byte offset just past the token.
    var end: Int
    /// 1-based line of the first byte.
    var line: Int
    /// 1-based column (in Unicode scalars) of the first byte.
    var column: Int
    /// 1-based line of the last byte.
    var endLine: Int
    /// Lowercased text for words, the name for quoted identifiers, the spelling of operators
    /// and punctuation; empty for literals and comments (read those through their byte range).
    var text: String
    /// For string-like tokens and comments: the content between the delimiters.
    var bodyStart: Int
    var bodyEnd: Int
    /// False when the input ended inside the token (string, identifier, comment, dollar quote).
    var terminated: Bool

    /// Whether this is the word (keyword or unquoted identifier) `word`, given lowercased.
    @inline(__always)
    func isWord(_ word: String) -> Bool {
        kind == .word && text == word
    }

    /// Whether this token can name a relation, column or role (word or quoted identifier).
    var isIdentifier: Bool {
        kind == .word || kind == .quotedIdentifier
    }

    /// Whether this is a string constant of any quoting style.
    var isStringLiteral: Bool {
        switch kind {
        case .string, .escapeString, .dollarString: return true
        default: return false
        }
    }

    var isComment: Bool {
        kind == .lineComment || kind == .blockComment
    }
}

/// Why the tokenizer could not finish a token.
struct TokenizeProblem: Sendable, Equatable {
    var what: String
    var line: Int
    var column: Int
}

/// The tokens of one piece of SQL (a file or a function body) and the bytes they point into.
final class TokenizedSource: Sendable {
    /// The UTF-8 bytes that token offsets refer to.
    let bytes: [UInt8]
    /// Every token except comments, in order.
    let tokens: [Token]
    /// Every comment, in order.
    let comments: [Token]
    /// Unterminated literals or comments.
    let problems: [TokenizeProblem]

    init(bytes: [UInt8], tokens: [Token], comments: [Token], problems: [TokenizeProblem]) {
        self.bytes = bytes
        self.tokens = tokens
        self.comments = comments
        self.problems = problems
    }

    /// The source text of a byte range.
    func text(_ range: Range<Int>) -> String {
        String(decoding: bytes[range], as: UTF8.self)
    }

    /// The content of a string-like token with its escapes undone (`''` → `'`, and for
    /// `E''` strings the backslash escapes).
    func stringValue(of token: Token) -> String {
        String(decoding: unescapedBytes(of: token).bytes, as: UTF8.self)
    }

    /// The unescaped content of a string-like token, and for each of its bytes the offset in
    /// `bytes` it came from (so positions inside the content can be mapped back).
    func unescapedBytes(of token: Token) -> (bytes: [UInt8], offsets: [Int]) {
        let range = token.bodyStart..<token.bodyEnd
        if token.kind == .dollarString {
            return (Array(bytes[range]), Array(range))
        }
        var out: [UInt8] = []
        var offsets: [Int] = []
        out.reserveCapacity(range.count)
        offsets.reserveCapacity(range.count)
        let escapes = token.kind == .escapeString
        var i = range.lowerBound
        while i < range.upperBound {
            let b = bytes[i]
            if escapes, b == UInt8(ascii: "\\"), i + 1 < range.upperBound {
                let next = bytes[i + 1]
                switch next {
                case UInt8(ascii: "n"): out.append(UInt8(ascii: "\n"))
                case UInt8(ascii: "t"): out.append(UInt8(ascii: "\t"))
                case UInt8(ascii: "r"): out.append(UInt8(ascii: "\r"))
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                default: out.append(next)
                }
                offsets.append(i)
                i += 2
            } else if b == UInt8(ascii: "'"), i + 1 < range.upperBound, bytes[i + 1] == UInt8(ascii: "'") {
                out.append(b)
                offsets.append(i)
                i += 2
            } else {
                out.append(b)
                offsets.append(i)
                i += 1
            }
        }
        return (out, offsets)
    }
}
