import Foundation

/// What ffprobe says about a media file (`ffprobe -of json -show_streams -show_format`):
/// the first picture stream and the first audio stream. Every number is checked: sizes are
/// whole numbers in 1…``maximumDimension``, durations finite and in 0…``maximumDuration``;
/// anything else is left out rather than trusted.
public struct MediaProbe: Sendable, Equatable {
    public static let maximumDimension = 1 << 16
    public static let maximumDuration = 10_000_000.0

    /// The container as ffprobe names it (`mov,mp4,m4a,3gp,3g2,mj2`, `matroska,webm`, …).
    public var formatName: String?
    /// Seconds (the container's duration, else the longest stream's).
    public var durationSeconds: Double?
    /// The picture's size as displayed (width and height swapped for a 90° / 270° rotation).
    public var width: Int?
    public var height: Int?
    /// Rotation in degrees from the stream's display matrix (0, 90, 180, 270).
    public var rotation: Int
    public var videoCodec: String?
    public var audioCodec: String?

    /// Whether there is a picture that is not just cover art of an audio file.
    public var hasVideo: Bool { videoCodec != nil }
    public var hasAudio: Bool { audioCodec != nil }

    public init(
        formatName: String? = nil, durationSeconds: Double? = nil, width: Int? = nil, height: Int? = nil,
        rotation: Int = 0, videoCodec: String? = nil, audioCodec: String? = nil
    ) {
        self.formatName = formatName
        self.durationSeconds = durationSeconds
        self.width = width
        self.height = height
        self.rotation = rotation
        self.videoCodec = videoCodec
        self.audioCodec = audioCodec
    }

    /// Reads ffprobe's JSON; throws ``MediaError`` (`undecodable`) when it is not a JSON object.
    public static func parse(json: Data) throws -> MediaProbe {
        guard let root = (try? JSONSerialization.jsonObject(with: json)) as? [String: Any] else {
            throw MediaError(.undecodable, "the file could not be read as media", diagnostics: "ffprobe output is not a JSON object")
        }
        var probe = MediaProbe()
        let format = root["format"] as? [String: Any]
        probe.formatName = text(format?["format_name"])
        let streams = (root["streams"] as? [Any] ?? []).compactMap { $0 as? [String: Any] }
        var longestStream: Double?
        for stream in streams {
            let type = text(stream["codec_type"])
            if let duration = seconds(stream["duration"]) { longestStream = max(longestStream ?? 0, duration) }
            let disposition = stream["disposition"] as? [String: Any]
            let coverArt = integer(disposition?["attached_pic"]) == 1
            if type == "video", !coverArt, probe.videoCodec == nil {
                probe.videoCodec = text(stream["codec_name"]) ?? "unknown"
                probe.rotation = rotation(of: stream)
                let width = integer(stream["width"]).flatMap(dimension)
                let height = integer(stream["height"]).flatMap(dimension)
                let swapped = probe.rotation == 90 || probe.rotation == 270
                probe.width = swapped ? height : width
                probe.height = swapped ? width : height
            } else if type == "audio", probe.audioCodec == nil {
                probe.audioCodec = text(stream["codec_name"]) ?? "unknown"
            }
        }
        probe.durationSeconds = seconds(format?["duration"]) ?? longestStream
        return probe
    }

    /// The display rotation, normalised to 0/90/180/270 (ffprobe reports e.g. -90 in
    /// `side_data_list[].rotation`, older files a `rotate` tag).
    static func rotation(of stream: [String: Any]) -> Int {
        var degrees: Int?
        for entry in (stream["side_data_list"] as? [Any] ?? []).compactMap({ $0 as? [String: Any] }) {
            if let value = integer(entry["rotation"]) { degrees = value }
        }
        if degrees == nil, let tags = stream["tags"] as? [String: Any], let tag = text(tags["rotate"]) {
            degrees = Int(tag)
        }
        guard let degrees, (-3600...3600).contains(degrees) else { return 0 }
        let normalised = ((degrees % 360) + 360) % 360
        return [0, 90, 180, 270].contains(normalised) ? normalised : 0
    }

    private static func dimension(_ value: Int) -> Int? {
        (1...maximumDimension).contains(value) ? value : nil
    }

    private static func text(_ value: Any?) -> String? {
        guard let string = value as? String, !string.isEmpty, string.utf8.count <= 256 else { return nil }
        return string
    }

    /// A whole number from a JSON number or a decimal string, if it is exactly representable.
    static func integer(_ value: Any?) -> Int? {
        if let string = value as? String { return string.utf8.count <= 20 ? Int(string) : nil }
        // JSON true/false also arrive as NSNumber (objCType "c"); they are not sizes.
        guard let number = value as? NSNumber, String(cString: number.objCType) != "c" else { return nil }
        let double = number.doubleValue
        guard double.isFinite, abs(double) <= 1e15 else { return nil }
        return Int(exactly: double)
    }

    /// Seconds from ffprobe's decimal string (or a number), finite and in range.
    static func seconds(_ value: Any?) -> Double? {
        let parsed: Double?
        if let string = value as? String {
            parsed = string.utf8.count <= 32 ? Double(string) : nil
        } else {
            parsed = (value as? NSNumber)?.doubleValue
        }
        guard let parsed, parsed.isFinite, parsed >= 0, parsed <= maximumDuration else { return nil }
        return parsed
    }
}
