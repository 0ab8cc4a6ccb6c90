import Foundation

/// Server-side media work with ffmpeg and ffprobe (Debian's `ffmpeg` package): image
/// re-encoding without metadata, square avatar thumbnails, video poster frames, probing and
/// voice waveforms.
///
/// Safety: the tools run as subprocesses with an argument array (never a shell), a time
/// limit and bounded output (``MediaCommand``). ffmpeg never guesses the container: the
/// input's first bytes are sniffed (``ContentSniffer``) and the demuxer is forced from that
/// type (`-f jpeg_pipe`, `-f mov`, …), inputs are opened as `file:` URLs with
/// `-protocol_whitelist file`, so a playlist or concat file cannot make ffmpeg read other
/// files or the network. Pictures over ``Limits/maximumPixels`` are refused before decoding.
/// Outputs are written to a temporary file beside `output` and renamed over it on success;
/// a failure leaves no output.
public struct MediaProcessor: Sendable {
    /// Bounds on every run.
    public struct Limits: Sendable {
        /// Wall-clock time one ffmpeg / ffprobe run may take before it is killed.
        public var timeout: Duration
        /// Largest picture (width × height) that is decoded.
        public var maximumPixels: Int
        /// Audio after this many seconds is not read for a waveform.
        public var maximumVoiceSeconds: Int
        /// Largest ffprobe JSON accepted.
        public var maximumProbeBytes: Int

        public init(timeout: Duration = .seconds(60), maximumPixels: Int = 50_000_000, maximumVoiceSeconds: Int = 600, maximumProbeBytes: Int = 1 << 20) {
            self.timeout = timeout
            self.maximumPixels = maximumPixels
            self.maximumVoiceSeconds = maximumVoiceSeconds
            self.maximumProbeBytes = maximumProbeBytes
        }
    }

    /// The format a re-encoded image is written in: JPEG for JPEG and HEIC input (photos),
    /// PNG for PNG, GIF (its first frame) and WebP input (they may be transparent).
    public enum ImageFormat: String, Sendable {
        case jpeg, png

        public var mimeType: String { self == .jpeg ? "image/jpeg" : "image/png" }
        public var fileExtension: String { self == .jpeg ? "jpg" : "png" }
    }

    /// The avatar sizes the server makes (square, centre-cropped), in pixels.
    public static let avatarSizes = [64, 256]

    public let ffmpegPath: String
    public let ffprobePath: String
    public let limits: Limits

    public init(ffmpegPath: String, ffprobePath: String, limits: Limits = Limits()) {
        self.ffmpegPath = ffmpegPath
        self.ffprobePath = ffprobePath
        self.limits = limits
    }

