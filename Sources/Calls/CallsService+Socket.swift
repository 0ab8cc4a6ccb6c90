import Foundation
import HummingbirdWebSocket
import NIOCore

extension CallsService {
    /// Serves one calls WebSocket until it closes. `address` is the client's address (for
    /// the per-address cap); `secure` whether it arrived over TLS.
    public func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, address: String, secure: Bool) async {
        if settings.requireSecureTransport, !secure {
            try? await outbound.close(.unknown(CallsCloseCode.secureTransportRequired.rawValue), reason: "SECURE_TRANSPORT_REQUIRED")
            return
        }
        guard await hub.connect(address, limit: settings.maximumConnectionsPerAddress) else {
            try? await outbound.close(.unknown(CallsCloseCode.rateLimited.rawValue), reason: "TOO_MANY_CONNECTIONS")
            return
        }
        let (commands, continuation) = AsyncStream<SocketCommand>.makeStream(bufferingPolicy: .bufferingOldest(4096))
        let writer = SocketWriter(continuation)
        let connection = CallsConnection(service: self, writer: writer)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    for try await message in inbound.messages(maxSize: self.settings.maximumFrameBytes) {
                        guard case .text(let text) = message else {
                            await connection.handle("binary frames are not accepted")
                            continue
                        }
                        // The upgrade's frame limit serves realtime too; calls allow 64 KiB.
                        guard text.utf8.count <= self.settings.maximumFrameBytes else {
                            writer.close(1009, reason: "FRAME_TOO_LARGE")
                            return
                        }
                        await connection.handle(text)
                    }
                    writer.finish()
                } catch {
                    // Too large (a fragmented message) or the connection failed.
                    writer.close(1009, reason: "FRAME_TOO_LARGE")
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    await connection.tick()
                }
            }
            // Writes (and the closing frame) go out in order until the socket is done.
            writing: for await command in commands {
                switch command {
                case .text(let text):
                    do { try await outbound.write(.text(text)) } catch { break writing }
                case .close(let code, let reason):
                    try? await outbound.close(.unknown(code), reason: reason)
                    break writing
                }
            }
            group.cancelAll()
        }
        await connection.finished()
        await hub.disconnect(address)
    }
}
