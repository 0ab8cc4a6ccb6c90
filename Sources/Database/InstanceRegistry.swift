import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// One running server process as `cluster.instances` records it.
public struct ServerInstance: Sendable, Equatable {
    /// How the process fans out events to the others: `inprocess`, `postgres` or `redis`.
    public var bus: String
    /// Where the bus meets the others (the Redis `host:port/db`), `""` for the other buses.
    public var busTarget: String
    public var hostName: String
    public var processID: Int32

    public init(bus: String, busTarget: String = "", hostName: String, processID: Int32) {
        self.bus = bus
        self.busTarget = busTarget
        self.hostName = hostName
        self.processID = processID
    }

    /// This process, with the given bus.
    public static func current(bus: String, busTarget: String = "") -> ServerInstance {
        ServerInstance(bus: bus, busTarget: busTarget, hostName: ProcessInfo.processInfo.hostName, processID: getpid())
    }

    /// Where it runs, for messages: `host pid N`.
    var place: String { "\(hostName) pid \(processID)" }
    /// Its bus, for messages: `redis at host:port/0`, `postgres`.
    var busDescription: String { busTarget.isEmpty ? bus : "\(bus) at \(busTarget)" }
}

/// Another live process serves this database and the two would not hear each other's events:
/// a call invite or a chat message sent through one would never reach clients of the other.
public struct SplitBusError: Error, CustomStringConvertible {
    public let mine: ServerInstance
    public let other: ServerInstance

    public var description: String {
        if mine.bus == "inprocess" {
            return """
                another server instance (\(other.place), bus \(other.busDescription)) is running on this database, \
                and this one has MESSAGE_BUS=inprocess, so neither would see the other's realtime events or calls. \
                Set REDIS_URL (or MESSAGE_BUS=postgres) on every instance, or stop the other one.
                """
        }
        return """
            another server instance (\(other.place)) is running on this database with bus \(other.busDescription), \
            and this one would use \(mine.busDescription), so neither would see the other's realtime events or calls. \
            Give every instance the same MESSAGE_BUS and REDIS_URL.
            """
    }
}

/// Registers this process in `cluster.instances`, keeps its heartbeat fresh and removes it on
/// a graceful stop, so that a process which could not hear the others is refused at start
/// (``register()``) instead of silently splitting the cluster.
///
/// A row whose heartbeat is older than ``timeToLive`` is a process that died; so is a row of
/// this host whose process id is no longer running (a laptop restart after `kill -9`).
public final class InstanceRegistry: Service, Sendable {
    /// How often the heartbeat is written.
    public static let heartbeatInterval = Duration.seconds(5)
    /// How long a silent instance still counts as live.
    public static let timeToLive = Duration.seconds(15)

    public let id = UUID()
    private let instance: ServerInstance
    private let database: Database
    private let logger: Logger

    public init(instance: ServerInstance, database: Database, logger: Logger) {
        self.instance = instance
        self.database = database
        self.logger = logger
    }

    /// Records this process, after checking the live ones.
    ///
    /// Throws ``SplitBusError`` when this process has the in-process bus and another is live,
    /// or when both fan out across instances but through different buses. A live in-process
    /// instance seen by a process with a shared bus is only logged: that process is the one
    /// refused when it restarts.
    public func register() async throws {
        let me = instance
        let id = id
        let ttl = Self.timeToLiveSeconds
        let others = try await database.withOwner { connection in
            try await connection.execute(
                "DELETE FROM cluster.instances WHERE heartbeat_at < now() - make_interval(secs => $1)", [ttl])
            let rows = try await connection.rows(
                "SELECT bus, bus_target, host_name, process_id FROM cluster.instances WHERE id <> $1 ORDER BY started_at", [id])
            var live: [ServerInstance] = []
            for try await (bus, target, host, pid) in rows.decode((String, String, String, Int32).self) {
                live.append(ServerInstance(bus: bus, busTarget: target, hostName: host, processID: pid))
            }
            return live
        }
        var stale: [ServerInstance] = []
        for other in others {
            if other.hostName == me.hostName, !Self.isRunning(other.processID) || other.processID == me.processID {
                stale.append(other)
                continue
            }
            if me.bus == "inprocess" { throw SplitBusError(mine: me, other: other) }
            if other.bus == "inprocess" {
                logger.warning(
                    "another instance on this database uses the in-process bus; its clients will not see this instance's events",
                    metadata: ["instance": "\(other.place)"])
            } else if other.bus != me.bus || other.busTarget != me.busTarget {
                throw SplitBusError(mine: me, other: other)
            }
        }
        if !stale.isEmpty {
            let gone = stale
            try await database.withOwner { connection in
                for gone in gone {
                    try await connection.execute(
                        "DELETE FROM cluster.instances WHERE host_name = $1 AND process_id = $2", [gone.hostName, gone.processID])
                }
            }
        }
        try await heartbeat()
    }

    /// Refreshes the heartbeat until shutdown, then removes the row.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var reportedFailure = false
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.heartbeatInterval)
                if Task.isCancelled { break }
                do {
                    try await self.heartbeat()
                    reportedFailure = false
                } catch {
                    if !reportedFailure {
                        self.logger.warning("instance heartbeat failed; retrying", metadata: ["error": "\(error)"])
                        reportedFailure = true
                    }
                }
            }
        }
        await deregister()
    }

    /// Writes the heartbeat now (re-inserting the row if a peer dropped it as stale).
    public func heartbeat() async throws {
        let me = instance
        let id = id
        try await database.withOwner { connection in
            try await connection.execute(
                """
                INSERT INTO cluster.instances (id, host_name, process_id, bus, bus_target) VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()
                """, [id, me.hostName, me.processID, me.bus, me.busTarget])
        }
    }

    /// Removes this process's row (a graceful stop).
    public func deregister() async {
        let id = id
        do {
            try await database.withOwner { connection in
                try await connection.execute("DELETE FROM cluster.instances WHERE id = $1", [id])
            }
        } catch {
            logger.debug("could not remove the instance row; it expires by itself", metadata: ["error": "\(error)"])
        }
    }

    private static var timeToLiveSeconds: Double {
        Double(timeToLive.components.seconds)
    }

    /// Whether a process of this host is running (`kill(pid, 0)`; EPERM means it exists).
    private static func isRunning(_ pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }
}
