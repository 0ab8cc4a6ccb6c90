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

    @Test(arguments: FuzzTarget.allCases)
    func corpusAndRegressionsDecodeWithoutCrashing(_ target: FuzzTarget) throws {
        for file in Self.inputs(of: target, in: "Corpus") + Self.inputs(of: target, in: "Regressions") {
            target.run(try Data(contentsOf: file))
        }
    }
}
