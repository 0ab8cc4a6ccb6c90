import Foundation
import Metrics
import NIOCore

/// The first handler of every HTTP connection. On the raw bytes, before the HTTP decoder:
///
/// - admits the connection through the per-address ``ConnectionRegistry`` (503 when refused);
/// - gives each request head `headerTimeoutSeconds` to arrive complete (408) and caps it at
///   `maximumHeaderBytes` (431);
/// - closes a keep-alive connection idle for `idleTimeoutSeconds` between requests;
/// - steps aside for good once the connection is upgraded to a WebSocket;
/// - cancels the request in flight when the client closes its side (``AbandonedRequestSignal``).
///
/// ``HTTPExchangeObserver`` (behind the decoder) reports where requests start and end.
/// Every method runs on the channel's event loop.
final class ConnectionGuardHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private enum Phase {
        /// Reading a request head: bytes so far and whether the last line break ended a line.
        case head(bytes: Int, atLineStart: Bool)
        /// The head's blank line has passed; waiting for the decoder to report the request.
        case decoding
        /// A request is being read or answered.
        case request
        /// Keep-alive, between requests.
        case idle
        /// A WebSocket now: no limits from here.
        case upgraded
        /// Answered with an error; input is discarded until the connection closes.
        case closing

        var isIdle: Bool {
            if case .idle = self { return true }
            return false
        }
    }

    private let limits: HTTPConnectionLimits
    private let registry: ConnectionRegistry?
    private let abandoned: AbandonedRequestSignal
    private var phase = Phase.head(bytes: 0, atLineStart: false)
    private var started = false
    private var ticket: ConnectionRegistry.Ticket?
    private var timer: Scheduled<Void>?
    private var context: ChannelHandlerContext?

    init(limits: HTTPConnectionLimits, registry: ConnectionRegistry?, abandoned: AbandonedRequestSignal) {
        self.limits = limits
        self.registry = registry
        self.abandoned = abandoned
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { start(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        clientLeft(context, closing: false)
        finish()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            clientLeft(context, closing: true)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch phase {
        case .closing:
            return
        case .decoding, .request, .upgraded:
            context.fireChannelRead(data)
            return
        case .idle:
            phase = .head(bytes: 0, atLineStart: false)
            schedule(seconds: limits.headerTimeoutSeconds)
        case .head:
            break
        }
        guard case .head(var bytes, var atLineStart) = phase else { return }
        let buffer = unwrapInboundIn(data)
        var complete = false
        buffer.withUnsafeReadableBytes { raw in
            for byte in raw {
                bytes += 1
                if byte == UInt8(ascii: "\n") {
                    // A line break right after another one (CRs aside) ends the head.
                    if atLineStart {
                        complete = true
                        return
                    }
                    atLineStart = true
                } else if byte != UInt8(ascii: "\r") {
                    atLineStart = false
                }
                if bytes > limits.maximumHeaderBytes { return }
            }
        }
        if bytes > limits.maximumHeaderBytes {
            reject(
                context, status: 431, reason: "Request Header Fields Too Large", code: "request_header_fields_too_large",
                message: "Request head exceeds \(limits.maximumHeaderBytes) bytes")
            return
        }
        // The decoder reports the request (`requestStarted`) from inside this call.
        phase = complete ? .decoding : .head(bytes: bytes, atLineStart: atLineStart)
        context.fireChannelRead(data)
    }

    // MARK: - Reports from HTTPExchangeObserver

    /// The decoder produced a request head.
    func requestStarted() {
        switch phase {
        case .head, .decoding, .idle:
            phase = .request
            cancelTimer()
            if let ticket { registry?.setEvictable(false, ticket) }
        case .request, .upgraded, .closing:
            break
        }
    }

    /// The last request has been read and answered.
    func exchangeFinished() {
        guard case .request = phase else { return }
        phase = .idle
        schedule(seconds: limits.idleTimeoutSeconds)
        if let ticket { registry?.setEvictable(true, ticket) }
    }

    /// The connection switched to the WebSocket protocol.
    func upgraded() {
        phase = .upgraded
        cancelTimer()
        if let ticket { registry?.setEvictable(false, ticket) }
    }

    /// The decoder refused the bytes: 431 for an oversized head, 400 otherwise.
    func decoderRefused(headerOverflow: Bool) {
        guard let context else { return }
        if headerOverflow {
            reject(
                context, status: 431, reason: "Request Header Fields Too Large", code: "request_header_fields_too_large",
                message: "Request head exceeds \(limits.maximumHeaderBytes) bytes")
        } else {
            reject(context, status: 400, reason: "Bad Request", code: "bad_request", message: "Malformed HTTP request")
        }
    }

    // MARK: - Internals

    private func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        if let registry, let address = context.channel.remoteAddress?.ipAddress {
            guard let ticket = registry.admit(address: address, channel: context.channel) else {
                reject(
                    context, status: 503, reason: "Service Unavailable", code: "too_many_connections",
                    message: "Too many open connections from this address", retryAfter: 1)
                return
            }
            self.ticket = ticket
        }
        schedule(seconds: limits.headerTimeoutSeconds)
    }

    /// The client closed its side: a request still being answered is abandoned, and the
    /// connection is closed so the cancelled request's answer goes nowhere.
    private func clientLeft(_ context: ChannelHandlerContext, closing: Bool) {
        switch phase {
        case .decoding, .request:
            phase = .closing
            Self.count("client_left")
            abandoned.fire()
            if closing { context.close(promise: nil) }
        case .head, .idle, .upgraded, .closing:
            break
        }
    }

    private static let reasons = [400: "bad_request", 408: "header_timeout", 431: "header_too_large", 503: "too_many_connections"]

    /// `http_connections_closed_total{reason}` (docs/api.md, metrics).
    static func count(_ reason: String) {
        Counter(label: "http_connections_closed_total", dimensions: [("reason", reason)]).increment()
    }

    private func finish() {
        cancelTimer()
        if let ticket {
            registry?.remove(ticket)
            self.ticket = nil
        }
    }

    private func schedule(seconds: Int) {
        cancelTimer()
        guard let context else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(Int64(seconds))) { [self] in
            timer = nil
            timedOut()
        }
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
    }

    private func timedOut() {
        guard let context else { return }
        switch phase {
        case .head(let bytes, _) where bytes > 0:
            reject(context, status: 408, reason: "Request Timeout", code: "request_timeout", message: "Request head not received in time")
        case .decoding:
            reject(context, status: 408, reason: "Request Timeout", code: "request_timeout", message: "Request head not received in time")
        case .head, .idle:
            Self.count(phase.isIdle ? "idle" : "header_timeout")
            phase = .closing
            context.close(promise: nil)
        case .request, .upgraded, .closing:
            break
        }
    }

    /// Answers with a plain `{"error","code"}` body, ends the output and closes shortly after
    /// (reading and dropping what the client still sends, so the answer is not lost to a reset).
    private func reject(
        _ context: ChannelHandlerContext, status: Int, reason: String, code: String, message: String, retryAfter: Int? = nil
    ) {
        phase = .closing
        Self.count(Self.reasons[status] ?? "http_\(status)")
        cancelTimer()
        if let ticket { registry?.setEvictable(false, ticket) }
        let body = #"{"code":"\#(code)","error":"\#(message)"}"#
        var head = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n"
        if let retryAfter { head += "Retry-After: \(retryAfter)\r\n" }
        var buffer = context.channel.allocator.buffer(capacity: head.utf8.count + body.utf8.count + 2)
        buffer.writeString(head + "\r\n" + body)
        context.writeAndFlush(NIOAny(buffer)).assumeIsolated().whenComplete { _ in
            context.close(mode: .output, promise: nil)
        }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(2)) {
            context.close(promise: nil)
        }
    }
}
