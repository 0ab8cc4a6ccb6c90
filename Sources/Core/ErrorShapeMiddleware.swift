import Foundation
@_exported import HTTPTypes
import Hummingbird
import Logging

/// The JSON error format of one API surface.
public enum ErrorShape: Sendable {
    /// GoTrue 2024-01-01: `{"code","message"}` plus the `X-Supabase-Api-Version` header.
    case gotrue
    /// PostgREST: `{"code","details","hint","message"}`.
    case postgrest
    /// Edge Functions: `{"error","code"}`.
    case functions
    /// Plain server endpoints: `{"error","code"}`.
    case plain
    /// Supabase Storage: `{"statusCode","error","message"}` with `statusCode` a string; the
    /// HTTP status is 400 for most client errors, as real storage answers (docs/storage.md).
    case storage
}

/// Turns every error thrown below it into a JSON response of the route group's shape.
///
/// Unexpected errors become a logged 500 whose body reveals nothing internal; framework
/// errors (oversized body, bad route parameters) keep their 4xx status.
public struct ErrorShapeMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext
    let shape: ErrorShape

    public init(_ shape: ErrorShape) {
        self.shape = shape
    }

    public func handle(
        _ request: Request, context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return Self.render(error, shape: shape)
        } catch let error as HTTPError {
            return Self.render(Self.translate(error), shape: shape)
        } catch let error as any HTTPResponseError {
            // Other framework errors (e.g. NIOTooManyBytesError for an oversized body).
            return Self.render(Self.translate(HTTPError(error.status)), shape: shape)
        } catch let error as DecodingError {
            return Self.render(Self.translate(error), shape: shape)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            context.logger.error("unexpected failure", metadata: ["error": "\(String(reflecting: error))"])
            return Self.render(
                APIError(status: .internalServerError, code: "unexpected_failure", message: "Unexpected failure; the error was logged"),
                shape: shape)
        }
    }

    /// Maps Hummingbird's own errors (body too large, undecodable JSON) onto API errors.
    static func translate(_ error: HTTPError) -> APIError {
        switch error.status {
        case .contentTooLarge:
            return APIError(status: .contentTooLarge, code: "request_too_large", message: "Request body exceeds \(RequestLimits.maxBodyBytes) bytes")
        case .badRequest:
            return APIError(status: .badRequest, code: "bad_json", message: "Could not parse request body as JSON: \(error.body ?? "malformed")")
        default:
            return APIError(status: error.status, code: "http_\(error.status.code)", message: error.body ?? error.status.reasonPhrase)
        }
    }

    /// Maps JSON decoding failures onto a field-level 400.
    static func translate(_ error: DecodingError) -> APIError {
        JSONBody.describe(error)
    }

    /// Renders an error in the given shape.
    public static func render(_ error: APIError, shape: ErrorShape) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retry = error.retryAfterSeconds {
            headers[.retryAfter] = String(retry)
        }
        let object: [String: Any]
        var status = error.status
        switch shape {
        case .gotrue:
            headers[.supabaseAPIVersion] = "2024-01-01"
            // GoTrue has no field-error code of its own; it says validation_failed.
            let code = error.code == "22023" ? "validation_failed" : error.code
            headers[.supabaseErrorCode] = code
            object = ["code": code, "message": error.message]
        case .postgrest:
            if error.code == "PGRST301" || error.code == "PGRST303" {
                headers[.wwwAuthenticate] = #"Bearer error="invalid_token""#
            }
            object = ["code": error.code, "details": error.details ?? NSNull(), "hint": error.hint ?? NSNull(), "message": error.message]
        case .functions, .plain:
            var members: [String: Any] = ["error": error.message, "code": error.code]
            members["field"] = error.field
            object = members
        case .storage:
            let storage = StorageErrorBody(error)
            status = storage.httpStatus
            object = ["statusCode": storage.statusCode, "error": storage.error, "message": error.message]
        }
        let body = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// How an ``APIError`` reads in Supabase Storage's error format.
///
/// Storage errors thrown by the Storage module carry the storage `error` name as their code
/// (`not_found`, `Duplicate`, `Bucket not found`, …) and the logical status; the errors of the
/// shared middleware (API key, bearer token, JSON bodies, database rules) are named here.
struct StorageErrorBody {
    var statusCode: String
    var error: String
    var httpStatus: HTTPResponse.Status

    init(_ apiError: APIError) {
        var logical = apiError.status
        switch apiError.code {
        case "PGRST301", "PGRST303":
            error = "InvalidJWT"
            logical = .badRequest
        case "invalid_api_key":
            error = "Unauthorized"
        case "42501":
            error = "Unauthorized"
            logical = .forbidden
        case "22023", "22P02", "bad_json", "23502", "23514":
            error = "InvalidRequest"
        case "23505":
            error = "Duplicate"
        case "23503":
            error = "InvalidRequest"
            logical = .badRequest
        case "request_too_large":
            error = "Payload too large"
        case "PGRST116":
            error = "not_found"
        case "unexpected_failure":
            error = "internal"
        default:
            error = apiError.code
        }
        statusCode = String(logical.code)
        switch logical.code {
        case 401, 413, 416, 429:
            // The API-key gate answers 401 as Kong does; sizes, ranges and rate limits keep
            // their own status so that proxies and HTTP clients understand them.
            httpStatus = logical
        case 400..<500:
            httpStatus = .badRequest
        default:
            httpStatus = logical
        }
    }
}

extension HTTPField.Name {
    /// `apikey`: the project API key every Supabase client sends.
    public static let apikey = HTTPField.Name("apikey")!
    /// `X-Supabase-Api-Version`: makes supabase clients read `code` from error bodies.
    public static let supabaseAPIVersion = HTTPField.Name("X-Supabase-Api-Version")!
    /// `x-sb-error-code`: GoTrue's error code header.
    public static let supabaseErrorCode = HTTPField.Name("x-sb-error-code")!
    /// `Content-Profile`: the PostgREST schema of a write.
    public static let contentProfile = HTTPField.Name("Content-Profile")!
}
