import Core
import Foundation
import Chat
@testable import Realtime
import Testing

@Suite struct ChangeFilterTests {
    static let conversation = "ac830a8c-e9db-4b1a-ba53-c8ce5dc9d906"
    let record: [String: JSONValue] = [
        "id": .string("ee69ce6b-183d-43dd-b09d-f3fbd3b39efb"), "conversation_id": .string(Self.conversation), "seq": .number(7),
        "kind": .string("text"), "body": .string("Hello"), "deleted_at": .null, "attachment": .null,
        "created_at": .string("2026-11-26T17:38:32.875805+00:00"),
    ]

    @Test(arguments: [
        ("conversation_id=eq.\(conversation)", true), ("conversation_id=eq.\(conversation.uppercased())", true),
        ("conversation_id=eq.{\(conversation.replacingOccurrences(of: "-", with: ""))}", true),
        ("conversation_id=eq.0e0a7b44-3a1c-4b0e-8e3e-1a1b2c3d4e5f", false), ("conversation_id=neq.0e0a7b44-3a1c-4b0e-8e3e-1a1b2c3d4e5f", true),
        ("seq=eq.7.0", true), ("seq=eq.7e0", true), ("seq=gt.6", true), ("seq=gt.10", false), ("seq=gte.8", false), ("seq=lt.10", true),
        ("seq=lte.7", true), ("seq=in.(1,7)", true), ("seq=in.(1, 7.0)", true), ("seq=in.(1,2)", false), ("seq=in.()", false),
        ("kind=in.(\"text\",system)", true), ("kind=in.(\"te,xt\")", false),
        ("deleted_at=is.null", true), ("deleted_at=not.is.null", false), ("attachment=is.null", true),
        ("body=like.He%", true), ("body=ilike.he*", true), ("body=like.he%", false), ("body=like.H_llo", true),
        ("body=lt.Hello!", true), ("body=gt.Hello", false), ("body=gte.Hello", true),
        ("conversation_id=not.eq.\(conversation)", false), ("conversation_id=eq.\(conversation),seq=gt.100", false),
        ("created_at=eq.2026-11-26T17:38:32.875805Z", true), ("created_at=eq.2026-11-26 20:38:32.875805+03", true),
        ("created_at=gt.2026-11-26T17:38:32Z", true), ("created_at=lt.2026-11-26T17:38:32.8758Z", false),
        ("created_at=lt.2026-11-27", true), ("created_at=gte.2026-11-26T18:38:32.875805+01:00", true),
    ])
    func comparesByColumnType(_ text: String, _ expected: Bool) throws {
        #expect(try ChangeFilter(parsing: text, table: "messages", in: ChatChangeFeed.tables).matches(record) == expected)
    }

    @Test func nullIsUnknownNegatedOrNot() throws {
        // As in SQL: a comparison with NULL is unknown, and NOT unknown is still unknown.
        for text in ["deleted_at=eq.2026-01-01T00:00:00Z", "deleted_at=neq.2026-01-01T00:00:00Z", "deleted_at=not.eq.2026-01-01T00:00:00Z",
                     "reply_to_id=eq.\(Self.conversation)", "reply_to_id=not.in.(\(Self.conversation))"] {
            #expect(try ChangeFilter(parsing: text, table: "messages", in: ChatChangeFeed.tables).matches(record) == false, "\(text)")
        }
    }

    @Test func deleteOldRecordsCarryUUIDsAsText() throws {
        let oldRecord: [String: JSONValue] = ["message_id": .string(Self.conversation), "user_id": .string(Self.conversation), "conversation_id": .string(Self.conversation)]
        #expect(try ChangeFilter(parsing: "user_id=eq.\(Self.conversation.uppercased())", table: "reactions", in: ChatChangeFeed.tables).matches(oldRecord))
    }

    @Test func cursorsFiltersReadParticipantsColumns() throws {
        let filter = try ChangeFilter(parsing: "read_up_to_seq=gte.3", table: "cursors", in: ChatChangeFeed.tables)
        #expect(filter.matches(["read_up_to_seq": .number(3)]) && !filter.matches(["read_up_to_seq": .number(2)]))
    }

