import Foundation
import Logging

/// A private PostgreSQL cluster under the data directory, used when `DATABASE_URL` is unset.
///
/// The cluster is created with `initdb` on first use, started with `pg_ctl` on a free
/// loopback port, reused on the next start (also when another instance already runs it)
/// and stopped by ``stop()`` if this process started it. PostgreSQL refuses to run as
/// root, so as root the cluster belongs to the unprivileged `postgres` account.
///
/// Other local accounts cannot get in: every connection needs the superuser's password
/// (scram-sha-256), a random one kept 0600 in `<data dir>/postgres.password`, and the Unix
/// socket lives in a 0700 directory (`<data dir>/postgres-run`). A cluster created by an
/// older version with `trust` authentication is switched over at its next start.
public final class EmbeddedPostgres: Sendable {
    /// Where the cluster's files live (`<data dir>/postgres`).
    public let clusterDirectory: URL
    /// The Unix socket directory and server log (`<data dir>/postgres-run`, mode 0700).
    public let runDirectory: URL
    let password: ClusterPassword
    /// The directory of `initdb`, `pg_ctl` and `postgres`.
    public let binDirectory: URL
    let runAsUser: String?
    let logger: Logger
    /// The cluster's `max_connections`.
    let maximumConnections: Int

    /// The database the application uses inside the cluster.
    public static let databaseName = "ecomansoni"
    static let superuser = "postgres"

    /// Locates the PostgreSQL binaries and prepares (but does not start) the cluster, which
    /// will accept `maximumConnections` connections.
    public init(dataDirectory: URL, maximumConnections: Int = 200, logger: Logger) throws {
        guard let bin = Self.findBinDirectory() else {
            throw DatabaseError.postgresNotInstalled("""
                No PostgreSQL server binaries (initdb, pg_ctl, postgres) were found via `pg_config --bindir` \
                or in /usr/lib/postgresql/*/bin, /usr/local/bin, /opt/homebrew/bin.
                Install them (Debian/Ubuntu: `apt-get install postgresql`; macOS: `brew install postgresql@16`) \
                or point the server at an existing database with DATABASE_URL=postgres://user:password@host:5432/db.
                """)
        }
        self.binDirectory = bin
        self.clusterDirectory = dataDirectory.appendingPathComponent("postgres", isDirectory: true)
        self.runDirectory = dataDirectory.appendingPathComponent("postgres-run", isDirectory: true)
        self.password = ClusterPassword(file: dataDirectory.appendingPathComponent("postgres.password"))
        self.runAsUser = getuid() == 0 ? Self.superuser : nil
        self.logger = logger
        self.maximumConnections = maximumConnections
    }

    /// Starts the cluster if it is not running and returns the URL of the application database.
    public func start() throws -> (url: DatabaseURL, startedHere: Bool) {
        let fileManager = FileManager.default
        try fileManager.createDirectory(at: clusterDirectory.deletingLastPathComponent(), withIntermediateDirectories: true)
        let initialised = fileManager.fileExists(atPath: clusterDirectory.appendingPathComponent("PG_VERSION").path)
        if initialised, try password.load() == nil, !usesTrustAuthentication() {
            throw DatabaseError.clusterFailed("""
                The embedded PostgreSQL in \(clusterDirectory.path) asks for a password, but \(password.file.path) \
                is missing. Restore that file, or move the data directory away to start afresh.
                """)
        }
        let secret = try password.loadOrCreate()
        if let port = runningPort() {
            logger.info("reusing the running embedded PostgreSQL", metadata: ["port": "\(port)", "directory": "\(clusterDirectory.path)"])
            return (url(port: port, password: secret), false)
        }
        let socketDirectory = runDirectory.path
        try? fileManager.createDirectory(atPath: socketDirectory, withIntermediateDirectories: true)
        try handOver(socketDirectory)
        try fileManager.setAttributes([.posixPermissions: 0o700], ofItemAtPath: socketDirectory)
        if !initialised {
            try initialise(password: secret)
        }
        // Only the cluster's account may reach the socket (and read the log); set again after
        // initdb, whose password file in here made `handOver` open the directory for traversal.
        try fileManager.setAttributes([.posixPermissions: 0o700], ofItemAtPath: socketDirectory)
        let port = try Self.freePort()
        let logFile = runDirectory.appendingPathComponent("server.log").path
        let options = "-p \(port) -k \(socketDirectory) -c listen_addresses=127.0.0.1 -c max_connections=\(maximumConnections) -c fsync=on"
        let result = try ProcessRunner.run(
            binDirectory.appendingPathComponent("pg_ctl").path,
            ["-D", clusterDirectory.path, "-l", logFile, "-o", options, "-w", "-t", "60", "start"],
            asUser: runAsUser)
        guard result.status == 0 else {
            let tail = (try? String(contentsOfFile: logFile, encoding: .utf8))?.split(separator: "\n").suffix(5).joined(separator: "\n") ?? ""
            throw DatabaseError.clusterFailed("pg_ctl start failed (\(result.status)): \(result.output)\n\(tail)")
        }
        logger.info("started embedded PostgreSQL", metadata: ["port": "\(port)", "directory": "\(clusterDirectory.path)"])
        return (url(port: port, password: secret), true)
    }

