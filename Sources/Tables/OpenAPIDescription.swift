import Core

/// `GET /rest/v1/`: the exposed tables and RPCs described as PostgREST describes them
/// (Swagger 2.0), for the caller's role: a table appears with the operations that role was
/// granted, its columns with their PostgreSQL types in `format`.
struct OpenAPIDescription {
    let tables: [String: TableSchema]
    let rpcs: [(name: String, parameters: [String])]
    let role: Caller.Role
    let version: String

    var document: JSONValue {
        var paths: [String: JSONValue] = [
            "/": .object(["get": .object([
                "tags": .array([.string("Introspection")]),
                "summary": .string("OpenAPI description (this document)"),
                "produces": .array([.string("application/openapi+json"), .string("application/json")]),
                "responses": .object(["200": .object(["description": .string("OK")])]),
            ])])
        ]
        var definitions: [String: JSONValue] = [:]
        var parameters = Self.commonParameters
        for table in tables.values.sorted(by: { $0.name < $1.name }) {
            let readable = table.readableColumns(by: role)
            let mayInsert = role == .serviceRole || table.inserters.contains(role)
            let mayUpdate = role == .serviceRole || table.updaters.contains(role)
            let mayDelete = role == .serviceRole || table.deleters.contains(role)
            guard !readable.isEmpty || mayInsert || mayUpdate || mayDelete else { continue }
            definitions[table.name] = definition(table)
            let filters = table.columns.map { column -> JSONValue in
                let key = "rowFilter.\(table.name).\(column.name)"
                parameters[key] = .object([
                    "name": .string(column.name), "in": .string("query"), "required": .bool(false),
                    "type": .string("string"), "format": .string(column.type),
                ])
                return .object(["$ref": .string("#/parameters/\(key)")])
            }
            let reference = JSONValue.object(["$ref": .string("#/definitions/\(table.name)")])
            var operations: [String: JSONValue] = [:]
            let tags = JSONValue.array([.string(table.name)])
            if !readable.isEmpty {
                operations["get"] = .object([
                    "tags": tags,
                    "parameters": .array(filters + ["select", "order", "range", "rangeUnit", "offset", "limit", "preferCount"].map(Self.ref)),
                    "responses": .object([
                        "200": .object(["description": .string("OK"), "schema": .object(["type": .string("array"), "items": reference])]),
                        "206": .object(["description": .string("Partial Content")]),
                    ]),
                ])
            }
            if mayInsert {
                parameters["body.\(table.name)"] = .object([
                    "name": .string(table.name), "in": .string("body"), "required": .bool(false), "schema": reference,
                    "description": .string(table.name),
                ])
                operations["post"] = .object([
                    "tags": tags,
                    "parameters": .array([Self.ref("body.\(table.name)"), Self.ref("select"), Self.ref("preferPost")]),
                    "responses": .object(["201": .object(["description": .string("Created")])]),
                ])
            }
            if mayUpdate {
                operations["patch"] = .object([
                    "tags": tags,
                    "parameters": .array(filters + [Self.ref("body.\(table.name)"), Self.ref("preferReturn")]),
                    "responses": .object(["204": .object(["description": .string("No Content")])]),
                ])
                if parameters["body.\(table.name)"] == nil {
                    parameters["body.\(table.name)"] = .object([
                        "name": .string(table.name), "in": .string("body"), "required": .bool(false), "schema": reference,
                        "description": .string(table.name),
                    ])
                }
            }
            if mayDelete {
                operations["delete"] = .object([
                    "tags": tags,
                    "parameters": .array(filters + [Self.ref("preferReturn")]),
                    "responses": .object(["204": .object(["description": .string("No Content")])]),
                ])
            }
            paths["/\(table.name)"] = .object(operations)
        }
        for rpc in rpcs {
            let properties = Dictionary(uniqueKeysWithValues: rpc.parameters.map { ($0, JSONValue.object([:])) })
            paths["/rpc/\(rpc.name)"] = .object(["post": .object([
                "tags": .array([.string("(rpc) \(rpc.name)")]),
                "produces": .array([.string("application/json")]),
                "parameters": .array([.object([
                    "name": .string("args"), "in": .string("body"), "required": .bool(true),
                    "schema": .object(["type": .string("object"), "properties": .object(properties)]),
                ])]),
                "responses": .object(["200": .object(["description": .string("OK")])]),
            ])])
        }
        return .object([
            "swagger": .string("2.0"),
            "info": .object([
                "title": .string("ECOMANSONI REST API"),
                "description": .string("Tables and RPC functions of the public schema, as the calling role sees them (docs/tables.md)."),
                "version": .string(version),
            ]),
            "basePath": .string("/rest/v1"),
            "schemes": .array([.string("http"), .string("https")]),
            "consumes": .array(["application/json", "application/vnd.pgrst.object+json", "text/csv"].map(JSONValue.string)),
            "produces": .array(["application/json", "application/vnd.pgrst.object+json", "text/csv"].map(JSONValue.string)),
            "paths": .object(paths),
            "definitions": .object(definitions),
            "parameters": .object(parameters),
        ])
    }

