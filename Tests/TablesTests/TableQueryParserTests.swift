import Core
import Testing
@testable import Tables

@Suite struct TableQueryParserTests {
    let parser = TableQueryParser()

    @Test func selectWithAliasesCastsJSONPathsAndEmbeddings() throws {
        let query = try parser.parse(rawQuery: "select=id,%20who:sender_id::text,data-%3Emeta-%3E%3Ekind,author:profiles!messages_sender_fkey!inner(name,*)")
        #expect(query.select == [
            .field(ColumnPath(column: "id"), alias: nil, cast: nil),
            .field(ColumnPath(column: "sender_id"), alias: "who", cast: "text"),
            .field(ColumnPath(column: "data", json: [JSONStep(key: "meta", asText: false), JSONStep(key: "kind", asText: true)]), alias: nil, cast: nil),
            .embed(Embedding(
                relation: "profiles", alias: "author", hint: "messages_sender_fkey", inner: true,
                items: [.field(ColumnPath(column: "name"), alias: nil, cast: nil), .all])),
        ])
    }

    @Test func filtersWithNegationQuantifiersListsAndFullText() throws {
        let query = try parser.parse(rawQuery: "a=not.eq.1&b=in.(1,%222,3%22,x)&c=is.NULL&d=fts(english).cat%20%26%20dog&e=like(any).%7Ba*,b*%7D&f=gte.2026-01-01T00:00:00%2B00:00")
        #expect(query.filters == [
            .leaf(Filter(path: ColumnPath(column: "a"), negated: true, operation: .eq, value: .single("1"))),
            .leaf(Filter(path: ColumnPath(column: "b"), negated: false, operation: .in, value: .list(["1", "2,3", "x"]))),
            .leaf(Filter(path: ColumnPath(column: "c"), negated: false, operation: .is, value: .truth(.null))),
            .leaf(Filter(path: ColumnPath(column: "d"), negated: false, operation: .fts, value: .fullText(language: "english", query: "cat & dog"))),
            .leaf(Filter(path: ColumnPath(column: "e"), negated: false, operation: .like, value: .quantified(.any, "{a*,b*}"))),
            .leaf(Filter(path: ColumnPath(column: "f"), negated: false, operation: .gte, value: .single("2026-01-01T00:00:00+00:00"))),
        ])
    }

    @Test func nestedLogicTreesKeepQuotedValues() throws {
        let query = try parser.parse(rawQuery: "or=(a.eq.1,and(b.gt.2,c.not.is.null),d.eq.%22x,y%22)&not.and=(e.lt.0)")
        let expected: [FilterTree] = [
            .or([
                .leaf(Filter(path: ColumnPath(column: "a"), negated: false, operation: .eq, value: .single("1"))),
                .and([
                    .leaf(Filter(path: ColumnPath(column: "b"), negated: false, operation: .gt, value: .single("2"))),
                    .leaf(Filter(path: ColumnPath(column: "c"), negated: true, operation: .is, value: .truth(.null))),
                ], negated: false),
                .leaf(Filter(path: ColumnPath(column: "d"), negated: false, operation: .eq, value: .single("x,y"))),
            ], negated: false),
            .and([.leaf(Filter(path: ColumnPath(column: "e"), negated: false, operation: .lt, value: .single("0")))], negated: true),
        ]
        #expect(query.filters == expected)
    }

    @Test func orderLimitOffsetAndEmbeddedModifiers() throws {
        let query = try parser.parse(rawQuery: "order=seq.desc.nullslast,body&limit=5&offset=10&author.order=name.asc&author.limit=1&author.name=eq.x&on_conflict=a,b&columns=a,b")
        #expect(query.order == [
            OrderTerm(path: ColumnPath(column: "seq"), descending: true, nulls: .last),
            OrderTerm(path: ColumnPath(column: "body")),
        ])
        #expect(query.limit == 5)
        #expect(query.offset == 10)
        #expect(query.onConflict == ["a", "b"])
        #expect(query.columns == ["a", "b"])
        #expect(query.embedded["author"]?.order == [OrderTerm(path: ColumnPath(column: "name"))])
        #expect(query.embedded["author"]?.limit == 1)
        #expect(query.embedded["author"]?.filters.count == 1)
    }

    @Test(arguments: [
        "a=eq", "a=nope.1", "a=in.1,2", "a=is.maybe", "limit=-1", "limit=1e3", "offset=x", "or=a.eq.1", "or=()",
        "select=a(b", "select=a::in%20valid;", "a=fts(x%27y).z", "order=", "a=is(any).null", "a=cs(all).{1}",
    ])
    func malformedQueriesAreRefusedAsPGRST100(raw: String) {
        do {
            _ = try parser.parse(rawQuery: raw)
            Issue.record("accepted \(raw)")
        } catch let error as APIError {
            #expect(error.code == "PGRST100", "\(raw): \(error)")
            #expect(error.status == .badRequest)
        } catch {
            Issue.record("\(raw): \(error)")
        }
    }

    @Test func everyLimitIsEnforced() throws {
        var limits = TableLimits()
        limits.maximumFilters = 3
        limits.maximumListItems = 2
        limits.maximumSelectItems = 3
        limits.maximumNesting = 2
        limits.maximumQueryBytes = 64
        let strict = TableQueryParser(limits: limits)
        #expect(throws: APIError.self) { try strict.parse(rawQuery: "a=eq.1&b=eq.2&c=eq.3&d=eq.4") }
        #expect(throws: APIError.self) { try strict.parse(rawQuery: "a=in.(1,2,3)") }
        #expect(throws: APIError.self) { try strict.parse(rawQuery: "select=a,b,c,d") }
        #expect(throws: APIError.self) { try strict.parse(rawQuery: "or=(and(or(a.eq.1)))") }
        #expect(throws: APIError.self) { try strict.parse(rawQuery: "select=a(b(c(d)))") }
        #expect(throws: APIError.self) { try strict.parse(rawQuery: "a=eq." + String(repeating: "x", count: 64)) }
        #expect(try strict.parse(rawQuery: "a=in.(1,2)&select=a,b,c&or=(and(a.eq.1))").filters.count == 2)
    }

    @Test func plusIsASpaceAndPercentEscapesDecode() throws {
        let query = try parser.parse(rawQuery: "body=eq.a+b%2Bc")
        #expect(query.filters == [.leaf(Filter(path: ColumnPath(column: "body"), negated: false, operation: .eq, value: .single("a b+c")))])
    }

    @Test func embeddedFilterKeysSplitAtTheLastDotOutsideQuotesAndJSONArrows() {
        #expect(TableQueryParser.splitEmbedPath("author.name") == ("author", "name"))
        #expect(TableQueryParser.splitEmbedPath("a.b.not.or") == ("a.b", "not.or"))
        #expect(TableQueryParser.splitEmbedPath("data->>x.y") == ("", "data->>x.y"), "a JSON path is one column")
        #expect(TableQueryParser.splitEmbedPath("\"a.b\"") == ("", "\"a.b\""), "a quoted name is one column")
        #expect(TableQueryParser.splitEmbedPath("a-b.c>d") == ("a-b", "c>d"), "- and > apart are no arrow")
    }

    @Test func identifiersAreQuotedWithInnerQuotesDoubled() {
        #expect(SQLText.identifier("name") == "\"name\"")
        #expect(SQLText.identifier("a\"b") == "\"a\"\"b\"")
        #expect(SQLText.identifier("\"") == "\"\"\"\"")
        #expect(SQLText.identifier("é\"\"") == "\"é\"\"\"\"\"")
    }
}
