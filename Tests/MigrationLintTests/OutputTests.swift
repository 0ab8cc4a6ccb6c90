import Foundation
import Testing
@testable import MigrationLint

@Suite("Output: human text, JSON, exit codes, rule list")
struct OutputTests {
    private let findings = lint("""
        -- lint:allow nothing-like-this reason: x
        DELETE FROM public.sessions;
        """, path: "migrations/0003_x.sql") + MigrationLinter().lint([
            MigrationFile(path: "m/0001_a.sql", text: ""), MigrationFile(path: "m/0001_b.sql", text: ""),
        ])

    @Test func jsonIsAnArrayOfFixedShapeObjects() throws {
        let json = FindingFormatter.json(findings)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        #expect(parsed.count == 3)
        for object in parsed {
            #expect(Set(object.keys) == ["rule", "message", "hint", "path", "line", "column", "statement"])
        }
        #expect(parsed[1]["rule"] as? String == "delete-without-where")
        #expect(parsed[1]["path"] as? String == "migrations/0003_x.sql")
        #expect(parsed[1]["line"] as? Int == 2)
        #expect(parsed[1]["column"] as? Int == 1)
        #expect(parsed[1]["statement"] as? String == "DELETE FROM public.sessions")
        #expect(parsed[2]["statement"] is NSNull)
        let decoded = try JSONDecoder().decode([Finding].self, from: Data(json.utf8))
        #expect(decoded == findings)
        #expect(FindingFormatter.json([]) == "[]\n")
    }

    @Test func humanText() {
        let text = FindingFormatter.human(findings, filesChecked: 3)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0].hasPrefix("migrations/0003_x.sql:1:1: error[allow-unknown-rule] "))
        #expect(lines.contains("migrations/0003_x.sql:2:1: error[delete-without-where] DELETE without WHERE deletes every row of the table."))
        #expect(lines.contains("  2 | DELETE FROM public.sessions"))
        #expect(lines.contains { $0.hasPrefix("    = hint: Add a WHERE clause") })
        #expect(lines.contains { $0.hasPrefix("m/0001_b.sql:1:1: error[duplicate-version]") })
        #expect(text.hasSuffix("3 findings in 2 files (3 files checked).\n"))
        #expect(FindingFormatter.human([], filesChecked: 2) == "No findings (2 files checked).\n")
        #expect(FindingFormatter.human([]) == "No findings.\n")
    }

    @Test func exitCodes() {
        #expect(LintExitCode(findings: []) == .clean)
        #expect(LintExitCode(findings: findings) == .findings)
        #expect(LintExitCode.clean.rawValue == 0 && LintExitCode.findings.rawValue == 1 && LintExitCode.unreadableInput.rawValue == 2)
    }

    @Test func ruleRegistry() {
        #expect(Set(Rules.ids).count == Rules.ids.count)
        #expect(Rules.ids.contains("drop-column"))
        for rule in Rules.all {
            #expect(!rule.message.isEmpty && !rule.message.contains("\n"))
            #expect(!rule.hint.isEmpty && !rule.hint.contains("\n"))
            #expect(rule.id.allSatisfy { $0.isLowercase || $0 == "-" })
        }
    }

    @Test func unreadableInput() throws {
        #expect(throws: MigrationFileError.self) { try MigrationFile.load(paths: ["/nonexistent/0001_x.sql"]) }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lint-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data("SELECT 2;".utf8).write(to: folder.appendingPathComponent("0002_b.sql"))
        try Data("SELECT 1;".utf8).write(to: folder.appendingPathComponent("0001_a.sql"))
        try Data("notes".utf8).write(to: folder.appendingPathComponent("README.md"))
        try Data([0x53, 0xFF, 0xFE]).write(to: folder.appendingPathComponent("bad.txt"))
        let files = try MigrationFile.load(paths: [folder.path])
        #expect(files.map(\.name) == ["0001_a.sql", "0002_b.sql"])
        #expect(throws: MigrationFileError.self) {
            try MigrationFile.load(paths: [folder.appendingPathComponent("bad.txt").path])
        }
    }
}
