import Foundation
@testable import Reels
import Testing

/// `FeedConfig.validate`: what may become an active feed config.
@Suite struct FeedConfigTests {
    typealias F = ReelsFeedFixture

    func rejects(_ body: String, field: String, rule: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(throws: FeedConfigError(field: field, rule: rule), sourceLocation: sourceLocation) {
            _ = try FeedConfig.validate(Data(body.utf8))
        }
    }

    @Test func theSeededDefaultIsValidAndRoundTrips() throws {
        let validated = try FeedConfig.validate(Data(F.config().utf8))
        #expect(validated.warnings.isEmpty)
        #expect(validated.config.maxPerAuthor == 3)
        #expect(validated.config.explorationShare == 0.2)
        let again = try FeedConfig.validate(Data(validated.config.body.jsonText.utf8))
        #expect(again.config == validated.config)
    }

    @Test func everyFieldIsRequired() {
        for field in ["engagement_weights", "recency_days", "affinity_weight", "affinity_weights", "affinity_saturation", "cold_boost",
            "cold_views", "candidate_days", "exploration_share", "max_per_author", "impression_cap", "impression_window_hours", "session_size"]
        {
            let body = F.config().replacingOccurrences(of: "\"\(field)\":", with: "\"x_\(field)\":")
            rejects(body, field: field, rule: "is required")
        }
        rejects(F.config(["engagement_weights": #"{"views": 0.5, "likes": 0.5, "comments": 0, "saves": 0}"#]),
            field: "engagement_weights.shares", rule: "is required")
    }

    @Test func rangesAndTypesAreChecked() {
        rejects(F.config(["exploration_share": "1.5"]), field: "exploration_share", rule: "must be between 0 and 1")
        rejects(F.config(["exploration_share": "-0.1"]), field: "exploration_share", rule: "must be between 0 and 1")
        rejects(F.config(["max_per_author": "4"]), field: "max_per_author", rule: "must be between 1 and 3")
        rejects(F.config(["max_per_author": "2.5"]), field: "max_per_author", rule: "must be a whole number")
        rejects(F.config(["candidate_days": "91"]), field: "candidate_days", rule: "must be between 1 and 90")
        rejects(F.config(["session_size": "1001"]), field: "session_size", rule: "must be between 10 and 1000")
        rejects(F.config(["recency_days": "0"]), field: "recency_days", rule: "must be between 0.1 and 365")
        rejects(F.config(["recency_days": "\"3\""]), field: "recency_days", rule: "must be a number")
        rejects(F.config(["cold_boost": "true"]), field: "cold_boost", rule: "must be a number")
        rejects(F.config(["affinity_weights": "[1]"]), field: "affinity_weights", rule: "must be an object")
        rejects(F.config(["engagement_weights": #"{"views": 1.2, "likes": 0, "comments": 0, "saves": 0, "shares": 0}"#]),
            field: "engagement_weights.views", rule: "must be between 0 and 1")
        rejects("[1, 2]", field: "(body)", rule: "must be a JSON object")
        rejects("{", field: "(body)", rule: "must be a JSON object")
    }

    @Test func weightGroupsSumToOneWithinAHundredth() throws {
        rejects(F.config(["engagement_weights": #"{"views": 0.2, "likes": 0.2, "comments": 0.2, "saves": 0.2, "shares": 0.22}"#]),
            field: "engagement_weights", rule: "weights must sum to 1 ± 0.01 (sum is 1.02)")
        rejects(F.config(["affinity_weights": #"{"follow": 0.4, "likes": 0.1, "comments": 0.1, "saves": 0.1, "shares": 0.1, "views": 0.1}"#]),
            field: "affinity_weights", rule: "weights must sum to 1 ± 0.01 (sum is 0.9)")
        _ = try FeedConfig.validate(
            Data(F.config(["engagement_weights": #"{"views": 0.2, "likes": 0.2, "comments": 0.2, "saves": 0.2, "shares": 0.209}"#]).utf8))
        _ = try FeedConfig.validate(
            Data(F.config(["engagement_weights": #"{"views": 0.2, "likes": 0.2, "comments": 0.2, "saves": 0.2, "shares": 0.191}"#]).utf8))
    }

    @Test func unknownKeysWarnAndAreNotStored() throws {
        let body = F.config([
            "boost_everything": "9",
            "engagement_weights": #"{"views": 0.2, "likes": 0.2, "comments": 0.2, "saves": 0.2, "shares": 0.2, "watch_time": 1}"#,
        ])
        let validated = try FeedConfig.validate(Data(body.utf8))
        #expect(validated.warnings == ["engagement_weights.watch_time: unknown key, ignored", "boost_everything: unknown key, ignored"])
        #expect(!validated.config.body.jsonText.contains("boost_everything"))
        #expect(!validated.config.body.jsonText.contains("watch_time"))
    }

    @Test func bodiesOver512000BytesAreRefused() throws {
        let padding = String(repeating: "x", count: FeedConfig.maximumBytes)
        let big = F.config(["note": "\"\(padding)\""])
        rejects(big, field: "(body)", rule: "must be at most 512000 bytes (is \(big.utf8.count))")
        // Just under the limit is accepted (with a warning for the padding key).
        let fits = F.config(["note": "\"\(String(repeating: "x", count: FeedConfig.maximumBytes - F.config().utf8.count - 12))\""])
        #expect(fits.utf8.count <= FeedConfig.maximumBytes)
        #expect(try FeedConfig.validate(Data(fits.utf8)).warnings == ["note: unknown key, ignored"])
    }
}
