import Core
import Database
import Foundation
import HummingbirdTesting
import Testing
@testable import Tables

/// The grammar corpus (`Corpus/grammar.json`): each PostgREST query read through the table API
/// returns what its plain SQL returns when run directly in PostgreSQL as the same caller, or is
/// refused with its code. A case is one line of the file; add one for every grammar change.
@Suite struct TableGrammarCorpusTests {
    struct Corpus: Decodable {
        struct Case: Decodable, CustomTestStringConvertible {
            var query: String
            var sql: String?
            var error: String?
            var testDescription: String { query }
        }
        var cases: [Case]
    }

    static let corpus: Corpus = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus/grammar.json")
        do {
            return try JSONDecoder().decode(Corpus.self, from: Data(contentsOf: url))
        } catch {
            Issue.record("the grammar corpus does not load: \(error)")
            return Corpus(cases: [])
        }
    }()

    static let alice = TablesHarness.alice
    static let bob = TablesHarness.bob

    /// Notes 1–5, slots 1–4 and their labels are Alice's; note 6, its comment, label and slot 5
    /// are Bob's (row-level security keeps them out of every answer). Labels join notes through
    /// `note_labels` (many-to-many).
    static var seed: String {
        let a = alice.uuidString.lowercased(), b = bob.uuidString.lowercased()
        return """
            CREATE TABLE public.slots (
                id bigint PRIMARY KEY, owner uuid NOT NULL DEFAULT auth.uid(), during int4range, done boolean, label text NOT NULL
            );
            ALTER TABLE public.slots ENABLE ROW LEVEL SECURITY;
            CREATE POLICY slots_own ON public.slots FOR ALL TO authenticated USING (owner = auth.uid());
            GRANT SELECT ON public.slots TO authenticated;
            CREATE TABLE public.labels (id bigint PRIMARY KEY, name text NOT NULL);
            ALTER TABLE public.labels ENABLE ROW LEVEL SECURITY;
            CREATE POLICY labels_read ON public.labels FOR SELECT TO authenticated USING (true);
            GRANT SELECT ON public.labels TO authenticated;
            CREATE TABLE public.note_labels (
                note_id bigint REFERENCES public.notes (id), label_id bigint REFERENCES public.labels (id), owner uuid NOT NULL,
                PRIMARY KEY (note_id, label_id)
            );
            ALTER TABLE public.note_labels ENABLE ROW LEVEL SECURITY;
            CREATE POLICY note_labels_own ON public.note_labels FOR SELECT TO authenticated USING (owner = auth.uid());
            GRANT SELECT ON public.note_labels TO authenticated;
            INSERT INTO public.notes (id, owner, title, body, tags, data, score, secret) VALUES
                (1, '\(a)', 'alpha', 'the quick brown fox', '{a,b}', '{"meta":{"kind":"x"},"n":1}', 1, 's'),
                (2, '\(a)', 'beta', NULL, '{b}', '{"meta":{"kind":"y"},"n":2}', 2, NULL),
                (3, '\(a)', 'gamma, with comma', 'lazy dogs', '{}', NULL, 3, NULL),
                (4, '\(a)', 'delta', 'fox again', '{c}', '{"n":4}', 4, NULL),
                (5, '\(a)', 'Epsilon (caps)', 'Quick foxes jumped', '{a,c}', '{"meta":{"kind":"x"}}', 5, NULL),
                (6, '\(b)', 'bob''s', 'a fox of bob', '{a}', '{"n":1}', 3, NULL);
            INSERT INTO public.note_comments (id, note_id, owner, text) VALUES
                (1, 1, '\(a)', 'first'), (2, 1, '\(a)', 'second'), (3, 4, '\(a)', 'on delta'), (4, 6, '\(b)', 'first');
            INSERT INTO public.slots (id, owner, during, done, label) VALUES
                (1, '\(a)', '[1,5)', true, 'early'), (2, '\(a)', '[5,10)', false, 'middle'),
                (3, '\(a)', '[10,20)', NULL, 'late'), (4, '\(a)', NULL, true, 'none'), (5, '\(b)', '[5,10)', true, 'bob''s');
            INSERT INTO public.labels (id, name) VALUES (1, 'red'), (2, 'green'), (3, 'blue');
            INSERT INTO public.note_labels (note_id, label_id, owner) VALUES
                (1, 1, '\(a)'), (1, 2, '\(a)'), (2, 2, '\(a)'), (4, 3, '\(a)'), (6, 1, '\(b)')
            """
    }

    @Test func theCorpusCoversEveryFilterOperator() {
        let queries = Self.corpus.cases.map(\.query).joined(separator: "\n")
        let operators = [
            "eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "match", "imatch", "in", "is", "isdistinct",
            "fts", "plfts", "phfts", "wfts", "cs", "cd", "ov", "sl", "sr", "nxl", "nxr", "adj",
        ]
        for name in operators {
            #expect(queries.contains("=\(name).") || queries.contains("=\(name)(") || queries.contains(".\(name)."), "no case uses \(name)")
        }
    }

    @Test func everyCaseReadsWhatItsSQLReadsOrIsRefusedWithItsCode() async throws {
        #expect(Self.corpus.cases.count >= 60)
        try await TablesHarness.withTables { client, database in
            try await database.withOwner { connection in
                for statement in Self.seed.components(separatedBy: ";\n") {
                    try await connection.execute(statement, [])
                }
            }
            let caller = Caller(
                role: .authenticated, userID: Self.alice,
                claimsJSON: #"{"sub":"\#(Self.alice.uuidString.lowercased())","role":"authenticated"}"#)
            for item in Self.corpus.cases {
                let response = try await client.rest(.get, item.query, as: Self.alice)
                let body = String(buffer: response.body)
                if let code = item.error {
                    #expect(response.status.code >= 400, "\(item.query) should be refused with \(code)")
                    #expect(TablesHarness.object(response.body)["code"] as? String == code, "\(item.query): \(body)")
                    continue
                }
                guard let sql = item.sql else {
                    Issue.record("\(item.query) has neither sql nor error")
                    continue
                }
                #expect(response.status == .ok, "\(item.query): \(body)")
                let expected = try await database.withCaller(caller) { connection in
                    try await connection.scalarText("SELECT coalesce(json_agg(_c), '[]')::text FROM (\(sql)) _c", [])
                }
                let answer = try JSONValue.parse(body)
                let wanted = try JSONValue.parse(expected ?? "null")
                #expect(answer == wanted, "\(item.query)\n  api: \(body)\n  sql: \(expected ?? "null")")
            }
        }
    }
}
