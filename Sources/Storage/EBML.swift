import Foundation

/// Just enough of EBML (the Matroska / WebM container) to name a file from its first bytes:
/// the DocType of the EBML header, and the TrackType of every track entry that fits in the
/// prefix (Segment → Tracks → TrackEntry), to tell audio-only WebM (a voice message recorded
/// by a browser's MediaRecorder) from video.
enum EBML {
    static let header: UInt32 = 0x1A45_DFA3
    static let docType: UInt32 = 0x4282
    static let segment: UInt32 = 0x1853_8067
    static let tracks: UInt32 = 0x1654_AE6B
    static let trackEntry: UInt32 = 0xAE
    static let trackType: UInt32 = 0x83
    static let cluster: UInt32 = 0x1F43_B675

    /// `video/webm`, `audio/webm`, `video/x-matroska`, or nil for another DocType or a
    /// header that cannot be read.
    static func mimeType(_ bytes: [UInt8]) -> String? {
        guard let head = element(bytes, at: 0, end: bytes.count), head.id == header else { return nil }
        var kind: String?
        walk(bytes, from: head.dataStart, to: head.dataEnd) { id, start, end in
            if id == docType { kind = String(decoding: bytes[start..<end], as: UTF8.self) }
            return false
        }
        var video = false
        var audio = false
        walk(bytes, from: head.dataEnd, to: bytes.count) { id, start, end in
            switch id {
            case segment, tracks, trackEntry: return true
            case trackType:
                guard end - start == 1 else { return false }
                if bytes[start] == 1 { video = true }
                if bytes[start] == 2 { audio = true }
                return false
            default: return false
            }
        }
        switch kind.map({ $0.trimmingCharacters(in: ["\0"]) }) {
        case "webm": return audio && !video ? "audio/webm" : "video/webm"
        case "matroska": return "video/x-matroska"
        default: return nil
        }
    }

    /// An element's ID (marker bits kept), and the range of its data clamped to `end`.
    struct Element {
        var id: UInt32
        var dataStart: Int
        var dataEnd: Int
        /// Whether the element's declared size reaches past `end` (or is unknown).
        var clipped: Bool
    }

    /// Visits the elements in `from..<to`; `visit` returns true to descend into one.
    /// Stops at the first Cluster (media data follows the track list) or unreadable bytes.
    static func walk(_ bytes: [UInt8], from: Int, to: Int, depth: Int = 0, visit: (UInt32, Int, Int) -> Bool) {
        var position = from
        while position < to, let element = element(bytes, at: position, end: to), element.id != cluster {
            if visit(element.id, element.dataStart, element.dataEnd), depth < 4 {
                walk(bytes, from: element.dataStart, to: element.dataEnd, depth: depth + 1, visit: visit)
            }
            if element.clipped { return }
            position = element.dataEnd
        }
    }

    static func element(_ bytes: [UInt8], at position: Int, end: Int) -> Element? {
        guard let (id, idLength) = variableInteger(bytes, at: position, end: end, keepMarker: true), idLength <= 4,
            let (size, sizeLength) = variableInteger(bytes, at: position + idLength, end: end, keepMarker: false)
        else { return nil }
        let dataStart = position + idLength + sizeLength
        let unknownSize = size == (UInt64(1) << (7 * UInt64(sizeLength))) - 1
        let available = UInt64(max(0, end - dataStart))
        if unknownSize || size > available {
            return Element(id: UInt32(truncatingIfNeeded: id), dataStart: dataStart, dataEnd: end, clipped: true)
        }
        return Element(id: UInt32(truncatingIfNeeded: id), dataStart: dataStart, dataEnd: dataStart + Int(truncatingIfNeeded: size), clipped: false)
    }

    /// An EBML variable-length integer: its value and length in bytes (1–8).
    static func variableInteger(_ bytes: [UInt8], at position: Int, end: Int, keepMarker: Bool) -> (UInt64, Int)? {
        guard position >= 0, position < end, end <= bytes.count else { return nil }
        let first = bytes[position]
        guard first != 0 else { return nil }
        let length = first.leadingZeroBitCount + 1
        guard position + length <= end else { return nil }
        var value = UInt64(keepMarker ? first : first & (0xFF >> UInt8(length)))
        for offset in 1..<length {
            value = value << 8 | UInt64(bytes[position + offset])
        }
        return (value, length)
    }
}