    @Test(arguments: [
        ("seq=between.1", "operator 'between' is not supported"),
        ("no-operator", "must look like column=op.value"),
        ("conversation_id=eq.not-a-uuid", "conversation_id is a uuid column and 'not-a-uuid' is not a UUID"),
        ("seq=gt.abc", "seq is a number column and 'abc' is not a number"),
        ("seq=eq.nan", "is not a number"), ("seq=eq.1e999", "is not a number"), ("seq=eq.0x10", "is not a number"),
        ("created_at=gt.yesterday", "created_at is a timestamp column"), ("created_at=gt.2026-02-30", "is not an ISO 8601 timestamp"),
        ("nope=eq.1", "invalid column for filter nope"),
        ("seq=in.(1,x)", "'x' is not a number"), ("seq=in.1,2", "in takes a list in parentheses"),
        ("kind=in.(\"a)", "quote is not closed"),
        ("seq=like.1%", "like applies to text columns only"), ("body=like.abc\\", "must not end with the escape character"),
        ("body=is.true", "applies to boolean columns only"), ("body=is.maybe", "is takes null, true, false or unknown"),
        ("attachment=gt.{}", "does not apply to attachment, a json column"),
    ])
    func refusesBadFiltersNamingConditionAndRule(_ text: String, _ rule: String) {
        do {
            _ = try ChangeFilter(parsing: text, table: "messages", in: ChatChangeFeed.tables)
            Issue.record("\(text) was accepted")
        } catch {
            #expect("\(error)".contains(rule), "\(error)")
            if !text.contains("no-operator") { #expect("\(error)".contains("filter '"), "\(error)") }
        }
    }

    @Test func filterLengthIsCapped() throws {
        let longest = "body=like." + String(repeating: "a", count: ChangeFilter.maximumLength - 10)
        #expect(try ChangeFilter(parsing: longest, table: "messages", in: ChatChangeFeed.tables).conditions.count == 1)
        // Code points are counted, not bytes: 256 Cyrillic letters are fine, 257 are not.
        let cyrillic = "body=like." + String(repeating: "я", count: ChangeFilter.maximumLength - 10)
        #expect(throws: Never.self) { try ChangeFilter(parsing: cyrillic, table: "messages", in: ChatChangeFeed.tables) }
        do {
            _ = try ChangeFilter(parsing: longest + "a", table: "messages", in: ChatChangeFeed.tables)
            Issue.record("an over-long filter was accepted")
        } catch {
            #expect("\(error)".contains("is 257 characters long; at most 256 are allowed"))
            #expect("\(error)".contains("filter 'body=like.aaaa"))
        }
    }

    @Test func inListsAreCapped() {
        let hundred = Array(repeating: "1", count: 100).joined(separator: ",")
        #expect(throws: Never.self) { try ChangeFilter(parsing: "seq=in.(\(hundred))", table: "messages", in: ChatChangeFeed.tables) }
        #expect(throws: FilterError.self) { try ChangeFilter(parsing: "seq=in.(\(hundred),101)", table: "messages", in: ChatChangeFeed.tables) }
    }

    @Test func exposesTheConversationAPinnedSubscriptionNeedsInCanonicalForm() throws {
        #expect(try ChangeFilter(parsing: "conversation_id=eq.\(Self.conversation.uppercased())", table: "messages", in: ChatChangeFeed.tables).equality(on: "conversation_id") == Self.conversation)
        #expect(try ChangeFilter(parsing: "conversation_id=neq.\(Self.conversation)", table: "messages", in: ChatChangeFeed.tables).equality(on: "conversation_id") == nil)
    }

    @Test func numbersFromClientsNeverTrap() throws {
        #expect(ChangeFilter.text(.number(1e300)) == "1e+300")
        #expect(ChangeFilter.text(.number(-1e19)) == "-1e+19")
        #expect(ChangeFilter.text(.number(42)) == "42")
        #expect(ChangeFilter.text(.number(-0.5)) == "-0.5")
        #expect(ChangeFilter.text(.number(.infinity)) != nil)
        let record: [String: JSONValue] = ["seq": .number(1e300), "body": .number(-1e19)]
        #expect(try ChangeFilter(parsing: "seq=gt.1", table: "messages", in: ChatChangeFeed.tables).matches(record))
        #expect(try ChangeFilter(parsing: "body=like.-1%", table: "messages", in: ChatChangeFeed.tables).matches(record))
    }

    @Test func bindingIDsAreStableNonZeroAndTablesAllowListed() throws {
        let bindings = try RealtimeChannel.bindings(from: .array([
            .object(["event": .string("INSERT"), "schema": .string("public"), "table": .string("messages")]),
            .object(["event": .string("*"), "schema": .string("public"), "table": .string("reactions"), "filter": .string("message_id=eq.\(Self.conversation)")]),
        ]), catalog: .chat)
        #expect(bindings.count == 2 && bindings.allSatisfy { $0.id > 0 })
        #expect(try RealtimeChannel.bindings(from: .array([.object(bindings[0].original)]), catalog: .chat)[0].id == bindings[0].id)
        #expect(throws: JoinError.self) {
            try RealtimeChannel.bindings(from: .array([.object(["event": .string("INSERT"), "table": .string("auth_users")])]), catalog: .chat)
        }
    }

