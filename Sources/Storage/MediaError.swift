/// Why a media operation failed. ``message`` is written for the person who sent the file;
/// ``diagnostics`` (the tail of ffmpeg's standard error, the exit status) is for the log
/// only and never goes to a client.
public struct MediaError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// ffmpeg or ffprobe is not installed (an operator problem).
        case toolsMissing
        /// The bytes are not a type this operation handles (the sniffed type is attached).
        case unsupportedType(String)
        /// ffmpeg could not decode the file (corrupt, truncated, or a codec it lacks).
        case undecodable
        /// The picture is larger than the pixel limit (a decompression bomb or a huge scan).
        case tooManyPixels
        /// The file has no audio stream (waveform) or no picture (poster, image).
        case missingStream
        /// The tool ran past its time limit and was killed.
        case timedOut
        /// The tool wrote more output than allowed and was killed.
        case outputTooLarge
        /// The tool could not be started, or the result could not be stored.
        case failed
    }

    public var kind: Kind
    /// A sentence a user can understand ("the image could not be decoded").
    public var message: String
    /// For the server log: exit status and the tail of the tool's standard error.
    public var diagnostics: String

    public init(_ kind: Kind, _ message: String, diagnostics: String = "") {
        self.kind = kind
        self.message = message
        self.diagnostics = diagnostics
    }

    public var description: String {
        diagnostics.isEmpty ? message : "\(message) [\(diagnostics)]"
    }
}
