import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The embedded cluster's superuser password: random, generated on first use and kept
/// readable by the server's account only (mode 0600) in `<data dir>/postgres.password`.
struct ClusterPassword {
    let file: URL

    /// The stored password, creating the file if it does not exist yet.
    func loadOrCreate() throws -> String {
        if let existing = try load() { return existing }
        var generator = SystemRandomNumberGenerator()
        let password = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        // Written under a temporary name, then linked into place: a concurrent first start
        // either wins or reads the winner's complete file.
        let temporary = file.path + ".\(getpid()).tmp"
        defer { unlink(temporary) }
        try Self.writePrivately(password, to: temporary)
        if link(temporary, file.path) != 0 && errno != EEXIST {
            throw DatabaseError.clusterFailed("could not create \(file.path): \(String(cString: strerror(errno)))")
        }
        guard let stored = try load() else { throw DatabaseError.clusterFailed("\(file.path) is empty") }
        return stored
    }

    /// Writes `password` and a newline to a new file at `path` that is mode 0600 from the
    /// moment it exists (an older file there is replaced).
    static func writePrivately(_ password: String, to path: String) throws {
        unlink(path)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else {
            throw DatabaseError.clusterFailed("could not create \(path): \(String(cString: strerror(errno)))")
        }
        let bytes = Array((password + "\n").utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        fsync(descriptor)
        close(descriptor)
        guard written == bytes.count else { throw DatabaseError.clusterFailed("could not write \(path)") }
    }

    /// The stored password (tightening the file's mode to 0600), or nil when there is none.
    func load() throws -> String? {
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        if let attributes = try? FileManager.default.attributesOfItem(atPath: file.path),
            let mode = attributes[.posixPermissions] as? Int, mode & 0o077 != 0
        {
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
        }
        let text = try String(contentsOf: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }
}