    private func definition(_ table: TableSchema) -> JSONValue {
        var properties: [String: JSONValue] = [:]
        var required: [JSONValue] = []
        for column in table.columns {
            var property = Self.swaggerType(column.type)
            if table.primaryKey.contains(column.name) {
                property["description"] = .string("Note:\nThis is a Primary Key.<pk/>")
            }
            if let defaultExpression = column.defaultExpression {
                property["default"] = .string(defaultExpression)
            }
            properties[column.name] = .object(property)
            if column.defaultExpression == nil, !column.isGenerated, table.primaryKey.contains(column.name) {
                required.append(.string(column.name))
            }
        }
        return .object(["type": .string("object"), "properties": .object(properties), "required": .array(required)])
    }

    /// PostgREST's Swagger type for a PostgreSQL type: `type` and `format` (the PostgreSQL name).
    static func swaggerType(_ type: String) -> [String: JSONValue] {
        if type.hasSuffix("[]") {
            return ["type": .string("array"), "format": .string(type), "items": .object(swaggerType(String(type.dropLast(2))))]
        }
        switch type {
        case "smallint", "integer", "bigint": return ["type": .string("integer"), "format": .string(type)]
        case "numeric", "real", "double precision": return ["type": .string("number"), "format": .string(type)]
        case "boolean": return ["type": .string("boolean"), "format": .string(type)]
        case "json", "jsonb": return ["format": .string(type)]
        default: return ["type": .string("string"), "format": .string(type)]
        }
    }

    private static func ref(_ name: String) -> JSONValue {
        .object(["$ref": .string("#/parameters/\(name)")])
    }

    private static func header(_ name: String, _ description: String, _ values: [String]? = nil) -> JSONValue {
        var parameter: [String: JSONValue] = [
            "name": .string(name), "in": .string("header"), "required": .bool(false), "type": .string("string"),
            "description": .string(description),
        ]
        if let values { parameter["enum"] = .array(values.map(JSONValue.string)) }
        return .object(parameter)
    }

    private static func query(_ name: String, _ description: String, type: String = "string") -> JSONValue {
        .object([
            "name": .string(name), "in": .string("query"), "required": .bool(false), "type": .string(type),
            "description": .string(description),
        ])
    }

    private static let commonParameters: [String: JSONValue] = [
        "select": query("select", "Filtering Columns"),
        "order": query("order", "Ordering"),
        "offset": query("offset", "Limiting and Pagination"),
        "limit": query("limit", "Limiting and Pagination"),
        "range": header("Range", "Limiting and Pagination"),
        "rangeUnit": header("Range-Unit", "Limiting and Pagination"),
        "preferCount": header("Prefer", "Preference", ["count=none", "count=exact", "count=planned", "count=estimated"]),
        "preferReturn": header("Prefer", "Preference", ["return=representation", "return=minimal", "return=none"]),
        "preferPost": header(
            "Prefer", "Preference",
            ["return=representation", "return=minimal", "return=headers-only", "resolution=ignore-duplicates", "resolution=merge-duplicates"]),
    ]
}
