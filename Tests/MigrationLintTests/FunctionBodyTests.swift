import Testing
@testable import MigrationLint

@Suite("Function bodies are linted")
struct FunctionBodyTests {
    @Test func deleteWithoutWhereInsidePlpgsqlFunction() {
        let findings = lint("""
            CREATE OR REPLACE FUNCTION public.purge() RETURNS void
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $fn$
            DECLARE
                n integer := 0;
            BEGIN
                FOR i IN 1..3 LOOP
                    DELETE FROM public.sessions;
                END LOOP;
                UPDATE public.profiles SET bio = '' WHERE id = auth.uid();
            EXCEPTION WHEN others THEN
                UPDATE public.profiles SET bio = '';
            END
            $fn$;
            """)
        #expect(ruleIDs(findings) == ["delete-without-where", "update-without-where"])
        #expect(findings.map { "\($0.line):\($0.column)" } == ["8:9", "12:5"])
        #expect(findings[0].statement == "DELETE FROM public.sessions")
    }

    @Test func bodyInSingleQuotesAndEscapeString() {
        let findings = lint("""
            CREATE FUNCTION a() RETURNS void LANGUAGE sql AS 'DELETE FROM public.t; SELECT ''x''';
            CREATE FUNCTION b() RETURNS void LANGUAGE 'plpgsql' AS E'BEGIN\\n  TRUNCATE public.t;\\nEND';
            """)
        #expect(ruleIDs(findings) == ["delete-without-where", "truncate"])
        #expect(findings[0].line == 1 && findings[0].column == 51)
        #expect(findings[1].line == 2 && findings[1].column == 67, "\(findings[1].column)")
    }

    @Test func doBlockAndNestedDoInsideFunction() {
        let findings = lint("""
            DO LANGUAGE plpgsql $outer$
            BEGIN
                EXECUTE 'DROP TABLE ignored_dynamic_sql';
                CREATE FUNCTION inner_fn() RETURNS void LANGUAGE sql AS $$ DROP TABLE public.t $$;
            END
            $outer$;
            """)
        #expect(ruleIDs(findings) == ["drop-table"])
        #expect(positions(findings, rule: "drop-table") == ["4:64"])
    }

    @Test func otherLanguagesAreNotRead() {
        let findings = lint("""
            CREATE FUNCTION js() RETURNS void LANGUAGE plv8 AS $$ DELETE FROM t; $$;
            CREATE FUNCTION c_fn() RETURNS void LANGUAGE c AS 'libfoo', 'DELETE FROM t';
            """)
        #expect(findings.isEmpty)
    }

    @Test func tablesCreatedInABodyCountForLaterStatements() {
        let findings = lint("""
            DO $$ BEGIN CREATE TABLE internal.t (id int); END $$;
            CREATE INDEX t_idx ON internal.t (id);
            """)
        #expect(findings.isEmpty)
    }

    @Test func rlsEnabledInsideADoBlockCounts() {
        let findings = lint("""
            CREATE TABLE public.notes (id int);
            DO $$ BEGIN EXECUTE 'x'; ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY; END $$;
            """)
        #expect(findings.isEmpty)
    }

    @Test func problemsInsideABodyArePositionedInTheFile() {
        let findings = lint("""
            CREATE FUNCTION f() RETURNS text LANGUAGE sql
            AS $$ SELECT 'open $$;
            """)
        #expect(positions(findings, rule: "parse-error") == ["2:14"])
    }
}
