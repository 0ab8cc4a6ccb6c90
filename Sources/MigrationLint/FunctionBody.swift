// Function bodies: the SQL inside `CREATE FUNCTION … AS $$ … $$`, `BEGIN ATOMIC … END`
// and `DO $$ … $$` is split into statements and linted like the file's own, with positions
// in the file. PL/pgSQL control structure (BEGIN, IF … THEN, LOOP, EXCEPTION WHEN …) is
// peeled off so the SQL statement inside is what gets classified.

/// The statements inside a routine or `DO` body.
struct FunctionBody: Sendable {
    /// The tokens the statements index into: the body's own for string bodies, the file's
    /// for `BEGIN ATOMIC` bodies.
    let source: TokenizedSource
    /// Whether `source` was tokenized from the body (so its markers and problems are new).
    let isOwnSource: Bool
    let statements: [SQLStatement]
    /// Statements that reached the end of the body with open parentheses.
    let unbalanced: [SQLStatement]

    /// Languages whose bodies are SQL the linter can read.
    static let lintedLanguages: Set<String> = ["sql", "plpgsql"]

    /// The body of `statement`, when it is a routine or `DO` block in SQL or PL/pgSQL.
    static func extract(from statement: AnalyzedStatement) -> FunctionBody? {
        let parent = statement.statement
        let depth = parent.depth + 1
        switch statement.kind {
        case .createRoutine(let info):
            let language = info.language ?? "sql"
            guard lintedLanguages.contains(language) else { return nil }
            if let atomic = info.atomicBody, !atomic.isEmpty {
                let lower = parent.range.lowerBound
                let bounds = (lower + atomic.lowerBound)..<(lower + atomic.upperBound)
                let pieces = StatementSplitter.split(parent.source.tokens, in: bounds)
                return FunctionBody(source: parent.source, isOwnSource: false,
                                    pieces: pieces.map { ($0, false) }, depth: depth)
            }
            guard let index = info.bodyTokenIndex else { return nil }
            return fromString(parent.tokens[index], of: parent.source, plpgsql: language == "plpgsql", depth: depth)
        case .doBlock(let index, let language):
            guard let index, lintedLanguages.contains(language) else { return nil }
            return fromString(parent.tokens[index], of: parent.source, plpgsql: language == "plpgsql", depth: depth)
        default:
            return nil
        }
    }

    private init(source: TokenizedSource, isOwnSource: Bool, pieces: [(StatementSplitter.Piece, Bool)], depth: Int) {
        self.source = source
        self.isOwnSource = isOwnSource
        var statements: [SQLStatement] = []
        var unbalanced: [SQLStatement] = []
        for (piece, conditional) in pieces where !piece.range.isEmpty {
            let statement = SQLStatement(source: source, range: piece.range, depth: depth, isConditional: conditional)
            statements.append(statement)
            if piece.unbalanced { unbalanced.append(statement) }
        }
        self.statements = statements
        self.unbalanced = unbalanced
    }

    private static func fromString(_ token: Token, of parent: TokenizedSource, plpgsql: Bool, depth: Int) -> FunctionBody? {
        // An unterminated body is already a parse error; its "content" is the rest of the file.
        guard token.terminated else { return nil }
        let source: TokenizedSource
        if token.kind == .dollarString {
            // The content is verbatim: lex it in place, starting where it starts in the file.
            var column = token.column
            for b in parent.bytes[token.start..<token.bodyStart] where b & 0xC0 != 0x80 { column += 1 }
            source = Tokenizer(bytes: Array(parent.bytes[token.bodyStart..<token.bodyEnd]),
                               startLine: token.line, startColumn: column).tokenize()
        } else {
            // Quotes and escapes were undone: map each token back to where it is in the file.
            let (bytes, offsets) = parent.unescapedBytes(of: token)
            source = BodyPositions(parent: parent, origin: token, offsets: offsets)
                .remap(Tokenizer(bytes: bytes).tokenize())
        }
        let pieces = StatementSplitter.split(source)
        let statements = plpgsql ? PLpgSQLBlocks.peel(pieces, in: source) : pieces.map { ($0, false) }
        return FunctionBody(source: source, isOwnSource: true, pieces: statements, depth: depth)
    }
}

/// Maps positions in an unescaped string body back to lines and columns of the file.
private struct BodyPositions {
    let parent: TokenizedSource
    let origin: Token
    let offsets: [Int]

