import NIOCore
import NIOPosix
import Synchronization
import Testing
import TestSupport
import Redis

/// A fake server that answers each read with the next canned reply: invalid RESP from a server
/// fails the request with `.protocolViolation` (naming the rule) instead of trapping.
@Suite struct RedisProtocolViolationTests {
    /// Answers each complete command with the next canned reply (`CLIENT SETNAME` with `+OK`,
    /// so the replies line up with `HELLO` and the test's own command however TCP splits the
    /// client's writes).
    final class CannedRepliesHandler: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let replies: Mutex<[String]>
        let pending = Mutex(ByteBuffer())

        init(_ replies: [String]) {
            self.replies = Mutex(replies)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var incoming = Self.unwrapInboundIn(data)
            let commands: [RESPValue] = self.pending.withLock { pending in
                pending.writeBuffer(&incoming)
                var decoded: [RESPValue] = []
                while let command = try? RESPDecoder.decode(&pending, limits: RESPDecodingLimits()) { decoded.append(command) }
                return decoded
            }
            for command in commands {
                let name = command.array?.first?.string?.uppercased()
                let next = name == "CLIENT" ? "+OK\r\n" : self.replies.withLock { $0.isEmpty ? nil : $0.removeFirst() }
                if let next {
                    context.writeAndFlush(Self.wrapOutboundOut(ByteBuffer(string: next)), promise: nil)
                }
            }
        }
    }

    func withFakeServer(_ replies: [String], _ body: (Int) async throws -> Void) async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(CannedRepliesHandler(replies))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(server.localAddress?.port)
        do {
            try await body(port)
            try await server.close()
        } catch {
            try? await server.close()
            throw error
        }
    }

    @Test(arguments: [
        (["?oops\r\n"], "invalid RESP type byte '?'"),
        (["$999999999999\r\n"], "RESP '$' length 999999999999 exceeds the limit of 536870912 bytes"),
        (["%0\r\n", String(repeating: "*1\r\n", count: 40) + ":1\r\n"], "RESP aggregates nested more than 32 levels deep"),
        (["%0\r\n", ":99999999999999999999\r\n"], "does not fit in a signed 64-bit integer"),
        (["%0\r\n", "*-3\r\n"], "RESP '*' length -3 is negative"),
    ])
    func invalidRepliesAreProtocolViolations(replies: [String], message: String) async throws {
        try await withFakeServer(replies) { port in
            try await withClient("redis://127.0.0.1:\(port)?commandTimeout=30000") { client async throws in
                let error = await #expect(throws: RedisError.self) { try await client.send(["GET", "k"]) }
                #expect(error?.kind == .protocolViolation)
                #expect(error?.message.contains(message) == true, "\(String(describing: error))")
            }
        }
    }

    @Test func aServerThatNeverAnswersTheHandshakeTimesOut() async throws {
        try await withFakeServer([]) { port in
            // The handshake is bounded by the connect timeout, not the (far longer) command timeout.
            try await withClient("redis://127.0.0.1:\(port)?connectTimeout=200&commandTimeout=60000") { client async throws in
                let start = ContinuousClock.now
                let error = await #expect(throws: RedisError.self) { try await client.send(["PING"]) }
                #expect(error?.kind == .timeout)
                #expect(ContinuousClock.now - start < .seconds(30))
            }
        }
    }
}
