import Foundation
@testable import Storage
import Testing

/// ffmpeg-backed media processing against fixtures that ffmpeg itself generates at test time
/// (no media is committed): metadata stripping, thumbnails, posters, probing, waveforms, and
/// the failures a user sees.
@Suite struct MediaProcessorTests {
    let processor: MediaProcessor
    let directory: URL

    init() throws {
        processor = try MediaProcessor.locate()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("media-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Runs ffmpeg to make a fixture; `arguments` end with the output name (in the directory).
    @discardableResult
    func generate(_ arguments: [String], output: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: processor.ffmpegPath)
        process.arguments = ["-hide_banner", "-loglevel", "error", "-nostdin", "-y"] + arguments + [path(output)]
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "ffmpeg could not make \(output)")
        return path(output)
    }

    func cleanUp() { try? FileManager.default.removeItem(at: directory) }

    func bytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    static func contains(_ haystack: [UInt8], _ needle: String) -> Bool {
        let needle = Array(needle.utf8)
        guard haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
    }

    /// A JPEG segment: marker, big-endian length (including itself), payload.
    static func segment(_ marker: UInt8, _ payload: [UInt8]) -> [UInt8] {
        let length = payload.count + 2
        return [0xFF, marker, UInt8(length >> 8), UInt8(length & 0xFF)] + payload
    }