    /// Stops the cluster (fast shutdown: open transactions roll back, data is flushed).
    public func stop() {
        let result = try? ProcessRunner.run(
            binDirectory.appendingPathComponent("pg_ctl").path,
            ["-D", clusterDirectory.path, "-m", "fast", "-w", "-t", "60", "stop"],
            asUser: runAsUser)
        if result?.status == 0 {
            logger.info("stopped embedded PostgreSQL")
        } else {
            logger.warning("could not stop embedded PostgreSQL", metadata: ["output": "\(result?.output ?? "")"])
        }
    }

    /// The superuser URL of a database in this cluster.
    func url(port: Int, password: String, database: String = EmbeddedPostgres.databaseName) -> DatabaseURL {
        DatabaseURL(host: "127.0.0.1", port: port, username: Self.superuser, password: password, database: database)
    }

    private func initialise(password: String) throws {
        try FileManager.default.createDirectory(at: clusterDirectory, withIntermediateDirectories: true)
        try handOver(clusterDirectory.path)
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: clusterDirectory.path)
        // initdb reads the password from a file its account can read: created 0600 from the
        // start inside the 0700 run directory (never in a shared /tmp), removed right after.
        let passwordFile = runDirectory.appendingPathComponent("initdb.password")
        try ClusterPassword.writePrivately(password, to: passwordFile.path)
        defer { try? FileManager.default.removeItem(at: passwordFile) }
        try handOver(passwordFile.path)
        let result = try ProcessRunner.run(
            binDirectory.appendingPathComponent("initdb").path,
            [
                "-D", clusterDirectory.path, "-U", Self.superuser, "--auth=scram-sha-256", "--pwfile=\(passwordFile.path)",
                "--encoding=UTF8", "--locale=C.UTF-8",
            ],
            asUser: runAsUser)
        guard result.status == 0 else {
            try? FileManager.default.removeItem(at: clusterDirectory)
            throw DatabaseError.clusterFailed("initdb failed (\(result.status)): \(result.output)")
        }
        logger.info("created embedded PostgreSQL cluster", metadata: ["directory": "\(clusterDirectory.path)"])
    }

    /// As root, gives a directory to the `postgres` account (and lets it reach the path).
    private func handOver(_ path: String) throws {
        guard let user = runAsUser else { return }
        let result = try ProcessRunner.run("/bin/chown", ["-R", "\(user):", path])
        guard result.status == 0 else {
            throw DatabaseError.clusterFailed("could not give \(path) to the \(user) account: \(result.output)")
        }
        // Every parent must be traversable by the postgres account.
        var parent = URL(fileURLWithPath: path).deletingLastPathComponent()
        while parent.path != "/" {
            if let attributes = try? FileManager.default.attributesOfItem(atPath: parent.path),
                let mode = attributes[.posixPermissions] as? Int, mode & 0o001 == 0
            {
                try? FileManager.default.setAttributes([.posixPermissions: mode | 0o001], ofItemAtPath: parent.path)
            }
            parent = parent.deletingLastPathComponent()
        }
    }

    /// The port of a server already running on this cluster, if its postmaster is alive.
    private func runningPort() -> Int? {
        let pidFile = clusterDirectory.appendingPathComponent("postmaster.pid").path
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8) else { return nil }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count > 3, let pid = Int32(lines[0]), let port = Int(lines[3]), kill(pid, 0) == 0 else { return nil }
        return port
    }

    /// Asks the kernel for a free loopback TCP port.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw DatabaseError.clusterFailed("no socket for a free port") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw DatabaseError.clusterFailed("could not find a free loopback port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// `pg_config --bindir`, then the usual Debian and Homebrew locations.
    static func findBinDirectory() -> URL? {
        var candidates: [String] = []
        for pgConfig in ["/usr/bin/pg_config", "/usr/local/bin/pg_config", "/opt/homebrew/bin/pg_config"] {
            if let dir = ProcessRunner.firstLine(pgConfig, ["--bindir"]) { candidates.append(dir) }
        }
        let debianRoot = "/usr/lib/postgresql"
        if let versions = try? FileManager.default.contentsOfDirectory(atPath: debianRoot) {
            for version in versions.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }) {
                candidates.append("\(debianRoot)/\(version)/bin")
            }
        }
        candidates += ["/usr/local/bin", "/opt/homebrew/bin", "/usr/local/opt/postgresql/bin", "/usr/bin"]
        for dir in candidates {
            let fileManager = FileManager.default
            if ["initdb", "pg_ctl", "postgres"].allSatisfy({ fileManager.isExecutableFile(atPath: "\(dir)/\($0)") }) {
                return URL(fileURLWithPath: dir, isDirectory: true)
            }
        }
        return nil
    }
}
