import Foundation
import Storage

/// What a finished transcode left in its output directory.
struct TranscodeOutput: Sendable, Equatable {
    /// Paths relative to the output directory, e.g. `master.m3u8`, `720p/seg_0.m4s`.
    var files: [String]
    /// Rendition names, highest first (`720p`, `540p`, …).
    var renditions: [String]
    var durationMs: Int
    var width: Int
    var height: Int
}

/// Turns an original into the pipeline's outputs with Debian's ffmpeg and ffprobe
/// (``TranscodePlan``), reporting progress from ffmpeg's `-progress pipe:1`.
struct Transcoder: Sendable {
    /// The longest duration ffprobe may report that is taken at its word (a day); anything
    /// else counts as unknown (0), so converting it to milliseconds cannot trap.
    static let maximumDurationSeconds: Double = 86_400
    /// The most JSON ffprobe may write; a run that writes more is killed and the file refused.
    static let maximumProbeBytes = 1 << 20
    /// How much of a tool's standard error goes into a job's diagnostics (its end says what
    /// went wrong; `reels.jobs.last_error` keeps 2000 characters).
    static let stderrCharactersInDiagnostics = 600
    var ffmpegPath: String
    var ffprobePath: String
    /// Bound on each ffmpeg / ffprobe run.
    var timeout: Duration

