import Testing
@testable import MigrationLint

@Suite("Allow markers")
struct AllowMarkerTests {
    @Test func validMarkerSilencesItsRuleForTheStatementBelow() {
        let findings = lint("""
            -- lint:allow drop-column reason: unused since release 12
            ALTER TABLE public.profiles DROP COLUMN legacy;
            """)
        #expect(findings.isEmpty)
    }

    @Test func markerMayShareACommentBlockWithOtherComments() {
        let findings = lint("""
            -- lint:allow drop-table reason: replaced by posts_v2
            -- Old posts were copied in 0006.
            DROP TABLE public.posts;
            """)
        #expect(findings.isEmpty)
    }

    @Test func missingReasonIsAFindingAndSilencesNothing() {
        let findings = lint("""
            -- lint:allow drop-table
            DROP TABLE public.posts;
            """)
        #expect(ruleIDs(findings) == ["allow-missing-reason", "drop-table"])
        #expect(positions(findings, rule: "allow-missing-reason") == ["1:1"])
        #expect(findings[0].statement == "-- lint:allow drop-table")
    }

    @Test func unknownRuleIsAFindingAndSilencesNothing() {
        let findings = lint("""
            -- lint:allow drop-tabel reason: typo
            DROP TABLE public.posts;
            """)
        #expect(ruleIDs(findings) == ["allow-unknown-rule", "drop-table"])
        #expect(findings[0].message.contains("unknown rule drop-tabel"))
    }

    @Test func markerNotDirectlyAboveHasNoEffect() {
        let blankLine = lint("""
            -- lint:allow drop-table reason: replaced by posts_v2

            DROP TABLE public.posts;
            """)
        #expect(ruleIDs(blankLine) == ["drop-table"])

        let aboveThePreviousStatement = lint("""
            -- lint:allow drop-table reason: replaced by posts_v2
            SELECT 1;
            DROP TABLE public.posts;
            """)
        #expect(ruleIDs(aboveThePreviousStatement) == ["drop-table"])

        let trailingComment = lint("""
            SELECT 1; -- lint:allow drop-table reason: replaced by posts_v2
            DROP TABLE public.posts;
            """)
        #expect(ruleIDs(trailingComment) == ["drop-table"])

        let below = lint("""
            DROP TABLE public.posts;
            -- lint:allow drop-table reason: replaced by posts_v2
            """)
        #expect(ruleIDs(below) == ["drop-table"])
    }

    @Test func markerAppliesToTheFirstOfTwoStatementsOnALine() {
        let findings = lint("""
            -- lint:allow drop-table reason: scratch table of the importer
            DROP TABLE public.scratch_a; DROP TABLE public.scratch_b;
            """)
        #expect(positions(findings, rule: "drop-table") == ["2:30"])
    }

    @Test func markerSilencesOnlyTheRulesItNames() {
        let findings = lint("""
            -- lint:allow drop-column reason: unused since release 12
            ALTER TABLE public.profiles DROP COLUMN legacy, ALTER COLUMN bio TYPE text;
            """)
        #expect(ruleIDs(findings) == ["alter-column-type"])
    }

    @Test func markerInsideAFunctionBody() {
        let findings = lint("""
            CREATE FUNCTION public.reset() RETURNS void LANGUAGE plpgsql AS $$
            BEGIN
                -- lint:allow delete-without-where reason: the cache table is rebuilt right after
                DELETE FROM public.cache;
                DELETE FROM public.other_cache;
            END $$;
            """)
        #expect(positions(findings, rule: "delete-without-where") == ["5:5"])
    }

    @Test func markerGrammar() {
        let marker = AllowMarker.parse(comment: " lint:allow drop-table,Truncate  reason:  old data ", line: 1, column: 1, text: "")
        #expect(marker?.ruleIDs == ["drop-table", "truncate"])
        #expect(marker?.reason == "old data")
        #expect(marker?.isValid == true)
        #expect(AllowMarker.parse(comment: " lint:allowed drop-table reason: x", line: 1, column: 1, text: "") == nil)
        #expect(AllowMarker.parse(comment: " a note about lint:allow", line: 1, column: 1, text: "") == nil)
        #expect(AllowMarker.parse(comment: " lint:allow drop-table reason:", line: 1, column: 1, text: "")?.reason == nil)
    }
}