    /// An APP1 Exif block (little-endian TIFF): IFD0 with an ImageDescription naming a place
    /// and a GPS IFD pointer; the GPS IFD holds latitude ref "N" and longitude ref "E".
    static func exifWithGPS() -> [UInt8] {
        func u16(_ value: Int) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8)] }
        func u32(_ value: Int) -> [UInt8] { u16(value & 0xFFFF) + u16(value >> 16) }
        let description = Array("SECRET-PLACE 55.7558N 37.6173E\0".utf8)
        // TIFF header (8) + IFD0: count (2) + 2 entries (24) + next (4) = 38; then GPS IFD.
        let gpsOffset = 38
        let gpsSize = 2 + 2 * 12 + 4
        let descriptionOffset = gpsOffset + gpsSize
        var tiff: [UInt8] = Array("II".utf8) + u16(42) + u32(8)
        tiff += u16(2)
        tiff += u16(0x010E) + u16(2) + u32(description.count) + u32(descriptionOffset)
        tiff += u16(0x8825) + u16(4) + u32(1) + u32(gpsOffset)
        tiff += u32(0)
        tiff += u16(2)
        tiff += u16(0x0001) + u16(2) + u32(2) + Array("N\0\0\0".utf8)
        tiff += u16(0x0003) + u16(2) + u32(2) + Array("E\0\0\0".utf8)
        tiff += u32(0)
        tiff += description
        return segment(0xE1, Array("Exif\0\0".utf8) + tiff)
    }

    /// An APP2 ICC_PROFILE block with a recognisable private tag.
    static func iccProfile() -> [UInt8] {
        segment(0xE2, Array("ICC_PROFILE\0".utf8) + [1, 1] + Array("PRIVATE-ICC-OWNER-NAME".utf8))
    }

    /// A 640×480 JPEG with Exif GPS and an ICC block inserted right after its SOI marker.
    func jpegWithMetadata() throws -> String {
        let plain = try generate(["-f", "lavfi", "-i", "testsrc=size=640x480", "-frames:v", "1"], output: "plain.jpg")
        let original = try bytes(plain)
        try #require(original.starts(with: [0xFF, 0xD8]))
        let tagged = [0xFF, 0xD8] + Self.exifWithGPS() + Self.iccProfile() + original.dropFirst(2)
        let path = path("tagged.jpg")
        try Data(tagged).write(to: URL(fileURLWithPath: path))
        return path
    }

    // MARK: - Images

    @Test func reencodedJPEGKeepsNoExifGPSOrICC() async throws {
        defer { cleanUp() }
        let input = try jpegWithMetadata()
        let tagged = try bytes(input)
        #expect(Self.contains(tagged, "Exif") && Self.contains(tagged, "SECRET-PLACE") && Self.contains(tagged, "ICC_PROFILE"))
        #expect(try await processor.probe(input).width == 640, "the tagged fixture still decodes")

        let output = path("clean.jpg")
        let format = try await processor.reencodeImage(input: input, output: output, maxDimension: 320)
        #expect(format == .jpeg)
        let clean = try bytes(output)
        #expect(clean.starts(with: [0xFF, 0xD8, 0xFF]))
        for secret in ["Exif", "GPS", "SECRET-PLACE", "55.7558", "ICC_PROFILE", "PRIVATE-ICC", "Lavc"] {
            #expect(!Self.contains(clean, secret), "re-encoded JPEG still contains \(secret)")
        }
        let probe = try await processor.probe(output)
        #expect(probe.width == 320 && probe.height == 240)
        #expect(probe.videoCodec == "mjpeg")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".part-") }
        #expect(leftovers.isEmpty)
    }

    @Test func exifOrientationIsAppliedBeforeTheTagIsDropped() async throws {
        defer { cleanUp() }
        let stored = try bytes(try generate(["-f", "lavfi", "-i", "testsrc=size=64x32", "-frames:v", "1"], output: "landscape.jpg"))
        // Exif IFD0 with Orientation = 6 (the camera was turned 90° clockwise).
        let tiff: [UInt8] = Array("II".utf8) + [42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0]
        let rotated = [0xFF, 0xD8] + Self.segment(0xE1, Array("Exif\0\0".utf8) + tiff) + stored.dropFirst(2)
        try Data(rotated).write(to: URL(fileURLWithPath: path("rotated.jpg")))
        try await processor.reencodeImage(input: path("rotated.jpg"), output: path("upright.jpg"))
        let probe = try await processor.probe(path("upright.jpg"))
        #expect(probe.width == 32 && probe.height == 64, "the picture is stored upright")
        #expect(!Self.contains(try bytes(path("upright.jpg")), "Exif"))
    }

    @Test func smallImagesAreNotEnlarged() async throws {
        defer { cleanUp() }
        let input = try generate(["-f", "lavfi", "-i", "testsrc=size=200x100", "-frames:v", "1"], output: "small.jpg")
        try await processor.reencodeImage(input: input, output: path("out.jpg"), maxDimension: 2560)
        let probe = try await processor.probe(path("out.jpg"))
        #expect(probe.width == 200 && probe.height == 100)
    }

    @Test func transparentPNGStaysPNGWithItsAlpha() async throws {
        defer { cleanUp() }
        let input = try generate(
            ["-f", "lavfi", "-i", "color=c=red@0.5:s=100x50,format=rgba", "-frames:v", "1",
             "-metadata", "comment=SECRET-COMMENT"],
            output: "alpha.png")
        let output = path("clean.png")
        let format = try await processor.reencodeImage(input: input, output: output)
        #expect(format == .png && format.mimeType == "image/png")
        let clean = try bytes(output)
        #expect(ContentSniffer.mimeType(of: clean) == "image/png")
        #expect(!Self.contains(clean, "SECRET-COMMENT"))
        #expect(Self.contains(clean, "IHDR"))
        // Colour type 6 (RGBA) at IHDR offset 25: the transparency survived.
        #expect(clean.count > 25 && clean[25] == 6)
    }

    @Test func theTypeComesFromTheBytesNotTheName() async throws {
        defer { cleanUp() }
        let png = try generate(["-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "1"], output: "real.png")
        let misnamed = path("photo.jpg")
        try FileManager.default.moveItem(atPath: png, toPath: misnamed)
        #expect(try await processor.reencodeImage(input: misnamed, output: path("out")) == .png)
    }

    @Test func gifGivesItsFirstFrameAsPNG() async throws {
        defer { cleanUp() }
        let gif = try generate(["-f", "lavfi", "-i", "testsrc=size=80x60:rate=5", "-t", "1"], output: "anim.gif")
        #expect(try await processor.reencodeImage(input: gif, output: path("frame.png")) == .png)
        #expect(try await processor.probe(path("frame.png")).width == 80)
    }

    @Test func avatarThumbnailsAreCentreCroppedSquares() async throws {
        defer { cleanUp() }
        let input = try jpegWithMetadata()
        for size in MediaProcessor.avatarSizes {
            let output = path("avatar-\(size).jpg")
            try await processor.squareThumbnail(input: input, output: output, size: size)
            let probe = try await processor.probe(output)
            #expect(probe.width == size && probe.height == size)
            #expect(!Self.contains(try bytes(output), "Exif"))
        }
    }

    @Test func picturesOverThePixelLimitAreRefusedBeforeDecoding() async throws {
        defer { cleanUp() }
        let limited = MediaProcessor(
            ffmpegPath: processor.ffmpegPath, ffprobePath: processor.ffprobePath,
            limits: .init(maximumPixels: 1_000_000))
        let input = try generate(["-f", "lavfi", "-i", "color=c=blue:s=1500x1000", "-frames:v", "1"], output: "big.png")
        let error = await #expect(throws: MediaError.self) {
            try await limited.reencodeImage(input: input, output: path("out.png"))
        }
        #expect(error?.kind == .tooManyPixels)
        #expect(!FileManager.default.fileExists(atPath: path("out.png")))
    }

    @Test func aCorruptImageIsAClearErrorAndLeavesNothing() async throws {
        defer { cleanUp() }
        let good = try bytes(try generate(["-f", "lavfi", "-i", "testsrc=size=320x240", "-frames:v", "1"], output: "good.jpg"))
        // A JPEG header followed by noise: the same magic number, undecodable body.
        var broken = Array(good.prefix(20))
        var generator = SystemRandomNumberGenerator()
        broken += (0..<4000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        try Data(broken).write(to: URL(fileURLWithPath: path("broken.jpg")))
        let error = await #expect(throws: MediaError.self) {
            try await processor.reencodeImage(input: path("broken.jpg"), output: path("out.jpg"))
        }
        #expect(error?.kind == .undecodable || error?.kind == .missingStream)
        #expect(error?.message.hasPrefix("the image") == true || error?.message == "the file could not be read as media")
        #expect(error?.message.contains("ffmpeg") == false, "the user-facing message names no tool")
        #expect(!FileManager.default.fileExists(atPath: path("out.jpg")))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".part-") }
        #expect(leftovers.isEmpty)
    }

    @Test func aPlaylistNeverReachesFFmpeg() async throws {
        defer { cleanUp() }
        let playlist = "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:10.0,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n"
        try Data(playlist.utf8).write(to: URL(fileURLWithPath: path("evil.jpg")))
        let error = await #expect(throws: MediaError.self) {
            try await processor.reencodeImage(input: path("evil.jpg"), output: path("out.jpg"))
        }
        #expect(error?.kind == .unsupportedType("text/plain"))
        let probeError = await #expect(throws: MediaError.self) { try await processor.probe(path("evil.jpg")) }
        #expect(probeError?.kind == .unsupportedType("text/plain"))
    }

    // MARK: - Video

    func twoSecondVideo() throws -> String {
        try generate(
            ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
             "-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-metadata", "location=+55.7558+037.6173/"],
            output: "clip.mp4")
    }

    @Test func probeReadsSizeDurationAndCodecs() async throws {
        defer { cleanUp() }
        let input = try twoSecondVideo()
        #expect(ContentSniffer.mimeType(of: try bytes(input).prefix(4096)) == "video/mp4")
        let probe = try await processor.probe(input)
        #expect(probe.width == 320 && probe.height == 240)
        #expect(probe.videoCodec == "h264" && probe.audioCodec == "aac")
        let duration = try #require(probe.durationSeconds)
        #expect(abs(duration - 2) < 0.1)
        #expect(probe.formatName?.contains("mp4") == true)
    }

    @Test func posterIsAJPEGFrameOfTheVideo() async throws {
        defer { cleanUp() }
        let input = try twoSecondVideo()
        let output = path("poster.jpg")
        try await processor.posterFrame(input: input, output: output)
        let poster = try bytes(output)
        #expect(ContentSniffer.mimeType(of: poster) == "image/jpeg")
        #expect(!Self.contains(poster, "55.7558"))
        let probe = try await processor.probe(output)
        #expect(probe.width == 320 && probe.height == 240)
    }

    @Test func aVideoShorterThanOneSecondGivesItsFirstFrame() async throws {
        defer { cleanUp() }
        let input = try generate(
            ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-t", "0.4", "-c:v", "libx264", "-pix_fmt", "yuv420p"],
            output: "short.mp4")
        try await processor.posterFrame(input: input, output: path("poster.jpg"), maxDimension: 80)
        let probe = try await processor.probe(path("poster.jpg"))
        #expect(probe.width == 80 && probe.height == 60)
    }

    @Test func aPosterNeedsAVideo() async throws {
        defer { cleanUp() }
        let voice = try voiceClip(container: "ogg")
        let error = await #expect(throws: MediaError.self) {
            try await processor.posterFrame(input: voice, output: path("poster.jpg"))
        }
        #expect(error?.kind == .unsupportedType("audio/ogg"))
    }

    // MARK: - Voice

    /// One second of a loud 440 Hz tone, then one second of silence, in Opus.
    func voiceClip(container: String) throws -> String {
        try generate(
            ["-f", "lavfi", "-i", "aevalsrc='if(lt(t,1),0.8*sin(2*PI*440*t),0)':s=48000:d=2", "-c:a", "libopus"],
            output: "voice.\(container)")
    }

    @Test(arguments: [("ogg", "audio/ogg"), ("webm", "audio/webm")])
    func waveformFollowsTheLoudness(_ container: String, _ sniffed: String) async throws {
        defer { cleanUp() }
        let input = try voiceClip(container: container)
        #expect(ContentSniffer.mimeType(of: try bytes(input).prefix(4096)) == sniffed)
        let decoded = try await processor.decodeVoice(input: input, levels: 64)
        let levels = decoded.levels
        #expect(levels.count == 64)
        #expect(abs((decoded.decodedSeconds ?? 0) - 2) < 0.05, "\(String(describing: decoded.decodedSeconds))")
        // 0.8 of full scale is about 204; the tone fills the first half, silence the second.
        #expect(levels[2..<28].allSatisfy { $0 > 150 }, "\(levels)")
        #expect(levels[36..<64].allSatisfy { $0 < 10 }, "\(levels)")
    }

    @Test func aRecordingWithoutContainerDurationIsMeasuredByDecoding() async throws {
        defer { cleanUp() }
        // Written as a browser's MediaRecorder writes WebM: no Duration element.
        let live = try generate(
            ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:d=2.5", "-c:a", "libopus", "-live", "1"],
            output: "live.webm")
        #expect(try await processor.probe(live).durationSeconds == nil)
        let decoded = try await processor.decodeVoice(input: live, levels: 8)
        #expect(abs((decoded.decodedSeconds ?? 0) - 2.5) < 0.05, "\(String(describing: decoded.decodedSeconds))")
    }

    @Test func waveformOfAVideosSoundAndOfSilence() async throws {
        defer { cleanUp() }
        let levels = try await processor.decodeVoice(input: try twoSecondVideo(), levels: 16).levels
        #expect(levels.count == 16 && levels.allSatisfy { $0 > 0 })
        let silent = try generate(["-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "1"], output: "silent.wav")
        #expect(try await processor.decodeVoice(input: silent, levels: 8).levels == Array(repeating: 0, count: 8))
    }

    @Test func aVideoWithoutSoundHasNoWaveform() async throws {
        defer { cleanUp() }
        let mute = try generate(
            ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-t", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p"],
            output: "mute.mp4")
        let error = await #expect(throws: MediaError.self) { try await processor.decodeVoice(input: mute) }
        #expect(error?.kind == .missingStream)
        #expect(error?.message == "the recording has no sound")
    }

    @Test func waveformReadsAtMostTheVoiceLimit() async throws {
        defer { cleanUp() }
        let limited = MediaProcessor(
            ffmpegPath: processor.ffmpegPath, ffprobePath: processor.ffprobePath, limits: .init(maximumVoiceSeconds: 1))
        // Silence for 1 s, then a tone: with a 1 s limit the tone is never read.
        let input = try generate(
            ["-f", "lavfi", "-i", "aevalsrc='if(lt(t,1),0,0.8*sin(2*PI*440*t))':s=8000:d=3"], output: "late.wav")
        let decoded = try await limited.decodeVoice(input: input, levels: 10)
        #expect(decoded.levels.allSatisfy { $0 < 10 }, "\(decoded.levels)")
        #expect(decoded.decodedSeconds == nil, "a recording cut at the limit has no decoded length")
    }

    // MARK: - Limits of the runner

    @Test func aRunOverTheTimeLimitIsKilled() async throws {
        defer { cleanUp() }
        let hurried = MediaProcessor(
            ffmpegPath: processor.ffmpegPath, ffprobePath: processor.ffprobePath, limits: .init(timeout: .milliseconds(1)))
        let input = try twoSecondVideo()
        let error = await #expect(throws: MediaError.self) { try await hurried.probe(input) }
        #expect(error?.kind == .timedOut)
        #expect(error?.message == "processing the file took too long")
    }

    @Test func probeOutputIsBounded() async throws {
        defer { cleanUp() }
        let tight = MediaProcessor(
            ffmpegPath: processor.ffmpegPath, ffprobePath: processor.ffprobePath, limits: .init(maximumProbeBytes: 100))
        let input = try twoSecondVideo()
        let error = await #expect(throws: MediaError.self) { try await tight.probe(input) }
        #expect(error?.kind == .outputTooLarge)
    }

    @Test func missingToolsNameThePackage() {
        let error = #expect(throws: MediaError.self) { try MediaProcessor.locate(path: "/nonexistent:/also-not") }
        #expect(error?.kind == .toolsMissing)
        #expect(error?.diagnostics.contains("apt-get install ffmpeg") == true)
    }
}
