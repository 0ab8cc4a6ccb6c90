import Core
import Foundation
import Logging
import PostgresNIO
import Realtime
import ServiceLifecycle

/// Hears the writes to `messages` and `participants` made outside the server (migration 0033:
/// an operator's psql, a script) and hands them, as changes, to this instance's realtime
/// delivery. The server announces its own writes; every instance listens for these, so each
/// delivers them to its own subscribers only.
///
/// One dedicated connection LISTENs on `ecomansoni_outside_changes` (``PostgresListener``); a
/// write committed while no instance listens reaches nobody, as a change committed while a
/// subscriber is away does not reach it either.
public final class ChatOutsideWrites: Service {
    static let channel = "ecomansoni_outside_changes"

    private let listenConfiguration: PostgresConnection.Configuration
    private let deliver: @Sendable (ChangeEnvelope) async -> Void
    private let logger: Logger

    /// - Parameter deliver: this instance's local delivery (`RealtimeService.deliverHere`).
    public init(
        listenConfiguration: PostgresConnection.Configuration, logger: Logger, deliver: @escaping @Sendable (ChangeEnvelope) async -> Void
    ) {
        self.listenConfiguration = listenConfiguration
        self.deliver = deliver
        self.logger = logger
    }

    public func run() async throws {
        try await cancelWhenGracefulShutdown { await self.listen() }
    }

    private func listen() async {
        await PostgresListener.run(channel: Self.channel, configuration: listenConfiguration, logger: logger) { payload in
            guard let change = Self.change(from: payload) else {
                logger.warning("an outside change that does not parse was ignored")
                return
            }
            await deliver(change)
        }
    }

    /// The change a notification describes: `{"table","type","conversation_id","key"}`.
    /// A participant added or removed also changes who may see the conversation.
    static func change(from payload: String) -> ChangeEnvelope? {
        guard case .object(let fields)? = try? JSONValue.parse(payload),
              case .string(let table)? = fields["table"], ChatTableChanges.keyColumns[table] != nil,
              case .string(let operation)? = fields["type"], let type = ChangeType(rawValue: operation),
              case .string(let conversationText)? = fields["conversation_id"], let conversation = UUID(uuidString: conversationText),
              case .object(let keyFields)? = fields["key"] else { return nil }
        var key: [String: String] = [:]
        for (name, value) in keyFields {
            guard case .string(let text) = value else { return nil }
            key[name] = text
        }
        var membership: MembershipChange?
        if table == "participants", let user = key["user_id"].flatMap(UUID.init(uuidString:)) {
            switch type {
            case .insert: membership = .joined(user)
            case .delete: membership = .left(user)
            case .update: membership = nil
            }
        }
        return ChangeEnvelope(table: table, type: type, conversationID: conversation, key: key, membership: membership)
    }
}
