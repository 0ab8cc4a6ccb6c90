import Core
import Foundation

/// One version of the feed's ranking parameters (docs/reels.md, "Feed"), as stored in
/// `reels.feed_configs.body`. Only a body that ``validate(_:)`` accepts is ever activated:
/// every field present, each in its range, each weight group summing to 1 ± 0.01, at most
/// ``maximumBytes`` bytes. Unknown keys are kept out and reported as warnings.
public struct FeedConfig: Sendable, Equatable {
    /// The relative weights of `ln(1 + count)` of each engagement signal.
    public var engagementWeights: [String: Double]
    /// The half-life of a reel's score, in days.
    public var recencyDays: Double
    /// The score is multiplied by `1 + affinityWeight · affinity` (affinity in 0…1).
    public var affinityWeight: Double
    /// How much each kind of interaction with an author counts towards affinity.
    public var affinityWeights: [String: Double]
    /// The number of events of one kind at which its affinity share is full.
    public var affinitySaturation: Double
    /// The cold-start boost at zero views, falling to 0 at ``coldViews``.
    public var coldBoost: Double
    public var coldViews: Double
    /// Candidates are reels from this many last days.
    public var candidateDays: Int
    /// The share of positions for authors without affinity (1 for viewers without any).
    public var explorationShare: Double
    /// At most this many reels of one author on one page.
    public var maxPerAuthor: Int
    /// A reel shown this many times within ``impressionWindowHours`` is left out.
    public var impressionCap: Int
    public var impressionWindowHours: Double
    /// How many reels one session snapshot ranks.
    public var sessionSize: Int

    /// The largest body accepted, in bytes.
    public static let maximumBytes = 512_000
    /// How far a weight group's sum may be from 1.
    public static let weightTolerance = 0.01
    /// The signals of `engagement_weights`.
    public static let engagementSignals = ["views", "likes", "comments", "saves", "shares"]
    /// The kinds of `affinity_weights`.
    public static let affinityKinds = ["follow", "likes", "comments", "saves", "shares", "views"]

    /// A validated body and the warnings about it (unknown keys).
    public struct Validated: Sendable {
        public var config: FeedConfig
        public var warnings: [String]
    }

    /// Validates a config file's bytes; throws ``FeedConfigError`` naming the field and rule.
    public static func validate(_ data: Data) throws -> Validated {
        guard data.count <= maximumBytes else {
            throw FeedConfigError(field: "(body)", rule: "must be at most \(maximumBytes) bytes (is \(data.count))")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw FeedConfigError(field: "(body)", rule: "must be UTF-8 JSON")
        }
        let value: JSONValue
        do {
            value = try JSONValue.parse(text)
        } catch {
            throw FeedConfigError(field: "(body)", rule: "must be a JSON object")
        }
        guard let object = value.objectValue else { throw FeedConfigError(field: "(body)", rule: "must be a JSON object") }
        var reader = Reader(object: object, path: "")
        let config = FeedConfig(
            engagementWeights: try reader.weights("engagement_weights", keys: engagementSignals),
            recencyDays: try reader.number("recency_days", 0.1...365),
            affinityWeight: try reader.number("affinity_weight", 0...10),
            affinityWeights: try reader.weights("affinity_weights", keys: affinityKinds),
            affinitySaturation: try reader.number("affinity_saturation", 1...1000),
            coldBoost: try reader.number("cold_boost", 0...10),
            coldViews: try reader.number("cold_views", 1...1_000_000),
            candidateDays: try reader.integer("candidate_days", 1...90),
            explorationShare: try reader.number("exploration_share", 0...1),
            maxPerAuthor: try reader.integer("max_per_author", 1...3),
            impressionCap: try reader.integer("impression_cap", 1...100),
            impressionWindowHours: try reader.number("impression_window_hours", 1...720),
            sessionSize: try reader.integer("session_size", 10...1000))
        return Validated(config: config, warnings: reader.unknownKeyWarnings())
    }

    /// The body to store: the known fields only (unknown keys are not kept).
    public var body: JSONValue {
        .object([
            "engagement_weights": .object(engagementWeights.mapValues { .number($0) }),
            "recency_days": .number(recencyDays),
            "affinity_weight": .number(affinityWeight),
            "affinity_weights": .object(affinityWeights.mapValues { .number($0) }),
            "affinity_saturation": .number(affinitySaturation),
            "cold_boost": .number(coldBoost),
            "cold_views": .number(coldViews),
            "candidate_days": .number(Double(candidateDays)),
            "exploration_share": .number(explorationShare),
            "max_per_author": .number(Double(maxPerAuthor)),
            "impression_cap": .number(Double(impressionCap)),
            "impression_window_hours": .number(impressionWindowHours),
            "session_size": .number(Double(sessionSize)),
        ])
    }

    /// Reads fields of one object, remembering which keys were looked at.
    private struct Reader {
        let object: [String: JSONValue]
        let path: String
        var seen: Set<String> = []
        var nestedWarnings: [String] = []

        init(object: [String: JSONValue], path: String) {
            self.object = object
            self.path = path
        }

        func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

        mutating func number(_ key: String, _ range: ClosedRange<Double>) throws -> Double {
            seen.insert(key)
            guard let member = object[key] else { throw FeedConfigError(field: name(key), rule: "is required") }
            guard case .number(let value) = member, value.isFinite else {
                throw FeedConfigError(field: name(key), rule: "must be a number")
            }
            guard range.contains(value) else {
                throw FeedConfigError(field: name(key), rule: "must be between \(Self.text(range.lowerBound)) and \(Self.text(range.upperBound))")
            }
            return value
        }

        mutating func integer(_ key: String, _ range: ClosedRange<Int>) throws -> Int {
            let value = try number(key, Double(range.lowerBound)...Double(range.upperBound))
            guard value.rounded() == value else { throw FeedConfigError(field: name(key), rule: "must be a whole number") }
            // In range (checked above), so the conversion cannot trap.
            return Int(value)
        }

        mutating func weights(_ key: String, keys: [String]) throws -> [String: Double] {
            seen.insert(key)
            guard let member = object[key] else { throw FeedConfigError(field: name(key), rule: "is required") }
            guard let inner = member.objectValue else { throw FeedConfigError(field: name(key), rule: "must be an object") }
            var reader = Reader(object: inner, path: name(key))
            var weights: [String: Double] = [:]
            for weight in keys {
                weights[weight] = try reader.number(weight, 0...1)
            }
            let sum = keys.reduce(0.0) { $0 + (weights[$1] ?? 0) }
            guard abs(sum - 1) <= FeedConfig.weightTolerance else {
                throw FeedConfigError(field: name(key), rule: "weights must sum to 1 ± \(FeedConfig.weightTolerance) (sum is \(Self.text(sum)))")
            }
            nestedWarnings += reader.unknownKeyWarnings()
            return weights
        }

        func unknownKeyWarnings() -> [String] {
            nestedWarnings + object.keys.filter { !seen.contains($0) }.sorted().map { "\(name($0)): unknown key, ignored" }
        }

        static func text(_ value: Double) -> String {
            value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(format: "%.4g", value)
        }
    }
}

/// A config body that may not be activated: the field and the rule it breaks.
public struct FeedConfigError: Error, Equatable, CustomStringConvertible {
    public var field: String
    public var rule: String

    public var description: String { "\(field): \(rule)" }

    /// The 400 error for an API caller.
    public var apiError: APIError { APIError.invalidField(field, rule) }
}
