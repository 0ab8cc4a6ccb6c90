import NIOCore

/// Writes commands as RESP arrays of bulk strings, the form every Redis command takes on the wire.
enum RESPEncoder {
    /// Appends one command (`*N`, then `$len` and the bytes of each argument).
    static func writeCommand(_ arguments: [ByteBuffer], into buffer: inout ByteBuffer) {
        Self.writeHeader(UInt8(ascii: "*"), arguments.count, into: &buffer)
        for argument in arguments {
            Self.writeHeader(UInt8(ascii: "$"), argument.readableBytes, into: &buffer)
            buffer.writeImmutableBuffer(argument)
            buffer.writeStaticString("\r\n")
        }
    }

    /// Appends one command whose arguments are UTF-8 text.
    static func writeCommand(_ arguments: [String], into buffer: inout ByteBuffer) {
        Self.writeHeader(UInt8(ascii: "*"), arguments.count, into: &buffer)
        for argument in arguments {
            Self.writeHeader(UInt8(ascii: "$"), argument.utf8.count, into: &buffer)
            buffer.writeString(argument)
            buffer.writeStaticString("\r\n")
        }
    }

    /// One command as a new buffer.
    static func command(_ arguments: [String]) -> ByteBuffer {
        var buffer = ByteBuffer()
        Self.writeCommand(arguments, into: &buffer)
        return buffer
    }

    private static func writeHeader(_ type: UInt8, _ count: Int, into buffer: inout ByteBuffer) {
        buffer.writeInteger(type)
        buffer.writeString(String(count))
        buffer.writeStaticString("\r\n")
    }
}