    /// Finds `ffmpeg` and `ffprobe` on `PATH`; throws `toolsMissing` naming the package.
    public static func locate(limits: Limits = Limits(), path: String? = ProcessInfo.processInfo.environment["PATH"]) throws -> MediaProcessor {
        let directories = (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map(String.init)
        func find(_ name: String) -> String? {
            directories.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        }
        guard let ffmpeg = find("ffmpeg"), let ffprobe = find("ffprobe") else {
            throw MediaError(
                .toolsMissing, "media processing is not available on this server",
                diagnostics: "ffmpeg/ffprobe not found on PATH; install Debian's ffmpeg package (apt-get install ffmpeg)")
        }
        return MediaProcessor(ffmpegPath: ffmpeg, ffprobePath: ffprobe, limits: limits)
    }

    // MARK: - Operations

    /// Width, height, duration and codecs of a media file.
    public func probe(_ input: String) async throws -> MediaProbe {
        let demuxer = try Self.demuxer(for: try Self.sniff(input), allowed: Self.anyMedia)
        return try await probe(input, demuxer: demuxer)
    }

    /// Re-encodes an image so that no EXIF, GPS, XMP, ICC profile or comment of the original
    /// leaves the server: the first frame, scaled down to fit `maxDimension` (never up),
    /// written as JPEG or PNG (see ``ImageFormat``) without metadata. Returns the format.
    @discardableResult
    public func reencodeImage(input: String, output: String, maxDimension: Int = 2560) async throws -> ImageFormat {
        let sniffed = try Self.sniff(input)
        let demuxer = try Self.demuxer(for: sniffed, allowed: Self.images)
        try await checkPicture(input, demuxer: demuxer, what: "image")
        let format: ImageFormat = ["image/jpeg", "image/heic"].contains(sniffed) ? .jpeg : .png
        let side = max(1, maxDimension)
        let filters = "scale=w='min(iw,\(side))':h='min(ih,\(side))':force_original_aspect_ratio=decrease:flags=lanczos"
        try await writePicture(
            input: input, demuxer: demuxer, output: output, seek: nil, filters: filters, format: format,
            failure: "the image could not be decoded")
        return format
    }

    /// A square JPEG of `size` × `size` pixels: the picture scaled to cover the square and
    /// cropped around its centre (avatars: ``avatarSizes``).
    public func squareThumbnail(input: String, output: String, size: Int) async throws {
        let sniffed = try Self.sniff(input)
        let demuxer = try Self.demuxer(for: sniffed, allowed: Self.images.union(Self.videos))
        try await checkPicture(input, demuxer: demuxer, what: "image")
        let side = min(max(1, size), 4096)
        let filters = "scale=\(side):\(side):force_original_aspect_ratio=increase:flags=lanczos,crop=\(side):\(side)"
        try await writePicture(
            input: input, demuxer: demuxer, output: output, seek: nil, filters: filters, format: .jpeg,
            failure: "the image could not be decoded")
    }

    /// A JPEG preview of an image (an attachment's thumbnail): scaled down to fit within
    /// `maxDimension` × `maxDimension` (never up), aspect ratio kept, no metadata.
    public func imageThumbnail(input: String, output: String, maxDimension: Int = 320) async throws {
        let demuxer = try Self.demuxer(for: try Self.sniff(input), allowed: Self.images)
        try await checkPicture(input, demuxer: demuxer, what: "image")
        let side = min(max(1, maxDimension), 4096)
        let filters = "scale=w='min(iw,\(side))':h='min(ih,\(side))':force_original_aspect_ratio=decrease:flags=lanczos"
        try await writePicture(
            input: input, demuxer: demuxer, output: output, seek: nil, filters: filters, format: .jpeg,
            failure: "the image could not be decoded")
    }

    /// A JPEG poster of a video: the frame at 1 s, or the first frame of a shorter video,
    /// scaled down to fit `maxDimension`.
    public func posterFrame(input: String, output: String, maxDimension: Int = 1280) async throws {
        let demuxer = try Self.demuxer(for: try Self.sniff(input), allowed: Self.videos)
        let info = try await checkPicture(input, demuxer: demuxer, what: "video")
        let side = max(1, maxDimension)
        let filters = "scale=w='min(iw,\(side))':h='min(ih,\(side))':force_original_aspect_ratio=decrease:flags=lanczos"
        let seek = (info.durationSeconds ?? 0) >= 1.0 ? "1" : nil
        do {
            try await writePicture(
                input: input, demuxer: demuxer, output: output, seek: seek, filters: filters, format: .jpeg,
                failure: "the video could not be decoded")
        } catch let error as MediaError where error.kind == .undecodable && seek != nil {
            // A container whose duration promises more than its frames hold: take the first frame.
            try await writePicture(
                input: input, demuxer: demuxer, output: output, seek: nil, filters: filters, format: .jpeg,
                failure: "the video could not be decoded")
        }
    }

    /// What one decode of a recording yields: its waveform and, when the decode reached the
    /// end, its length.
    public struct DecodedAudio: Sendable, Equatable {
        /// `levels` peak levels 0…255 over the recording (its first ``Limits/maximumVoiceSeconds``).
        public var levels: [UInt8]
        /// Seconds of sound decoded, when the whole recording was decoded (nil when it runs
        /// past ``Limits/maximumVoiceSeconds``). Containers written while recording, such as
        /// a browser's MediaRecorder WebM, carry no duration for ffprobe to read.
        public var decodedSeconds: Double?
    }

    /// A voice message's waveform and decoded length. ffmpeg decodes to 8 kHz mono 16-bit
    /// samples piped to this process and reduced as they arrive; the audio is never held in
    /// memory.
    public func decodeVoice(input: String, levels: Int = 64) async throws -> DecodedAudio {
        let demuxer = try Self.demuxer(for: try Self.sniff(input), allowed: Self.audio.union(Self.videos))
        let info = try await probe(input, demuxer: demuxer)
        guard info.hasAudio else {
            throw MediaError(.missingStream, "the recording has no sound", diagnostics: "no audio stream (\(info.formatName ?? "?"))")
        }
        let seconds = max(1, limits.maximumVoiceSeconds)
        let sampleRate = 8000
        let command = MediaCommand(
            executable: ffmpegPath,
            arguments: Self.inputArguments(input, demuxer: demuxer)
                + ["-map", "0:a:0", "-t", String(seconds), "-vn", "-ac", "1", "-ar", String(sampleRate),
                   "-c:a", "pcm_s16le", "-f", "s16le", "pipe:1"],
            timeout: limits.timeout)
        let count = min(max(1, levels), 4096)
        let maximumSamples = seconds * sampleRate
        return try await command.run(
            makeConsumer: { VoiceWaveform(maximumSamples: maximumSamples) },
            consume: { waveform, chunk in
                waveform.append(chunk)
                return !waveform.isFull
            },
            finish: { waveform, outcome in
                guard outcome.succeeded || (outcome.stoppedByConsumer && waveform.isFull) else {
                    throw Self.failure(outcome, "the audio could not be decoded")
                }
                let complete = outcome.succeeded && waveform.sampleCount < maximumSamples
                var waveform = waveform
                return DecodedAudio(
                    levels: waveform.levels(count),
                    decodedSeconds: complete ? Double(waveform.sampleCount) / Double(sampleRate) : nil)
            })
    }

    // MARK: - Steps

    private func probe(_ input: String, demuxer: String) async throws -> MediaProbe {
        let command = MediaCommand(
            executable: ffprobePath,
            arguments: ["-hide_banner", "-v", "error", "-protocol_whitelist", "file", "-f", demuxer,
                        "-of", "json", "-show_streams", "-show_format", Self.fileURL(input)],
            timeout: limits.timeout)
        let maximum = limits.maximumProbeBytes
        let json = try await command.run(
            makeConsumer: { [UInt8]() },
            consume: { collected, chunk in
                guard collected.count + chunk.count <= maximum else { return false }
                collected.append(contentsOf: chunk)
                return true
            },
            finish: { collected, outcome in
                guard outcome.succeeded else { throw Self.failure(outcome, "the file could not be read as media") }
                return Data(collected)
            })
        return try MediaProbe.parse(json: json)
    }

    /// Probes a picture and refuses it when it has none or too many pixels.
    @discardableResult
    private func checkPicture(_ input: String, demuxer: String, what: String) async throws -> MediaProbe {
        let info = try await probe(input, demuxer: demuxer)
        guard info.hasVideo, let width = info.width, let height = info.height else {
            throw MediaError(.missingStream, "the \(what) has no picture", diagnostics: "no video stream with a size")
        }
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, pixels <= limits.maximumPixels else {
            throw MediaError(
                .tooManyPixels, "the \(what) is too large (at most \(limits.maximumPixels / 1_000_000) megapixels)",
                diagnostics: "\(width)×\(height)")
        }
        return info
    }

    /// Runs ffmpeg for one picture into a temporary file beside `output`, then renames it.
    private func writePicture(
        input: String, demuxer: String, output: String, seek: String?, filters: String, format: ImageFormat, failure: String
    ) async throws {
        let temporary = "\(output).part-\(UUID().uuidString)"
        defer { unlink(temporary) }
        let pixelFormat = format == .jpeg ? ",format=yuvj420p" : ""
        let codec = format == .jpeg ? ["-c:v", "mjpeg", "-q:v", "3"] : ["-c:v", "png"]
        var arguments = seek.map { ["-ss", $0] } ?? []
        arguments = Self.inputArguments(input, demuxer: demuxer, seek: arguments)
        arguments += [
            "-map", "0:v:0", "-frames:v", "1", "-an", "-sn", "-dn",
            "-map_metadata", "-1", "-map_chapters", "-1",
            // Frame side data carries ICC profiles and the like; the encoders would write it.
            "-vf", filters + ",sidedata=mode=delete" + pixelFormat,
            "-fflags", "+bitexact", "-flags:v", "+bitexact",
        ]
        arguments += codec + ["-f", "image2", "-update", "1", "-y", Self.fileURL(temporary)]
        let outcome = try await MediaCommand(executable: ffmpegPath, arguments: arguments, timeout: limits.timeout).run()
        guard outcome.succeeded else { throw Self.failure(outcome, failure) }
        let size = (try? FileManager.default.attributesOfItem(atPath: temporary)[.size] as? NSNumber)?.intValue ?? 0
        guard size > 0 else {
            throw MediaError(.undecodable, failure, diagnostics: "ffmpeg wrote no frame; \(outcome.diagnostics)")
        }
        guard rename(temporary, output) == 0 else {
            throw MediaError(
                .failed, "the processed file could not be stored",
                diagnostics: "rename to \(output): \(String(cString: strerror(errno)))")
        }
    }

    // MARK: - Inputs

    static let images: Set<String> = ["image/jpeg", "image/png", "image/gif", "image/webp", "image/heic"]
    static let videos: Set<String> = ["video/mp4", "video/quicktime", "video/webm", "video/x-matroska"]
    static let audio: Set<String> = ["audio/mp4", "audio/webm", "audio/ogg", "audio/mpeg", "audio/wav"]
    static let anyMedia = images.union(videos).union(audio)

    /// The ffmpeg demuxer for a sniffed type (ffmpeg is never left to guess the container).
    static let demuxers: [String: String] = [
        "image/jpeg": "jpeg_pipe", "image/png": "png_pipe", "image/gif": "gif", "image/webp": "webp_pipe",
        "image/heic": "mov", "video/mp4": "mov", "video/quicktime": "mov", "audio/mp4": "mov",
        "video/webm": "matroska", "audio/webm": "matroska", "video/x-matroska": "matroska",
        "audio/ogg": "ogg", "audio/mpeg": "mp3", "audio/wav": "wav",
    ]

    static func demuxer(for sniffed: String, allowed: Set<String>) throws -> String {
        guard allowed.contains(sniffed), let demuxer = demuxers[sniffed] else {
            throw MediaError(.unsupportedType(sniffed), "this kind of file (\(sniffed)) cannot be processed here")
        }
        return demuxer
    }

    /// The sniffed type of the file's first bytes.
    static func sniff(_ path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw MediaError(.failed, "the file could not be processed right now", diagnostics: "cannot open \(path)")
        }
        defer { try? handle.close() }
        let prefix = (try? handle.read(upToCount: ContentSniffer.prefixLength)) ?? Data()
        return ContentSniffer.mimeType(of: prefix)
    }

    static func fileURL(_ path: String) -> String {
        "file:" + (path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path)
    }

    static func inputArguments(_ input: String, demuxer: String, seek: [String] = []) -> [String] {
        ["-hide_banner", "-nostdin", "-loglevel", "error", "-protocol_whitelist", "file"]
            + seek + ["-f", demuxer, "-i", fileURL(input)]
    }

    static func failure(_ outcome: MediaCommand.Outcome, _ message: String) -> MediaError {
        if outcome.timedOut {
            return MediaError(.timedOut, "processing the file took too long", diagnostics: outcome.diagnostics)
        }
        if outcome.stoppedByConsumer {
            return MediaError(.outputTooLarge, message, diagnostics: outcome.diagnostics)
        }
        return MediaError(.undecodable, message, diagnostics: outcome.diagnostics)
    }
}
