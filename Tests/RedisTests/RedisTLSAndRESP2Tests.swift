import NIOCore
import Testing
import TestSupport
import Redis

/// TLS (rediss://) with a self-signed certificate, and the RESP2 fallback when HELLO is unavailable.
@Suite struct RedisTLSAndRESP2Tests {
    @Test func tlsWithoutVerification() async throws {
        try await withRedisServer(.init(tls: true)) { server async throws in
            try await withClient(server.url + "?tlsVerify=none") { client async throws in
                #expect(try await client.send(["SET", "k", "over tls"]) == .simpleString("OK"))
                #expect(try await client.send(["GET", "k"]).string == "over tls")
                #expect(try await client.pipeline(Array(repeating: ["INCR", "n"], count: 100)).last == .integer(100))
            }
        }
    }

    @Test func tlsVerifiesAgainstAGivenCAAndRefusesAnUnknownOne() async throws {
        try await withRedisServer(.init(tls: true)) { server async throws in
            try await withClient("rediss://localhost:\(server.port)?tlsCAFile=\(server.certificatePath)") { client async throws in
                #expect(try await client.send(["PING"]) == .simpleString("PONG"))
            }
            try await withClient("rediss://localhost:\(server.port)?") { client async throws in
                let error = await #expect(throws: RedisError.self) { try await client.send(["PING"]) }
                #expect(error?.kind == .connectionClosed)
                #expect(error?.message.contains("cannot connect to localhost:\(server.port)/0") == true)
            }
        }
    }

    @Test func tlsSubscriber() async throws {
        try await withRedisServer(.init(tls: true)) { server async throws in
            let configuration = try RedisConfiguration(url: withLoadedMachineTimeouts(server.url + "?tlsVerify=none"))
            let subscriber = RedisSubscriber(configuration: configuration, channels: ["t"], logger: quietLogger)
            let events = subscriber.messages()
            let running = Task { try await subscriber.run() }
            await subscriber.waitUntilSubscribed()
            try await withClient(server.url + "?tlsVerify=none") { client async throws in
                #expect(try await client.publish(channel: "t", message: ByteBuffer(string: "secure")) == 1)
            }
            var iterator = events.makeAsyncIterator()
            guard case .message(_, let payload) = await iterator.next() else {
                Issue.record("expected a message")
                return
            }
            #expect(payload == ByteBuffer(string: "secure"))
            running.cancel()
            try await running.value
        }
    }

    static let withoutHello = RedisTestServer.Options(arguments: ["--requirepass", "old"], configLines: [#"rename-command HELLO """#])

    @Test func withoutHelloTheClientFallsBackToRESP2AndAuth() async throws {
        try await withRedisServer(Self.withoutHello) { server async throws in
            try await withClient("redis://:old@127.0.0.1:\(server.port)/1") { client async throws in
                _ = try await client.send(["HSET", "h", "f", "v"])
                // RESP2: HGETALL is a flat array, not a map.
                #expect(try await client.send(["HGETALL", "h"]) == .array([.bulkString(ByteBuffer(string: "f")), .bulkString(ByteBuffer(string: "v"))]))
                #expect(try await client.send(["CLIENT", "INFO"]).string?.contains("resp=2") == true)
                #expect(try await client.send(["CLIENT", "INFO"]).string?.contains(" db=1 ") == true)
                #expect(try await client.send(["CLIENT", "GETNAME"]).string == "ecomansoni")
                #expect(try await client.pipeline([["INCR", "n"], ["INCR", "n"]]) == [.integer(1), .integer(2)])
            }
            try await withClient("redis://:wrong@127.0.0.1:\(server.port)") { client async throws in
                let error = await #expect(throws: RedisError.self) { try await client.send(["PING"]) }
                #expect(error?.kind == .authenticationFailed)
                #expect(error?.description.contains("wrong") == false)
            }
        }
    }

    @Test func aRESP2SubscriberReceivesMessagesAndPings() async throws {
        try await withRedisServer(Self.withoutHello) { server async throws in
            let configuration = try RedisConfiguration(url: "redis://:old@127.0.0.1:\(server.port)")
            let subscriber = RedisSubscriber(configuration: configuration, channels: ["r2"], logger: quietLogger)
            let events = subscriber.messages()
            let running = Task { try await subscriber.run() }
            await subscriber.waitUntilSubscribed()
            try await withClient("redis://:old@127.0.0.1:\(server.port)") { client async throws in
                #expect(try await client.publish(channel: "r2", message: ByteBuffer(string: "legacy")) == 1)
            }
            var iterator = events.makeAsyncIterator()
            guard case .message(let channel, let payload) = await iterator.next() else {
                Issue.record("expected a message")
                return
            }
            #expect(channel == "r2")
            #expect(payload == ByteBuffer(string: "legacy"))
            running.cancel()
            try await running.value
        }
    }
}
