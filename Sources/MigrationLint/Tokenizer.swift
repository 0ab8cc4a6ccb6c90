/// A PostgreSQL lexer over UTF-8 bytes, following the server's `scan.l`: standard strings
/// with doubled quotes, `E''` strings with backslash escapes, `B''`/`X''`/`N''`/`U&''`
/// constants, dollar-quoted strings with tags, quoted identifiers, line comments and nested
/// block comments. Positions are 1-based lines and columns counted in Unicode scalars.
struct Tokenizer {
    let bytes: [UInt8]
    let startLine: Int
    let startColumn: Int

    /// Lexes `bytes` as if its first byte stood at `startLine:startColumn` of a larger file.
    init(bytes: [UInt8], startLine: Int = 1, startColumn: Int = 1) {
        self.bytes = bytes
        self.startLine = startLine
        self.startColumn = startColumn
    }

    /// Lexes `text`.
    init(_ text: String, startLine: Int = 1, startColumn: Int = 1) {
        self.init(bytes: Array(text.utf8), startLine: startLine, startColumn: startColumn)
    }

    func tokenize() -> TokenizedSource {
        var tokens: [Token] = []
        var comments: [Token] = []
        var problems: [TokenizeProblem] = []
        tokens.reserveCapacity(bytes.count / 5)
        bytes.withUnsafeBufferPointer { buffer in
            var lexer = Lexer(p: buffer, line: startLine, column: startColumn)
            while let token = lexer.next() {
                if token.isComment {
                    comments.append(token)
                } else {
                    tokens.append(token)
                }
                if !token.terminated {
                    problems.append(TokenizeProblem(
                        what: Lexer.unterminatedDescription(token.kind), line: token.line, column: token.column))
                }
            }
        }
        return TokenizedSource(bytes: bytes, tokens: tokens, comments: comments, problems: problems)
    }
}

// MARK: - Byte classes

@inline(__always) private func isSpace(_ b: UInt8) -> Bool {
    b == 0x20 || b == 0x0A || b == 0x09 || b == 0x0D || b == 0x0C || b == 0x0B
}

@inline(__always) private func isIdentStart(_ b: UInt8) -> Bool {
    (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || b == 0x5F || b >= 0x80
}

@inline(__always) private func isDigit(_ b: UInt8) -> Bool {
    b >= 0x30 && b <= 0x39
}

@inline(__always) private func isIdentContinue(_ b: UInt8) -> Bool {
    isIdentStart(b) || isDigit(b) || b == 0x24  // $
}

/// Dollar-quote tags may not contain `$`.
@inline(__always) private func isTagContinue(_ b: UInt8) -> Bool {
    isIdentStart(b) || isDigit(b)
}

@inline(__always) private func isOperatorChar(_ b: UInt8) -> Bool {
    switch b {
    case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "*"), UInt8(ascii: "/"),
        UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "="), UInt8(ascii: "~"),
        UInt8(ascii: "!"), UInt8(ascii: "@"), UInt8(ascii: "#"), UInt8(ascii: "%"),
        UInt8(ascii: "^"), UInt8(ascii: "&"), UInt8(ascii: "|"), UInt8(ascii: "`"),
        UInt8(ascii: "?"):
        return true
    default:
        return false
    }
}

private let quote = UInt8(ascii: "'")
private let doubleQuote = UInt8(ascii: "\"")
private let dollar = UInt8(ascii: "$")
private let newline = UInt8(ascii: "\n")
private let backslash = UInt8(ascii: "\\")

// MARK: - Lexer

private struct Lexer {
    let p: UnsafeBufferPointer<UInt8>
    var i = 0
    var line: Int
    /// Column of the byte at `columnOffset`.
    var columnBase: Int
    var columnOffset = 0

    init(p: UnsafeBufferPointer<UInt8>, line: Int, column: Int) {
        self.p = p
        self.line = line
        self.columnBase = column
    }

