// Governance: rules about the set of migration files rather than their statements.

extension RuleDescriptor {
    /// Two migration files with the same version number.
    public static let duplicateVersion = RuleDescriptor(
        id: "duplicate-version", category: .governance,
        message: "Two migration files share a version number, so their order is undefined.",
        hint: "Give each migration file its own, increasing version prefix.", allowable: false)

    /// An applied migration whose file no longer has the checksum the database recorded.
    public static let checksumChanged = RuleDescriptor(
        id: "checksum-changed", category: .governance,
        message: "An already-applied migration was changed: its checksum differs from the one the database recorded.",
        hint: "Restore the file as it was applied and put the change in a new migration.", allowable: false)
}

/// A migration the database records as applied.
public struct AppliedMigration: Sendable, Hashable, Codable {
    /// The migration's file name, e.g. `0001_roles_and_auth.sql`.
    public var name: String
    /// The recorded checksum: SHA-256 of the file's UTF-8 bytes, lowercase hex.
    public var checksum: String

    public init(name: String, checksum: String) {
        self.name = name
        self.checksum = checksum
    }
}

enum GovernanceRules {
    /// The version of a migration file: its name's leading digits (`0002_x.sql` → `0002`).
    static func version(ofPath path: String) -> String? {
        let name = MigrationFile.fileName(of: path)
        let digits = name.prefix(while: { $0.isASCII && $0.isNumber })
        return digits.isEmpty ? nil : String(digits)
    }

    /// Files whose version (compared as a number) an earlier file already has.
    static func duplicateVersions(_ files: [MigrationFile]) -> [Finding] {
        var firstByVersion: [String: String] = [:]
        var findings: [Finding] = []
        for file in files {
            guard let version = version(ofPath: file.path) else { continue }
            let normalized = String(version.drop(while: { $0 == "0" }))
            if let first = firstByVersion[normalized] {
                findings.append(Finding(
                    rule: .duplicateVersion, detail: "version \(version) is also used by \(MigrationFile.fileName(of: first))",
                    path: file.path, line: 1, column: 1, statement: nil))
            } else {
                firstByVersion[normalized] = file.path
            }
        }
        return findings
    }

    /// Files whose checksum differs from what the database recorded under their name.
    static func changedChecksums(_ files: [MigrationFile], applied: [AppliedMigration]) -> [Finding] {
        let recorded = Dictionary(applied.map { ($0.name, $0.checksum.lowercased()) }, uniquingKeysWith: { a, _ in a })
        var findings: [Finding] = []
        for file in files {
            let name = MigrationFile.fileName(of: file.path)
            guard let expected = recorded[name] else { continue }
            let actual = file.checksum
            if actual != expected {
                findings.append(Finding(
                    rule: .checksumChanged,
                    detail: "database has \(expected.prefix(12))…, file has \(actual.prefix(12))…",
                    path: file.path, line: 1, column: 1, statement: nil))
            }
        }
        return findings
    }
}
