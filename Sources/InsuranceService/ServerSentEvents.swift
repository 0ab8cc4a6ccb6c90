import Foundation

/// Writing and reading `text/event-stream` (the subset OpenAI-style streams use).
public enum ServerSentEvents {
    /// `data: <payload>\n\n`.
    public static func data(_ payload: String) -> String {
        "data: \(payload)\n\n"
    }

    /// A comment line that keeps idle connections (and proxies) open.
    public static let keepAlive = ": keep-alive\n\n"

    /// The stream's last event.
    public static let done = data("[DONE]")
}

/// Splits a byte stream into SSE events, however the bytes were fragmented.
///
/// Feed it chunks as they arrive; it returns the `data` payload of every event completed
/// so far (multi-line data joined with `\n`), skipping comments and other fields.
public struct ServerSentEventParser: Sendable {
    private var buffer: [UInt8] = []
    private var dataLines: [String] = []

    public init() {}

    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [String] {
        buffer.append(contentsOf: bytes)
        var events: [String] = []
        while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
            var line = buffer[..<newline]
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            let text = String(decoding: line, as: UTF8.self)
            buffer.removeSubrange(...newline)
            if text.isEmpty {
                if !dataLines.isEmpty {
                    events.append(dataLines.joined(separator: "\n"))
                    dataLines.removeAll()
                }
            } else if text.hasPrefix("data:") {
                var value = text.dropFirst(5)
                if value.first == " " { value = value.dropFirst() }
                dataLines.append(String(value))
            }
        }
        return events
    }

    /// The event still pending when the stream ends without a blank line.
    public mutating func finish() -> [String] {
        var events = feed([UInt8(ascii: "\n")])
        if !dataLines.isEmpty {
            events.append(dataLines.joined(separator: "\n"))
            dataLines.removeAll()
        }
        return events
    }
}
