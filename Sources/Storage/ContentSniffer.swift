/// The media type of an object judged from its first bytes (magic numbers), never from the
/// name or the type the client declared, and the rule for whether a declared type may stand
/// for what the bytes are. A pure function of at most ``prefixLength`` bytes of client data.
///
/// Recognised: `image/jpeg`, `image/png`, `image/gif`, `image/webp`, `image/heic` (ISO BMFF
/// brands heic/heix/heim/heis/hevc/hevx/mif1/msf1, not AVIF), `video/mp4` (ISO BMFF brands
/// isom, iso2…iso9, mp41, mp42, avc1, dash, M4V, MSNV, f4v, mmp4), `audio/mp4` (M4A, M4B),
/// `video/quicktime` (brand `qt  `, or a file that starts with a moov/mdat/wide/free/skip
/// atom), `video/webm` and `audio/webm` (EBML with DocType webm; audio when the tracks in the
/// prefix are all audio), `video/x-matroska` (DocType matroska), `audio/ogg` (`OggS`),
/// `audio/mpeg` (`ID3` or an MPEG audio frame header), `audio/wav` (`RIFF….WAVE`),
/// `application/pdf` (`%PDF-`), `text/plain` (valid UTF-8 without NUL or another binary
/// control byte) and
/// `application/octet-stream` for everything else (including an empty object).
public enum ContentSniffer {
    /// How many leading bytes the sniffer reads; callers pass at most this many.
    public static let prefixLength = 4096

    public static let octetStream = "application/octet-stream"
    public static let plainText = "text/plain"

    /// The MIME type (no parameters) of an object starting with `prefix`. Only the first
    /// ``prefixLength`` bytes are read; a prefix shorter than that is taken as the whole
    /// object (so a multi-byte UTF-8 character cut at its end is not text).
    public static func mimeType(of prefix: some Collection<UInt8>) -> String {
        let bytes = Array(prefix.prefix(prefixLength))
        if let binary = binaryType(bytes) { return binary }
        if !bytes.isEmpty, isText(bytes, truncated: bytes.count == prefixLength) { return plainText }
        return octetStream
    }

    /// Whether an object whose bytes sniff as `sniffed` may be stored as `declared`
    /// (both compared without parameters, case-insensitively). The rule:
    ///
    /// 1. `application/octet-stream` may be declared for anything (it is served as a download).
    /// 2. A recognised media or PDF signature may only be declared as its own type or one of
    ///    the same container family: {video/mp4, audio/mp4, video/quicktime, audio/m4a,
    ///    audio/x-m4a, video/x-m4v}, {video/webm, audio/webm}, {video/x-matroska,
    ///    audio/x-matroska, video/mkv}, {audio/ogg, audio/opus, video/ogg, application/ogg},
    ///    {audio/mpeg, audio/mp3}, {audio/wav, audio/x-wav, audio/wave, audio/vnd.wave},
    ///    {image/jpeg, image/jpg, image/pjpeg}, {image/heic, image/heif, image/heic-sequence,
    ///    image/heif-sequence}. A PNG declared as image/jpeg or application/zip is a lie.
    /// 3. Bytes that are text or unrecognised (`text/plain`, `application/octet-stream`) may be
    ///    declared as any type except `image/*`, `video/*`, `audio/*` and `application/pdf`:
    ///    those types are decoded by the server and rendered inline by clients, so they must
    ///    be proven by their signature. So HTML declared as image/png is refused, and so is
    ///    SVG (script-capable text) declared as image/svg+xml; a Windows-1251 CSV declared as
    ///    text/csv, JSON, or a ZIP-based office document is accepted.
    public static func declared(_ declared: String, matchesSniffed sniffed: String) -> Bool {
        let declared = MimeType.essence(declared)
        let sniffed = MimeType.essence(sniffed)
        if declared == sniffed || declared == octetStream { return true }
        if let family = families.first(where: { $0.contains(sniffed) }) {
            return family.contains(declared)
        }
        if sniffed == plainText || sniffed == octetStream {
            return !requiresProof(declared)
        }
        return false
    }

    /// Whether a declared type must be backed by a recognised signature.
    static func requiresProof(_ essence: String) -> Bool {
        essence.hasPrefix("image/") || essence.hasPrefix("video/") || essence.hasPrefix("audio/")
            || essence == "application/pdf"
    }

    /// Types that name the same kind of bytes (the sniffed type is always in its family).
    static let families: [Set<String>] = [
        ["video/mp4", "audio/mp4", "video/quicktime", "audio/m4a", "audio/x-m4a", "video/x-m4v"],
        ["video/webm", "audio/webm"],
        ["video/x-matroska", "audio/x-matroska", "video/mkv"],
        ["audio/ogg", "audio/opus", "video/ogg", "application/ogg"],
        ["audio/mpeg", "audio/mp3"],
        ["audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"],
        ["image/jpeg", "image/jpg", "image/pjpeg"],
        ["image/heic", "image/heif", "image/heic-sequence", "image/heif-sequence"],
        ["image/png"], ["image/gif"], ["image/webp"], ["application/pdf"],
    ]

    // MARK: - Signatures