    static func unterminatedDescription(_ kind: TokenKind) -> String {
        switch kind {
        case .string, .escapeString, .bitString: return "unterminated quoted string"
        case .dollarString: return "unterminated dollar-quoted string"
        case .quotedIdentifier: return "unterminated quoted identifier"
        case .blockComment: return "unterminated /* comment"
        default: return "unterminated token"
        }
    }

    /// Column of byte `offset` on the current line; offsets must not go backwards.
    @inline(__always)
    mutating func column(at offset: Int) -> Int {
        var column = columnBase
        var k = columnOffset
        while k < offset {
            if p[k] & 0xC0 != 0x80 { column += 1 }
            k += 1
        }
        columnBase = column
        columnOffset = offset
        return column
    }

    @inline(__always)
    mutating func sawNewline(at offset: Int) {
        line += 1
        columnBase = 1
        columnOffset = offset + 1
    }

    mutating func next() -> Token? {
        let n = p.count
        // Whitespace.
        while i < n, isSpace(p[i]) {
            if p[i] == newline { sawNewline(at: i) }
            i += 1
        }
        guard i < n else { return nil }
        let start = i
        let startLine = line
        let startColumn = column(at: start)
        let b = p[i]

        func make(_ kind: TokenKind, text: String = "", bodyStart: Int? = nil, bodyEnd: Int? = nil,
                  terminated: Bool = true, endLine: Int) -> Token {
            Token(kind: kind, start: start, end: i, line: startLine, column: startColumn, endLine: endLine,
                  text: text, bodyStart: bodyStart ?? start, bodyEnd: bodyEnd ?? i, terminated: terminated)
        }

        // Comments.
        if b == UInt8(ascii: "-"), i + 1 < n, p[i + 1] == UInt8(ascii: "-") {
            i += 2
            while i < n, p[i] != newline { i += 1 }
            return make(.lineComment, bodyStart: start + 2, bodyEnd: i, endLine: startLine)
        }
        if b == UInt8(ascii: "/"), i + 1 < n, p[i + 1] == UInt8(ascii: "*") {
            i += 2
            var depth = 1
            while i < n {
                let c = p[i]
                if c == UInt8(ascii: "*"), i + 1 < n, p[i + 1] == UInt8(ascii: "/") {
                    depth -= 1
                    i += 2
                    if depth == 0 { break }
                } else if c == UInt8(ascii: "/"), i + 1 < n, p[i + 1] == UInt8(ascii: "*") {
                    depth += 1
                    i += 2
                } else {
                    if c == newline { sawNewline(at: i) }
                    i += 1
                }
            }
            let ok = depth == 0
            return make(.blockComment, bodyStart: start + 2, bodyEnd: ok ? i - 2 : i, terminated: ok, endLine: line)
        }

        // Prefixed string constants and identifiers: E'', B'', X'', N'', U&'', U&"".
        if i + 1 < n {
            let lower = b | 0x20
            if p[i + 1] == quote {
                switch lower {
                case UInt8(ascii: "e"):
                    i += 1
                    return scanQuoted(start: start, line: startLine, column: startColumn, kind: .escapeString)
                case UInt8(ascii: "b"), UInt8(ascii: "x"):
                    i += 1
                    return scanQuoted(start: start, line: startLine, column: startColumn, kind: .bitString)
                case UInt8(ascii: "n"):
                    i += 1
                    return scanQuoted(start: start, line: startLine, column: startColumn, kind: .string)
                default:
                    break
                }
            } else if lower == UInt8(ascii: "u"), p[i + 1] == UInt8(ascii: "&"), i + 2 < n {
                if p[i + 2] == quote {
                    i += 2
                    return scanQuoted(start: start, line: startLine, column: startColumn, kind: .string)
                }
                if p[i + 2] == doubleQuote {
                    i += 2
                    return scanQuotedIdentifier(start: start, line: startLine, column: startColumn)
                }
            }
        }

        if isIdentStart(b) {
            i += 1
            while i < n, isIdentContinue(p[i]) { i += 1 }
            return make(.word, text: lowercasedASCII(start, i), endLine: startLine)
        }
        if b == quote {
            return scanQuoted(start: start, line: startLine, column: startColumn, kind: .string)
        }
        if b == doubleQuote {
            return scanQuotedIdentifier(start: start, line: startLine, column: startColumn)
        }
        if b == dollar {
            return scanDollar(start: start, line: startLine, column: startColumn)
        }
        if isDigit(b) || (b == UInt8(ascii: ".") && i + 1 < n && isDigit(p[i + 1])) {
            i += 1
            while i < n {
                let c = p[i]
                if isDigit(c) || c == UInt8(ascii: ".") || c == UInt8(ascii: "_")
                    || (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) {
                    i += 1
                } else if (c == UInt8(ascii: "+") || c == UInt8(ascii: "-")),
                          p[i - 1] | 0x20 == UInt8(ascii: "e"), i + 1 < n, isDigit(p[i + 1]) {
                    i += 1
                } else {
                    break
                }
            }
            return make(.number, endLine: startLine)
        }
        if isOperatorChar(b) {
            i += 1
            while i < n, isOperatorChar(p[i]) {
                // A comment start ends the operator.
                if (p[i] == UInt8(ascii: "-") && i + 1 < n && p[i + 1] == UInt8(ascii: "-"))
                    || (p[i] == UInt8(ascii: "/") && i + 1 < n && p[i + 1] == UInt8(ascii: "*")) {
                    break
                }
                i += 1
            }
            return make(.op, text: rawText(start, i), endLine: startLine)
        }
        i += 1
        switch b {
        case UInt8(ascii: "("): return make(.leftParen, text: "(", endLine: startLine)
        case UInt8(ascii: ")"): return make(.rightParen, text: ")", endLine: startLine)
        case UInt8(ascii: "["): return make(.leftBracket, text: "[", endLine: startLine)
        case UInt8(ascii: "]"): return make(.rightBracket, text: "]", endLine: startLine)
        case UInt8(ascii: ","): return make(.comma, text: ",", endLine: startLine)
        case UInt8(ascii: ";"): return make(.semicolon, text: ";", endLine: startLine)
        case UInt8(ascii: "."): return make(.dot, text: ".", endLine: startLine)
        case UInt8(ascii: ":"):
            if i < n, p[i] == UInt8(ascii: ":") {
                i += 1
                return make(.doubleColon, text: "::", endLine: startLine)
            }
            return make(.colon, text: ":", endLine: startLine)
        default:
            return make(.other, text: rawText(start, i), endLine: startLine)
        }
    }

