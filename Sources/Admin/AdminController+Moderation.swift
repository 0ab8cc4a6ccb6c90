import Core
import Foundation
import Hummingbird

/// The moderation and accounts routes of `/admin/v1`: the reels review queues and decisions,
/// the hashtag blocklist, account lookup and suspensions.
extension AdminController {
    func addModerationRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get("moderation/reels") { request, context in
            let session = try await session(request, context)
            let parameters = request.uri.queryParameters
            let queue = parameters.get("queue") ?? "pending"
            guard AdminService.reelQueues.contains(queue) else { throw APIError.invalidField("queue", "must be pending or reported") }
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
            return Self.json(try await admin.reelQueue(session, queue: queue, limit: limit, before: before), requestID: session.requestID)
        }
        group.post("moderation/reels/:reel_id") { request, context in
            struct Body: Decodable { var decision: String; var reason: String }
            let session = try await session(request, context)
            let reel = try Self.uuid(context, "reel_id")
            let body = try await JSONBody.decode(Body.self, from: request)
            guard body.decision == "approve" || body.decision == "reject" else {
                throw APIError.invalidField("decision", "must be approve or reject")
            }
            try await admin.decideReel(session, reel: reel, approve: body.decision == "approve", reason: body.reason)
            return Response(status: .noContent, headers: [Self.requestIDHeader: session.requestID])
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
}
