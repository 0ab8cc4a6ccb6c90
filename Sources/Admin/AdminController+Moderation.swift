import Core
import Foundation
import Hummingbird

/// The moderation and accounts routes of `/admin/v1`: the reels review queues and decisions,
/// reported messages and profiles, the hashtag blocklist, account lookup and suspensions.
extension AdminController {
    func addModerationRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get("moderation/reels") { request, context in
            let session = try await session(request, context)
            let queue = request.uri.queryParameters.get("queue") ?? "pending"
            guard AdminService.reelQueues.contains(queue) else { throw APIError.invalidField("queue", "must be pending or reported") }
            let page = try Self.page(request)
            return Self.json(try await admin.reelQueue(session, queue: queue, limit: page.limit, before: page.before), requestID: session.requestID)
        }
        group.post("moderation/reels/:reel_id") { request, context in
            struct Body: Decodable { var decision: String; var reason: String }
            let session = try await session(request, context)
            let reel = try Self.uuid(context, "reel_id")
            let body = try await JSONBody.decode(Body.self, from: request)
            guard let decision = AdminService.ReelDecision(rawValue: body.decision) else {
                throw APIError.invalidField("decision", "must be approve, reject or warn")
            }
            try await admin.decideReel(session, reel: reel, decision: decision, reason: body.reason)
            return Response(status: .noContent, headers: [Self.requestIDHeader: session.requestID])
        }
        for kind in ReportedKind.allCases {
            group.get("moderation/\(kind.rawValue)") { request, context in
                let session = try await session(request, context)
                let page = try Self.page(request)
                return Self.json(try await admin.reportQueue(session, kind, limit: page.limit, before: page.before), requestID: session.requestID)
            }
            let idName = kind == .messages ? "message_id" : "user_id"
            group.post("moderation/\(kind.rawValue)/:\(idName)") { request, context in
                struct Body: Decodable { var decision: String; var reason: String }
                let session = try await session(request, context)
                let id = try Self.uuid(context, idName)
                let body = try await JSONBody.decode(Body.self, from: request)
                guard let decision = ContentDecision(rawValue: body.decision) else {
                    throw APIError.invalidField("decision", "must be approve, remove or warn")
                }
                try await admin.decideReport(session, kind, id: id, decision: decision, reason: body.reason)
                return Response(status: .noContent, headers: [Self.requestIDHeader: session.requestID])
            }
        }
        group.get("moderation/hashtags") { request, context in
            let session = try await session(request, context)
            return Self.json(try await admin.blockedHashtags(session), requestID: session.requestID)
        }
        group.post("moderation/hashtags") { request, context in
            struct Body: Decodable { var tag: String; var reason: String }
            let session = try await session(request, context)
            let body = try await JSONBody.decode(Body.self, from: request)
            guard body.tag.count <= 101 else { throw APIError.invalidField("tag", "must be 1–100 letters, digits or _") }
            try await admin.blockHashtag(session, body.tag, reason: body.reason)
            return Response(status: .created, headers: [Self.requestIDHeader: session.requestID])
        }
        group.post("moderation/hashtags/:tag/unblock") { request, context in
            struct Body: Decodable { var reason: String }
            let session = try await session(request, context)
            let tag = context.parameters.get("tag") ?? ""
            guard (1...101).contains(tag.count) else { throw APIError.invalidField("tag", "must be 1–100 letters, digits or _") }
            try await admin.unblockHashtag(session, tag, reason: try await JSONBody.decode(Body.self, from: request).reason)
            return Response(status: .noContent, headers: [Self.requestIDHeader: session.requestID])
        }
        group.get("users") { request, context in
            let session = try await session(request, context)
            let parameters = request.uri.queryParameters
            var userID: UUID?
            if let text = parameters.get("user_id") {
                guard let id = UUID(uuidString: text) else { throw APIError.invalidField("user_id", "must be a UUID") }
                userID = id
            }
            let account = try await admin.lookUpAccount(session, userID: userID, phone: parameters.get("phone"))
            var response = Self.json(try JSONBody.encoder.encode(account), requestID: session.requestID)
            response.headers[.cacheControl] = "no-store"
            return response
        }
        group.post("users/:user_id/suspension") { request, context in
            struct Body: Decodable { var hours: Int; var reason: String }
            let session = try await session(request, context)
            let user = try Self.uuid(context, "user_id")
            let body = try await JSONBody.decode(Body.self, from: request)
            try await admin.suspendAccount(session, userID: user, hours: body.hours, reason: body.reason)
            return Response(status: .noContent, headers: [Self.requestIDHeader: session.requestID])
        }
    }

    /// A queue page's `limit` (1–100, default 20) and `before` (the last item's time).
    static func page(_ request: Request) throws -> (limit: Int, before: Date?) {
        let parameters = request.uri.queryParameters
        var limit = 20
        if let text = parameters.get("limit") {
            guard let value = Int(text), (1...100).contains(value) else { throw APIError.invalidField("limit", "must be an integer from 1 to 100") }
            limit = value
        }
        var before: Date?
        if let text = parameters.get("before") {
            guard let date = Timestamp.parse(text) else { throw APIError.invalidField("before", "must be an ISO 8601 time (the last item's)") }
            before = date
        }
        return (limit, before)
    }
}
