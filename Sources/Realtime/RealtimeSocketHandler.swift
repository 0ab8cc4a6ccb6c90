import NIOCore
import NIOWebSocket

/// The last handler of an upgraded realtime socket, behind NIO's WebSocket codec and
/// fragment aggregator: whole messages go to the socket's ``RealtimeSocket`` inbox, pings
/// are answered, and the close handshake is done here. No task waits on the socket while it
/// is idle (docs/performance.md, "connections").
///
/// - A close from the client is answered with its own code, then the connection is closed.
/// - A close from the server (``Close``, sent as a user inbound event) waits
///   ``RealtimeService/closeHandshakeTimeout`` for the client's answer, then the connection is
///   closed anyway.
/// - A message over the size limit closes the socket with 1009, a malformed fragment sequence
///   with 1002 (a single oversized or malformed frame is closed by NIO's protocol error
///   handler in front of this one).
/// - While the inbox is full, reads from the socket wait (the client's bytes stay in the
///   kernel's buffers).
/// - A client that ends its side of the TCP stream without a close frame is disconnected.
///
/// Every method runs on the channel's event loop.
final class RealtimeSocketHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    /// Asks the handler to close the socket from the server's side.
    struct Close: Sendable {
        var code: WebSocketErrorCode
        var reason: String?
    }

    /// The socket's session; nil for a socket refused right after the upgrade.
    private let socket: RealtimeSocket?
    /// Why the socket is refused (sent as soon as the handler is added).
    private let refusal: Close?
    private var closeSent = false
    private var hardClose: Scheduled<Void>?

    init(socket: RealtimeSocket) {
        self.socket = socket
        self.refusal = nil
    }

    /// A handler that closes the socket at once with `refusal`.
    init(refusal: Close) {
        self.socket = nil
        self.refusal = refusal
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if let refusal { sendClose(context, refusal) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            guard !closeSent, let socket else { return }
            socket.received(.text(String(buffer: frame.unmaskedData)))
        case .binary:
            guard !closeSent, let socket else { return }
            socket.received(.binary(frame.unmaskedData))
        case .ping:
            guard !closeSent else { return }
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .pong:
            break
        case .connectionClose:
            if closeSent {
                context.close(promise: nil)
                return
            }
            // Answered with the client's own code (RFC 6455 §5.5.1), then closed.
            var data = frame.unmaskedData
            let code = data.readableBytes >= 2 ? data.readSlice(length: 2) : nil
            closeSent = true
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: code ?? ByteBuffer())))
                .assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        default:
            sendClose(context, Close(code: .protocolError, reason: nil))
        }
    }

    /// Frames written after the close frame are refused (RFC 6455 §5.5.1).
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !closeSent else {
            promise?.fail(ChannelError.outputClosed)
            return
        }
        context.write(data, promise: promise)
    }

    func read(context: ChannelHandlerContext) {
        if !closeSent, let socket, socket.holdsReads() { return }
        context.read()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let close = event as? Close {
            sendClose(context, close)
            return
        }
        // The server allows half-closed connections (for HTTP); a client that ended its side
        // without a close frame is gone.
        if let event = event as? ChannelEvent, event == .inputClosed {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error {
        case NIOWebSocketFrameAggregator.Error.accumulatedFrameSizeIsTooLarge:
            sendClose(context, Close(code: .messageTooLarge, reason: nil))
        case is NIOWebSocketFrameAggregator.Error:
            sendClose(context, Close(code: .protocolError, reason: nil))
        case is NIOWebSocketError:
            // NIO's protocol error handler has answered it and closes the connection.
            break
        default:
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        hardClose?.cancel()
        hardClose = nil
        socket?.clientLeft()
        context.fireChannelInactive()
    }

    /// Sends a close frame (once); the connection is closed when the client answers, or
    /// ``RealtimeService/closeHandshakeTimeout`` later. Reads go on, to see the answer.
    private func sendClose(_ context: ChannelHandlerContext, _ close: Close) {
        guard !closeSent else { return }
        closeSent = true
        var data = context.channel.allocator.buffer(capacity: 2 + (close.reason?.utf8.count ?? 0))
        data.write(webSocketErrorCode: close.code)
        if let reason = close.reason { data.writeString(reason) }
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)), promise: nil)
        hardClose = context.eventLoop.assumeIsolated().scheduleTask(in: RealtimeService.closeHandshakeTimeout) {
            context.close(promise: nil)
        }
        context.read()
    }
}

@available(*, unavailable)
extension RealtimeSocketHandler: Sendable {}
