import NIOCore

/// Bounds on what the decoder accepts from a server, so that a broken or hostile peer cannot make it
/// allocate without limit or recurse without end.
public struct RESPDecodingLimits: Sendable, Hashable {
    /// The longest bulk string, verbatim string or blob error, in bytes. Default 512 MiB, as Redis's `proto-max-bulk-len`.
    public var maximumBulkLength: Int
    /// The most elements one array, set or push may announce (pairs, for a map or attribute). Default 16 Mi.
    public var maximumAggregateCount: Int
    /// The deepest nesting of aggregates. Default 32.
    public var maximumDepth: Int
    /// The longest line (simple string, error, number, length), in bytes. Default 1 MiB.
    public var maximumLineLength: Int

    /// Limits with Redis-like defaults.
    public init(
        maximumBulkLength: Int = 512 * 1024 * 1024,
        maximumAggregateCount: Int = 16 * 1024 * 1024,
        maximumDepth: Int = 32,
        maximumLineLength: Int = 1024 * 1024
    ) {
        self.maximumBulkLength = max(0, maximumBulkLength)
        self.maximumAggregateCount = max(0, min(maximumAggregateCount, Int.max / 4))
        self.maximumDepth = max(0, maximumDepth)
        self.maximumLineLength = max(0, maximumLineLength)
    }
}

/// Reads RESP3 (and RESP2) values from bytes.
public enum RESPDecoder {
    /// Decodes one complete value from the front of `buffer` and consumes its bytes.
    ///
    /// Returns nil, leaving `buffer` untouched, when the value is not complete yet. Throws
    /// `RESPDecodingError` (leaving `buffer` untouched) on bytes that are not valid RESP or break `limits`.
    public static func decode(_ buffer: inout ByteBuffer, limits: RESPDecodingLimits = RESPDecodingLimits()) throws -> RESPValue? {
        var copy = buffer
        var decoder = RESPStreamDecoder(limits: limits)
        guard let value = try decoder.next(&copy) else { return nil }
        buffer = copy
        return value
    }
}

/// An incremental decoder: it consumes complete elements of an aggregate as they arrive and keeps the
/// partial aggregates, so a large reply arriving in many reads is parsed once, not once per read.
struct RESPStreamDecoder {
    let limits: RESPDecodingLimits

    private enum AggregateKind {
        case array, set, push, map, attribute
    }

    private struct Frame {
        let kind: AggregateKind
        var remaining: Int
        var elements: [RESPValue]
    }

    private enum Item {
        case value(RESPValue, consumed: Int)
        case blob(type: UInt8, offset: Int, length: Int, consumed: Int)
        case aggregate(AggregateKind, elements: Int, consumed: Int)
    }

    private var stack: [Frame] = []

    init(limits: RESPDecodingLimits) {
        self.limits = limits
    }

    /// The next complete top-level value, or nil when more bytes are needed (bytes of complete
    /// elements inside an unfinished aggregate are consumed and kept).
    mutating func next(_ buffer: inout ByteBuffer) throws -> RESPValue? {
        while true {
            guard let item = try self.parseItem(buffer) else { return nil }
            var value: RESPValue
            switch item {
            case .value(let parsed, let consumed):
                buffer.moveReaderIndex(forwardBy: consumed)
                value = parsed
            case .blob(let type, let offset, let length, let consumed):
                guard let slice = buffer.getSlice(at: buffer.readerIndex + offset, length: length) else { return nil }
                buffer.moveReaderIndex(forwardBy: consumed)
                value = try Self.blobValue(type: type, bytes: slice)
            case .aggregate(let kind, let count, let consumed):
                guard self.stack.count < self.limits.maximumDepth else {
                    throw RESPDecodingError.nestingTooDeep(maximum: self.limits.maximumDepth)
                }
                buffer.moveReaderIndex(forwardBy: consumed)
                if count == 0 {
                    if kind == .attribute { continue }
                    value = Self.build(kind, [])
                } else {
                    var elements: [RESPValue] = []
                    elements.reserveCapacity(min(count, 1024))
                    self.stack.append(Frame(kind: kind, remaining: count, elements: elements))
                    continue
                }
            }
            // Fold the complete value into the open aggregates.
            while true {
                guard var top = self.stack.popLast() else { return value }
                top.elements.append(value)
                top.remaining -= 1
                if top.remaining > 0 {
                    self.stack.append(top)
                    break
                }
                if top.kind == .attribute {
                    // Attributes describe the value that follows; it takes their place.
                    break
                }
                value = Self.build(top.kind, top.elements)
            }
        }
    }

