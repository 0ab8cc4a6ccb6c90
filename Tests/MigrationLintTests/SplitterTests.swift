import Testing
@testable import MigrationLint

@Suite("Statement splitting")
struct SplitterTests {
    @Test func lineAndColumnOfEachStatement() {
        let sql = """
            -- header
            CREATE TABLE a (id int);

              INSERT INTO a VALUES (1); SELECT 2;
            /* c */ DELETE
              FROM a WHERE id = 1;
            """
        let found = statements(sql)
        #expect(found.map { "\($0.line):\($0.column)" } == ["2:1", "4:3", "4:29", "5:9"])
        #expect(found[3].text == "DELETE\n  FROM a WHERE id = 1")
    }

    @Test func semicolonsInsideLiteralsCommentsAndIdentifiersDoNotSplit() {
        let sql = """
            SELECT 'a;b', E'c\\';d', $$e;f$$, $t$g;$$;h$t$, "i;j" -- k;l
            /* m; /* n; */ o; */ FROM x;
            SELECT 2
            """
        #expect(statements(sql).count == 2)
    }

    @Test func emptyStatementsAreSkipped() {
        #expect(statements(";;  ; SELECT 1;;").count == 1)
    }

    @Test func beginAtomicBodyKeepsItsSemicolons() {
        let sql = """
            CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql
            BEGIN ATOMIC
                SELECT CASE WHEN true THEN 1 ELSE 2 END;
                SELECT 2;
            END;
            SELECT 3;
            """
        let found = statements(sql)
        #expect(found.map(\.line) == [1, 6])
    }

    @Test func beginOutsideRoutinesIsATransactionStatement() {
        #expect(statements("BEGIN; SELECT 1; END;").count == 3)
    }

    @Test func semicolonsInsideParenthesesDoNotSplit() {
        // psql keeps `CREATE RULE … DO (…; …)` together.
        let sql = "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2)); SELECT 1;"
        #expect(statements(sql).count == 2)
    }

    @Test func unbalancedParenthesisIsMarked() {
        let source = Tokenizer("SELECT (1; SELECT 2;").tokenize()
        let pieces = StatementSplitter.split(source)
        #expect(pieces.count == 1)
        #expect(pieces[0].unbalanced)
    }
}
