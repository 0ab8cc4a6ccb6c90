import Core
import Foundation
import Testing

/// `String.trimmingWhitespace` trims what Foundation's `.whitespacesAndNewlines` trims.
@Suite struct WhitespaceTrimmingTests {
    @Test func everyScalarIsTrimmedExactlyWhenFoundationTrimsIt() {
        var differing: [String] = []
        for value in UInt32(0)...0x10FFFF {
            guard let scalar = Unicode.Scalar(value) else { continue }
            let foundation = CharacterSet.whitespacesAndNewlines.contains(scalar)
            let ours = ("a" + String(scalar)).trimmingWhitespace == "a"
            if foundation != ours { differing.append(String(format: "U+%04X", value)) }
        }
        #expect(differing.isEmpty, "trimmed differently: \(differing.prefix(20))")
    }

    @Test func trimsBothEndsAndKeepsTheMiddle() {
        let samples = [
            "  hello  ", "\n\tline one\nline two\r\n", "\u{00A0}\u{3000}wide\u{2028}", "\u{85}x\u{85}", "no trim",
            "   ", "", " \u{0301}", "e\u{0301} ", "🙂\u{200B}", " 👩‍👩‍👧 ",
        ]
        for sample in samples {
            #expect(sample.trimmingWhitespace == sample.trimmingCharacters(in: .whitespacesAndNewlines), "\(sample.debugDescription)")
        }
    }
}
