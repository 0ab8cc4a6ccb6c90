/// A SQL `LIKE` / `ILIKE` pattern, compiled once and matched in time linear in the text.
///
/// PostgreSQL semantics: `%` matches any run of characters (also none), `_` exactly one
/// character, a backslash makes the next character literal; the pattern must match the whole
/// text. A character is a Unicode code point. `*` is also accepted for `%`, as PostgREST does.
/// `ILIKE` compares both sides lower-cased (full Unicode case mapping, so Cyrillic too).
///
/// Matching simulates the pattern's automaton with one bit per pattern position
/// (bit-parallel, 64 positions per machine word): each text character costs a few word
/// operations per 64 pattern positions, whatever the pattern, so no pattern (`%a%a%a…b`
/// included) can make it backtrack.
struct LikePattern: Sendable, Equatable {
    /// A pattern position: a literal code point, `_`, or a run of `%`.
    enum Token: Sendable, Equatable {
        case literal(Unicode.Scalar)
        case one
        case any
    }

    let tokens: [Token]
    let caseInsensitive: Bool
    /// Per literal code point: the positions it may advance from.
    private let literalMasks: [Unicode.Scalar: [UInt64]]
    /// Positions holding `_`, which any code point advances from.
    private let oneMask: [UInt64]
    /// Positions holding `%`, which consume any code point and stay.
    private let anyMask: [UInt64]
    /// Words per state set: positions 0…tokens.count.
    private let words: Int

    /// Compiles a pattern; a pattern ending in an escape character is refused, as in PostgreSQL.
    init(_ pattern: String, caseInsensitive: Bool) throws(FilterError) {
        let source = caseInsensitive ? pattern.lowercased() : pattern
        var tokens: [Token] = []
        var escaped = false
        for scalar in source.unicodeScalars {
            if escaped {
                tokens.append(.literal(scalar))
                escaped = false
                continue
            }
            switch scalar {
            case "\\": escaped = true
            case "%", "*": if tokens.last != .any { tokens.append(.any) }
            case "_": tokens.append(.one)
            default: tokens.append(.literal(scalar))
            }
        }
        if escaped { throw FilterError("a LIKE pattern must not end with the escape character \\") }
        self.tokens = tokens
        self.caseInsensitive = caseInsensitive
        let words = (tokens.count + 1 + 63) / 64
        self.words = words
        var literalMasks: [Unicode.Scalar: [UInt64]] = [:]
        var oneMask = [UInt64](repeating: 0, count: words)
        var anyMask = [UInt64](repeating: 0, count: words)
        for (position, token) in tokens.enumerated() {
            let word = position / 64
            let bit = UInt64(1) << UInt64(position % 64)
            switch token {
            case .literal(let scalar): literalMasks[scalar, default: [UInt64](repeating: 0, count: words)][word] |= bit
            case .one: oneMask[word] |= bit
            case .any: anyMask[word] |= bit
            }
        }
        self.literalMasks = literalMasks
        self.oneMask = oneMask
        self.anyMask = anyMask
    }

    static func == (left: LikePattern, right: LikePattern) -> Bool {
        left.tokens == right.tokens && left.caseInsensitive == right.caseInsensitive
    }

    /// Whether the whole text matches the pattern.
    func matches(_ text: String) -> Bool {
        let subject = caseInsensitive ? text.lowercased() : text
        let accept = tokens.count
        // state: bit j set = the first j tokens can have matched the text read so far.
        var state = [UInt64](repeating: 0, count: words)
        var next = [UInt64](repeating: 0, count: words)
        state[0] = 1
        closeOverAny(&state)
        for scalar in subject.unicodeScalars {
            let literal = literalMasks[scalar]
            var carry: UInt64 = 0
            var alive: UInt64 = 0
            for word in 0..<words {
                var advancing = oneMask[word]
                if let literal { advancing |= literal[word] }
                let advanced = state[word] & advancing
                // Shift the advancing positions up by one across words.
                let shifted = (advanced << 1) | carry
                carry = advanced >> 63
                next[word] = shifted | (state[word] & anyMask[word])
                alive |= next[word]
            }
            if alive == 0 { return false }
            closeOverAny(&next)
            swap(&state, &next)
        }
        return state[accept / 64] & (UInt64(1) << UInt64(accept % 64)) != 0
    }

    /// A `%` may match nothing: from a position holding `%` the next position is reachable too.
    /// Runs of `%` are one token, so one step closes the set.
    private func closeOverAny(_ set: inout [UInt64]) {
        var carry: UInt64 = 0
        for word in 0..<words {
            let skipping = set[word] & anyMask[word]
            let shifted = (skipping << 1) | carry
            carry = skipping >> 63
            set[word] |= shifted
        }
    }
}
