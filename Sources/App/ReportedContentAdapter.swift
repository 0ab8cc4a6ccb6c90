import Admin
import Chat
import Core
import Foundation
import PostgresNIO
import Social

/// The admin console's reported messages and profiles seam (``ReportedContent``) over the chat
/// and social modules: the one place that knows all three.
struct ReportedContentAdapter: ReportedContent {
    let chat: ChatService
    let social: SocialService

    func queue(_ kind: ReportedKind, limit: Int, before: Date?) async throws -> Data {
        switch kind {
        case .messages: try await chat.reportedMessages(limit: limit, before: before)
        case .profiles: try await social.reportedProfiles(limit: limit, before: before)
        }
    }

    func count(_ kind: ReportedKind) async throws -> Int {
        switch kind {
        case .messages: try await chat.reportedMessageCount()
        case .profiles: try await social.reportedProfileCount()
        }
    }

    func decide(_ kind: ReportedKind, id: UUID, remove: Bool, on connection: PostgresConnection) async throws -> ModeratedContent? {
        switch kind {
        case .messages: try await chat.moderate(message: id, remove: remove, on: connection)
        case .profiles: try await social.moderate(profile: id, remove: remove, on: connection)
        }
    }
}
