import Core
import Foundation
import Testing

@testable import Storage

/// The per-user quota (`STORAGE_USER_QUOTA_BYTES`): exactly reaching it is allowed, one byte
/// more is a 413 `quota_exceeded` naming the bytes used, whether the size was declared or
/// only found while streaming, and parallel uploads cannot overshoot it together. Renditions
/// do not count; an upsert counts only the difference. A refused upload leaves nothing.
@Suite struct StorageQuotaTests {
    static let quota: Int64 = 1000

    static func withQuota(_ quota: Int64 = quota, _ body: @Sendable (StorageTestEnvironment) async throws -> Void) async throws {
        try await StorageTestEnvironment.with(configure: { $0.userQuotaBytes = quota }, body)
    }

    static func bytes(_ count: Int) -> [UInt8] { [UInt8](repeating: UInt8(ascii: "q"), count: count) }

    static let binary = "application/octet-stream"

    @Test func exactlyAtTheQuotaIsAllowedOneByteMoreIsNot() async throws {
        try await Self.withQuota { env in
            let folder = env.aliceFolder
            try await env.upload(env.alice, bucket: "attachments", name: "\(folder)/a.bin", type: Self.binary, Self.bytes(600))
            // Declared size one byte over: refused before reading.
            let declared = try await #require(throws: APIError.self) {
                try await env.upload(env.alice, bucket: "attachments", name: "\(folder)/b.bin", type: Self.binary, Self.bytes(401), declaredSize: 401)
            }
            #expect(declared == StorageError.quotaExceeded(used: 600, quota: 1000))
            #expect(declared.status == .contentTooLarge && declared.code == "quota_exceeded")
            #expect(declared.message == "storage quota exceeded: 600 of 1000 bytes used")
            // Undeclared size one byte over: refused while streaming.
            await #expect(throws: StorageError.quotaExceeded(used: 600, quota: 1000)) {
                try await env.upload(env.alice, bucket: "attachments", name: "\(folder)/c.bin", type: Self.binary, Self.bytes(401))
            }
            #expect(try await env.rows().count == 1)
            #expect(env.blobCount == 1)
            // Exactly at the quota, declared and not.
            try await env.upload(env.alice, bucket: "attachments", name: "\(folder)/d.bin", type: Self.binary, Self.bytes(200), declaredSize: 200)
            try await env.upload(env.alice, bucket: "attachments", name: "\(folder)/e.bin", type: Self.binary, Self.bytes(200))
            // Full: an empty file still fits, one byte does not.
            try await env.upload(env.alice, bucket: "attachments", name: "\(folder)/empty.txt", type: "text/plain", [])
            await #expect(throws: StorageError.quotaExceeded(used: 1000, quota: 1000)) {
                try await env.upload(env.alice, bucket: "attachments", name: "\(folder)/x.bin", type: Self.binary, Self.bytes(1))
            }
            // Another user's quota is their own.
            try await env.upload(env.bob, bucket: "attachments", name: "\(env.bobFolder)/b.bin", type: Self.binary, Self.bytes(1000))
        }
    }

    @Test func upsertCountsOnlyTheDifference() async throws {
        try await Self.withQuota { env in
            let name = "\(env.aliceFolder)/a.bin"
            try await env.upload(env.alice, bucket: "attachments", name: name, type: Self.binary, Self.bytes(900))
            // Replacing 900 bytes by 1000 fits (declared and streamed).
            try await env.upload(env.alice, bucket: "attachments", name: name, type: Self.binary, Self.bytes(1000), upsert: true, declaredSize: 1000)
            try await env.upload(env.alice, bucket: "attachments", name: name, type: Self.binary, Self.bytes(1000), upsert: true)
            await #expect(throws: StorageError.quotaExceeded(used: 1000, quota: 1000)) {
                try await env.upload(env.alice, bucket: "attachments", name: name, type: Self.binary, Self.bytes(1001), upsert: true)
            }
            #expect(env.blobCount == 1)
        }
    }

    @Test func renditionsDoNotCount() async throws {
        let picture = try MediaFixtures.jpeg(width: 64, height: 64)
        try await Self.withQuota(100_000) { env in
            let avatar = try await env.upload(env.alice, bucket: "avatars", name: "\(env.aliceFolder)/a.jpg", type: "image/jpeg", picture)
            let rows = try await env.rows()
            #expect(rows.count == 3 && rows.values.map(\.size).reduce(0, +) > avatar.size)
            let used = try await env.database.withOwner { connection in try await UserQuota.used(connection, owner: env.users[0]) }
            #expect(used == avatar.size)
            // The rest of the quota is free whatever the renditions take.
            try await env.upload(
                env.alice, bucket: "attachments", name: "\(env.aliceFolder)/rest.bin", type: Self.binary, Self.bytes(Int(100_000 - avatar.size)))
        }
    }

    @Test func parallelUploadsCannotOvershoot() async throws {
        try await Self.withQuota { env in
            // Ten uploads of 300 bytes at once, sizes undeclared: at most three fit.
            let results = await withTaskGroup(of: Bool.self) { group in
                for index in 0..<10 {
                    group.addTask {
                        do {
                            try await env.upload(env.alice, bucket: "attachments", name: "\(env.aliceFolder)/p\(index).bin", type: Self.binary, Self.bytes(300))
                            return true
                        } catch let error as APIError {
                            return error.code == "quota_exceeded" ? false : true
                        } catch {
                            return true
                        }
                    }
                }
                var outcomes: [Bool] = []
                for await outcome in group { outcomes.append(outcome) }
                return outcomes
            }
            #expect(results.filter { $0 }.count == 3)
            let used = try await env.database.withOwner { connection in try await UserQuota.used(connection, owner: env.users[0]) }
            #expect(used == 900)
            #expect(env.blobCount == 3)
        }
    }

    @Test func quotaZeroIsUnlimitedAndCopiesCount() async throws {
        try await Self.withQuota(0) { env in
            try await env.upload(env.alice, bucket: "attachments", name: "\(env.aliceFolder)/big.bin", type: Self.binary, Self.bytes(5000))
        }
        try await Self.withQuota { env in
            try await env.upload(env.alice, bucket: "attachments", name: "\(env.aliceFolder)/a.bin", type: Self.binary, Self.bytes(600))
            await #expect(throws: StorageError.quotaExceeded(used: 600, quota: 1000)) {
                try await env.storage.copy(env.alice, bucket: "attachments", from: "\(env.aliceFolder)/a.bin", to: "\(env.aliceFolder)/b.bin")
            }
            #expect(env.blobCount == 1)
        }
    }

    @Test func fitsArithmetic() {
        #expect(UserQuota.fits(used: 0, adding: 1000, replacing: 0, quota: 1000))
        #expect(!UserQuota.fits(used: 0, adding: 1001, replacing: 0, quota: 1000))
        #expect(UserQuota.fits(used: 900, adding: 1000, replacing: 900, quota: 1000))
        #expect(UserQuota.fits(used: 5000, adding: 5000, replacing: 0, quota: 0))
        #expect(!UserQuota.fits(used: Int64.max - 1, adding: Int64.max, replacing: 0, quota: Int64.max))
    }
}
