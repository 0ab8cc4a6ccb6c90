import NIOCore
import Testing
import TestSupport
import Redis

/// The client against a real redis-server: commands, pipelining, the pool, timeouts, scripts, SELECT.
@Suite struct RedisClientTests {
    @Test func setAndGetAreBinarySafe() async throws {
        try await withRedisServer { server async throws in
            try await withClient(server.url) { client async throws in
                let key = ByteBuffer(bytes: [0x6B, 0x00, 0x0D, 0x0A, 0xFF])
                let value = ByteBuffer(bytes: Array(0...255) + [13, 10, 13, 10])
                #expect(try await client.send([ByteBuffer(string: "SET"), key, value]) == .simpleString("OK"))
                #expect(try await client.send([ByteBuffer(string: "GET"), key]) == .bulkString(value))
                #expect(try await client.send(["GET", "missing"]) == .null)
                #expect(try await client.send(["SET", "text", "héllo ✓"]) == .simpleString("OK"))
                #expect(try await client.send(["GET", "text"]).string == "héllo ✓")
                // RESP3: HGETALL is a map.
                _ = try await client.send(["HSET", "h", "f", "v"])
                #expect(try await client.send(["HGETALL", "h"]) == .map([.bulkString(ByteBuffer(string: "f")): .bulkString(ByteBuffer(string: "v"))]))
            }
        }
    }

    @Test func connectionsAreReusedAndABrokenOneIsReplaced() async throws {
        try await withRedisServer { server async throws in
            try await withClient(server.url) { client async throws in
                let first = try #require(try await client.send(["CLIENT", "ID"]).int)
                #expect(try await client.send(["CLIENT", "ID"]).int == first)
                try await withClient(server.url) { admin async throws in
                    #expect(try await admin.send(["CLIENT", "KILL", "ID", String(first)]).int == 1)
                }
                // The killed connection is dropped; the command runs on a new one.
                let second = try await eventually { try await client.send(["CLIENT", "ID"]).int }
                #expect(second != nil)
                #expect(second != first)
            }
        }
    }

