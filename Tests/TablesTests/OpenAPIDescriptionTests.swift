import Foundation
import HummingbirdTesting
import Testing
@testable import Tables

@Suite struct OpenAPIDescriptionTests {
    @Test func describesTheCallersTablesWithTheirGrantedOperations() async throws {
        try await TablesHarness.withTables { client, _ in
            let response = try await client.rest(.get, "", as: TablesHarness.alice)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("application/openapi+json") == true)
            let document = TablesHarness.object(response.body)
            #expect(document["swagger"] as? String == "2.0")
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            #expect(paths["/notes"]?.keys.sorted() == ["delete", "get", "patch", "post"])
            #expect(paths["/note_comments"]?.keys.sorted() == ["delete", "get", "post"])
            let definitions = try #require(document["definitions"] as? [String: [String: Any]])
            let properties = try #require(definitions["notes"]?["properties"] as? [String: [String: Any]])
            #expect(properties["id"]?["type"] as? String == "integer")
            #expect(properties["id"]?["format"] as? String == "bigint")
            #expect(properties["tags"]?["type"] as? String == "array")
            #expect(properties["data"]?["format"] as? String == "jsonb")

            let anonymous = TablesHarness.object(try await client.rest(.get, "", as: nil).body)
            let anonymousPaths = try #require(anonymous["paths"] as? [String: Any])
            #expect(anonymousPaths["/notes"] == nil)
            #expect(anonymousPaths["/"] != nil)
        }
    }
}
