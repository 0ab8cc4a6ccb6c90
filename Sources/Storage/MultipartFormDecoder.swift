import NIOCore

/// The parts of an upload body as the storage API reads them: every part named `fileField`
/// is the file (its bytes pass through as they arrive), every other part a bounded UTF-8
/// text field. Push-based like `MultipartParser`: `append` chunks, call `next` until nil,
/// `finish` at the end of the body.
struct MultipartFormDecoder {
    enum Event: Equatable {
        /// A whole text field.
        case field(name: String, value: String)
        /// The file part begins; `fileBytes` follow until the next event of another kind.
        case fileStart(MultipartPartHeaders)
        /// The next bytes of the file (never empty).
        case fileBytes(ByteBuffer)
        /// The closing boundary; the file part was present.
        case end
    }

    private enum Current {
        case none
        case field(name: String, value: ByteBuffer)
        case file
    }

    private(set) var parser: MultipartParser
    let fileField: String
    private var current = Current.none
    private var names: Set<String> = []
    private var sawFile = false
    private var pending: Event?

    init(boundary: String, fileField: String, limits: MultipartLimits) throws(MultipartError) {
        self.parser = try MultipartParser(boundary: boundary, limits: limits)
        self.fileField = fileField
    }

    mutating func append(_ chunk: ByteBuffer) { parser.append(chunk) }

    /// The next event, or nil when more input is needed.
    mutating func next() throws(MultipartError) -> Event? {
        if let event = pending {
            pending = nil
            return event
        }
        while let event = try parser.next() {
            switch event {
            case .part(let headers):
                let finished = try closeField()
                let started = try open(headers)
                if let finished {
                    pending = started
                    return finished
                }
                if let started { return started }
            case .body(let bytes):
                switch current {
                case .file:
                    return .fileBytes(bytes)
                case .field(let name, var value):
                    guard value.readableBytes + bytes.readableBytes <= parser.limits.maxFieldBytes else {
                        throw .fieldTooLarge(name: name, limit: parser.limits.maxFieldBytes)
                    }
                    current = .none  // keeps `value` uniquely referenced while it grows
                    value.writeImmutableBuffer(bytes)
                    current = .field(name: name, value: value)
                case .none:
                    continue  // the parser emits body bytes only inside a part
                }
            case .end:
                let finished = try closeField()
                current = .none
                guard sawFile else { throw .missingFilePart(fileField) }
                if let finished {
                    pending = .end
                    return finished
                }
                return .end
            }
        }
        return nil
    }

    /// The body ended: throws unless the closing boundary was seen.
    func finish() throws(MultipartError) { try parser.finish() }

    private mutating func closeField() throws(MultipartError) -> Event? {
        guard case .field(let name, let value) = current else { return nil }
        current = .none
        guard let text = String(validating: value.readableBytesView, as: UTF8.self) else { throw .fieldNotUTF8(name: name) }
        return .field(name: name, value: text)
    }

    private mutating func open(_ headers: MultipartPartHeaders) throws(MultipartError) -> Event? {
        if headers.name == fileField {
            guard !sawFile else { throw .duplicateFilePart(fileField) }
            sawFile = true
            current = .file
            return .fileStart(headers)
        }
        guard names.insert(headers.name).inserted else { throw .duplicateField(headers.name) }
        current = .field(name: headers.name, value: ByteBuffer())
        return nil
    }
}
