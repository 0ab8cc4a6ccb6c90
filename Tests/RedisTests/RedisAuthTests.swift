import NIOCore
import Testing
import TestSupport
import Redis

/// AUTH: ACL users, the default user with requirepass, refusals that name the user but not the password.
@Suite struct RedisAuthTests {
    @Test func anACLUserAuthenticatesWithHello() async throws {
        try await withRedisServer { server async throws in
            try await withClient(server.url) { admin async throws in
                _ = try await admin.send(["ACL", "SETUSER", "app", "on", ">secret", "~*", "&*", "+@all"])
                _ = try await admin.send(["ACL", "SETUSER", "odd", "on", ">p@ss:w/rd", "~*", "&*", "+@all"])
            }
            try await withClient("redis://app:secret@127.0.0.1:\(server.port)") { client async throws in
                #expect(try await client.send(["ACL", "WHOAMI"]).string == "app")
            }
            try await withClient("redis://odd:p%40ss%3Aw%2Frd@127.0.0.1:\(server.port)") { client async throws in
                #expect(try await client.send(["ACL", "WHOAMI"]).string == "odd")
            }
            try await withClient("redis://app:wrongpw@127.0.0.1:\(server.port)") { client async throws in
                let error = await #expect(throws: RedisError.self) { try await client.send(["PING"]) }
                #expect(error?.kind == .authenticationFailed)
                #expect(error?.description.contains("authentication failed for user 'app' at 127.0.0.1:\(server.port)/0") == true)
                #expect(error?.description.contains("wrongpw") == false)
            }
        }
    }

    @Test func requirepassAuthenticatesTheDefaultUser() async throws {
        try await withRedisServer(.init(arguments: ["--requirepass", "s3cret"])) { server async throws in
            try await withClient("redis://:s3cret@127.0.0.1:\(server.port)") { client async throws in
                #expect(try await client.send(["ACL", "WHOAMI"]).string == "default")
            }
            try await withClient("redis://:nope@127.0.0.1:\(server.port)") { client async throws in
                let error = await #expect(throws: RedisError.self) { try await client.send(["PING"]) }
                #expect(error?.kind == .authenticationFailed)
                #expect(error?.description.contains("authentication failed for user 'default'") == true)
                #expect(error?.description.contains("nope") == false)
            }
            try await withClient(server.url) { client async throws in
                let error = await #expect(throws: RedisError.self) { try await client.send(["PING"]) }
                #expect(error?.kind == .authenticationFailed)
                #expect(error?.description.contains("requires authentication but REDIS_URL has no password") == true)
            }
        }
    }
}
