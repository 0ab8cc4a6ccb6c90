import Foundation

/// Renders findings as the command prints them: human text or JSON (`--format json`).
public enum FindingFormatter {
    /// Human text: per finding a `path:line:column: error[rule] message` line, the statement's
    /// first line and a hint; then a summary line. `filesChecked` adds the number of files read.
    public static func human(_ findings: [Finding], filesChecked: Int? = nil) -> String {
        var out = ""
        for finding in findings {
            out += "\(finding.path):\(finding.line):\(finding.column): error[\(finding.ruleID)] \(finding.message)\n"
            let gutter = String(finding.line)
            let pad = String(repeating: " ", count: gutter.count)
            if let statement = finding.statement, !statement.isEmpty {
                out += "  \(gutter) | \(statement)\n"
            }
            out += "  \(pad) = hint: \(finding.hint)\n\n"
        }
        let checked = filesChecked.map { " (\($0) \($0 == 1 ? "file" : "files") checked)" } ?? ""
        if findings.isEmpty {
            out += "No findings\(checked).\n"
        } else {
            let files = Set(findings.map(\.path)).count
            out += "\(findings.count) \(findings.count == 1 ? "finding" : "findings") in \(files) \(files == 1 ? "file" : "files")\(checked).\n"
        }
        return out
    }

    /// JSON: an array with one object per finding, keys `rule`, `message`, `hint`, `path`,
    /// `line`, `column`, `statement` (null for file-level findings); `[]` when clean.
    public static func json(_ findings: [Finding]) -> String {
        guard !findings.isEmpty else { return "[]\n" }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(findings) else { return "[]\n" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

/// The command's exit status: 0 clean, 1 findings, 2 unreadable input.
public enum LintExitCode: Int32, Sendable {
    case clean = 0
    case findings = 1
    case unreadableInput = 2

    /// `clean` without findings, `findings` otherwise.
    public init(findings: [Finding]) {
        self = findings.isEmpty ? .clean : .findings
    }
}
