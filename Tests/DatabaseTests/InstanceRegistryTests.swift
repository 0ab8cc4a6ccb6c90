import Database
import Foundation
import Logging
import PostgresNIO
import Testing
import TestSupport

/// Processes that could not hear each other are refused at start, not left to split.
@Suite struct InstanceRegistryTests {
    let logger = Logger(label: "test")

    /// A live process on another host (its pid cannot be checked from here).
    func remote(_ bus: String, target: String = "") -> ServerInstance {
        ServerInstance(bus: bus, busTarget: target, hostName: "other-host", processID: 4242)
    }

    @Test func anInProcessInstanceIsRefusedWhileAnotherIsLive() async throws {
        try await TestDatabase.withDatabase { database in
            try await InstanceRegistry(instance: remote("postgres"), database: database, logger: logger).register()
            let mine = ServerInstance.current(bus: "inprocess")
            let error = await #expect(throws: SplitBusError.self) {
                try await InstanceRegistry(instance: mine, database: database, logger: logger).register()
            }
            #expect(error?.description.contains("MESSAGE_BUS=inprocess") == true)
            #expect(error?.description.contains("other-host pid 4242") == true)
            #expect(try await rowCount(database) == 1, "the refused instance registered nothing")
        }
    }

    @Test func instancesOnTheSameSharedBusRegisterSideBySide() async throws {
        try await TestDatabase.withDatabase { database in
            try await InstanceRegistry(instance: remote("redis", target: "cache:6379/0"), database: database, logger: logger).register()
            let mine = ServerInstance.current(bus: "redis", busTarget: "cache:6379/0")
            try await InstanceRegistry(instance: mine, database: database, logger: logger).register()
            #expect(try await rowCount(database) == 2)
        }
    }

    @Test func differentSharedBusesAreRefused() async throws {
        try await TestDatabase.withDatabase { database in
            try await InstanceRegistry(instance: remote("redis", target: "cache:6379/0"), database: database, logger: logger).register()
            await #expect(throws: SplitBusError.self) {
                try await InstanceRegistry(instance: .current(bus: "postgres"), database: database, logger: logger).register()
            }
            let error = await #expect(throws: SplitBusError.self) {
                try await InstanceRegistry(instance: .current(bus: "redis", busTarget: "cache:6379/1"), database: database, logger: logger)
                    .register()
            }
            #expect(error?.description.contains("redis at cache:6379/0") == true)
        }
    }

    @Test func aSharedBusInstanceStartsBesideAnInProcessOneAndOnlyWarns() async throws {
        try await TestDatabase.withDatabase { database in
            try await InstanceRegistry(instance: remote("inprocess"), database: database, logger: logger).register()
            try await InstanceRegistry(instance: .current(bus: "postgres"), database: database, logger: logger).register()
            #expect(try await rowCount(database) == 2)
        }
    }

    @Test func aStaleHeartbeatOrADeadProcessOfThisHostDoesNotCount() async throws {
        try await TestDatabase.withDatabase { database in
            try await InstanceRegistry(instance: remote("postgres"), database: database, logger: logger).register()
            try await database.withOwner { connection in
                try await connection.execute("UPDATE cluster.instances SET heartbeat_at = now() - interval '16 seconds'", [])
            }
            // A process of this host that is no longer running (pid far above pid_max).
            let dead = ServerInstance(bus: "postgres", hostName: ProcessInfo.processInfo.hostName, processID: 99_999_999)
            try await InstanceRegistry(instance: dead, database: database, logger: logger).register()

            try await InstanceRegistry(instance: .current(bus: "inprocess"), database: database, logger: logger).register()
            #expect(try await rowCount(database) == 1, "only this process is left")
        }
    }

    @Test func aGracefulStopRemovesTheRowAndAHeartbeatRestoresADroppedOne() async throws {
        try await TestDatabase.withDatabase { database in
            let registry = InstanceRegistry(instance: remote("postgres"), database: database, logger: logger)
            try await registry.register()
            try await database.withOwner { connection in try await connection.execute("DELETE FROM cluster.instances", []) }
            try await registry.heartbeat()
            #expect(try await rowCount(database) == 1)
            await registry.deregister()
            #expect(try await rowCount(database) == 0)
            try await InstanceRegistry(instance: .current(bus: "inprocess"), database: database, logger: logger).register()
        }
    }

    @Test func requestRolesCannotReadTheRegistry() async throws {
        try await TestDatabase.withDatabase { database in
            try await InstanceRegistry(instance: remote("postgres"), database: database, logger: logger).register()
            for role in ["anon", "authenticated"] {
                await #expect(throws: PSQLError.self) {
                    try await database.withOwner { connection in
                        try await connection.execute("SET LOCAL ROLE \(role)", [])
                        try await connection.execute("SELECT * FROM cluster.instances", [])
                    }
                }
            }
        }
    }

    private func rowCount(_ database: Database) async throws -> Int {
        try await database.withOwner { connection in
            for try await count in try await connection.rows("SELECT count(*) FROM cluster.instances", []).decode(Int.self) {
                return count
            }
            return 0
        }
    }
}
