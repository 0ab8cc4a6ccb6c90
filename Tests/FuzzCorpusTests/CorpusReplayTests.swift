import Foundation
import Testing

/// Replays every committed fuzz input (seed corpora in Fuzz/Corpus/<target>/ and crash
/// reproducers in Fuzz/Regressions/<target>/) through the same decoders the libFuzzer
/// targets drive (`FuzzTarget`, shared with Fuzz/). A crash here is a regression of a
/// fixed finding; see docs/fuzzing.md.
@Suite struct CorpusReplayTests {
    static let fuzzRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz")

    static func inputs(of target: FuzzTarget, in folder: String) -> [URL] {
        let directory = fuzzRoot.appendingPathComponent(folder).appendingPathComponent(target.rawValue)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { directory.appendingPathComponent($0) }
    }

    @Test(arguments: FuzzTarget.allCases)
    func seedCorpusIsCommitted(_ target: FuzzTarget) {
        #expect(!Self.inputs(of: target, in: "Corpus").isEmpty, "Fuzz/Corpus/\(target.rawValue)/ has no seeds")
    }

    /// Longest one input may take here (debug build, no sanitizer): a hang is a finding too.
    static let maximumPerInput = Duration.seconds(1)

    @Test(arguments: FuzzTarget.allCases)
    func corpusAndRegressionsDecodeWithoutCrashingOrHanging(_ target: FuzzTarget) throws {
        let clock = ContinuousClock()
        for file in Self.inputs(of: target, in: "Corpus") + Self.inputs(of: target, in: "Regressions") {
            let data = try Data(contentsOf: file)
            let elapsed = clock.measure { target.run(data) }
            #expect(elapsed < Self.maximumPerInput, "\(target.rawValue): \(file.lastPathComponent) took \(elapsed)")
        }
    }
}
