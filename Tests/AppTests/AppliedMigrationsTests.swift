@testable import App
import Database
import Foundation
import MigrationLint
import Testing
import TestSupport

@Suite struct AppliedMigrationsTests {
    @Test func lintAgainstAnAppliedDatabaseFlagsAChangedFile() async throws {
        let url = try await TestDatabase.shared.freshDatabase()
        defer { Task { await TestDatabase.shared.drop(url.database) } }
        let applied = try await AppliedMigrations.read(from: url.urlString)
        let bundled = try Migration.bundled()
        #expect(applied.map(\.name) == bundled.map(\.name))
        #expect(applied.map(\.checksum) == bundled.map(\.checksum))

        var files = bundled.map { MigrationFile(path: "Migrations/\($0.name)", text: $0.sql) }
        let records = applied.map { AppliedMigration(name: $0.name, checksum: $0.checksum) }
        #expect(MigrationLinter().lint(files, applied: records).isEmpty)
        files[0].text += "\n-- an edit after release\n"
        let findings = MigrationLinter().lint(files, applied: records)
        #expect(findings.map(\.ruleID) == ["checksum-changed"])
        #expect(findings.first?.path == files[0].path)
    }
}
