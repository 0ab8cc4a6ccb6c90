import Core
import Foundation
import Synchronization

/// Bearer tokens this instance has already verified, with the caller each stands for, until
/// the token expires: the ES256 signature check and the claims decoding run once per token,
/// not on every request that carries it.
///
/// Sound because a token's verification depends only on its bytes and the clock: the same
/// bytes verify to the same caller, and the expiry is checked again at every use. Bounded:
/// past ``capacity`` entries the cache starts over.
final class VerifiedTokenCache: Sendable {
    private struct Entry {
        /// The token's bytes: `String` keys compare by canonical equivalence, and a token
        /// is vouched for only in the exact bytes that were verified.
        let bytes: [UInt8]
        let caller: Caller
        let expiresAt: Int
    }

    private let entries = Mutex<[String: Entry]>([:])
    /// Tokens kept at most (each is a few hundred bytes).
    let capacity: Int

    init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    /// The caller of a token verified before that has not expired by `now` (unix seconds).
    func caller(for token: String, now: Int) -> Caller? {
        entries.withLock { entries in
            guard let entry = entries[token], entry.bytes.elementsEqual(token.utf8) else { return nil }
            guard entry.expiresAt > now else {
                entries[token] = nil
                return nil
            }
            return entry.caller
        }
    }

    /// Remembers a verified token until `expiresAt` (unix seconds).
    func remember(_ token: String, caller: Caller, expiresAt: Int) {
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[token] = Entry(bytes: Array(token.utf8), caller: caller, expiresAt: expiresAt)
        }
    }

    /// How many tokens are remembered (tests).
    var count: Int { entries.withLock { $0.count } }
}