    /// Scans a quoted string whose opening `'` is at `i`; the prefix (if any) starts at `start`.
    mutating func scanQuoted(start: Int, line startLine: Int, column startColumn: Int, kind: TokenKind) -> Token {
        let n = p.count
        i += 1  // opening quote
        let bodyStart = i
        var terminated = false
        let escapes = kind == .escapeString
        while i < n {
            let c = p[i]
            if c == quote {
                if i + 1 < n, p[i + 1] == quote {
                    i += 2
                    continue
                }
                terminated = true
                break
            }
            if escapes, c == backslash, i + 1 < n {
                if p[i + 1] == newline { sawNewline(at: i + 1) }
                i += 2
                continue
            }
            if c == newline { sawNewline(at: i) }
            i += 1
        }
        let bodyEnd = i
        if terminated { i += 1 }
        return Token(kind: kind, start: start, end: i, line: startLine, column: startColumn, endLine: line,
                     text: "", bodyStart: bodyStart, bodyEnd: bodyEnd, terminated: terminated)
    }

    /// Scans a quoted identifier whose opening `"` is at `i`.
    mutating func scanQuotedIdentifier(start: Int, line startLine: Int, column startColumn: Int) -> Token {
        let n = p.count
        i += 1
        let bodyStart = i
        var terminated = false
        var hasDoubled = false
        while i < n {
            let c = p[i]
            if c == doubleQuote {
                if i + 1 < n, p[i + 1] == doubleQuote {
                    hasDoubled = true
                    i += 2
                    continue
                }
                terminated = true
                break
            }
            if c == newline { sawNewline(at: i) }
            i += 1
        }
        let bodyEnd = i
        if terminated { i += 1 }
        var name = rawText(bodyStart, bodyEnd)
        if hasDoubled { name = name.replacingDoubledQuotes() }
        return Token(kind: .quotedIdentifier, start: start, end: i, line: startLine, column: startColumn,
                     endLine: line, text: name, bodyStart: bodyStart, bodyEnd: bodyEnd, terminated: terminated)
    }