    @Test func aBadFilterRefusesTheJoinNamingTheBinding() {
        do {
            _ = try RealtimeChannel.bindings(from: .array([
                .object(["table": .string("messages"), "filter": .string("conversation_id=eq.not-a-uuid")]),
            ]), catalog: .chat)
            Issue.record("accepted")
        } catch {
            #expect("\(error)" == "postgres_changes[0].filter: filter 'conversation_id=eq.not-a-uuid': conversation_id is a uuid column and 'not-a-uuid' is not a UUID")
        }
    }
}

@Suite struct TypedValueTests {
    @Test func timestampsAreInstants() {
        #expect(TypedValue.timestamp("1970-01-01T00:00:00Z") == 0)
        #expect(TypedValue.timestamp("1970-01-01") == 0)
        #expect(TypedValue.timestamp("1970-01-01T00:00:00.0000015Z") == 2)
        #expect(TypedValue.timestamp("2000-03-01T00:00:00+00:00") == 951_868_800_000_000)
        #expect(TypedValue.timestamp("2000-02-29 23:00:00-01") == 951_868_800_000_000)
        #expect(TypedValue.timestamp("2024-02-29T12:00:00+0530") != nil)
        for bad in ["2023-02-29", "2026-13-01", "2026-01-01T24:00:00Z", "2026-01-01T10:00:00+99", "2026-1-1", "", "2026-01-01T10:00:00Zjunk"] {
            #expect(TypedValue.timestamp(bad) == nil, "\(bad)")
        }
    }

