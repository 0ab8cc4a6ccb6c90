import Core
import Foundation
import Hummingbird

/// The JSON body of an insert, upsert or update: one object or an array of objects, each kept
/// as its own text so numbers reach PostgreSQL exactly as sent.
struct Payload {
    /// The body as one JSON array, the client's own text (an object is wrapped in `[…]`), so
    /// numbers reach PostgreSQL exactly as sent.
    var arrayText: String
    /// The body's text when it is one object.
    var objectText: String?
    /// Each object's members.
    var objects: [[String: JSONValue]]

    /// Reads the body (1 MiB at most, nesting and U+0000 rules) and checks its shape.
    static func read(_ request: Request, limits: TableLimits) async throws -> Payload {
        let data = try await JSONBody.bytes(of: request)
        let text = String(decoding: data, as: UTF8.self)
        let value: JSONValue
        do {
            value = try JSONValue.parse(text)
        } catch {
            throw TableError.invalidBody("Empty or invalid json")
        }
        switch value {
        case .object(let members):
            return Payload(arrayText: "[" + text + "]", objectText: text, objects: [members])
        case .array(let items):
            guard items.count <= limits.maximumInsertRows else {
                throw TableError.limit("body", "at most \(limits.maximumInsertRows) rows in one request")
            }
            let objects = try items.map { item -> [String: JSONValue] in
                guard case .object(let members) = item else { throw TableError.invalidBody("All object keys must match") }
                return members
            }
            return Payload(arrayText: text, objectText: nil, objects: objects)
        default:
            throw TableError.invalidBody("Empty or invalid json")
        }
    }

    private var keys: [Set<String>] { objects.map { Set($0.keys) } }

    /// The columns the write sets: `columns=` when given, else the objects' keys (which must
    /// match across objects unless `missing=default`), each checked against the table.
    func columns(_ requested: [String]?, of table: TableSchema, missingAsDefault: Bool) throws -> [String] {
        let names: [String]
        if let requested {
            names = requested
        } else if missingAsDefault {
            names = table.columns.map(\.name).filter { name in keys.contains { $0.contains(name) } }
                + keys.reduce(into: Set<String>()) { $0.formUnion($1) }.subtracting(table.columns.map(\.name)).sorted()
        } else {
            let first = keys.first ?? []
            guard keys.allSatisfy({ $0 == first }) else { throw TableError.invalidBody("All object keys must match") }
            names = table.columns.map(\.name).filter(first.contains) + first.subtracting(table.columns.map(\.name)).sorted()
        }
        for name in names where table.column(name) == nil {
            throw TableError.unknownPayloadColumn(name, of: table.name)
        }
        return names
    }
}
