import Core
import Foundation

/// The upload policy as `reels.admit_upload` read it for one upload (the row of
/// `reels.upload_policy`, migration 0021, changed by operators with SQL), with the attempt
/// it recorded — or why the upload is refused before its file is looked at.
struct UploadPolicy: Sendable, Equatable {
    /// The `reels.upload_attempts` row of this upload.
    var attempt: Int64
    var maxBytes: Int64
    var maxDurationMilliseconds: Int
    /// Sniffed container types accepted (`video/mp4`, `video/quicktime`, `video/webm`, `video/x-matroska`).
    var allowedTypes: Set<String>

    /// What `reels.admit_upload` answered.
    enum Admission: Sendable, Equatable {
        case admitted(UploadPolicy)
        case disabled
        case rateLimited(limit: Int, retryAfter: Int)
        case quotaSpent(limit: Int, retryAfter: Int)
    }

    private struct Answer: Decodable {
        var refused: String?
        var retry_after: Int?
        var limit: Int?
        var attempt: Int64?
        var max_bytes: Int64?
        var max_duration_ms: Int?
        var allowed_types: [String]?
    }

    /// Reads the function's JSON (server-made; anything unexpected is a server error).
    static func admission(json: String) throws -> Admission {
        let answer = try JSONDecoder().decode(Answer.self, from: Data(json.utf8))
        switch answer.refused {
        case "disabled": return .disabled
        case "rate": return .rateLimited(limit: answer.limit ?? 0, retryAfter: answer.retry_after ?? 60)
        case "quota": return .quotaSpent(limit: answer.limit ?? 0, retryAfter: answer.retry_after ?? 3600)
        case nil:
            guard let attempt = answer.attempt, let maxBytes = answer.max_bytes, let maxDuration = answer.max_duration_ms,
                let types = answer.allowed_types
            else { throw UploadPolicyUnreadable(json: json) }
            return .admitted(UploadPolicy(attempt: attempt, maxBytes: maxBytes, maxDurationMilliseconds: maxDuration, allowedTypes: Set(types)))
        default:
            throw UploadPolicyUnreadable(json: json)
        }
    }

    /// The refusal a client sees for an admission that is not `admitted`.
    static func refusal(_ admission: Admission) -> APIError? {
        switch admission {
        case .admitted: return nil
        case .disabled: return UploadRefusal.disabled
        case .rateLimited(let limit, let retryAfter):
            return APIError.rateLimited(
                code: "rate_limited", message: "You can upload \(limit) reels an hour; retry in \(retryAfter) s", retryAfter: retryAfter)
        case .quotaSpent(let limit, let retryAfter):
            return APIError.rateLimited(
                code: "reels_quota_exceeded", message: "You can publish \(limit) reels a day; retry in \(retryAfter) s", retryAfter: retryAfter)
        }
    }
}

/// `reels.admit_upload` answered something this server does not understand.
struct UploadPolicyUnreadable: Error, CustomStringConvertible {
    var json: String
    var description: String { "reels.admit_upload answered \(json.prefix(200))" }
}
