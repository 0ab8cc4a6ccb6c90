import Foundation

/// What ffprobe tells about an original: its displayed size (after rotation), duration and
/// whether it has sound.
struct TranscodeSource: Sendable, Equatable {
    var width: Int
    var height: Int
    var durationSeconds: Double
    var hasAudio: Bool
}

/// One rung of the HLS ladder: named by its short side (`720p`), sized to keep the aspect.
struct TranscodeRendition: Sendable, Equatable {
    var name: String
    var width: Int
    var height: Int
    var maxrateKbps: Int
}

/// The outputs for one original (docs/reels.md "Pipeline"): an fMP4 HLS ladder of 720p,
/// 540p and 360p (short side; only rungs the source reaches, never upscaled — a smaller
/// source gets one rung at its own size), ~2 s segments with a keyframe at each boundary,
/// the master playlist with relative URIs, a poster frame; the progressive MP4 is the top
/// rung remuxed with faststart (``remuxArguments(fragmented:output:)``).
struct TranscodePlan: Sendable, Equatable {
    /// Short side → peak bitrate (kbit/s).
    static let ladder: [(side: Int, maxrateKbps: Int)] = [(720, 2500), (540, 1500), (360, 800)]
    static let segmentSeconds = 2
    static let maxFramesPerSecond = 30

    var source: TranscodeSource
    var renditions: [TranscodeRendition]

    init(source: TranscodeSource) {
        self.source = source
        let shortSide = min(source.width, source.height)
        var rungs = Self.ladder.filter { $0.side <= shortSide }
        if rungs.isEmpty {
            rungs = [(max(2, shortSide / 2 * 2), Self.ladder[Self.ladder.count - 1].maxrateKbps)]
        }
        renditions = rungs.map { rung in
            let (width, height) = Self.scaled(width: source.width, height: source.height, shortSide: rung.side)
            return TranscodeRendition(name: "\(rung.side)p", width: width, height: height, maxrateKbps: rung.maxrateKbps)
        }
    }

    /// The size with the short side set to `shortSide` and the other side the nearest even
    /// number keeping the aspect ratio.
    static func scaled(width: Int, height: Int, shortSide: Int) -> (Int, Int) {
        let long = Double(max(width, height)) * Double(shortSide) / Double(max(1, min(width, height)))
        let longEven = max(2, Int((long / 2).rounded()) * 2)
        return width <= height ? (shortSide, longEven) : (longEven, shortSide)
    }

    /// When the poster frame is taken: 1 s in, or a third of a shorter clip.
    var posterSeconds: Double { min(1.0, max(0, source.durationSeconds / 3)) }

    /// The one ffmpeg run that makes the ladder and the poster in `output` (absolute path),
    /// reporting progress as `key=value` lines on standard output. Nothing of the original's
    /// metadata is kept in any output: the poster is stored as ffmpeg wrote it (storage does
    /// not re-encode images in `reels-media`).
    func ffmpegArguments(input: String, output: String) -> [String] {
        let count = renditions.count
        var graph = "[0:v]split=\(count + 1)"
        graph += (0...count).map { "[s\($0)]" }.joined()
        for (index, rendition) in renditions.enumerated() {
            graph += ";[s\(index)]scale=\(rendition.width):\(rendition.height),setsar=1[v\(index)]"
        }
        let top = renditions[0]
        graph += ";[s\(count)]select=gte(t\\,\(String(format: "%.3f", posterSeconds))),scale=\(top.width):\(top.height),setsar=1[poster]"
        var arguments = [
            "-hide_banner", "-nostdin", "-loglevel", "error", "-nostats", "-progress", "pipe:1", "-y",
            "-protocol_whitelist", "file", "-i", "file:" + input,
            "-filter_complex", graph,
        ]
        for index in renditions.indices { arguments += ["-map", "[v\(index)]"] }
        if source.hasAudio {
            for _ in renditions { arguments += ["-map", "0:a:0"] }
            arguments += ["-c:a", "aac", "-b:a", "96k", "-ac", "2"]
        } else {
            arguments += ["-an"]
        }
        arguments += [
            "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-pix_fmt", "yuv420p", "-crf", "23",
            "-fpsmax", "\(Self.maxFramesPerSecond)", "-sc_threshold", "0", "-force_key_frames", "expr:gte(t,n_forced*\(Self.segmentSeconds))",
        ]
        for (index, rendition) in renditions.enumerated() {
            arguments += ["-maxrate:v:\(index)", "\(rendition.maxrateKbps)k", "-bufsize:v:\(index)", "\(rendition.maxrateKbps * 2)k"]
        }
        let streams = renditions.enumerated().map { index, rendition in
            source.hasAudio ? "v:\(index),a:\(index),name:\(rendition.name)" : "v:\(index),name:\(rendition.name)"
        }
        arguments += [
            "-map_metadata", "-1",
            "-f", "hls", "-hls_time", "\(Self.segmentSeconds)", "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4",
            "-hls_fmp4_init_filename", "init.mp4", "-hls_segment_filename", output + "/%v/seg_%d.m4s",
            "-master_pl_name", "master.m3u8", "-var_stream_map", streams.joined(separator: " "),
            output + "/%v/index.m3u8",
            "-map", "[poster]", "-map_metadata", "-1", "-frames:v", "1", "-q:v", "3", "-update", "1", output + "/poster.jpg",
        ]
        return arguments
    }

    /// The progressive MP4: the top rung's init segment and media segments (concatenated into
    /// `fragmented`) remuxed with the index at the front.
    static func remuxArguments(fragmented: String, output: String) -> [String] {
        [
            "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-protocol_whitelist", "file",
            "-f", "mp4", "-i", "file:" + fragmented, "-c", "copy", "-map_metadata", "-1", "-movflags", "+faststart",
            "file:" + output,
        ]
    }

    /// A poster from the start of the progressive MP4 (when the planned frame never came).
    static func posterFallbackArguments(video: String, output: String) -> [String] {
        [
            "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-protocol_whitelist", "file",
            "-f", "mp4", "-i", "file:" + video, "-map_metadata", "-1", "-frames:v", "1", "-q:v", "3", "-update", "1", "file:" + output,
        ]
    }

    /// ffprobe's arguments for ``TranscodeSource`` (JSON on standard output).
    static func probeArguments(input: String) -> [String] {
        [
            "-v", "error", "-protocol_whitelist", "file", "-show_entries",
            "stream=codec_type,width,height,duration:stream_side_data=rotation:stream_tags=rotate:format=duration",
            "-of", "json", "file:" + input,
        ]
    }
}