    /// Finds ffmpeg and ffprobe on `PATH`; nil when they are not installed.
    static func locate(timeout: Duration, path: String? = ProcessInfo.processInfo.environment["PATH"]) -> Transcoder? {
        let directories = (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map(String.init)
        func find(_ name: String) -> String? {
            directories.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        }
        guard let ffmpeg = find("ffmpeg"), let ffprobe = find("ffprobe") else { return nil }
        return Transcoder(ffmpegPath: ffmpeg, ffprobePath: ffprobe, timeout: timeout)
    }

    /// The original's displayed size, duration and sound (throws a non-retryable error for a
    /// file without a video stream).
    func probe(_ input: String) async throws -> TranscodeSource {
        let json = try await MediaCommand(executable: ffprobePath, arguments: TranscodePlan.probeArguments(input: input), timeout: timeout).run(
            makeConsumer: { [UInt8]() },
            consume: { collected, chunk in
                guard collected.count + chunk.count <= Self.maximumProbeBytes else { return false }
                collected.append(contentsOf: chunk)
                return true
            },
            finish: { collected, outcome in
                guard outcome.succeeded else {
                    throw TranscodeError(
                        reason: "the file is not a video that can be read", diagnostics: Self.diagnostics("ffprobe", outcome), retryable: outcome.timedOut)
                }
                return collected
            })
        return try Self.source(fromProbeJSON: json)
    }

    /// Reads ffprobe's JSON (``TranscodePlan/probeArguments(input:)``).
    static func source(fromProbeJSON bytes: [UInt8]) throws -> TranscodeSource {
        struct Probe: Decodable {
            struct SideData: Decodable { var rotation: Double? }
            struct Stream: Decodable {
                var codec_type: String?
                var width: Int?
                var height: Int?
                var duration: String?
                var side_data_list: [SideData]?
                var tags: [String: String]?
            }
            struct Format: Decodable { var duration: String? }
            var streams: [Stream]?
            var format: Format?
        }
        guard let probe = try? JSONDecoder().decode(Probe.self, from: Data(bytes)),
            let video = probe.streams?.first(where: { $0.codec_type == "video" }),
            let width = video.width, let height = video.height, width > 0, height > 0, width <= 16384, height <= 16384
        else {
            throw TranscodeError(reason: "the file has no video that can be read", diagnostics: "ffprobe found no video stream with a size", retryable: false)
        }
        // The uploader's file decides these numbers (a Matroska `rotate` tag is free text, so
        // "nan" or "1e300" arrive here): only sane values are converted to integers.
        let rawRotation = video.side_data_list?.compactMap(\.rotation).first ?? video.tags?["rotate"].flatMap(Double.init) ?? 0
        let rotation = rawRotation.isFinite && abs(rawRotation) <= 3600 ? rawRotation : 0
        let quarterTurns = Int((rotation / 90).rounded()) & 3
        let turned = quarterTurns % 2 == 1
        let duration = Double(probe.format?.duration ?? "") ?? Double(video.duration ?? "") ?? 0
        return TranscodeSource(
            width: turned ? height : width, height: turned ? width : height,
            durationSeconds: duration.isFinite && duration >= 0 && duration <= Self.maximumDurationSeconds ? duration : 0,
            hasAudio: probe.streams?.contains { $0.codec_type == "audio" } ?? false)
    }

    /// Transcodes `input` into `output` (an empty directory); `progress` gets 0–100 as
    /// ffmpeg advances.
    func transcode(input: String, output: String, progress: @Sendable @escaping (Int) -> Void) async throws -> TranscodeOutput {
        let source = try await probe(input)
        let plan = TranscodePlan(source: source)
        for rendition in plan.renditions {
            try FileManager.default.createDirectory(atPath: output + "/" + rendition.name, withIntermediateDirectories: true)
        }
        let parser = TranscodeProgress(durationSeconds: source.durationSeconds, report: progress)
        let outcome = try await MediaCommand(executable: ffmpegPath, arguments: plan.ffmpegArguments(input: input, output: output), timeout: timeout)
            .run { parser.consume(Array($0)) }
        guard outcome.succeeded else {
            throw TranscodeError(
                reason: outcome.timedOut ? "the video took too long to process" : "the video could not be converted",
                diagnostics: Self.diagnostics("ffmpeg", outcome), retryable: true)
        }
        try normaliseInitSegments(plan: plan, output: output)
        try await remux(plan: plan, output: output)
        if !FileManager.default.fileExists(atPath: output + "/poster.jpg") {
            let poster = try await MediaCommand(
                executable: ffmpegPath, arguments: TranscodePlan.posterFallbackArguments(video: output + "/video.mp4", output: output + "/poster.jpg"),
                timeout: timeout
            ).run()
            guard poster.succeeded else {
                throw TranscodeError(reason: "the video could not be converted", diagnostics: Self.diagnostics("poster", poster), retryable: true)
            }
        }
        let result = try await probe(output + "/video.mp4")
        let files = try Self.files(in: output)
        for required in ["master.m3u8", "video.mp4", "poster.jpg"] + plan.renditions.flatMap({ ["\($0.name)/index.m3u8", "\($0.name)/init.mp4", "\($0.name)/seg_0.m4s"] })
        where !files.contains(required) {
            throw TranscodeError(reason: "the video could not be converted", diagnostics: "missing output \(required)", retryable: true)
        }
        return TranscodeOutput(
            files: files, renditions: plan.renditions.map(\.name),
            durationMs: Int((result.durationSeconds * 1000).rounded()), width: result.width, height: result.height)
    }

    /// ffmpeg names each rung's init segment `init_<n>.mp4`; the layout wants `init.mp4`.
    private func normaliseInitSegments(plan: TranscodePlan, output: String) throws {
        let manager = FileManager.default
        for (index, rendition) in plan.renditions.enumerated() {
            let directory = output + "/" + rendition.name
            let numbered = "init_\(index).mp4"
            guard manager.fileExists(atPath: directory + "/" + numbered) else { continue }
            try? manager.removeItem(atPath: directory + "/init.mp4")
            try manager.moveItem(atPath: directory + "/" + numbered, toPath: directory + "/init.mp4")
            let playlist = directory + "/index.m3u8"
            let text = try String(contentsOfFile: playlist, encoding: .utf8)
            try text.replacingOccurrences(of: "URI=\"\(numbered)\"", with: "URI=\"init.mp4\"").write(toFile: playlist, atomically: true, encoding: .utf8)
        }
    }

    /// `video.mp4`: the top rung's segments joined and remuxed with faststart (no re-encode).
    private func remux(plan: TranscodePlan, output: String) async throws {
        let top = output + "/" + plan.renditions[0].name
        let fragmented = output + "/.fragmented.mp4"
        defer { try? FileManager.default.removeItem(atPath: fragmented) }
        _ = FileManager.default.createFile(atPath: fragmented, contents: nil)  // the handle below says if it failed
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: fragmented))
        do {
            try handle.write(contentsOf: try Data(contentsOf: URL(fileURLWithPath: top + "/init.mp4")))
            var index = 0
            while FileManager.default.fileExists(atPath: top + "/seg_\(index).m4s") {
                try handle.write(contentsOf: try Data(contentsOf: URL(fileURLWithPath: top + "/seg_\(index).m4s")))
                index += 1
            }
            try handle.close()
        } catch {
            try? handle.close()
            throw error
        }
        let outcome = try await MediaCommand(
            executable: ffmpegPath, arguments: TranscodePlan.remuxArguments(fragmented: fragmented, output: output + "/video.mp4"), timeout: timeout
        ).run()
        guard outcome.succeeded else {
            throw TranscodeError(reason: "the video could not be converted", diagnostics: Self.diagnostics("remux", outcome), retryable: true)
        }
    }

    /// A failed run of `step` for the job's diagnostics.
    private static func diagnostics(_ step: String, _ outcome: MediaCommand.Outcome) -> String {
        step + " " + outcome.diagnostics(lastStderrCharacters: stderrCharactersInDiagnostics)
    }

    /// Every regular file under `directory`, relative, sorted (hidden files left out).
    static func files(in directory: String) throws -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
        var files: [String] = []
        while let path = enumerator.nextObject() as? String {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory + "/" + path, isDirectory: &isDirectory), !isDirectory.boolValue,
                !path.split(separator: "/").contains(where: { $0.hasPrefix(".") })
            else { continue }
            files.append(path)
        }
        return files.sorted()
    }
}
