import NIOCore
import NIOHTTP1

/// Sits right behind the HTTP decoder and tells the ``ConnectionGuardHandler`` where each
/// request starts and when it has been read and answered, that the connection became a
/// WebSocket, and when the decoder refused the client's bytes (which it then answers itself:
/// before the first request nobody else would, and an oversized head gets 431, not 400).
final class HTTPExchangeObserver: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let connectionGuard: ConnectionGuardHandler
    /// Request heads read whose response has not ended.
    private var unanswered = 0
    private var readingBody = false
    private var sawRequest = false
    /// After a WebSocket upgrade other types flow here; they pass untouched.
    private var upgraded = false

    init(_ connectionGuard: ConnectionGuardHandler) {
        self.connectionGuard = connectionGuard
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !upgraded {
            switch unwrapInboundIn(data) {
            case .head:
                unanswered += 1
                readingBody = true
                sawRequest = true
                connectionGuard.requestStarted()
            case .body:
                break
            case .end:
                readingBody = false
                if unanswered == 0 { connectionGuard.exchangeFinished() }
            }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if !upgraded {
            switch unwrapOutboundIn(data) {
            case .head(let head) where head.status == .switchingProtocols:
                upgraded = true
                connectionGuard.upgraded()
            case .head, .body:
                break
            case .end:
                unanswered = max(0, unanswered - 1)
                if unanswered == 0 && !readingBody { connectionGuard.exchangeFinished() }
            }
        }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !upgraded, let parserError = error as? HTTPParserError {
            let overflow = parserError == .headerOverflow
            if overflow || !sawRequest {
                connectionGuard.decoderRefused(headerOverflow: overflow)
                return
            }
        }
        context.fireErrorCaught(error)
    }
}
