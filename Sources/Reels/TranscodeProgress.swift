import Foundation

/// Reads ffmpeg's `-progress pipe:1` output (`key=value` lines; `out_time_us` is how far
/// the encode is) and reports whole percentages of the clip's duration, each value once
/// and only upwards; `progress=end` reports 100.
final class TranscodeProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var pending: [UInt8] = []
    private var last = -1
    private let durationMicroseconds: Double
    private let report: @Sendable (Int) -> Void

    init(durationSeconds: Double, report: @Sendable @escaping (Int) -> Void) {
        self.durationMicroseconds = max(durationSeconds, 0.001) * 1_000_000
        self.report = report
    }

    /// Feeds a chunk of standard output (lines may be split across chunks).
    func consume(_ chunk: [UInt8]) {
        var percents: [Int] = []
        lock.withLock {
            pending += chunk
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                if pending.count > 4096 { pending.removeAll() }
                guard let percent = Self.percent(line: line, durationMicroseconds: durationMicroseconds), percent > last else { continue }
                last = percent
                percents.append(percent)
            }
        }
        for percent in percents { report(percent) }
    }

    /// The percentage a progress line stands for, if it is one that tells.
    static func percent(line: String, durationMicroseconds: Double) -> Int? {
        let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2 else { return nil }
        switch parts[0] {
        case "out_time_us", "out_time_ms":
            // ffmpeg writes microseconds under both names.
            guard let value = Double(parts[1]), value.isFinite, value >= 0 else { return nil }
            // Clamped before the conversion: the uploaded file decides `value`.
            return Int(min(99, value / durationMicroseconds * 100))
        case "progress" where parts[1] == "end":
            return 100
        default:
            return nil
        }
    }
}