    private static func build(_ kind: AggregateKind, _ elements: [RESPValue]) -> RESPValue {
        switch kind {
        case .array: return .array(elements)
        case .set: return .set(elements)
        case .push: return .push(elements)
        case .map, .attribute:
            var map: [RESPValue: RESPValue] = [:]
            map.reserveCapacity(elements.count / 2)
            var index = 0
            while index + 1 < elements.count {
                map[elements[index]] = elements[index + 1]
                index += 2
            }
            return .map(map)
        }
    }

    private static func blobValue(type: UInt8, bytes: ByteBuffer) throws -> RESPValue {
        switch type {
        case UInt8(ascii: "$"):
            return .bulkString(bytes)
        case UInt8(ascii: "!"):
            return .error(String(buffer: bytes))
        default:  // "="
            guard bytes.readableBytes >= 4, bytes.getInteger(at: bytes.readerIndex + 3, as: UInt8.self) == UInt8(ascii: ":"),
                  let text = bytes.getString(at: bytes.readerIndex + 4, length: bytes.readableBytes - 4)
            else { throw RESPDecodingError.invalidVerbatimString }
            return .verbatimString(text)
        }
    }

    /// Looks at the item at the reader index without consuming it.
    private func parseItem(_ buffer: ByteBuffer) throws -> Item? {
        let limits = self.limits
        return try buffer.withUnsafeReadableBytes { bytes -> Item? in
            guard let type = bytes.first else { return nil }
            guard Self.typeBytes.contains(type) else { throw RESPDecodingError.invalidTypeByte(type) }
            guard let lineEnd = try Self.findLineEnd(bytes, type: type, maximum: limits.maximumLineLength) else { return nil }
            let line = UnsafeRawBufferPointer(rebasing: bytes[1..<lineEnd])
            let consumed = lineEnd + 2
            switch type {
            case UInt8(ascii: "+"):
                return .value(.simpleString(String(decoding: line, as: UTF8.self)), consumed: consumed)
            case UInt8(ascii: "-"):
                return .value(.error(String(decoding: line, as: UTF8.self)), consumed: consumed)
            case UInt8(ascii: ":"):
                switch Self.parseInteger(line) {
                case .value(let value): return .value(.integer(value), consumed: consumed)
                case .overflow: throw RESPDecodingError.integerOverflow(type: type, text: Self.excerpt(line))
                case .invalid: throw RESPDecodingError.invalidInteger(Self.excerpt(line))
                }
            case UInt8(ascii: "_"):
                guard line.isEmpty else { throw RESPDecodingError.invalidNull(Self.excerpt(line)) }
                return .value(.null, consumed: consumed)
            case UInt8(ascii: "#"):
                if line.count == 1 && line[0] == UInt8(ascii: "t") { return .value(.boolean(true), consumed: consumed) }
                if line.count == 1 && line[0] == UInt8(ascii: "f") { return .value(.boolean(false), consumed: consumed) }
                throw RESPDecodingError.invalidBoolean(Self.excerpt(line))
            case UInt8(ascii: ","):
                let text = String(decoding: line, as: UTF8.self)
                guard Self.isDoubleText(line), let value = Double(text) else {
                    throw RESPDecodingError.invalidDouble(Self.excerpt(line))
                }
                return .value(.double(value), consumed: consumed)
            case UInt8(ascii: "("):
                guard Self.isBigNumber(line) else { throw RESPDecodingError.invalidBigNumber(Self.excerpt(line)) }
                return .value(.bigNumber(String(decoding: line, as: UTF8.self)), consumed: consumed)
            case UInt8(ascii: "$"), UInt8(ascii: "="), UInt8(ascii: "!"):
                guard let length = try Self.parseLength(line, type: type, nullable: type == UInt8(ascii: "$")) else {
                    return .value(.null, consumed: consumed)
                }
                guard length <= Int64(limits.maximumBulkLength), let size = Int(exactly: length) else {
                    throw RESPDecodingError.bulkTooLong(type: type, length: length, maximum: limits.maximumBulkLength)
                }
                // The payload and its CR LF must all be here.
                let (payloadEnd, overflow) = consumed.addingReportingOverflow(size)
                guard !overflow, payloadEnd <= Int.max - 2 else {
                    throw RESPDecodingError.bulkTooLong(type: type, length: length, maximum: limits.maximumBulkLength)
                }
                guard bytes.count >= payloadEnd + 2 else { return nil }
                guard bytes[payloadEnd] == 13, bytes[payloadEnd + 1] == 10 else {
                    throw RESPDecodingError.missingCRLF(type: type)
                }
                return .blob(type: type, offset: consumed, length: size, consumed: payloadEnd + 2)
            case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
                guard let count = try Self.parseLength(line, type: type, nullable: type == UInt8(ascii: "*")) else {
                    return .value(.null, consumed: consumed)
                }
                guard count <= Int64(limits.maximumAggregateCount), let elements = Int(exactly: count) else {
                    throw RESPDecodingError.aggregateTooLarge(type: type, count: count, maximum: limits.maximumAggregateCount)
                }
                let kind: AggregateKind
                switch type {
                case UInt8(ascii: "*"): kind = .array
                case UInt8(ascii: "~"): kind = .set
                case UInt8(ascii: ">"): kind = .push
                case UInt8(ascii: "%"): kind = .map
                default: kind = .attribute
                }
                let total = (kind == .map || kind == .attribute) ? elements * 2 : elements
                return .aggregate(kind, elements: total, consumed: consumed)
            default:
                throw RESPDecodingError.invalidTypeByte(type)
            }
        }
    }

