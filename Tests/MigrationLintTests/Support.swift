import Foundation
import Testing
@testable import MigrationLint

/// Lints one SQL text as the file `0001_test.sql`.
func lint(_ sql: String, path: String = "0001_test.sql") -> [Finding] {
    MigrationLinter().lint([MigrationFile(path: path, text: sql)])
}

/// The rule ids of the findings, in order.
func ruleIDs(_ findings: [Finding]) -> [String] {
    findings.map(\.ruleID)
}

/// `line:column` of the findings of one rule.
func positions(_ findings: [Finding], rule: String) -> [String] {
    findings.filter { $0.ruleID == rule }.map { "\($0.line):\($0.column)" }
}

/// The statements of a text: (line, column, first word).
func statements(_ sql: String) -> [(line: Int, column: Int, text: String)] {
    let source = Tokenizer(sql).tokenize()
    return StatementSplitter.split(source).map { piece in
        let statement = SQLStatement(source: source, range: piece.range)
        return (statement.line, statement.column, statement.text)
    }
}

/// One file of the test corpus: `Corpus/<rule-id>/(good|bad)_*.sql`.
struct CorpusCase: CustomTestStringConvertible, Sendable {
    var rule: String
    var name: String
    var url: URL

    var isBad: Bool { name.hasPrefix("bad_") }
    var testDescription: String { "\(rule)/\(name)" }

    /// Every corpus file, sorted; adding a file adds a test case.
    static func all() -> [CorpusCase] {
        guard let root = Bundle.module.url(forResource: "Corpus", withExtension: nil) else { return [] }
        let manager = FileManager.default
        var cases: [CorpusCase] = []
        let rules = (try? manager.contentsOfDirectory(atPath: root.path)) ?? []
        for rule in rules.sorted() {
            let folder = root.appendingPathComponent(rule)
            let names = (try? manager.contentsOfDirectory(atPath: folder.path)) ?? []
            for name in names.sorted() where name.hasSuffix(".sql") {
                cases.append(CorpusCase(rule: rule, name: name, url: folder.appendingPathComponent(name)))
            }
        }
        return cases
    }

    /// Positions from `-- expect: L:C L:C …` lines, nil when the file has none.
    static func expectedPositions(in text: String) -> [String]? {
        var found: [String]?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("-- expect:") else { continue }
            let list = trimmed.dropFirst("-- expect:".count).split(separator: " ").map(String.init)
            found = (found ?? []) + list
        }
        return found
    }
}