    @Test func anErrorReplyIsThrownAsAServerError() async throws {
        try await withRedisServer { server async throws in
            try await withClient(server.url) { client async throws in
                _ = try await client.send(["SET", "k", "v"])
                let error = await #expect(throws: RedisError.self) {
                    try await client.send(["LPUSH", "k", "x"])
                }
                #expect(error?.kind == .server)
                #expect(error?.code == "WRONGTYPE")
                #expect(error?.description.hasPrefix("Redis error: WRONGTYPE") == true)
                // The connection is still good.
                #expect(try await client.send(["PING"]) == .simpleString("PONG"))
            }
        }
    }

    @Test func aPipelineOf1000IncrsReturnsTheirRepliesInOrder() async throws {
        try await withRedisServer { server async throws in
            try await withClient(server.url) { client async throws in
                let replies = try await client.pipeline(Array(repeating: ["INCR", "counter"], count: 1000))
                #expect(replies == (1...1000).map { RESPValue.integer(Int64($0)) })
                let mixed = try await client.pipeline([["SET", "s", "x"], ["INCR", "s"], ["GET", "s"]])
                #expect(mixed.count == 3)
                #expect(mixed[0] == .simpleString("OK"))
                guard case .error(let message) = mixed[1] else {
                    Issue.record("expected an error reply, got \(mixed[1])")
                    return
                }
                #expect(message.hasPrefix("ERR"))
                #expect(mixed[2].string == "x")
                #expect(try await client.pipeline([]) == [])
            }
        }
    }

    @Test func oneHundredConcurrentTasksShareAPoolOfFour() async throws {
        try await withRedisServer { server async throws in
            try await withClient(server.url + "?poolSize=4&commandTimeout=60000") { client async throws in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for task in 0..<100 {
                        group.addTask {
                            _ = try await client.send(["INCR", "shared"])
                            _ = try await client.send(["SET", "key:\(task)", "\(task)"])
                            let value = try await client.send(["GET", "key:\(task)"])
                            #expect(value.string == "\(task)")
                        }
                    }
                    try await group.waitForAll()
                }
                #expect(try await client.send(["GET", "shared"]).int == 100)
                let clients = try await client.send(["CLIENT", "LIST"]).string ?? ""
                let ours = clients.split(separator: "\n").filter { $0.contains("name=ecomansoni") }
                #expect(ours.count <= 4)
                #expect(ours.count >= 1)
            }
        }
    }

    @Test func aCommandTimeoutClosesTheConnectionAndTheNextCommandWorks() async throws {
        try await withRedisServer { server async throws in
            // Bounds sized for a loaded machine (the whole suite runs in parallel on two cores).
            try await withClient(server.url + "?commandTimeout=500") { client async throws in
                let start = ContinuousClock.now
                let error = await #expect(throws: RedisError.self) {
                    try await client.send(["DEBUG", "SLEEP", "6"])
                }
                let elapsed = ContinuousClock.now - start
                #expect(error?.kind == .timeout)
                #expect(elapsed < .seconds(4), "took \(elapsed)")
                // The server is still asleep for the rest of its six seconds; then a new connection works.
                #expect(try await eventually(seconds: 20) { try await client.send(["PING"]) } == .simpleString("PONG"))
            }
        }
    }

    @Test func waitingForAFreeConnectionCountsAgainstTheCommandTimeout() async throws {
        try await withRedisServer { server async throws in
            try await withClient(server.url + "?poolSize=1&commandTimeout=1000") { client async throws in
                // Four blocking commands on one connection: if the wait did not count, they would
                // end one after another, after about 1, 2, 3 and 4 s; it counts, so they end
                // together. Compared with each other rather than with the clock, because a loaded
                // machine delays every timer alike. The third to end is judged: the one waiter
                // handed the freed slot opens a new connection first, which on a loaded machine
                // took 4 s (seen in CI), and only then finds its time is up.
                let results = await withTaskGroup(of: (Duration, RedisError?).self) { group in
                    for index in 0..<4 {
                        group.addTask {
                            try? await Task.sleep(for: .milliseconds(10 * index))
                            let start = ContinuousClock.now
                            do {
                                _ = try await client.send(["BLPOP", "nothing", "0"])
                                return (ContinuousClock.now - start, nil)
                            } catch {
                                return (ContinuousClock.now - start, error as? RedisError)
                            }
                        }
                    }
                    return await group.reduce(into: []) { $0.append($1) }
                }
                for (_, error) in results { #expect(error?.kind == .timeout) }
                let times = results.map(\.0).sorted()
                if times.count == 4 {
                    #expect(times[2] < times[0] * 2 + .milliseconds(500), "ended after \(times)")
                }
                #expect(try await client.send(["PING"]) == .simpleString("PONG"))
            }
        }
    }

    @Test func evaluateLoadsTheScriptAfterScriptFlush() async throws {
        try await withRedisServer { server async throws in
            try await withClient(server.url) { client async throws in
                let script = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
                _ = try await client.send(["SCRIPT", "FLUSH"])
                #expect(try await client.evaluate(script, keys: ["n"], arguments: ["5"]) == .integer(5))
                #expect(try await client.send(["SCRIPT", "LOAD", script.source]).string == script.sha1)
                #expect(try await client.evaluate(script, keys: ["n"], arguments: ["2"]) == .integer(7))
                _ = try await client.send(["SCRIPT", "FLUSH"])
                #expect(try await client.evaluate(script, keys: ["n"], arguments: ["1"]) == .integer(8))
                let failing = RedisScript("return redis.error_reply('MYERR nope')")
                let error = await #expect(throws: RedisError.self) {
                    try await client.evaluate(failing, keys: [], arguments: [])
                }
                #expect(error?.code == "MYERR")
            }
        }
    }

    @Test func publishCountsReceivers() async throws {
        try await withRedisServer { server async throws in
            try await withClient(server.url) { client async throws in
                #expect(try await client.publish(channel: "nobody", message: ByteBuffer(string: "x")) == 0)
            }
        }
    }

    @Test func theDatabaseInThePathIsSelected() async throws {
        try await withRedisServer { server async throws in
            try await withClient(server.url + "/3") { client async throws in
                _ = try await client.send(["SET", "where", "three"])
                #expect(try await client.send(["CLIENT", "INFO"]).string?.contains(" db=3 ") == true)
            }
            try await withClient(server.url) { client async throws in
                #expect(try await client.send(["GET", "where"]) == .null)
                _ = try await client.send(["SELECT", "3"])
                #expect(try await client.send(["GET", "where"]).string == "three")
            }
            try await withClient(server.url + "/99") { client async throws in
                let error = await #expect(throws: RedisError.self) { try await client.send(["PING"]) }
                #expect(error?.kind == .server)
                #expect(error?.message.contains("SELECT 99") == true)
            }
        }
    }

    @Test func anUnreachableServerFailsFastDuringABackoffLongerThanTheRequestsDeadline() async throws {
        let server = try await RedisTestServer.start()
        // A 40 ms deadline: the first backoff (50 to 100 ms) always outlasts it.
        let url = server.url + "?connectTimeout=500&commandTimeout=40"
        server.shutdown()
        try await withClient(url) { client async throws in
            let first = await #expect(throws: RedisError.self) { try await client.send(["PING"]) }
            #expect(first?.kind == .connectionClosed)
            #expect(first?.message.contains("cannot connect to 127.0.0.1:\(server.port)/0") == true)
            // Within the backoff window a request fails at once, without a connect attempt.
            var failedFast = false
            for _ in 0..<20 where !failedFast {
                let start = ContinuousClock.now
                let error = await #expect(throws: RedisError.self) { try await client.send(["PING"]) }
                #expect(error?.kind == .connectionClosed)
                if error?.message.contains("next attempt in") == true {
                    failedFast = true
                    #expect(ContinuousClock.now - start < .seconds(3))
                }
            }
            #expect(failedFast)
        }
    }

    @Test func aRequestWaitsForTheNextAttemptWhenItComesBeforeItsDeadline() async throws {
        let server = try await RedisTestServer.start()
        defer { server.shutdown() }
        try await withClient(server.url + "?connectTimeout=500&commandTimeout=5000") { client async throws in
            server.kill()
            let first = await #expect(throws: RedisError.self) { try await client.send(["PING"]) }
            #expect(first?.message.contains("cannot connect") == true)
            // Inside the backoff (at most 100 ms after one failure), a request with 5 s left
            // waits for the next attempt and makes it, instead of failing at once.
            let second = await #expect(throws: RedisError.self) { try await client.send(["PING"]) }
            #expect(second?.message.contains("cannot connect") == true)
            #expect(second?.message.contains("next attempt in") == false)
            // So a server that is back serves the next request, whatever is left of the backoff.
            try await server.restart()
            #expect(try await client.send(["PING"]).string == "PONG")
        }
    }

    @Test func aClosedClientRefusesCommands() async throws {
        try await withRedisServer { server async throws in
            let client = RedisClient(configuration: try RedisConfiguration(url: server.url), logger: quietLogger)
            _ = try await client.send(["PING"])
            await client.close()
            let error = await #expect(throws: RedisError.self) { try await client.send(["PING"]) }
            #expect(error?.kind == .connectionClosed)
        }
    }
}

/// Retries `body` for up to `seconds` (for a server that is coming back).
func eventually<T: Sendable>(seconds: Int = 5, _ body: () async throws -> T) async throws -> T {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while true {
        do {
            return try await body()
        } catch {
            if ContinuousClock.now > deadline { throw error }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