    private static let typeBytes: Set<UInt8> = Set("+-:$*%~>|_,#(=!".utf8)

    /// The index of the CR that ends the line starting after the type byte, nil if the line is incomplete.
    private static func findLineEnd(_ bytes: UnsafeRawBufferPointer, type: UInt8, maximum: Int) throws -> Int? {
        let (limit, overflow) = maximum.addingReportingOverflow(2)
        let searchEnd = overflow ? bytes.count : min(bytes.count, limit)
        var index = 1
        while index < searchEnd {
            if bytes[index] == 13 {
                guard index + 1 < bytes.count else { return nil }
                guard bytes[index + 1] == 10 else { throw RESPDecodingError.missingCRLF(type: type) }
                guard index - 1 <= maximum else { throw RESPDecodingError.lineTooLong(type: type, maximum: maximum) }
                return index
            }
            if bytes[index] == 10 { throw RESPDecodingError.missingCRLF(type: type) }
            index += 1
        }
        if bytes.count - 1 > maximum { throw RESPDecodingError.lineTooLong(type: type, maximum: maximum) }
        return nil
    }

    private enum ParsedInteger {
        case value(Int64)
        case overflow
        case invalid
    }

    /// An optionally signed decimal integer, with overflow detected (never trapping).
    private static func parseInteger(_ text: UnsafeRawBufferPointer) -> ParsedInteger {
        var index = 0
        var negative = false
        if let first = text.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            index = 1
        }
        guard index < text.count else { return .invalid }
        // Accumulate negatively so that Int64.min is representable.
        var value: Int64 = 0
        var overflowed = false
        while index < text.count {
            let byte = text[index]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return .invalid }
            if !overflowed {
                let (times10, o1) = value.multipliedReportingOverflow(by: 10)
                let (next, o2) = times10.subtractingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
                if o1 || o2 { overflowed = true } else { value = next }
            }
            index += 1
        }
        if overflowed { return .overflow }
        if negative { return .value(value) }
        let (positive, overflow) = Int64(0).subtractingReportingOverflow(value)
        return overflow ? .overflow : .value(positive)
    }

    /// A length or count; nil for `-1` when `nullable`.
    private static func parseLength(_ line: UnsafeRawBufferPointer, type: UInt8, nullable: Bool) throws -> Int64? {
        if line.count == 1 && line[0] == UInt8(ascii: "?") {
            throw RESPDecodingError.streamedTypeNotSupported(type: type)
        }
        switch parseInteger(line) {
        case .value(let length):
            if length == -1 && nullable { return nil }
            if length < 0 { throw RESPDecodingError.negativeLength(type: type, length: length) }
            return length
        case .overflow:
            throw RESPDecodingError.integerOverflow(type: type, text: excerpt(line))
        case .invalid:
            throw RESPDecodingError.invalidLength(type: type, text: excerpt(line))
        }
    }

    /// Digits, sign, point, exponent, or the words inf / nan (Swift's parser alone would also take hex).
    private static func isDoubleText(_ line: UnsafeRawBufferPointer) -> Bool {
        guard !line.isEmpty else { return false }
        let lowered = String(decoding: line, as: UTF8.self).lowercased()
        if ["inf", "-inf", "+inf", "nan", "-nan", "+nan"].contains(lowered) { return true }
        return line.allSatisfy { byte in
            (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-")
                || byte == UInt8(ascii: "+") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e")
                || byte == UInt8(ascii: "E")
        }
    }

    private static func isBigNumber(_ line: UnsafeRawBufferPointer) -> Bool {
        var digits = line[...]
        if let first = digits.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            digits = digits.dropFirst()
        }
        return !digits.isEmpty && digits.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    /// At most 40 bytes of offending text, for error messages.
    private static func excerpt(_ line: UnsafeRawBufferPointer) -> String {
        let text = String(decoding: line.prefix(40), as: UTF8.self)
        return line.count > 40 ? text + "…" : text
    }
}

extension RESPStreamDecoder: ByteToMessageDecoder {
    typealias InboundOut = RESPValue

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let value = try self.next(&buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(value))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try self.decode(context: context, buffer: &buffer)
    }
}
