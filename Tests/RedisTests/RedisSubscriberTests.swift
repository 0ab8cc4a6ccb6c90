import NIOCore
import Testing
import TestSupport
import Redis

/// The pub/sub connection: delivery to several consumers, and recovery after the server restarts.
@Suite struct RedisSubscriberTests {
    @Test func subscribersReceivePublishedMessages() async throws {
        try await withRedisServer { server async throws in
            let configuration = try RedisConfiguration(url: withLoadedMachineTimeouts(server.url))
            let subscriber = RedisSubscriber(configuration: configuration, channels: ["a", "b"], logger: quietLogger)
            let first = subscriber.messages()
            let second = subscriber.messages()
            let running = Task { try await subscriber.run() }
            await subscriber.waitUntilSubscribed()
            await subscriber.waitUntilSubscribed()  // returns at once the second time
            try await withClient(server.url) { client async throws in
                #expect(try await client.publish(channel: "a", message: ByteBuffer(string: "one")) == 1)
                #expect(try await client.publish(channel: "other", message: ByteBuffer(string: "ignored")) == 0)
                #expect(try await client.publish(channel: "b", message: ByteBuffer(bytes: [0, 255])) == 1)
            }
            for stream in [first, second] {
                var iterator = stream.makeAsyncIterator()
                guard case .message(let channel1, let payload1) = await iterator.next(),
                      case .message(let channel2, let payload2) = await iterator.next()
                else {
                    Issue.record("expected two messages")
                    continue
                }
                #expect(channel1 == "a")
                #expect(payload1 == ByteBuffer(string: "one"))
                #expect(channel2 == "b")
                #expect(payload2 == ByteBuffer(bytes: [0, 255]))
            }
            running.cancel()
            try await running.value
            // After run() returns, the streams finish.
            var iterator = first.makeAsyncIterator()
            #expect(await iterator.next() == nil)
        }
    }

    @Test func afterARestartTheSubscriberResubscribesAndTheClientRecovers() async throws {
        try await withRedisServer { server async throws in
            let configuration = try RedisConfiguration(url: withLoadedMachineTimeouts(server.url + "?connectTimeout=2000"))
            let subscriber = RedisSubscriber(configuration: configuration, channels: ["events"], logger: quietLogger)
            let events = subscriber.messages()
            let running = Task { try await subscriber.run() }
            defer { running.cancel() }
            await subscriber.waitUntilSubscribed()
            let client = RedisClient(configuration: configuration, logger: quietLogger)
            #expect(try await client.publish(channel: "events", message: ByteBuffer(string: "before")) == 1)

            server.kill()
            let down = await #expect(throws: RedisError.self) { try await client.send(["PING"]) }
            #expect(down?.kind == .connectionClosed)
            try await server.restart()

            var iterator = events.makeAsyncIterator()
            guard case .message(_, let before) = await iterator.next() else {
                Issue.record("expected the first message")
                return
            }
            #expect(before == ByteBuffer(string: "before"))
            guard case .resubscribed = await iterator.next() else {
                Issue.record("expected .resubscribed after the restart")
                return
            }
            // The pool drops its dead connection and, after its backoff, opens a new one.
            let receivers = try await eventually {
                try await client.publish(channel: "events", message: ByteBuffer(string: "after"))
            }
            #expect(receivers == 1)
            guard case .message(let channel, let after) = await iterator.next() else {
                Issue.record("expected a message after the restart")
                return
            }
            #expect(channel == "events")
            #expect(after == ByteBuffer(string: "after"))
            await client.close()
            running.cancel()
            try await running.value
        }
    }

    @Test func waitUntilSubscribedReturnsWhenItsTaskIsCancelled() async throws {
        let configuration = RedisConfiguration(host: "127.0.0.1", port: 1)
        let subscriber = RedisSubscriber(configuration: configuration, channels: ["x"], logger: quietLogger)
        let waiting = Task { await subscriber.waitUntilSubscribed() }
        try await Task.sleep(for: .milliseconds(20))
        waiting.cancel()
        await waiting.value
        // run() against a closed port keeps retrying until cancelled, then returns.
        let running = Task { try await subscriber.run() }
        try await Task.sleep(for: .milliseconds(300))
        running.cancel()
        try await running.value
    }
}
