import Core
import Crypto
import Database
import Foundation
import PostgresNIO

/// One curated reference article (`Knowledge/<slug>.md`).
public struct KnowledgeArticle: Sendable, Hashable {
    public var slug: String
    public var title: String
    public var source: String
    public var tags: String
    public var body: String
    /// Official pages the article rests on (front matter `links:`, http(s) only).
    public var links: [String] = []

    /// Parses the front-matter format documented in docs/insurance.md.
    public static func parse(_ text: String, file: String) throws -> KnowledgeArticle {
        let lines = text.replacingOccurrences(of: "\r\n", with: "\n").components(separatedBy: "\n")
        guard lines.first == "---", let end = lines.dropFirst().firstIndex(of: "---") else {
            throw KnowledgeFormatError(file: file, reason: "must start with a --- front matter block")
        }
        var fields: [String: String] = [:]
        for line in lines[1..<end] where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            guard let colon = line.firstIndex(of: ":") else {
                throw KnowledgeFormatError(file: file, reason: "front matter line without a colon: \(line)")
            }
            fields[String(line[..<colon]).trimmingCharacters(in: .whitespaces)] =
                String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
        }
        let body = lines[(end + 1)...].joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        guard let slug = fields["slug"], let title = fields["title"], let source = fields["source"], !body.isEmpty else {
            throw KnowledgeFormatError(file: file, reason: "needs slug, title, source and a body")
        }
        let links = (fields["links"] ?? "").split(separator: " ").map(String.init)
        guard links.allSatisfy({ $0.hasPrefix("https://") || $0.hasPrefix("http://") }) else {
            throw KnowledgeFormatError(file: file, reason: "links must be http(s) URLs separated by spaces")
        }
        return KnowledgeArticle(slug: slug, title: title, source: source, tags: fields["tags"] ?? "", body: body, links: links)
    }

    var checksum: String {
        SHA256.hash(data: Data([slug, title, source, tags, body].joined(separator: "\u{1F}").utf8))
            .map { String(format: "%02x", $0) }.joined()
    }
}

/// A malformed article file (a packaging defect).
public struct KnowledgeFormatError: Error, CustomStringConvertible {
    public let file: String
    public let reason: String
    public var description: String { "knowledge article \(file): \(reason)" }
}

/// A search hit: the article and how well it matched.
public struct KnowledgeHit: Sendable {
    public var article: KnowledgeArticle
    public var rank: Double
}

/// The assistant's curated knowledge base: articles shipped with the binary, copied into
/// PostgreSQL once per process and searched with the `russian` full-text configuration.
public actor KnowledgeBase {
    let database: Database
    let articles: [KnowledgeArticle]
    /// The one copy into the table; concurrent first questions wait for the same task.
    private var syncTask: Task<Void, any Error>?

    public init(database: Database, articles: [KnowledgeArticle]) {
        self.database = database
        self.articles = articles
    }

    /// The articles in the module's `Knowledge` folder.
    public static func bundledArticles() throws -> [KnowledgeArticle] {
        guard let folder = Bundle.module.url(forResource: "Knowledge", withExtension: nil) else { return [] }
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".md") }.sorted()
        return try names.map { name in
            try KnowledgeArticle.parse(String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8), file: name)
        }
    }

    /// Makes the table hold exactly the shipped articles (idempotent; safe on many instances).
    public func sync() async throws {
        let current = syncTask ?? Task { [database, articles] in try await Self.copy(articles, into: database) }
        syncTask = current
        do {
            try await current.value
        } catch {
            syncTask = nil
            throw error
        }
    }

    private static func copy(_ articles: [KnowledgeArticle], into database: Database) async throws {
        try await database.withOwner { connection in
            for article in articles {
                try await connection.execute("""
                    INSERT INTO insurance.knowledge_articles (slug, title, source, tags, body, checksum)
                    VALUES ($1, $2, $3, $4, $5, $6)
                    ON CONFLICT (slug) DO UPDATE
                    SET title = EXCLUDED.title, source = EXCLUDED.source, tags = EXCLUDED.tags,
                        body = EXCLUDED.body, checksum = EXCLUDED.checksum
                    WHERE insurance.knowledge_articles.checksum <> EXCLUDED.checksum
                    """, [article.slug, article.title, article.source, article.tags, article.body, article.checksum])
            }
            try await connection.execute(
                "DELETE FROM insurance.knowledge_articles WHERE NOT (slug = ANY($1::text[]))", [articles.map(\.slug)])
        }
    }

    /// The links of the shipped article `slug` (they live in the files, not in the table).
    public func links(of slug: String) -> [String] {
        articles.first { $0.slug == slug }?.links ?? []
    }

    /// Articles matching any word of `question`, best first.
    public func search(_ question: String, caller: Caller, limit: Int = 3) async throws -> [KnowledgeHit] {
        try await sync()
        return try await database.withCaller(caller) { connection in
            // Any stemmed word may match (OR); ranking prefers titles and tags, then density.
            let rows = try await connection.rows("""
                WITH query AS (
                    SELECT NULLIF(replace(plainto_tsquery('russian', $1)::text, ' & ', ' | '), '')::tsquery AS q
                )
                SELECT a.slug, a.title, a.source, a.tags, a.body, ts_rank(a.search, query.q)::float8
                FROM insurance.knowledge_articles a, query
                WHERE query.q IS NOT NULL AND a.search @@ query.q
                ORDER BY 6 DESC, a.slug
                LIMIT $2
                """, [question, limit])
            var hits: [KnowledgeHit] = []
            for try await (slug, title, source, tags, body, rank) in rows.decode((String, String, String, String, String, Double).self) {
                hits.append(KnowledgeHit(article: KnowledgeArticle(slug: slug, title: title, source: source, tags: tags, body: body), rank: rank))
            }
            return hits
        }
    }
}
