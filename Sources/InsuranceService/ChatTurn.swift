import Core
import Foundation

/// One turn of an assistant conversation.
public struct ChatTurn: Sendable, Hashable, Codable {
    public enum Role: String, Sendable, Codable {
        case user, assistant, system
    }
    public var role: Role
    public var content: String

    public init(role: Role, content: String) {
        self.role = role
        self.content = content
    }
}

/// Limits on what a client may send to the assistant.
public struct AssistantLimits: Sendable {
    public var maximumTurns = 40
    public var maximumTurnCharacters = 4000
    public var maximumTotalCharacters = 16000

    public init() {}

    /// Validates the `{messages:[…]}` body and drops client `system` turns (the server
    /// owns the instructions). The last remaining turn must be the user's question.
    public func conversation(from body: Data) throws -> [ChatTurn] {
        struct Body: Decodable { var messages: [Message]? }
        struct Message: Decodable { var role: String?; var content: String? }
        let object = try JSONBody.object(from: body)
        if let unknown = object.keys.sorted().first(where: { $0 != "messages" }) {
            throw APIError.invalidField(unknown, "unknown field")
        }
        guard let messages = try JSONBody.decode(Body.self, from: body).messages else {
            throw APIError.invalidField("messages", "is required: a list of {role, content}")
        }
        guard (1...maximumTurns).contains(messages.count) else {
            throw APIError.invalidField("messages", "must hold 1 to \(maximumTurns) turns")
        }
        var turns: [ChatTurn] = []
        var total = 0
        for (index, message) in messages.enumerated() {
            guard let roleText = message.role, let role = ChatTurn.Role(rawValue: roleText) else {
                throw APIError.invalidField("messages[\(index)].role", "must be user, assistant or system")
            }
            guard let content = message.content else {
                throw APIError.invalidField("messages[\(index)].content", "is required")
            }
            guard content.count <= maximumTurnCharacters else {
                throw APIError.invalidField("messages[\(index)].content", "must be at most \(maximumTurnCharacters) characters")
            }
            total += content.count
            guard total <= maximumTotalCharacters else {
                throw APIError.invalidField("messages[\(index)].content", "the conversation must be at most \(maximumTotalCharacters) characters in all")
            }
            if role != .system { turns.append(ChatTurn(role: role, content: content)) }
        }
        guard let last = turns.last, last.role == .user else {
            throw APIError.invalidField("messages[\(messages.count - 1)].role", "the last turn must be the user's question")
        }
        guard !last.content.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw APIError.invalidField("messages[\(messages.count - 1)].content", "must not be empty")
        }
        return turns
    }
}
