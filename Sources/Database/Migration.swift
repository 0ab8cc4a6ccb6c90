import Crypto
import Foundation

/// One ordered SQL migration shipped with the binary.
public struct Migration: Sendable, Equatable {
    /// The ordering key: the file name's leading number (`0001`).
    public var version: String
    /// The file name (`0001_foundation.sql`).
    public var name: String
    public var sql: String

    /// SHA-256 of the file's bytes, hex encoded; recorded when applied.
    public var checksum: String {
        SHA256.hash(data: Data(sql.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    public init(name: String, sql: String) {
        self.name = name
        self.version = String(name.prefix(while: { $0.isNumber }))
        self.sql = sql
    }

    /// The migrations bundled in this module, in order.
    public static func bundled() throws -> [Migration] {
        guard let directory = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw DatabaseError.migrationFailed("the Migrations resource folder is missing from the build")
        }
        return try load(from: directory)
    }

    /// The folder the bundled migrations are read from.
    public static var bundledDirectory: URL? {
        Bundle.module.url(forResource: "Migrations", withExtension: nil)
    }

    /// Reads every `NNNN_name.sql` file of a folder, ordered by version.
    public static func load(from directory: URL) throws -> [Migration] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".sql") && $0.first?.isNumber == true }
            .sorted()
        var seen = Set<String>()
        return try names.map { name in
            let sql = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            let migration = Migration(name: name, sql: sql)
            guard seen.insert(migration.version).inserted else {
                throw DatabaseError.migrationFailed("two migrations share version \(migration.version) (\(name))")
            }
            return migration
        }
    }
}