    @Test func booleansInPostgresSpellings() {
        for yes in ["t", "TRUE", "yes", "on", "1"] { #expect(TypedValue.boolean(yes) == true) }
        for no in ["f", "False", "no", "off", "0"] { #expect(TypedValue.boolean(no) == false) }
        #expect(TypedValue.boolean("maybe") == nil)
        #expect(TypedValue.literal("TRUE", as: .boolean)?.order(against: .boolean(true)) == .orderedSame)
    }

    @Test func uuidsInAnyCase() {
        let id = "ac830a8c-e9db-4b1a-ba53-c8ce5dc9d906"
        #expect(TypedValue.uuid(id.uppercased()) == TypedValue.uuid(id))
        #expect(TypedValue.uuid("AC830A8CE9DB4B1ABA53C8CE5DC9D906") == TypedValue.uuid(id))
        #expect(TypedValue.uuid("ac830a8c-e9db-4b1a-ba53-c8ce5dc9d90") == nil)
        #expect(TypedValue.uuid("-ac830a8ce9db4b1aba53c8ce5dc9d906") == nil)
    }
}

@Suite struct LikePatternTests {
    func like(_ text: String, _ pattern: String, insensitive: Bool = false) throws -> Bool {
        try LikePattern(pattern, caseInsensitive: insensitive).matches(text)
    }

    @Test(arguments: [
        ("abc", "abc", true), ("abc", "ab", false), ("abc", "a%", true), ("abc", "%c", true), ("abc", "%b%", true),
        ("abc", "%", true), ("", "%", true), ("", "", true), ("", "_", false), ("abc", "a_c", true), ("abc", "a__c", false),
        ("abc", "___", true), ("a%c", "a\\%c", true), ("abc", "a\\%c", false), ("a_c", "a\\_c", true), ("abc", "a\\_c", false),
        ("a\\c", "a\\\\c", true), ("a*c", "a\\*c", true), ("abbbc", "a*c", true), ("abc", "a%%%c", true),
        ("mississippi", "%iss%ppi", true), ("mississippi", "%iss%ipp", false), ("aaa", "%aaaa%", false),
        ("Привет, мир", "При%мир", true), ("Привет", "_ривет", true), ("日本語", "日_語", true), ("🙂x", "_x", true),
    ])
    func likeFollowsPostgreSQL(_ text: String, _ pattern: String, _ expected: Bool) throws {
        #expect(try like(text, pattern) == expected)
    }

    @Test func ilikeFoldsCaseBeyondASCII() throws {
        #expect(try like("ПРИВЕТ Мир", "привет%", insensitive: true))
        #expect(try like("привет", "ПРИ_ЕТ", insensitive: true))
        #expect(try like("Straße", "STRASSE", insensitive: true) == false)
        #expect(try like("ÄÖÜ", "äöü", insensitive: true))
        #expect(try like("ПРИВЕТ", "привет") == false)
    }

    @Test func agreesWithAReferenceMatcherOnRandomInputs() throws {
        // Reference: the textbook O(n·m) dynamic programme over code points.
        func reference(_ text: [Character], _ tokens: [LikePattern.Token]) -> Bool {
            var row = [Bool](repeating: false, count: text.count + 1)
            row[0] = true
            for token in tokens {
                var next = [Bool](repeating: false, count: text.count + 1)
                for index in 0...text.count {
                    switch token {
                    case .any: next[index] = row[index] || (index > 0 && next[index - 1])
                    case .one: next[index] = index > 0 && row[index - 1]
                    case .literal(let scalar): next[index] = index > 0 && row[index - 1] && text[index - 1] == Character(scalar)
                    }
                }
                row = next
            }
            return row[text.count]
        }
        var random = SplitMix(seed: 11)
        let alphabet: [Character] = ["a", "b", "я", "%", "_", "\\"]
        for _ in 0..<3_000 {
            let pattern = String((0..<random.next(upTo: 12)).map { _ in alphabet[random.next(upTo: alphabet.count)] })
            let text = String((0..<random.next(upTo: 14)).map { _ in alphabet[random.next(upTo: 3)] })
            guard let compiled = try? LikePattern(pattern, caseInsensitive: false) else { continue }
            #expect(compiled.matches(text) == reference(Array(text), compiled.tokens), "\(text) like \(pattern)")
        }
        // Past one machine word of pattern positions.
        let long = String(repeating: "a_%", count: 60) + "b"
        let text = String(repeating: "ab", count: 120) + "b"
        #expect(try LikePattern(long, caseInsensitive: false).matches(text) == reference(Array(text), try LikePattern(long, caseInsensitive: false).tokens))
    }

    @Test func escapeAtTheEndIsRefused() {
        #expect(throws: FilterError.self) { try LikePattern("abc\\", caseInsensitive: false) }
    }

    @Test func pathologicalPatternsFinishFast() throws {
        // The patterns that make a backtracking matcher (or a regex) take forever.
        let text = String(repeating: "a", count: 4_000)
        let patterns = [
            String(repeating: "%a", count: 120) + "%b", "%" + String(repeating: "a", count: 250) + "b",
            String(repeating: "_%", count: 120) + "b", String(repeating: "%a_", count: 80) + "b",
        ]
        let clock = ContinuousClock()
        let elapsed = try clock.measure {
            for pattern in patterns {
                let compiled = try LikePattern(pattern, caseInsensitive: true)
                for _ in 0..<5 { #expect(compiled.matches(text) == false) }
            }
        }
        #expect(elapsed < .seconds(2), "20 matches of 4 000 characters took \(elapsed)")
        #expect(try like(text + "b", String(repeating: "%a", count: 120) + "%b"))
    }
}

/// A small deterministic generator for randomised tests.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next(upTo bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int((z ^ (z >> 31)) % UInt64(bound))
    }
}
