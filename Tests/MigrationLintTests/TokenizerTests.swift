import Testing
@testable import MigrationLint

@Suite("Tokenizer")
struct TokenizerTests {
    private func kinds(_ sql: String) -> [TokenKind] {
        Tokenizer(sql).tokenize().tokens.map(\.kind)
    }

    @Test func doubledQuotesStayInsideOneString() {
        let source = Tokenizer("SELECT 'it''s; DROP TABLE x;' ;").tokenize()
        #expect(source.tokens.map(\.kind) == [.word, .string, .semicolon])
        #expect(source.stringValue(of: source.tokens[1]) == "it's; DROP TABLE x;")
        #expect(source.problems.isEmpty)
    }

    @Test func escapeStringWithBackslashQuote() {
        let source = Tokenizer(#"SELECT E'a\'; b', e'\\', 'c\';"#).tokenize()
        #expect(source.tokens.map(\.kind) == [.word, .escapeString, .comma, .escapeString, .comma, .string, .semicolon])
        #expect(source.stringValue(of: source.tokens[1]) == "a'; b")
        #expect(source.stringValue(of: source.tokens[3]) == #"\"#)
        // In a standard string a backslash is an ordinary character.
        #expect(source.stringValue(of: source.tokens[5]) == #"c\"#)
    }

    @Test func nestedBlockComments() {
        let source = Tokenizer("/* a /* b; */ c; */ SELECT 1; /* x */").tokenize()
        #expect(source.comments.count == 2)
        #expect(source.tokens.map(\.kind) == [.word, .number, .semicolon])
        #expect(source.problems.isEmpty)
    }

    @Test func unterminatedNestedCommentIsAProblem() {
        let source = Tokenizer("/* a /* b */ SELECT 1;").tokenize()
        #expect(source.tokens.isEmpty)
        #expect(source.problems == [TokenizeProblem(what: "unterminated /* comment", line: 1, column: 1)])
    }

    @Test func dollarTagContainingDoubleDollar() {
        let sql = "SELECT $fn$ a $$ b; $other$ c $fn$, $$x$$;"
        let source = Tokenizer(sql).tokenize()
        #expect(source.tokens.map(\.kind) == [.word, .dollarString, .comma, .dollarString, .semicolon])
        #expect(source.stringValue(of: source.tokens[1]) == " a $$ b; $other$ c ")
        #expect(source.stringValue(of: source.tokens[3]) == "x")
    }

    @Test func dollarIsAlsoParameterAndIdentifierCharacter() {
        let source = Tokenizer("SELECT $1, foo$bar, $ FROM t").tokenize()
        #expect(source.tokens.map(\.kind) == [.word, .parameter, .comma, .word, .comma, .other, .word, .word])
        #expect(source.tokens[3].text == "foo$bar")
    }

    @Test func quotedIdentifiersWithSemicolonsAndDoubledQuotes() {
        let source = Tokenizer(#"SELECT "a;b", "Say ""hi""", U&"d\0061t" FROM "T";"#).tokenize()
        let identifiers = source.tokens.filter { $0.kind == .quotedIdentifier }.map(\.text)
        #expect(identifiers == ["a;b", #"Say "hi""#, #"d\0061t"#, "T"])
        #expect(source.tokens.filter { $0.kind == .semicolon }.count == 1)
    }

    @Test func unquotedWordsAreFoldedToLowerCase() {
        let source = Tokenizer("Create TABLE Public.Ünïcode").tokenize()
        #expect(source.tokens.map(\.text) == ["create", "table", "public", ".", "Ünïcode".lowercasedASCIIOnly])
    }

    @Test func lineCommentsEndOperatorsButNotInsideStrings() {
        let source = Tokenizer("SELECT 1--2;\n+ '--x';").tokenize()
        #expect(source.tokens.map(\.kind) == [.word, .number, .op, .string, .semicolon])
        #expect(source.comments.count == 1)
    }

    @Test func prefixedConstants() {
        #expect(kinds("SELECT B'101', X'1F', N'x', U&'d\\0061t', E'\\n'")
            == [.word, .bitString, .comma, .bitString, .comma, .string, .comma, .string, .comma, .escapeString])
    }

    @Test func positionsCountLinesAndUnicodeScalars() {
        let sql = "SELECT 'é€😀', x\n  FROM /* ü\n */ t"
        let tokens = Tokenizer(sql).tokenize().tokens
        #expect(tokens.map { "\($0.line):\($0.column)" } == ["1:1", "1:8", "1:13", "1:15", "2:3", "3:5"])
    }

    @Test func startPositionOffsetsTheFirstLineOnly() {
        let tokens = Tokenizer("a\n b", startLine: 10, startColumn: 7).tokenize().tokens
        #expect(tokens.map { "\($0.line):\($0.column)" } == ["10:7", "11:2"])
    }

    @Test func unterminatedLiteralsAreReported() {
        #expect(Tokenizer("SELECT 'abc").tokenize().problems.map(\.what) == ["unterminated quoted string"])
        #expect(Tokenizer("SELECT $a$ abc $b$").tokenize().problems.map(\.what) == ["unterminated dollar-quoted string"])
        #expect(Tokenizer("SELECT \"abc").tokenize().problems.map(\.what) == ["unterminated quoted identifier"])
        #expect(Tokenizer("SELECT E'abc\\'").tokenize().problems.map(\.what) == ["unterminated quoted string"])
    }
}

extension String {
    /// Lower-cases ASCII letters only, as PostgreSQL folds unquoted identifiers.
    var lowercasedASCIIOnly: String {
        String(decoding: utf8.map { ($0 >= 0x41 && $0 <= 0x5A) ? $0 | 0x20 : $0 }, as: UTF8.self)
    }
}
