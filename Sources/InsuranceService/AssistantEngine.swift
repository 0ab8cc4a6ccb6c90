import Core

/// Something that answers an insurance conversation as a stream of text pieces.
public protocol AssistantEngine: Sendable {
    /// The `model` named in every chunk (`ecomansoni-builtin` or the provider's model).
    var model: String { get }
    /// `builtin` or `provider` (the `X-Assistant-Engine` header).
    var kind: String { get }
    /// Answers the last user turn of `turns`, calling `emit` with each piece as it is ready.
    /// Cancelling the task stops the work (and any upstream request).
    func answer(_ turns: [ChatTurn], caller: Caller, emit: @Sendable (String) async throws -> Void) async throws
}

/// A failure the client is told about inside the stream (`data: {"error":…}`).
public struct AssistantFailure: Error, Sendable {
    public let code: String
    public let message: String
}