    /// Scans `$1`, a `$tag$ … $tag$` string, or a lone `$`.
    mutating func scanDollar(start: Int, line startLine: Int, column startColumn: Int) -> Token {
        let n = p.count
        var j = i + 1
        if j < n, isDigit(p[j]) {
            while j < n, isDigit(p[j]) { j += 1 }
            i = j
            return Token(kind: .parameter, start: start, end: i, line: startLine, column: startColumn,
                         endLine: startLine, text: rawText(start, i), bodyStart: start, bodyEnd: i, terminated: true)
        }
        if j < n, isIdentStart(p[j]) {
            j += 1
            while j < n, isTagContinue(p[j]) { j += 1 }
        }
        guard j < n, p[j] == dollar else {
            i += 1
            return Token(kind: .other, start: start, end: i, line: startLine, column: startColumn,
                         endLine: startLine, text: "$", bodyStart: start, bodyEnd: i, terminated: true)
        }
        let tagLength = j - start + 1  // including both `$`
        let bodyStart = j + 1
        var k = bodyStart
        var bodyEnd = n
        var terminated = false
        while k < n {
            let c = p[k]
            if c == dollar, k + tagLength <= n {
                var same = true
                var m = 1
                while m < tagLength {
                    if p[k + m] != p[start + m] {
                        same = false
                        break
                    }
                    m += 1
                }
                if same {
                    bodyEnd = k
                    terminated = true
                    break
                }
            } else if c == newline {
                sawNewline(at: k)
            }
            k += 1
        }
        i = terminated ? bodyEnd + tagLength : n
        return Token(kind: .dollarString, start: start, end: i, line: startLine, column: startColumn,
                     endLine: line, text: "", bodyStart: bodyStart, bodyEnd: bodyEnd, terminated: terminated)
    }

    func rawText(_ from: Int, _ to: Int) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: p[from..<to]), as: UTF8.self)
    }

    /// PostgreSQL folds unquoted identifiers to lower case for ASCII letters only.
    func lowercasedASCII(_ from: Int, _ to: Int) -> String {
        let count = to - from
        if count <= 32 {
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: count) { buffer in
                for k in 0..<count {
                    let c = p[from + k]
                    buffer[k] = (c >= 0x41 && c <= 0x5A) ? c | 0x20 : c
                }
                return String(decoding: UnsafeBufferPointer(rebasing: buffer[0..<count]), as: UTF8.self)
            }
        }
        var out = [UInt8](repeating: 0, count: count)
        for k in 0..<count {
            let c = p[from + k]
            out[k] = (c >= 0x41 && c <= 0x5A) ? c | 0x20 : c
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension String {
    /// `a""b` → `a"b`.
    func replacingDoubledQuotes() -> String {
        var out = ""
        var previousWasQuote = false
        for ch in self {
            if ch == "\"" {
                if previousWasQuote {
                    previousWasQuote = false
                    continue
                }
                previousWasQuote = true
            } else {
                previousWasQuote = false
            }
            out.append(ch)
        }
        return out
    }
}
