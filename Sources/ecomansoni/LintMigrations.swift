import App
import ArgumentParser
import Foundation
import MigrationLint

/// `ecomansoni lint-migrations`: the statement-level migration safety check.
struct LintMigrations: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lint-migrations",
        abstract: "Lint SQL migrations statement by statement (exit 0 clean, 1 findings, 2 unreadable input).")

    enum Format: String, ExpressibleByArgument {
        case human, json
    }

    @Argument(help: "Migration files or folders (default: the project's migrations folder).")
    var paths: [String] = []

    @Option(help: "Output format: human or json.")
    var format: Format = .human

    @Option(help: "Also compare checksums with what this database has applied (postgres:// URL).")
    var applied: String?

    @Flag(help: "List the rule ids and exit.")
    var listRules = false

    func run() async throws {
        if listRules {
            for rule in Rules.all { print("\(rule.id)\t\(rule.message)") }
            return
        }
        let files: [MigrationFile]
        do {
            files = try MigrationFile.load(paths: paths.isEmpty ? [MigrationsFolder.path] : paths)
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(LintExitCode.unreadableInput.rawValue)
        }
        var findings: [Finding]
        if let applied {
            do {
                let records = try await AppliedMigrations.read(from: applied)
                findings = MigrationLinter().lint(files, applied: records.map { AppliedMigration(name: $0.name, checksum: $0.checksum) })
            } catch {
                FileHandle.standardError.write(Data("error: cannot read applied migrations from \(applied): \(error)\n".utf8))
                throw ExitCode(LintExitCode.unreadableInput.rawValue)
            }
        } else {
            findings = MigrationLinter().lint(files)
        }
        switch format {
        case .human: print(FindingFormatter.human(findings, filesChecked: files.count), terminator: "")
        case .json: print(FindingFormatter.json(findings))
        }
        let code = LintExitCode(findings: findings)
        if code != .clean { throw ExitCode(code.rawValue) }
    }
}

/// Where the project's migrations are: the source folder when run from a checkout, else
/// the copy bundled with the binary.
enum MigrationsFolder {
    static var path: String {
        let source = "Sources/Database/Migrations"
        if FileManager.default.fileExists(atPath: source) { return source }
        return AppliedMigrations.bundledFolder ?? source
    }
}
