import Foundation
import Testing
@testable import MigrationLint

@Suite("Corpus: good and bad migrations per rule")
struct CorpusTests {
    @Test("corpus file", arguments: CorpusCase.all())
    func corpusFile(_ file: CorpusCase) throws {
        let text = try String(contentsOf: file.url, encoding: .utf8)
        let findings = lint(text, path: "\(file.rule)/\(file.name)")
        if file.isBad {
            #expect(ruleIDs(findings).contains(file.rule), "expected a \(file.rule) finding, got \(ruleIDs(findings))")
            if let expected = CorpusCase.expectedPositions(in: text) {
                #expect(positions(findings, rule: file.rule).sorted() == expected.sorted())
            }
        } else {
            #expect(findings.isEmpty, "a good file has no findings, got \(findings.map { "\($0.ruleID)@\($0.line):\($0.column)" })")
        }
    }

    @Test func corpusIsThere() {
        let cases = CorpusCase.all()
        #expect(cases.count >= 60)
        #expect(cases.allSatisfy { $0.name.hasPrefix("good_") || $0.name.hasPrefix("bad_") })
    }

    @Test func everyFolderIsARuleAndEveryStatementRuleHasGoodAndBadFiles() {
        let cases = CorpusCase.all()
        let folders = Set(cases.map(\.rule))
        for folder in folders {
            #expect(Rules.descriptor(for: folder) != nil, "Corpus/\(folder) is not a rule id")
        }
        // The governance rules look at sets of files and are tested in GovernanceTests.
        for rule in Rules.all where rule.category != .governance {
            #expect(cases.contains { $0.rule == rule.id && $0.isBad }, "no bad file for \(rule.id)")
            #expect(cases.contains { $0.rule == rule.id && !$0.isBad }, "no good file for \(rule.id)")
        }
    }
}