    private static func binaryType(_ bytes: [UInt8]) -> String? {
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return "image/jpeg" }
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return "image/png" }
        if bytes.starts(with: Array("GIF87a".utf8)) || bytes.starts(with: Array("GIF89a".utf8)) { return "image/gif" }
        if bytes.starts(with: Array("%PDF-".utf8)) { return "application/pdf" }
        if bytes.starts(with: Array("OggS".utf8)) { return "audio/ogg" }
        if bytes.starts(with: [0x1A, 0x45, 0xDF, 0xA3]) { return EBML.mimeType(bytes) }
        if bytes.starts(with: Array("RIFF".utf8)), bytes.count >= 12 {
            switch ascii(bytes, 8, 4) {
            case "WEBP": return "image/webp"
            case "WAVE": return "audio/wav"
            default: return nil
            }
        }
        if bytes.count >= 12, ascii(bytes, 4, 4) == "ftyp" { return isoBMFFType(bytes) }
        if bytes.count >= 8, ["moov", "mdat", "wide", "free", "skip", "pnot"].contains(ascii(bytes, 4, 4)) {
            return "video/quicktime"
        }
        if bytes.starts(with: Array("ID3".utf8)) || isMPEGAudioFrame(bytes) { return "audio/mpeg" }
        return nil
    }

    /// The four bytes at `offset` as ASCII (nil past the end or for non-ASCII bytes).
    private static func ascii(_ bytes: [UInt8], _ offset: Int, _ count: Int) -> String? {
        guard offset >= 0, count >= 0, offset <= bytes.count - count else { return nil }
        let slice = bytes[offset..<(offset + count)]
        guard slice.allSatisfy({ $0 < 0x80 }) else { return nil }
        return String(decoding: slice, as: UTF8.self)
    }

    /// An ISO base media file (`ftyp` box first): the major brand, then the compatible brands.
    private static func isoBMFFType(_ bytes: [UInt8]) -> String? {
        let boxSize = Int(bytes[0]) << 24 | Int(bytes[1]) << 16 | Int(bytes[2]) << 8 | Int(bytes[3])
        var compatible: [String] = []
        var offset = 16
        while offset + 4 <= min(boxSize, bytes.count) {
            if let brand = ascii(bytes, offset, 4) { compatible.append(brand) }
            offset += 4
        }
        guard let major = ascii(bytes, 8, 4) else { return nil }
        let heif: Set<String> = ["heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1"]
        if compatible.contains("avif") || compatible.contains("avis") || major == "avif" || major == "avis" {
            return nil
        }
        if heif.contains(major) { return "image/heic" }
        switch major {
        case "M4A ", "M4B ": return "audio/mp4"
        case "qt  ": return "video/quicktime"
        case "isom", "iso2", "iso3", "iso4", "iso5", "iso6", "iso7", "iso8", "iso9", "mp41", "mp42", "avc1",
            "dash", "M4V ", "M4VH", "M4VP", "MSNV", "f4v ", "mmp4", "NDAS":
            return "video/mp4"
        default:
            return nil
        }
    }

    /// An MPEG-1/2/2.5 audio frame header: 11 sync bits, a layer, a bitrate and a sample rate
    /// that are not reserved (ADTS AAC has layer 0 and is not taken for MP3).
    private static func isMPEGAudioFrame(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 4, bytes[0] == 0xFF, bytes[1] & 0xE0 == 0xE0 else { return false }
        let version = (bytes[1] >> 3) & 0x03
        let layer = (bytes[1] >> 1) & 0x03
        let bitrate = bytes[2] >> 4
        let sampleRate = (bytes[2] >> 2) & 0x03
        return version != 1 && layer != 0 && bitrate != 0x0F && bitrate != 0 && sampleRate != 3
    }

    // MARK: - Text

    /// WHATWG MIME Sniffing's "binary data bytes": NUL and the C0 controls other than tab,
    /// line feed, form feed, carriage return and escape never occur in text.
    static func isBinaryDataByte(_ byte: UInt8) -> Bool {
        byte <= 0x08 || byte == 0x0B || (0x0E...0x1A).contains(byte) || (0x1C...0x1F).contains(byte)
    }

    /// Valid UTF-8 with no binary data byte; when `truncated`, a character cut by the end of the prefix
    /// (1–3 bytes of a valid start) is allowed.
    static func isText(_ bytes: [UInt8], truncated: Bool) -> Bool {
        var index = 0
        let count = bytes.count
        while index < count {
            let lead = bytes[index]
            if lead < 0x80 {
                if isBinaryDataByte(lead) { return false }
                index += 1
                continue
            }
            let length: Int
            var lower: UInt8 = 0x80
            var upper: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; lower = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; upper = 0x9F
            case 0xF0: length = 4; lower = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; upper = 0x8F
            default: return false
            }
            for offset in 1..<length {
                let position = index + offset
                guard position < count else { return truncated }
                let byte = bytes[position]
                let (low, high) = offset == 1 ? (lower, upper) : (UInt8(0x80), UInt8(0xBF))
                guard byte >= low, byte <= high else { return false }
            }
            index += length
        }
        return true
    }
}