    func remap(_ body: TokenizedSource) -> TokenizedSource {
        // File offsets of every token start and last byte, resolved in one forward pass.
        var wanted: [Int] = []
        for token in body.tokens + body.comments {
            wanted.append(fileOffset(token.start))
            wanted.append(fileOffset(max(token.start, token.end - 1)))
        }
        let positions = resolve(Set(wanted).sorted())
        func moved(_ token: Token) -> Token {
            var token = token
            let start = positions[fileOffset(token.start)] ?? (origin.line, origin.column)
            token.line = start.0
            token.column = start.1
            token.endLine = positions[fileOffset(max(token.start, token.end - 1))]?.0 ?? start.0
            return token
        }
        let tokens = body.tokens.map(moved)
        let comments = body.comments.map(moved)
        let problems = (tokens + comments).filter { !$0.terminated }
            .map { TokenizeProblem(what: "unterminated token", line: $0.line, column: $0.column) }
        let described = zip(problems, body.problems).map { TokenizeProblem(what: $1.what, line: $0.line, column: $0.column) }
        return TokenizedSource(bytes: body.bytes, tokens: tokens, comments: comments, problems: described)
    }

    private func fileOffset(_ bodyOffset: Int) -> Int {
        bodyOffset < offsets.count ? offsets[bodyOffset] : origin.bodyEnd
    }

    /// Line and column of each sorted file offset, counting from the string token's start.
    private func resolve(_ sorted: [Int]) -> [Int: (Int, Int)] {
        var result: [Int: (Int, Int)] = [:]
        var line = origin.line
        var column = origin.column
        var k = origin.start
        let bytes = parent.bytes
        for offset in sorted {
            while k < offset {
                if bytes[k] == UInt8(ascii: "\n") {
                    line += 1
                    column = 1
                } else if bytes[k] & 0xC0 != 0x80 {
                    column += 1
                }
                k += 1
            }
            result[offset] = (line, column)
        }
        return result
    }
}

/// Peels PL/pgSQL block structure off the front of `;`-separated pieces of a body.
enum PLpgSQLBlocks {
    private enum Block {
        case begin(exception: Bool)
        case ifBlock, caseBlock, loop
    }

    /// The pieces' SQL statements (control keywords removed, declarations dropped), each
    /// with whether it runs under a condition.
    static func peel(_ pieces: [StatementSplitter.Piece], in source: TokenizedSource) -> [(StatementSplitter.Piece, Bool)] {
        var result: [(StatementSplitter.Piece, Bool)] = []
        var stack: [Block] = []
        var declaring = false
        for piece in pieces {
            let t = TokenView(base: source.tokens, range: piece.range)
            var i = 0
            var startedBlock = false
            peeling: while i < t.count {
                let token = t[i]
                if token.kind == .op, token.text == "<<" {
                    // <<label>>
                    var k = i + 1
                    while k < t.count, !(t[k].kind == .op && t[k].text == ">>") { k += 1 }
                    i = k + 1
                    continue
                }
                guard token.kind == .word else { break }
                switch token.text {
                case "declare":
                    declaring = true
                    i += 1
                case "begin":
                    declaring = false
                    startedBlock = true
                    stack.append(.begin(exception: false))
                    i += 1
                case "if":
                    stack.append(.ifBlock)
                    i = afterWord("then", t, from: i + 1)
                case "elsif", "elseif":
                    i = afterWord("then", t, from: i + 1)
                case "else":
                    i += 1
                case "case":
                    stack.append(.caseBlock)
                    i += 1
                    while i < t.count, !t.isWord(i, "when") { i += 1 }
                case "when":
                    i = afterWord("then", t, from: i + 1)
                case "exception":
                    if let index = stack.lastIndex(where: { if case .begin = $0 { return true } else { return false } }) {
                        stack[index] = .begin(exception: true)
                    }
                    i += 1
                case "loop":
                    stack.append(.loop)
                    i += 1
                case "for", "foreach", "while":
                    stack.append(.loop)
                    i = afterWord("loop", t, from: i + 1)
                case "end":
                    if !stack.isEmpty { stack.removeLast() }
                    i = t.count
                default:
                    break peeling
                }
            }
            if declaring && !startedBlock { continue }
            guard i < t.count else { continue }
            let conditional = stack.contains { block in
                switch block {
                case .ifBlock, .caseBlock, .begin(exception: true): return true
                default: return false
                }
            }
            let range = (piece.range.lowerBound + i)..<piece.range.upperBound
            result.append((StatementSplitter.Piece(range: range, unbalanced: piece.unbalanced), conditional))
        }
        return result
    }

    /// Index after the first top-level `word` at or after `from` (end of view when missing).
    private static func afterWord(_ word: String, _ t: TokenView, from: Int) -> Int {
        guard let index = t.firstTopLevel(word, from: from) else { return t.count }
        return index + 1
    }
}
