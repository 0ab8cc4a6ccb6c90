import Core

/// The errors the table API raises itself, with PostgREST's codes and wording
/// (docs/tables.md, "Errors").
enum TableError {
    /// 400 `PGRST100`: the query string does not parse.
    static func parse(_ parameter: String, _ problem: String) -> APIError {
        APIError(
            status: .badRequest, code: "PGRST100", message: "\"failed to parse \(parameter)\" (\(problem))",
            details: problem, hint: nil)
    }

    /// 400 `PGRST100` for a limit of the table API (``TableLimits``).
    static func limit(_ parameter: String, _ rule: String) -> APIError {
        APIError(status: .badRequest, code: "PGRST100", message: "\(parameter): \(rule)", details: rule)
    }

    /// 404 `PGRST205`: no exposed table of that name.
    static func unknownTable(_ table: String) -> APIError {
        APIError(
            status: .notFound, code: "PGRST205", message: "Could not find the table 'public.\(table)' in the schema cache",
            details: nil, hint: nil)
    }

    /// 400 `42703`: a column the table does not have (read, filter, order).
    static func unknownColumn(_ column: String, of table: String) -> APIError {
        APIError(status: .badRequest, code: "42703", message: "column \(table).\(column) does not exist")
    }

    /// 400 `PGRST204`: a payload or `columns=` key the table does not have.
    static func unknownPayloadColumn(_ column: String, of table: String) -> APIError {
        APIError(status: .badRequest, code: "PGRST204", message: "Could not find the '\(column)' column of '\(table)' in the schema cache")
    }

    /// 400 `PGRST102`: the body is not a JSON object or an array of objects with the same keys.
    static func invalidBody(_ message: String) -> APIError {
        APIError(status: .badRequest, code: "PGRST102", message: message)
    }

    /// 406 `PGRST106`: a schema other than `public` in `Accept-Profile`/`Content-Profile`.
    static func unknownSchema() -> APIError {
        APIError(status: .notAcceptable, code: "PGRST106", message: "The schema must be one of the following: public", details: nil, hint: nil)
    }

    /// 406 `PGRST107`: no representation the `Accept` header allows.
    static func unacceptable(_ accept: String) -> APIError {
        APIError(status: .notAcceptable, code: "PGRST107", message: "None of these media types are available: \(accept)")
    }

    /// 406 `PGRST116`: one object was asked for, another number of rows came back.
    static func notSingular(_ rows: Int) -> APIError {
        APIError(
            status: .notAcceptable, code: "PGRST116", message: "Cannot coerce the result to a single JSON object",
            details: "The result contains \(rows) rows", hint: nil)
    }

    /// 416 `PGRST103`: a range past the end or upside down.
    static func unsatisfiableRange(_ details: String) -> APIError {
        APIError(status: .rangeNotSatisfiable, code: "PGRST103", message: "Requested range not satisfiable", details: details)
    }

    /// 400 `PGRST200`: no foreign key joins the two tables (or the hint matches none).
    static func noRelationship(_ parent: String, _ child: String) -> APIError {
        APIError(
            status: .badRequest, code: "PGRST200",
            message: "Could not find a relationship between '\(parent)' and '\(child)' in the schema cache",
            details: "Searched for a foreign key relationship between '\(parent)' and '\(child)' in the schema 'public', but no matches were found.",
            hint: nil)
    }

    /// 300 `PGRST201`: more than one foreign key joins the two tables and no hint picks one.
    static func ambiguousRelationship(_ parent: String, _ child: String, _ candidates: [String]) -> APIError {
        APIError(
            status: .multipleChoices, code: "PGRST201",
            message: "Could not embed because more than one relationship was found for '\(parent)' and '\(child)'",
            details: "Candidates: \(candidates.joined(separator: ", "))",
            hint: "Try changing '\(child)' to one of the following: \(candidates.map { "'\(child)!\($0)'" }.joined(separator: ", ")).")
    }

    /// 400 `PGRST105`: a PUT whose filters are not exactly its primary key, or disagree with its body.
    static func invalidPut(_ message: String) -> APIError {
        APIError(status: .badRequest, code: "PGRST105", message: message)
    }

    /// 400 `21000`: an update or delete with no filter (pg-safeupdate's rule and wording).
    static func unfiltered(_ verb: String) -> APIError {
        APIError(
            status: .badRequest, code: "21000", message: "\(verb) requires a WHERE clause",
            hint: "Add a filter, e.g. ?id=eq.1; to touch every row you may see, filter on a column that is never null (?id=not.is.null)")
    }

    /// 400 `PGRST124`: a write touched more rows than `Prefer: max-affected` allows (rolled back).
    static func tooManyAffected(_ rows: Int) -> APIError {
        APIError(
            status: .badRequest, code: "PGRST124", message: "Query result exceeds max-affected preference constraint",
            details: "The query affects \(rows) rows", hint: nil)
    }

    /// 400 `PGRST114`: `limit`/`offset` on a PUT, which writes exactly one row.
    static func limitedPut() -> APIError {
        APIError(status: .badRequest, code: "PGRST114", message: "limit/offset querystring parameters are not allowed for PUT")
    }

    /// 400 `PGRST108`: `order=rel(col)` on a resource the request does not embed.
    static func orderNotEmbedded(_ relation: String) -> APIError {
        APIError(
            status: .badRequest, code: "PGRST108", message: "'\(relation)' is not an embedded resource in this request",
            details: nil, hint: "Verify that '\(relation)' is included in the 'select' query parameter.")
    }

    /// 400 `PGRST118`: `order=rel(col)` on a one-to-many embedding (which row's value?).
    static func relatedOrderNotToOne(parent: String, relation: String) -> APIError {
        APIError(
            status: .badRequest, code: "PGRST118", message: "A related order on '\(relation)' is not possible",
            details: "'\(parent)' and '\(relation)' do not form a many-to-one or one-to-one relationship", hint: nil)
    }

    /// 400 `PGRST123`: an aggregate (`count()`, `amount.sum()`, …) in `select`. Aggregates
    /// are off, as PostgREST's `db-aggregates-enabled` and Supabase's default are.
    static func aggregatesNotAllowed() -> APIError {
        APIError(status: .badRequest, code: "PGRST123", message: "Use of aggregate functions is not allowed", details: nil, hint: nil)
    }

    /// 400 `PGRST119`: a spread (`...rel()`) of a one-to-many embedding.
    static func spreadNotToOne(parent: String, relation: String) -> APIError {
        APIError(
            status: .badRequest, code: "PGRST119", message: "A spread operation on '\(relation)' is not possible",
            details: "'\(parent)' and '\(relation)' do not form a many-to-one or one-to-one relationship", hint: nil)
    }

    /// 400 `PGRST122`: a `Prefer` value not understood under `handling=strict`.
    static func invalidPreference(_ preference: String) -> APIError {
        APIError(status: .badRequest, code: "PGRST122", message: "Invalid preferences given with handling=strict", details: "Invalid preferences: \(preference)")
    }
}
