import Crypto
import Foundation

/// One migration file's path and text, in the order migrations are applied.
public struct MigrationFile: Sendable, Hashable {
    /// The path reported in findings; its last component is the migration's name.
    public var path: String
    /// The file's SQL.
    public var text: String

    public init(path: String, text: String) {
        self.path = path
        self.text = text
    }

    /// The file name: the path's last component, e.g. `0001_roles_and_auth.sql`.
    public var name: String { Self.fileName(of: path) }

    /// The migration's version: the leading digits of its name (`0001`), nil when it has none.
    public var version: String? { GovernanceRules.version(ofPath: path) }

    /// SHA-256 of the text's UTF-8 bytes in lowercase hex: what the migrator records.
    public var checksum: String { SHA256.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined() }

    static func fileName(of path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init) ?? path
    }

    /// Reads the given paths: files as they are, folders as their `*.sql` files sorted by
    /// name. Throws `MigrationFileError` for a path that is missing, unreadable or not UTF-8.
    public static func load(paths: [String]) throws(MigrationFileError) -> [MigrationFile] {
        var files: [MigrationFile] = []
        let manager = FileManager.default
        for path in paths {
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw .unreadable(path: path, reason: "no such file or directory")
            }
            if isDirectory.boolValue {
                let names: [String]
                do {
                    names = try manager.contentsOfDirectory(atPath: path)
                } catch {
                    throw .unreadable(path: path, reason: "cannot list the folder")
                }
                let base = path.hasSuffix("/") ? String(path.dropLast()) : path
                for name in names.filter({ $0.hasSuffix(".sql") }).sorted() {
                    files.append(try read("\(base)/\(name)"))
                }
            } else {
                files.append(try read(path))
            }
        }
        return files
    }

    private static func read(_ path: String) throws(MigrationFileError) -> MigrationFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .unreadable(path: path, reason: "cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw .unreadable(path: path, reason: "not valid UTF-8")
        }
        return MigrationFile(path: path, text: text)
    }
}

/// Why migration input could not be read (the command exits 2).
public enum MigrationFileError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "\(path): \(reason)"
        }
    }
}
