import Database
import Foundation
import Logging
import PostgresNIO
import Testing
import TestSupport

@Suite struct MigratorTests {
    let logger = Logger(label: "migrator-test")

    @Test func bundledMigrationsAreOrderedAndRecorded() async throws {
        let migrations = try Migration.bundled()
        #expect(!migrations.isEmpty)
        #expect(migrations.map(\.version) == migrations.map(\.version).sorted())
        try await TestDatabase.withDatabase { database in
            let rows = try await database.client.query("SELECT name, checksum FROM ecomansoni_meta.schema_migrations ORDER BY name")
            var recorded: [String: String] = [:]
            for try await (name, checksum) in rows.decode((String, String).self) { recorded[name] = checksum }
            #expect(recorded == Dictionary(uniqueKeysWithValues: migrations.map { ($0.name, $0.checksum) }))
        }
    }

    @Test func migratingAgainAppliesNothing() async throws {
        try await TestDatabase.withDatabase { database in
            let applied = try await Migrator(migrations: try Migration.bundled(), logger: logger).migrate(client: database.client)
            #expect(applied.isEmpty)
        }
    }

    @Test func concurrentStartsApplyEachMigrationOnce() async throws {
        try await TestDatabase.withDatabase { database in
            let extra = Migration(name: "9000_extra.sql", sql: "CREATE TABLE public.concurrency_probe (id int); INSERT INTO public.concurrency_probe VALUES (1);")
            let migrator = Migrator(migrations: try Migration.bundled() + [extra], logger: logger)
            async let first = migrator.migrate(client: database.client)
            async let second = migrator.migrate(client: database.client)
            let results = try await [first, second]
            #expect(results.map(\.count).sorted() == [0, 1])
            let count = try await database.client.query("SELECT count(*)::int FROM public.concurrency_probe")
            for try await value in count.decode(Int.self) { #expect(value == 1) }
        }
    }

    @Test func changedMigrationStopsStartUp() async throws {
        try await TestDatabase.withDatabase { database in
            var changed = try Migration.bundled()
            changed[0].sql += "\n-- edited after release\n"
            let error = try await #require(throws: DatabaseError.self) {
                try await Migrator(migrations: changed, logger: logger).migrate(client: database.client)
            }
            guard case .migrationChanged(let message) = error else { Issue.record("wrong error \(error)"); return }
            #expect(message.contains(changed[0].name))
            #expect(message.contains("new migration"))
        }
    }

    @Test func failingMigrationRollsBackAndNamesTheFile() async throws {
        try await TestDatabase.withDatabase { database in
            let broken = Migration(name: "9001_broken.sql", sql: "CREATE TABLE public.half_done (id int); SELECT no_such_function();")
            let error = try await #require(throws: DatabaseError.self) {
                try await Migrator(migrations: try Migration.bundled() + [broken], logger: logger).migrate(client: database.client)
            }
            #expect(String(describing: error).contains("9001_broken.sql"))
            let rows = try await database.client.query("SELECT to_regclass('public.half_done') IS NULL")
            for try await absent in rows.decode(Bool.self) { #expect(absent) }
        }
    }

    @Test func everyTableHasRowLevelSecurity() async throws {
        try await TestDatabase.withDatabase { database in
            let rows = try await database.client.query("""
                SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND NOT c.relrowsecurity
                """)
            var unprotected: [String] = []
            for try await name in rows.decode(String.self) { unprotected.append(name) }
            #expect(unprotected == [])
        }
    }
}
