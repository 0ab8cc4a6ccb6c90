import Foundation
import HummingbirdWebSocket
import NIOCore

extension RealtimeService {
    // MARK: Connections

    /// Serves one WebSocket connection until it closes.
    public func serve(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, version: PhoenixFrame.Version, token: String
    ) async {
        let id = UUID()
        let (outbox, continuation) = AsyncStream<Outbound>.makeStream(bufferingPolicy: .bufferingOldest(limits.outboundQueue))
        let budget = OutboxBudget(limit: limits.outboundBytes)
        await hub.connect(id, version: version, outbox: continuation, budget: budget)
        let session = RealtimeSession(
            id: id, hub: hub, bus: bus, membership: membership, verify: verify, limits: limits, socketToken: token, logger: logger)
        let activity = ActivityClock()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // This socket's own task: its channels' filters run here (PreparedChange), so
                // their cost falls on this connection alone.
                for await item in outbox {
                    defer { budget.remove(item.byteCount) }
                    let text: String
                    switch item {
                    case .text(let frame):
                        text = frame
                    case .binary(let bytes):
                        do { try await outbound.write(.binary(bytes)) } catch { return }
                        continue
                    case .change(let change, let subscriber):
                        guard let frame = change.frame(for: subscriber, version: version) else {
                            // Let other tasks run between a long run of non-matching changes.
                            await Task.yield()
                            continue
                        }
                        text = frame
                    }
                    do { try await outbound.write(.text(text)) } catch { return }
                }
            }
            group.addTask { await self.read(inbound, session: session, version: version, activity: activity) }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    if await activity.idleSeconds() > Double(self.limits.idleTimeoutSeconds) { return }
                }
            }
            // The first task to end (client gone, idle, too slow) ends the connection.
            _ = await group.next()
            continuation.finish()
            group.cancelAll()
        }
        await session.disconnected()
    }

    private func read(_ inbound: WebSocketInboundStream, session: RealtimeSession, version: PhoenixFrame.Version, activity: ActivityClock) async {
        var tokens = Double(limits.framesPerSecond * 2)
        var last = ContinuousClock.now
        var refusals = 0
        do {
            for try await message in inbound.messages(maxSize: limits.maximumFrameBytes) {
                await activity.touch()
                let now = ContinuousClock.now
                tokens = min(Double(limits.framesPerSecond * 2), tokens + (now - last).seconds * Double(limits.framesPerSecond))
                last = now
                guard let frame = try? PhoenixFrame.decode(message, version: version) else {
                    refusals += 1
                    if refusals > limits.refusalsBeforeClose { return }
                    continue
                }
                guard tokens >= 1 else {
                    refusals += 1
                    if refusals > limits.refusalsBeforeClose { return }
                    await hub.send(.error(to: frame, reason: "rate limited: at most \(limits.framesPerSecond) messages per second"), to: session.id)
                    continue
                }
                tokens -= 1
                await session.handle(frame)
            }
        } catch {
            logger.debug("realtime socket read ended", metadata: ["error": "\(error)"])
        }
    }
}

/// When a socket last sent anything.
actor ActivityClock {
    private var last = ContinuousClock.now

    func touch() { last = .now }

    func idleSeconds() -> Double { (ContinuousClock.now - last).seconds }
}

extension Duration {
    var seconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) / 1e18
    }
}
