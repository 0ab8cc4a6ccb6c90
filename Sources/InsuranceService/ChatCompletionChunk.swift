import Foundation

/// The OpenAI chat-completion chunk the web client parses:
/// `{"id","object":"chat.completion.chunk","created","model","choices":[{"index":0,"delta":{…},"finish_reason":…}]}`.
struct ChatCompletionChunk {
    let id: String
    let created: Int
    let model: String

    init(model: String, now: Date = Date()) {
        self.id = "chatcmpl-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(24)
        self.created = Int(now.timeIntervalSince1970)
        self.model = model
    }

    /// The first chunk: the assistant's role with empty content.
    func roleChunk() -> String { frame(delta: ["role": "assistant", "content": ""], finish: nil) }

    /// A piece of the answer.
    func content(_ text: String) -> String { frame(delta: ["content": text], finish: nil) }

    /// The closing chunk.
    func finish(_ reason: String = "stop") -> String { frame(delta: [:], finish: reason) }

    /// An error after the stream started (status is already 200).
    func error(code: String, message: String) -> String {
        ServerSentEvents.data(Self.json(["error": ["code": code, "message": message]]))
    }

    private func frame(delta: [String: String], finish: String?) -> String {
        let choice: [String: Any] = ["index": 0, "delta": delta, "finish_reason": finish ?? NSNull()]
        return ServerSentEvents.data(Self.json([
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model, "choices": [choice],
        ]))
    }

    static func json(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
