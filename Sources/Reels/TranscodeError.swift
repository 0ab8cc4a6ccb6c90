/// Why a transcode failed: `reason` is for the author, `diagnostics` for the log and the job.
/// (The ffmpeg / ffprobe runs themselves are Storage's ``MediaCommand``; a tool that cannot be
/// started throws its `MediaError`, which the worker treats as a retryable failure.)
struct TranscodeError: Error, CustomStringConvertible, Sendable {
    /// In words the author can act on (stored as the reel's `failure_reason` once dead).
    var reason: String
    var diagnostics: String
    /// False when retrying cannot help (the input is not a usable video).
    var retryable: Bool

    var description: String { "\(reason) (\(diagnostics))" }
}
