/// The little XML reading S3 responses need: the text of simple elements such as `<UploadId>`
/// or `<Code>`. Bodies come from the S3 peer, are size-bounded by the caller and are only
/// searched (no entity expansion beyond the five predefined entities and numeric references,
/// no DTDs, no recursion).
enum S3XML {
    /// The raw contents of every `<name>…</name>` element, in order (nested markup kept).
    static func elements(_ name: String, in xml: String) -> [Substring] {
        let open = "<\(name)>"
        let close = "</\(name)>"
        var results: [Substring] = []
        var rest = xml[...]
        while let start = rest.range(of: open) {
            guard let end = rest[start.upperBound...].range(of: close) else { break }
            results.append(rest[start.upperBound..<end.lowerBound])
            rest = rest[end.upperBound...]
        }
        return results
    }

    /// The decoded text of the first `<name>` element, or nil.
    static func text(_ name: String, in xml: Substring) -> String? {
        elements(name, in: String(xml)).first.map { decodeEntities($0) }
    }

    /// The decoded text of the first `<name>` element, or nil.
    static func text(_ name: String, in xml: String) -> String? {
        text(name, in: xml[...])
    }

    /// Whether the document's root is `<Error>` (S3 can answer 200 with an error body for
    /// CopyObject and CompleteMultipartUpload).
    static func isError(_ xml: String) -> Bool {
        var body = xml[...].drop { $0.isWhitespace }
        if body.hasPrefix("<?xml"), let end = body.range(of: "?>") {
            body = body[end.upperBound...].drop { $0.isWhitespace }
        }
        return body.hasPrefix("<Error>") || body.hasPrefix("<Error ")
    }

    /// Replaces `&amp; &lt; &gt; &quot; &apos;` and `&#N;` / `&#xN;`; anything else stays as written.
    static func decodeEntities(_ text: Substring) -> String {
        guard text.contains("&") else { return String(text) }
        var out = ""
        var rest = text
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            let afterAmp = rest[rest.index(after: amp)...]
            guard let semicolon = afterAmp.prefix(12).firstIndex(of: ";") else {
                out += "&"
                rest = afterAmp
                continue
            }
            let entity = afterAmp[..<semicolon]
            var replacement: String?
            switch entity {
            case "amp": replacement = "&"
            case "lt": replacement = "<"
            case "gt": replacement = ">"
            case "quot": replacement = "\""
            case "apos": replacement = "'"
            default:
                if entity.hasPrefix("#x") || entity.hasPrefix("#X") {
                    replacement = UInt32(entity.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init).map { String($0) }
                } else if entity.hasPrefix("#") {
                    replacement = UInt32(entity.dropFirst(), radix: 10).flatMap(Unicode.Scalar.init).map { String($0) }
                }
            }
            if let replacement {
                out += replacement
                rest = afterAmp[afterAmp.index(after: semicolon)...]
            } else {
                out += "&"
                rest = afterAmp
            }
        }
        out += rest
        return out
    }

    /// Escapes text for an element's content.
    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(character)
            }
        }
        return out
    }
}
