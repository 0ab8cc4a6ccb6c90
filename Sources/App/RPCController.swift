import Core
import Foundation
import Hummingbird
import Tables

/// `POST /rest/v1/rpc/<name>`: the PostgREST RPC surface over the allow-listed registry.
/// Query parameters, `Accept: application/vnd.pgrst.object+json` and `Prefer: count=…` shape
/// a result that is a list of rows (``RPCResultShaper``).
struct RPCController {
    let registry: RPCRegistry
    let shaper: RPCResultShaper

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.post("rpc/:name") { request, context in
            let name = try context.parameters.require("name")
            guard let caller = context.caller else { throw APIError(status: .unauthorized, code: "PGRST301", message: "no caller") }
            if let profile = request.headers[.contentProfile], profile != "public" {
                throw APIError(status: .notAcceptable, code: "PGRST106", message: "The schema must be one of the following: public")
            }
            let arguments = try await JSONBody.bytes(of: request)
            switch try await registry.call(RPCCall(name: name, arguments: arguments, caller: caller, clientAddress: context.clientAddress)) {
            case .json(let data):
                let query = request.uri.query
                let prefer = request.headers[values: HTTPField.Name("Prefer")!]
                guard RPCResultShaper.isNeeded(rawQuery: query, accept: request.headers[.accept], prefer: prefer) else {
                    return JSONBody.response(rawJSON: data)
                }
                return try await shaper.response(for: data, rawQuery: query, accept: request.headers[.accept], prefer: prefer)
            case .void:
                return Response(status: .noContent)
            }
        }
    }
}
