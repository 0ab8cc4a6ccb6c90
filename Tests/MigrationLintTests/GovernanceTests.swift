import Testing
@testable import MigrationLint

@Suite("Governance: versions and checksums")
struct GovernanceTests {
    @Test func checksumIsSHA256OfTheFileText() {
        #expect(MigrationFile(path: "m/0001_a.sql", text: "").checksum == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(MigrationFile(path: "m/0001_a.sql", text: "abc").checksum == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func duplicateVersionsAreFindings() {
        let files = [
            MigrationFile(path: "m/0001_a.sql", text: "SELECT 1;"),
            MigrationFile(path: "m/0002_b.sql", text: "SELECT 1;"),
            MigrationFile(path: "m/0002_c.sql", text: "SELECT 1;"),
            MigrationFile(path: "m/2_d.sql", text: "SELECT 1;"),
            MigrationFile(path: "m/README.sql", text: "SELECT 1;"),
        ]
        let findings = MigrationLinter().lint(files)
        #expect(ruleIDs(findings) == ["duplicate-version", "duplicate-version"])
        #expect(findings.map(\.path) == ["m/0002_c.sql", "m/2_d.sql"])
        #expect(findings[0].message.contains("0002_b.sql"))
        #expect(findings[0].line == 1 && findings[0].column == 1 && findings[0].statement == nil)
    }

    @Test func changedChecksumOfAnAppliedMigration() {
        let original = "CREATE TABLE internal.t (id int);\n"
        let files = [
            MigrationFile(path: "m/0001_a.sql", text: original),
            MigrationFile(path: "m/0002_b.sql", text: "SELECT 2;\n"),
            MigrationFile(path: "m/0003_c.sql", text: "SELECT 3;\n"),
        ]
        let applied = [
            AppliedMigration(name: "0001_a.sql", checksum: MigrationFile(path: "x", text: original).checksum),
            AppliedMigration(name: "0002_b.sql", checksum: MigrationFile(path: "x", text: "SELECT 1;\n").checksum),
        ]
        let findings = MigrationLinter().lint(files, applied: applied)
        #expect(ruleIDs(findings) == ["checksum-changed"])
        #expect(findings[0].path == "m/0002_b.sql")
        #expect(MigrationLinter().checkApplied(files, applied: applied).count == 1)
        #expect(files[0].checksum == applied[0].checksum)
    }
}
