import HummingbirdWebSocket
import NIOCore
import NIOHTTP1
import NIOWebSocket
import Realtime

/// Sits behind ``HTTPExchangeObserver`` until the connection's first request head, then steps
/// aside. A WebSocket upgrade of the realtime endpoint (``RealtimeController/check(_:peer:)``)
/// is upgraded by NIO's upgrade handler, put in front of Hummingbird's for this request, and
/// served by NIO channel handlers (``RealtimeController/serve(_:on:)``): Hummingbird's
/// upgrade handler is removed with the HTTP codec, so the connection's task ends, and no task
/// waits on an idle socket (docs/performance.md, "connections"). An upgrade of the endpoint
/// that breaks a rule is answered 400 here, naming the rule, and the connection closed. Any
/// other request goes on to Hummingbird.
final class RealtimeUpgradeTap: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let realtime: RealtimeController
    private let maximumFrameBytes: Int
    /// A refused upgrade was answered: the rest of the connection's input is dropped.
    private var refused = false

    init(realtime: RealtimeController, maximumFrameBytes: Int) {
        self.realtime = realtime
        self.maximumFrameBytes = maximumFrameBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        if case .head(let head) = unwrapInboundIn(data) {
            switch realtime.check(head, peer: context.channel.remoteAddress?.ipAddress) {
            case .socket(let request):
                // Fails only on a pipeline other than the one this handler is made for; then
                // Hummingbird answers the request (400: it has no realtime route).
                try? takeUpgrade(request, context: context)
            case .refused(let rule):
                refuse(rule, context: context)
                return
            case .other:
                break
            }
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(self, promise: nil)
    }

    /// Answers 400 (`{"code":"bad_websocket_upgrade","error":rule}`) and closes the connection.
    private func refuse(_ rule: String, context: ChannelHandlerContext) {
        refused = true
        var body = context.channel.allocator.buffer(capacity: rule.utf8.count + 48)
        body.writeString(#"{"code":"bad_websocket_upgrade","error":"\#(rule)"}"#)
        let headers = HTTPHeaders([("Content-Type", "application/json"), ("Content-Length", "\(body.readableBytes)"), ("Connection", "close")])
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .badRequest, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    /// Puts NIO's upgrade handler, with the realtime upgrader only, right behind this one.
    private func takeUpgrade(_ request: RealtimeController.SocketRequest, context: ChannelHandlerContext) throws {
        let realtime = realtime
        let upgrader = NIOWebSocketServerUpgrader(
            maxFrameSize: maximumFrameBytes, automaticErrorHandling: true,
            shouldUpgrade: { channel, _ in channel.eventLoop.makeSucceededFuture(HTTPHeaders()) },
            upgradePipelineHandler: { channel, _ in
                channel.eventLoop.makeCompletedFuture { try realtime.serve(request, on: channel) }
            })
        let pipeline = context.pipeline.syncOperations
        let upgrade = HTTPServerUpgradeHandler(
            upgraders: [upgrader], httpEncoder: try pipeline.handler(type: HTTPResponseEncoder.self),
            extraHTTPHandlers: [
                try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self),
                try pipeline.handler(type: NIOTypedHTTPServerUpgradeHandler<HTTP1WebSocketUpgradeChannel.UpgradeResult>.self),
            ],
            upgradeCompletionHandler: { _ in })
        try pipeline.addHandler(upgrade, position: .after(self))
    }
}

@available(*, unavailable)
extension RealtimeUpgradeTap: Sendable {}
