import Foundation
import Testing

@testable import Reels

/// The ffmpeg transcode (real ffmpeg on generated clips) and its plan.
@Suite struct TranscodeTests {
    @Test func ladderKeepsTheRungsTheSourceReachesAndTheAspect() {
        let portrait = TranscodePlan(source: TranscodeSource(width: 1080, height: 1920, durationSeconds: 10, hasAudio: true))
        #expect(portrait.renditions.map(\.name) == ["720p", "540p", "360p"])
        #expect(portrait.renditions.map(\.width) == [720, 540, 360])
        #expect(portrait.renditions.map(\.height) == [1280, 960, 640])
        let landscape = TranscodePlan(source: TranscodeSource(width: 800, height: 600, durationSeconds: 10, hasAudio: false))
        #expect(landscape.renditions.map(\.name) == ["540p", "360p"])
        #expect(landscape.renditions[0].width == 720 && landscape.renditions[0].height == 540)
        let tiny = TranscodePlan(source: TranscodeSource(width: 241, height: 320, durationSeconds: 1, hasAudio: false))
        #expect(tiny.renditions.map(\.name) == ["240p"])
        #expect(tiny.renditions[0].width % 2 == 0 && tiny.renditions[0].height % 2 == 0)
        #expect(TranscodePlan(source: TranscodeSource(width: 1, height: 1, durationSeconds: 1, hasAudio: false)).renditions[0].width == 2)
    }

    @Test func probeJSONHonoursRotationAndRefusesFilesWithoutVideo() throws {
        let rotated = #"{"streams":[{"codec_type":"video","width":1920,"height":1080,"side_data_list":[{"rotation":-90}]},{"codec_type":"audio"}],"format":{"duration":"4.5"}}"#
        let source = try Transcoder.source(fromProbeJSON: Array(rotated.utf8))
        #expect(source == TranscodeSource(width: 1080, height: 1920, durationSeconds: 4.5, hasAudio: true))
        for bad in [#"{"streams":[{"codec_type":"audio"}]}"#, "not json", #"{"streams":[{"codec_type":"video","width":0,"height":5}]}"#] {
            #expect(throws: TranscodeError.self) { try Transcoder.source(fromProbeJSON: Array(bad.utf8)) }
        }
    }

