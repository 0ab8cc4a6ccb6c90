import Foundation
@testable import Storage
import Testing

/// ffprobe's JSON read defensively, and the streaming waveform reducer, without ffmpeg.
@Suite struct MediaProbeTests {
    static func parse(_ json: String) throws -> MediaProbe { try MediaProbe.parse(json: Data(json.utf8)) }

    @Test func readsTheFirstPictureAndSoundStreams() throws {
        let probe = try Self.parse("""
            {"streams":[{"codec_type":"video","codec_name":"h264","width":1920,"height":1080,
              "side_data_list":[{"side_data_type":"Display Matrix","rotation":-90}]},
             {"codec_type":"audio","codec_name":"aac","duration":"3.5"}],
             "format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"3.520000"}}
            """)
        #expect(probe.videoCodec == "h264" && probe.audioCodec == "aac")
        #expect(probe.rotation == 270)
        #expect(probe.width == 1080 && probe.height == 1920, "a portrait phone video is displayed upright")
        #expect(probe.durationSeconds == 3.52)
    }

    @Test func coverArtIsNotAVideo() throws {
        let probe = try Self.parse("""
            {"streams":[{"codec_type":"audio","codec_name":"mp3","duration":"12.0"},
              {"codec_type":"video","codec_name":"mjpeg","width":500,"height":500,"disposition":{"attached_pic":1}}],
             "format":{}}
            """)
        #expect(!probe.hasVideo && probe.width == nil)
        #expect(probe.durationSeconds == 12, "the longest stream when the container has no duration")
    }

    @Test(arguments: [
        #"{"streams":[{"codec_type":"video","width":1e300,"height":-5}],"format":{"duration":"nan"}}"#,
        #"{"streams":[{"codec_type":"video","width":"99999999999999999999999","height":0.5}],"format":{"duration":"inf"}}"#,
        #"{"streams":[{"codec_type":"video","width":70000,"height":true,"tags":{"rotate":"9223372036854775807"}}],"format":{"duration":"-1"}}"#,
        #"{"streams":[{"codec_type":"video","width":[],"height":{},"side_data_list":[{"rotation":1e300}]}],"format":{"duration":1e300}}"#,
        #"{"streams":"nope","format":[]}"#,
        #"{"streams":[1,"x",null,{"codec_type":7}]}"#,
    ])
    func hostileNumbersAreLeftOut(_ json: String) throws {
        let probe = try Self.parse(json)
        #expect(probe.width == nil && probe.height == nil)
        #expect(probe.durationSeconds == nil)
        #expect(probe.rotation == 0)
    }

    @Test(arguments: ["", "[]", "null", "{", "\"text\""])
    func notAnObjectIsUndecodable(_ json: String) {
        let error = #expect(throws: MediaError.self) { try Self.parse(json) }
        #expect(error?.kind == .undecodable)
    }

    @Test func waveformSurvivesSamplesSplitAcrossChunks() {
        // 800 samples: a loud half (+/-16384) then silence, fed one byte at a time.
        var samples: [UInt8] = []
        for index in 0..<800 {
            let value: Int16 = index < 400 ? (index % 2 == 0 ? 16384 : -16384) : 0
            samples += [UInt8(truncatingIfNeeded: value), UInt8(truncatingIfNeeded: value >> 8)]
        }
        var whole = VoiceWaveform(maximumSamples: 8000)
        samples.withUnsafeBytes { whole.append($0) }
        var split = VoiceWaveform(maximumSamples: 8000)
        for byte in samples { [byte].withUnsafeBytes { split.append($0) } }
        let levels = whole.levels(4)
        #expect(levels == split.levels(4))
        #expect(levels == [128, 128, 0, 0])
    }

    @Test func waveformStopsAtItsLimitAndPadsShortRecordings() {
        var waveform = VoiceWaveform(maximumSamples: 80)
        let loud = [UInt8](repeating: 0x7F, count: 2 * 1000)
        loud.withUnsafeBytes { waveform.append($0) }
        #expect(waveform.isFull && waveform.blockPeaks.count == waveform.maximumBlocks)
        #expect(waveform.levels(6).allSatisfy { $0 == 254 })
        var empty = VoiceWaveform(maximumSamples: 80)
        #expect(empty.levels(3) == [0, 0, 0])
        #expect(empty.levels(0) == [])
    }
}
