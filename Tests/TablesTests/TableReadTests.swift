import Foundation
import HummingbirdTesting
import Testing
@testable import Tables

@Suite struct TableReadTests {
    let alice = TablesHarness.alice
    let bob = TablesHarness.bob

    /// Alice's four notes and Bob's one, inserted through the API.
    func seed(_ client: any TestClientProtocol) async throws {
        let notes = """
            [{"title":"alpha","body":"the quick brown fox","tags":["a","b"],"data":{"meta":{"kind":"x"},"n":1},"score":1},
             {"title":"beta","body":null,"tags":["b"],"data":{"meta":{"kind":"y"},"n":2},"score":2},
             {"title":"gamma, with comma","body":"lazy dogs","tags":[],"data":null,"score":3},
             {"title":"delta","body":"fox again","tags":["c"],"data":{"n":4},"score":4}]
            """
        let created = try await client.rest(.post, "notes", as: alice, body: notes)
        #expect(created.status == .created)
        let other = try await client.rest(.post, "notes", as: bob, body: #"{"title":"bob's","score":9}"#)
        #expect(other.status == .created)
    }

    @Test func selectsColumnsAliasesCastsAndJSONPathsOfOwnRowsOnly() async throws {
        try await TablesHarness.withTables { client, _ in
            try await seed(client)
            let response = try await client.rest(.get, "notes?select=name:title,score::text,kind:data-%3Emeta-%3E%3Ekind,n:data-%3En&order=score", as: alice)
            #expect(response.status == .ok)
            #expect(response.headers[.contentRange] == "0-3/*")
            let rows = TablesHarness.rows(response.body)
            #expect(rows.map { $0["name"] as? String } == ["alpha", "beta", "gamma, with comma", "delta"])
            #expect(rows.first?["score"] as? String == "1")
            #expect(rows.first?["kind"] as? String == "x")
            #expect(rows.first?["n"] as? Int == 1)
            let bobs = TablesHarness.rows(try await client.rest(.get, "notes", as: bob).body)
            #expect(bobs.map { $0["title"] as? String } == ["bob's"])
        }
    }

    @Test func filtersOfEveryKind() async throws {
        try await TablesHarness.withTables { client, _ in
            try await seed(client)
            func titles(_ query: String) async throws -> [String] {
                let response = try await client.rest(.get, "notes?select=title&order=score&" + query, as: alice)
                #expect(response.status == .ok, "\(query): \(String(buffer: response.body))")
                return TablesHarness.rows(response.body).compactMap { $0["title"] as? String }
            }
            #expect(try await titles("score=gt.2") == ["gamma, with comma", "delta"])
            #expect(try await titles("score=not.in.(1,2)") == ["gamma, with comma", "delta"])
            #expect(try await titles("title=in.(%22gamma,%20with%20comma%22,beta)") == ["beta", "gamma, with comma"])
            #expect(try await titles("body=is.null") == ["beta"])
            #expect(try await titles("body=like.*fox*") == ["alpha", "delta"])
            #expect(try await titles("title=ilike.ALP*") == ["alpha"])
            #expect(try await titles("title=match.%5Eg") == ["gamma, with comma"])
            #expect(try await titles("tags=cs.%7Bb%7D") == ["alpha", "beta"])
            #expect(try await titles("tags=ov.%7Ba,c%7D") == ["alpha", "delta"])
            #expect(try await titles("body=fts(english).dogs") == ["gamma, with comma"])
            #expect(try await titles("body=wfts.fox%20-quick") == ["delta"])
            #expect(try await titles("data-%3Emeta-%3E%3Ekind=eq.y") == ["beta"])
            #expect(try await titles("or=(score.eq.1,and(score.gte.3,body.like.*fox*))") == ["alpha", "delta"])
            #expect(try await titles("not.or=(score.lt.2,score.gt.3)") == ["beta", "gamma, with comma"])
            #expect(try await titles("score=isdistinct.1&body=not.is.null") == ["gamma, with comma", "delta"])
            #expect(try await titles("title=like(any).%7Ba*,d*%7D") == ["alpha", "delta"])
        }
    }

    @Test func orderLimitOffsetRangeAndCounts() async throws {
        try await TablesHarness.withTables { client, _ in
            try await seed(client)
            let page = try await client.rest(.get, "notes?select=title&order=body.desc.nullsfirst&limit=2&offset=1", as: alice, [.prefer: "count=exact"])
            #expect(page.status == .partialContent)
            #expect(page.headers[.contentRange] == "1-2/4")
            #expect(page.headers[.preferenceApplied] == "count=exact")
            // body descending, nulls first: beta (null), alpha, gamma, delta.
            #expect(TablesHarness.rows(page.body).map { $0["title"] as? String } == ["alpha", "gamma, with comma"])
            let ranged = try await client.rest(.get, "notes?select=title&order=score", as: alice, [.range: "2-3"])
            #expect(ranged.headers[.contentRange] == "2-3/*")
            #expect(TablesHarness.rows(ranged.body).map { $0["title"] as? String } == ["gamma, with comma", "delta"])
            let whole = try await client.rest(.get, "notes?select=id", as: alice, [.prefer: "count=exact"])
            #expect(whole.status == .ok)
            #expect(whole.headers[.contentRange] == "0-3/4")
            let planned = try await client.rest(.head, "notes", as: alice, [.prefer: "count=planned"])
            #expect(planned.status == .ok || planned.status == .partialContent)
            #expect(planned.body.readableBytes == 0)
            #expect(planned.headers[.contentRange]?.hasPrefix("0-3/") == true)
            let past = try await client.rest(.get, "notes?offset=10", as: alice, [.prefer: "count=exact"])
            #expect(past.status == .rangeNotSatisfiable)
            #expect(TablesHarness.object(past.body)["code"] as? String == "PGRST103")
            let backwards = try await client.rest(.get, "notes", as: alice, [.range: "5-2"])
            #expect(backwards.status == .rangeNotSatisfiable)
        }
    }

    @Test func singularObjectsAndCSV() async throws {
        try await TablesHarness.withTables { client, _ in
            try await seed(client)
            let one = try await client.rest(.get, "notes?select=title,score&title=eq.beta", as: alice, [.accept: "application/vnd.pgrst.object+json"])
            #expect(one.status == .ok)
            #expect(one.headers[.contentType]?.hasPrefix("application/vnd.pgrst.object+json") == true)
            #expect(TablesHarness.object(one.body)["title"] as? String == "beta")
            let none = try await client.rest(.get, "notes?title=eq.nope", as: alice, [.accept: "application/vnd.pgrst.object+json"])
            #expect(none.status == .notAcceptable)
            let error = TablesHarness.object(none.body)
            #expect(error["code"] as? String == "PGRST116")
            #expect(error["details"] as? String == "The result contains 0 rows")
            #expect(error.keys.sorted() == ["code", "details", "hint", "message"])
            let many = try await client.rest(.get, "notes", as: alice, [.accept: "application/vnd.pgrst.object+json"])
            #expect(TablesHarness.object(many.body)["details"] as? String == "The result contains 4 rows")
            let csv = try await client.rest(.get, "notes?select=title,body&order=score&limit=3", as: alice, [.accept: "text/csv"])
            #expect(csv.headers[.contentType]?.hasPrefix("text/csv") == true)
            #expect(String(buffer: csv.body) == "title,body\nalpha,the quick brown fox\nbeta,\n\"gamma, with comma\",lazy dogs")
        }
    }

    @Test func embedsManyToOneAndOneToManyWithInnerAndEmbeddedFilters() async throws {
        try await TablesHarness.withTables { client, _ in
            try await seed(client)
            let notes = TablesHarness.rows(try await client.rest(.get, "notes?select=id,title&order=score", as: alice).body)
            let alpha = try #require(notes.first?["id"] as? Int)
            let delta = try #require(notes.last?["id"] as? Int)
            let comments = #"[{"note_id":\#(alpha),"text":"first"},{"note_id":\#(alpha),"text":"second"},{"note_id":\#(delta),"text":"third"}]"#
            #expect(try await client.rest(.post, "note_comments", as: alice, body: comments).status == .created)

            let withComments = try await client.rest(
                .get, "notes?select=title,note_comments(text)&order=score&note_comments.order=text.desc", as: alice)
            let rows = TablesHarness.rows(withComments.body)
            #expect(rows.count == 4)
            #expect((rows[0]["note_comments"] as? [[String: Any]])?.map { $0["text"] as? String } == ["second", "first"])
            #expect((rows[1]["note_comments"] as? [[String: Any]])?.isEmpty == true)

            let inner = try await client.rest(.get, "notes?select=title,c:note_comments!inner(text)&c.text=eq.third", as: alice)
            #expect(TablesHarness.rows(inner.body).map { $0["title"] as? String } == ["delta"])

            let parent = try await client.rest(.get, "note_comments?select=text,notes(title)&order=text", as: alice)
            #expect(TablesHarness.rows(parent.body).map { ($0["notes"] as? [String: Any])?["title"] as? String } == ["alpha", "alpha", "delta"])

            let missing = try await client.rest(.get, "notes?select=title,profiles(*)", as: alice)
            #expect(missing.status == .badRequest)
            #expect(TablesHarness.object(missing.body)["code"] as? String == "PGRST200")
            // Bob sees Alice's comments nowhere, embedded or not.
            let bobs = TablesHarness.rows(try await client.rest(.get, "notes?select=title,note_comments(text)", as: bob).body)
            #expect((bobs.first?["note_comments"] as? [Any])?.isEmpty == true)
        }
    }

    @Test func requestErrorsCarryPostgRESTCodes() async throws {
        try await TablesHarness.withTables { client, _ in
            func code(_ response: TestResponse) -> String? { TablesHarness.object(response.body)["code"] as? String }
            let unknownTable = try await client.rest(.get, "nope", as: alice)
            #expect(unknownTable.status == .notFound)
            #expect(code(unknownTable) == "PGRST205")
            let unknownColumn = try await client.rest(.get, "notes?select=nope", as: alice)
            #expect(unknownColumn.status == .badRequest)
            #expect(code(unknownColumn) == "42703")
            let badValue = try await client.rest(.get, "notes?id=eq.abc", as: alice)
            #expect(badValue.status == .badRequest)
            #expect(code(badValue) == "22P02")
            let badProfile = try await client.rest(.get, "notes", as: alice, [.acceptProfile: "private"])
            #expect(badProfile.status == .notAcceptable)
            #expect(code(badProfile) == "PGRST106")
            let badAccept = try await client.rest(.get, "notes", as: alice, [.accept: "application/xml"])
            #expect(badAccept.status == .notAcceptable)
            #expect(code(badAccept) == "PGRST107")
            let badFilter = try await client.rest(.get, "notes?id=between.1", as: alice)
            #expect(code(badFilter) == "PGRST100")
            // Not granted: the column, and the whole table to anon.
            let secret = try await client.rest(.get, "notes?select=secret", as: alice)
            #expect(secret.status == .forbidden)
            #expect(code(secret) == "42501")
            let anon = try await client.rest(.get, "notes", as: nil)
            #expect(anon.status == .unauthorized)
            #expect(code(anon) == "42501")
            let path = try await client.rest(.get, "notes?title-%3E%3Ex=eq.1", as: alice)
            #expect(path.status == .badRequest)
        }
    }

    @Test func readsStopAtTheRowCap() async throws {
        var limits = TableLimits()
        limits.maximumRows = 3
        try await TablesHarness.withTables(limits: limits) { client, _ in
            try await seed(client)
            let capped = try await client.rest(.get, "notes?limit=100", as: alice)
            #expect(TablesHarness.rows(capped.body).count == 3)
            #expect(capped.headers[.contentRange] == "0-2/*")
        }
    }

    @Test func aRequestStopsAtTheBoundValuesLimit() async throws {
        var limits = TableLimits()
        limits.maximumBoundValues = 3
        try await TablesHarness.withTables(limits: limits) { client, _ in
            #expect(try await client.rest(.get, "notes?score=in.(1,2,3)", as: alice).status == .ok)
            let tooMany = try await client.rest(.get, "notes?score=in.(1,2,3,4)", as: alice)
            #expect(tooMany.status == .badRequest)
            #expect(TablesHarness.object(tooMany.body)["code"] as? String == "PGRST100")
        }
    }

    @Test func aSlowReadStopsAtTheStatementTimeout() async throws {
        var limits = TableLimits()
        limits.statementTimeoutMilliseconds = 1
        try await TablesHarness.withTables(limits: limits) { client, database in
            try await database.withOwner { connection in
                try await connection.execute(
                    "INSERT INTO public.notes (owner, title, body) SELECT $1, 'n' || i, repeat('ab', 50) FROM generate_series(1, 100000) i",
                    [alice])
            }
            let slow = try await client.rest(.get, "notes?body=imatch.(a%7Cb)*c&select=id", as: alice)
            #expect(slow.status == .badRequest)
            #expect(TablesHarness.object(slow.body)["code"] as? String == "57014")
        }
    }
}