    /// The uploader's file decides ffprobe's numbers: absurd ones are ignored, never converted
    /// (a trapping `Int(Double)` here would take the whole server down).
    @Test func hostileProbeNumbersAreIgnoredNotConverted() throws {
        for rotate in ["nan", "1e300", "-inf", "90"] {
            let json = #"{"streams":[{"codec_type":"video","width":640,"height":360,"tags":{"rotate":"\#(rotate)"}}],"format":{"duration":"1e300"}}"#
            let source = try Transcoder.source(fromProbeJSON: Array(json.utf8))
            #expect(source.durationSeconds == 0, "\(rotate)")
            #expect(source.width == (rotate == "90" ? 360 : 640), "\(rotate)")
        }
        let nan = try Transcoder.source(fromProbeJSON: Array(#"{"streams":[{"codec_type":"video","width":8,"height":8}],"format":{"duration":"nan"}}"#.utf8))
        #expect(nan.durationSeconds == 0)
        #expect(TranscodeProgress.percent(line: "out_time_us=1e300", durationMicroseconds: 1000) == 99)
        #expect(TranscodeProgress.percent(line: "out_time_us=inf", durationMicroseconds: 1000) == nil)
    }

    @Test func progressLinesBecomeRisingPercentages() {
        let seen = Percents()
        let parser = TranscodeProgress(durationSeconds: 4) { seen.add($0) }
        parser.consume(Array("frame=10\nout_time_us=1000000\nprogress=continue\nout_ti".utf8))
        parser.consume(Array("me_us=2000000\nout_time_us=1500000\nout_time_us=N/A\nprogress=end\n".utf8))
        #expect(seen.values == [25, 50, 100])
    }

    @Test func portraitClipWithSoundBecomesTheWholeLayout() async throws {
        let output = try await transcode(width: 720, height: 1280, seconds: 5, audio: true)
        #expect(output.result.renditions == ["720p", "540p", "360p"])
        #expect(output.result.width == 720 && output.result.height == 1280)
        #expect(abs(output.result.durationMs - 5000) < 300)
        for rendition in ["720p", "540p", "360p"] {
            #expect(output.result.files.contains("\(rendition)/init.mp4"))
            #expect(output.result.files.contains("\(rendition)/seg_2.m4s"))
            let playlist = try String(contentsOfFile: output.directory + "/\(rendition)/index.m3u8", encoding: .utf8)
            #expect(playlist.contains(#"#EXT-X-MAP:URI="init.mp4""#))
            #expect(playlist.contains("#EXT-X-TARGETDURATION:2"))
            #expect(playlist.contains("#EXT-X-ENDLIST"))
        }
        let master = try String(contentsOfFile: output.directory + "/master.m3u8", encoding: .utf8)
        #expect(master.contains("720p/index.m3u8") && master.contains("RESOLUTION=720x1280") && master.contains("mp4a"))
        #expect(!master.contains("/tmp") && !master.contains("://"))
        try expectFaststartMP4AndPoster(output.directory)
    }

    @Test func landscapeClipWithoutSound() async throws {
        let output = try await transcode(width: 1280, height: 720, seconds: 3, audio: false)
        #expect(output.result.renditions == ["720p", "540p", "360p"])
        #expect(output.result.width == 1280 && output.result.height == 720)
        let master = try String(contentsOfFile: output.directory + "/master.m3u8", encoding: .utf8)
        #expect(master.contains("RESOLUTION=640x360") && !master.contains("mp4a"))
        try expectFaststartMP4AndPoster(output.directory)
    }

    @Test func oneSecondSmallClipGetsOneRung() async throws {
        let output = try await transcode(width: 240, height: 320, seconds: 1, audio: true)
        #expect(output.result.renditions == ["240p"])
        #expect(output.result.width == 240 && output.result.height == 320)
        #expect(abs(output.result.durationMs - 1000) < 300)
        #expect(output.result.files.contains("240p/seg_0.m4s"))
        try expectFaststartMP4AndPoster(output.directory)
    }

    @Test func aFileThatIsNotAVideoFailsWithoutRetry() async throws {
        let directory = try ReelJobsFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data("definitely not a video".utf8).write(to: URL(fileURLWithPath: directory + "/original"))
        do {
            _ = try await ReelJobsFixture.transcoder.transcode(input: directory + "/original", output: directory + "/out") { _ in }
            Issue.record("a text file was transcoded")
        } catch let error as TranscodeError {
            #expect(!error.retryable)
            #expect(error.reason.contains("not a video"))
        }
    }

    // MARK: - Helpers

    private func transcode(width: Int, height: Int, seconds: Double, audio: Bool) async throws -> (result: TranscodeOutput, directory: String) {
        let clip = try ReelJobsFixture.clip(width: width, height: height, seconds: seconds, audio: audio)
        defer { try? FileManager.default.removeItem(at: clip.deletingLastPathComponent()) }
        let directory = try ReelJobsFixture.temporaryDirectory()
        let seen = Percents()
        let result = try await ReelJobsFixture.transcoder.transcode(input: clip.path, output: directory) { seen.add($0) }
        #expect(seen.values.last == 100)
        #expect(seen.values == seen.values.sorted())
        #expect(result.files.contains("master.m3u8") && result.files.contains("video.mp4") && result.files.contains("poster.jpg"))
        #expect(!result.files.contains { $0.hasPrefix(".") || $0.contains("init_") })
        return (result, directory)
    }

    /// `moov` before `mdat` (faststart) in the MP4; the poster is a JPEG.
    private func expectFaststartMP4AndPoster(_ directory: String) throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let mp4 = [UInt8](try Data(contentsOf: URL(fileURLWithPath: directory + "/video.mp4")))
        let moov = try #require(offset(of: "moov", in: mp4))
        let mdat = try #require(offset(of: "mdat", in: mp4))
        #expect(moov < mdat)
        #expect(!mp4.isEmpty && offset(of: "moof", in: mp4) == nil)
        let poster = [UInt8](try Data(contentsOf: URL(fileURLWithPath: directory + "/poster.jpg")))
        #expect(poster.starts(with: [0xFF, 0xD8, 0xFF]))
    }

    private func offset(of box: String, in bytes: [UInt8]) -> Int? {
        let pattern = Array(box.utf8)
        guard bytes.count >= pattern.count else { return nil }
        return (0...(bytes.count - pattern.count)).first { bytes[$0..<($0 + pattern.count)].elementsEqual(pattern) }
    }
}

/// Percentages reported from another thread.
final class Percents: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [Int] = []
    func add(_ value: Int) { lock.withLock { list.append(value) } }
    var values: [Int] { lock.withLock { list } }
}
