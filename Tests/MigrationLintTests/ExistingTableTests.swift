import Testing
@testable import MigrationLint

@Suite("Existing-table rules across files")
struct ExistingTableTests {
    private let first = MigrationFile(path: "migrations/0001_create.sql", text: """
        CREATE TABLE internal.jobs (id bigint PRIMARY KEY, owner uuid);
        CREATE INDEX jobs_owner_idx ON internal.jobs (owner);
        ALTER TABLE internal.jobs ADD COLUMN kind text NOT NULL;
        ALTER TABLE internal.jobs ADD CONSTRAINT jobs_owner_fk FOREIGN KEY (owner) REFERENCES auth.users (id);
        ALTER TABLE internal.jobs ALTER COLUMN kind TYPE varchar(20);
        """)

    private let second = MigrationFile(path: "migrations/0002_change.sql", text: """
        CREATE INDEX jobs_kind_idx ON internal.jobs (kind);
        ALTER TABLE internal.jobs ADD COLUMN priority int NOT NULL;
        ALTER TABLE internal.jobs ADD CONSTRAINT jobs_kind_check CHECK (kind <> '');
        ALTER TABLE internal.jobs ALTER COLUMN kind TYPE text;
        """)

    @Test func tableCreatedInTheSameFileIsNew() {
        #expect(MigrationLinter().lint([first]).isEmpty)
    }

    @Test func tableCreatedInAnEarlierFileIsExisting() {
        let findings = MigrationLinter().lint([first, second])
        #expect(findings.allSatisfy { $0.path == second.path })
        #expect(ruleIDs(findings) == [
            "index-without-concurrently", "not-null-without-default", "constraint-without-not-valid", "alter-column-type",
        ])
        #expect(findings.map(\.line) == [1, 2, 3, 4])
    }

    @Test func tableCreatedLaterInTheFileIsExistingBeforeThat() {
        let findings = lint("""
            CREATE INDEX jobs_kind_idx ON internal.jobs (kind);
            CREATE TABLE internal.jobs (id bigint PRIMARY KEY, kind text);
            CREATE INDEX jobs_kind2_idx ON internal.jobs (kind);
            """)
        #expect(positions(findings, rule: "index-without-concurrently") == ["1:1"])
    }

    @Test func namesAreComparedAsPostgreSQLFoldsThem() {
        let findings = lint("""
            CREATE TABLE internal.Jobs (id bigint);
            CREATE INDEX a ON INTERNAL.JOBS (id);
            CREATE TABLE internal."Mixed" (id bigint);
            CREATE INDEX b ON internal.mixed (id);
            CREATE TABLE plain (id bigint);
            ALTER TABLE plain ENABLE ROW LEVEL SECURITY;
            CREATE INDEX c ON public.plain (id);
            """)
        #expect(positions(findings, rule: "index-without-concurrently") == ["4:1"])
    }
}
