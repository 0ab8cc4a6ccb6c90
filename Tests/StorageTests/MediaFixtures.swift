import Foundation
import NIOCore
import Testing

@testable import Storage

/// Media made by ffmpeg at test time (nothing binary is committed), as upload bodies.
enum MediaFixtures {
    /// Runs ffmpeg with `arguments` (inputs and codecs) writing `fileName` in a temporary
    /// directory, and returns the bytes.
    static func make(_ arguments: [String], fileName: String) throws -> [UInt8] {
        let processor = try MediaProcessor.locate()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("media-fixture-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent(fileName).path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: processor.ffmpegPath)
        process.arguments = ["-hide_banner", "-loglevel", "error", "-nostdin", "-y"] + arguments + [output]
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "ffmpeg could not make \(fileName)")
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: output)))
    }

    /// A `width`×`height` JPEG test picture.
    static func jpeg(width: Int, height: Int) throws -> [UInt8] {
        try make(["-f", "lavfi", "-i", "testsrc=size=\(width)x\(height)", "-frames:v", "1"], fileName: "picture.jpg")
    }

    /// A 2 s 320×240 H.264/AAC MP4.
    static func mp4() throws -> [UInt8] {
        try make(
            ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=10", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000",
             "-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest"],
            fileName: "video.mp4")
    }

    /// A 1.5 s Opus voice recording in Ogg (loud for the first half, then silent).
    static func oggVoice() throws -> [UInt8] {
        try make(
            ["-f", "lavfi", "-i", "aevalsrc='if(lt(t,0.75),0.8*sin(2*PI*440*t),0)':s=48000:d=1.5", "-c:a", "libopus"],
            fileName: "voice.ogg")
    }

    /// A 1.5 s Opus recording in WebM (what a browser's MediaRecorder makes).
    static func webmVoice() throws -> [UInt8] {
        // `-live 1` writes the WebM as a browser's MediaRecorder does: no Duration element.
        try make(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:d=1.5", "-c:a", "libopus", "-live", "1"], fileName: "voice.webm")
    }

    /// The start of a real MP4 (its `ftyp` box, so it sniffs as video/mp4) followed by junk
    /// ffprobe cannot read.
    static func brokenMP4() throws -> [UInt8] {
        let real = try mp4()
        return Array(real.prefix(32)) + [UInt8](repeating: 0x5A, count: 4096)
    }

    /// An upload body of `bytes` in chunks of `chunk` bytes.
    static func body(_ bytes: [UInt8], chunk: Int = 16384) -> AsyncThrowingStream<ByteBuffer, any Error> {
        AsyncThrowingStream { continuation in
            var index = 0
            while index < bytes.count {
                let end = min(bytes.count, index + chunk)
                continuation.yield(ByteBuffer(bytes: bytes[index..<end]))
                index = end
            }
            continuation.finish()
        }
    }

    /// The stored object's `media` as a dictionary.
    static func media(_ object: StoredObject) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(object.mediaJSON.utf8))) as? [String: Any] ?? [:]
    }

    /// The width and height ffprobe reads from stored bytes.
    static func dimensions(_ storage: StorageService, _ object: StoredObject) async throws -> (Int?, Int?) {
        var bytes: [UInt8] = []
        try await storage.read(object, range: nil) { bytes += Array($0.readableBytesView) }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("probe-\(UUID().uuidString)").path
        defer { unlink(path) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let probe = try await MediaProcessor.locate().probe(path)
        return (probe.width, probe.height)
    }
}
