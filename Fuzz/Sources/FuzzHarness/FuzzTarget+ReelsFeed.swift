import Core
import Crypto
import Foundation

@testable import Reels

// MARK: feed-config

extension FuzzTarget {
    /// The bytes as a feed ranking config file (`FeedConfig.validate`, what
    /// `ecomansoni reels config validate|activate` reads), and each line as a feed cursor
    /// (`FeedCursorCodec.verify`, `FeedCursor(payload:)`) and a hashtag argument
    /// (`FeedHashtag.normalise`). Traps unless: an accepted config's fields are in their ranges,
    /// each weight group sums to 1 ± 0.01 and its stored body validates again to the same
    /// config with no warnings; a cursor that verifies has a page in 1…1000 and re-encodes to
    /// the same payload; an accepted hashtag is normalised again to itself.
    static func feedConfig(_ data: Data, _ text: String) {
        if let validated = try? FeedConfig.validate(data) {
            let config = validated.config
            let sums = [config.engagementWeights.values.reduce(0, +), config.affinityWeights.values.reduce(0, +)]
            guard sums.allSatisfy({ abs($0 - 1) <= FeedConfig.weightTolerance + 1e-9 }), (0...1).contains(config.explorationShare),
                (1...3).contains(config.maxPerAuthor), (10...1000).contains(config.sessionSize), (1...90).contains(config.candidateDays)
            else { fatalError("feed-config: accepted \(config)") }
            guard let again = try? FeedConfig.validate(Data(config.body.jsonText.utf8)), again.config == config, again.warnings.isEmpty
            else { fatalError("feed-config: the stored body of \(config) does not validate to itself") }
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).prefix(16) {
            if let cursor = try? FeedCursorCodec.verify(String(line), key: feedCursorKey) {
                guard (1...FeedCursor.maximumPage).contains(cursor.page), FeedCursor(payload: cursor.payload) == cursor else {
                    fatalError("feed-config: accepted cursor \(line)")
                }
            }
            if let cursor = FeedCursor(payload: String(line)), cursor.payload != String(line) {
                fatalError("feed-config: cursor payload \(line) is not canonical")
            }
            if let tag = try? FeedHashtag.normalise(String(line)), (try? FeedHashtag.normalise(tag)) != tag {
                fatalError("feed-config: hashtag \(line) normalised to \(tag), which does not normalise to itself")
            }
        }
    }

    private static let feedCursorKey = SymmetricKey(data: Data(repeating: 9, count: 32))
}
