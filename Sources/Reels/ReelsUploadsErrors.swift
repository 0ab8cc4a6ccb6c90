import Core

/// Why `create_reel` refuses an original (docs/reels.md "Uploads", errors). Content refusals
/// are 400 naming `object_path` with a code of their own; the original is then removed.
enum UploadRefusal {
    static func original(_ code: String, _ rule: String) -> APIError {
        var error = APIError.invalidField("object_path", rule)
        error.code = code
        return error
    }

    static let notFound = original(
        "reel_original_not_found", "no upload of yours with this name in the reels bucket; upload the video first")
    static func notVideo(_ sniffed: String) -> APIError {
        original("reel_not_video", "the file is not a video (its bytes are \(sniffed)); upload an MP4, MOV, WebM or Matroska video")
    }
    static func typeNotAllowed(_ sniffed: String, allowed: Set<String>) -> APIError {
        original("reel_type_not_allowed", "\(sniffed) videos are not accepted; accepted: \(allowed.sorted().joined(separator: ", "))")
    }
    static func tooLarge(_ size: Int64, limit: Int64) -> APIError {
        original("reel_too_large", "the video is \(size) bytes; at most \(limit) bytes (\(limit / 1_048_576) MB) are accepted")
    }
    static func tooLong(milliseconds: Int, limit: Int) -> APIError {
        original(
            "reel_too_long",
            "the video lasts \(Self.seconds(milliseconds)) s; at most \(Self.seconds(limit)) s are accepted — trim it and upload again")
    }
    static let noVideoStream = original("reel_no_video_stream", "the file has no video stream (sound only?); a reel needs a picture")
    static let unreadable = original("reel_unreadable", "the video could not be read (damaged or incomplete file); upload it again")
    static let disabled = APIError(
        status: .serviceUnavailable, code: "reels_uploads_disabled", message: "Reel uploads are paused right now; try again later",
        retryAfterSeconds: 300)
    static let mediaUnavailable = APIError(
        status: .serviceUnavailable, code: "media_unavailable", message: "Video checks are not available on this server right now",
        retryAfterSeconds: 60)
    static let exists = APIError.conflict("reel_exists", "object_path: this upload is already a reel")

    /// Seconds with at most one decimal (`90`, `91.5`).
    static func seconds(_ milliseconds: Int) -> String {
        milliseconds % 1000 == 0 ? String(milliseconds / 1000) : String(Double(milliseconds / 100) / 10)
    }
}
