@testable import Calls
import Database
import Foundation
import Logging
import PostgresNIO
import Realtime
import ServiceLifecycle
import Synchronization
import Testing
import TestSupport

/// Graceful shutdown of the calls service: its work stops while the database is still open.
/// The server closes its pools only after every service has returned, so a resume-grace timer
/// left running woke up later on a closed pool ("calls: leaving rooms failed … poolShutdown",
/// one per dropped session, in the e2e session server's last seconds).
@Suite struct CallsShutdownTests {
    /// Log lines (level and message) a logger wrote.
    final class Captured: Sendable {
        private let lines = Mutex<[String]>([])
        func append(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }
    }

    struct CapturingHandler: LogHandler {
        let captured: Captured
        var logLevel: Logger.Level = .info
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            captured.append("\(event.level) \(event.message) \(event.metadata ?? [:])")
        }
    }

    /// A service whose device `deviceId` of a new user is in a new room through this instance,
    /// its session registered as after AUTH.
    static func serviceWithADeviceInARoom(
        _ database: Database, deviceId: String, settings: CallsSettings = CallsSettings(), logger: Logger = Logger(label: "test")
    ) async throws -> (CallsService, DeviceSession, room: UUID) {
        let service = CallsService(settings: settings, database: database, bus: InProcessMessageBus(), logger: logger) { _ in
            throw CallsError(.unauthenticated, "not used")
        }
        let user = try await CallsStoreTests.user(database)
        let session = DeviceSession(deviceId: deviceId, replayLimit: 8)
        await session.authenticate(userId: user, expiresAt: Int(Date().timeIntervalSince1970) + 600)
        _ = await service.hub.register(session)
        _ = try await service.live.heartbeat(instance: service.instanceId)
        #expect(try await service.live.bindDevice(deviceId, userId: user, instance: service.instanceId))
        let room = UUID()
        try await service.store.createRoom(
            id: room, callId: UUID(), mode: "p2p", createdBy: user, allowed: [user], conversationId: nil, maxPeers: 2,
            tokenExpiresAt: Int(Date().timeIntervalSince1970) + 600)
        _ = try await service.live.join(roomId: room, deviceId: deviceId, userId: user, instance: service.instanceId)
        await session.joined(room)
        return (service, session, room)
    }

    /// Runs `service` in a service group until a graceful shutdown, which `whileRunning` is
    /// given the chance to precede.
    static func runUntilGracefulShutdown(_ service: CallsService, logger: Logger, whileRunning: @Sendable () async -> Void) async throws {
        let group = ServiceGroup(services: [service], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            // Until the service runs (its first heartbeat is its first act).
            try await Task.sleep(for: .milliseconds(300))
            await whileRunning()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test func noResumeGraceTimerWakesUpAfterTheServiceStopped() async throws {
        let url = try await TestDatabase.shared.freshDatabase()
        defer { Task { await TestDatabase.shared.drop(url.database) } }
        let captured = Captured()
        let logger = Logger(label: "calls-shutdown") { _ in CapturingHandler(captured: captured) }
        var quiet = Logger(label: "pool")
        quiet.logLevel = .critical
        var settings = CallsSettings()
        settings.resumeGrace = .seconds(1)
        let client = PostgresClient(configuration: try url.clientConfiguration(maximumConnections: 4), backgroundLogger: quiet)
        let service: CallsService
        // The server's order: the pool runs around the services and closes after they returned.
        do {
            let pool = Task { await client.run() }
            let database = Database(client: client, maximumConnections: 4, acquireTimeout: .seconds(60), logger: logger)
            let (running, session, _) = try await Self.serviceWithADeviceInARoom(
                database, deviceId: "shutdown-grace", settings: settings, logger: logger)
            service = running
            try await Self.runUntilGracefulShutdown(service, logger: quiet) {
                // The device's socket dropped just before SIGTERM: its grace timer starts.
                service.expireAfterGrace(session)
            }
            pool.cancel()
            await pool.value
        }
        #expect(service.graceTimers.count == 0)
        // Past the grace period nothing tried the closed pool.
        try await Task.sleep(for: .seconds(2))
        let failures = captured.all.filter { $0.contains("leaving rooms failed") || $0.contains("poolShutdown") }
        #expect(failures.isEmpty, "work after the pool closed: \(failures)")
        // A device that drops after the service stopped gets no timer either.
        let late = DeviceSession(deviceId: "shutdown-late", replayLimit: 8)
        service.expireAfterGrace(late)
        #expect(service.graceTimers.count == 0)
    }

    @Test func aStoppedInstanceRetiresSoItsPeersAreSweptAtOnce() async throws {
        try await TestDatabase.withDatabase { database in
            var quiet = Logger(label: "test")
            quiet.logLevel = .critical
            let (service, session, room) = try await Self.serviceWithADeviceInARoom(database, deviceId: "shutdown-retire", logger: quiet)
            try await Self.runUntilGracefulShutdown(service, logger: quiet) {
                service.expireAfterGrace(session)
            }
            let instances = try await database.withOwner { connection in
                try await connection.scalarText("SELECT count(*)::text FROM calls.instances WHERE id = $1", [service.instanceId])
            }
            #expect(instances == "0")
            let holder = try await database.withOwner { connection in
                try await connection.scalarText("SELECT coalesce(instance_id, 'offline') FROM calls.devices WHERE device_id = 'shutdown-retire'", [])
            }
            #expect(holder == "offline")
            // Another instance's next sweep takes the peer out (no 15 s heartbeat timeout to wait).
            let swept = try await CallsStore(database: database).sweep(linger: .seconds(5))
            #expect(swept.map(\.peer.deviceId) == ["shutdown-retire"])
            #expect(swept.map(\.room) == [room])
        }
    }
}
