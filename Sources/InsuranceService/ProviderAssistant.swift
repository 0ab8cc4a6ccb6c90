import AsyncHTTPClient
import Core
import Foundation
import Insurance
import Logging
import NIOCore
import NIOHTTP1

/// Where the OpenAI-compatible model lives (`LLM_BASE_URL`, `LLM_API_KEY`, `LLM_MODEL`).
public struct ProviderSettings: Sendable {
    public var baseURL: String
    public var apiKey: String
    public var model: String
    /// How long to wait for the provider to start answering (connection retries included).
    public var responseTimeout: Duration

    public init(baseURL: String, apiKey: String, model: String, responseTimeout: Duration = .seconds(30)) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.apiKey = apiKey
        self.model = model
        self.responseTimeout = responseTimeout
    }
}

/// Answers through an OpenAI-compatible streaming chat-completions API, giving the model
/// the OSAGO engine as the `osago_quote` tool so every price it states is computed.
public struct ProviderAssistant: AssistantEngine {
    public var model: String { settings.model }
    public let kind = "provider"

    let settings: ProviderSettings
    let httpClient: HTTPClient
    let calculator: OsagoCalculator
    let today: @Sendable () -> CalendarDate
    let logger: Logger
    /// Tool rounds per answer before the model is cut off.
    static let maximumToolRounds = 4

    public init(
        settings: ProviderSettings, httpClient: HTTPClient, calculator: OsagoCalculator, logger: Logger,
        today: @escaping @Sendable () -> CalendarDate = { .today() }
    ) {
        self.settings = settings
        self.httpClient = httpClient
        self.calculator = calculator
        self.logger = logger
        self.today = today
    }

    public func answer(_ turns: [ChatTurn], caller: Caller, emit: @Sendable (String) async throws -> Void) async throws {
        var messages: [[String: Any]] = [["role": "system", "content": Self.instructions]]
        messages += turns.map { ["role": $0.role.rawValue, "content": $0.content] }
        for _ in 0..<Self.maximumToolRounds {
            let calls = try await streamRound(messages, emit: emit)
            guard !calls.isEmpty else { return }
            messages.append([
                "role": "assistant", "content": NSNull(),
                "tool_calls": calls.map { ["id": $0.id, "type": "function", "function": ["name": $0.name, "arguments": $0.arguments]] },
            ])
            for call in calls {
                messages.append(["role": "tool", "tool_call_id": call.id, "content": runTool(call)])
            }
        }
        throw AssistantFailure(code: "provider_error", message: "the model kept calling tools without answering")
    }

    /// A tool call the model streamed (its arguments arrive in fragments).
    struct ToolCall {
        var id: String
        var name: String
        var arguments: String
    }

    /// Sends a completion request. A pooled keep-alive connection that the provider closed
    /// just as it was reused fails before any answer (`remoteConnectionClosed`, or NIO's
    /// `ioOnClosedChannel` when the close lands while the request is written); the request
    /// then goes once more on a new connection (a completion has no side effects).
    private func execute(_ request: HTTPClientRequest) async throws -> HTTPClientResponse {
        do {
            return try await httpClient.execute(request, timeout: .init(settings.responseTimeout))
        } catch let error where Self.isClosedReusedConnection(error) {
            logger.debug("assistant provider closed a reused connection; sending again", metadata: ["error": "\(error)"])
            return try await httpClient.execute(request, timeout: .init(settings.responseTimeout))
        }
    }

    private static func isClosedReusedConnection(_ error: any Error) -> Bool {
        if let error = error as? HTTPClientError { return error == .remoteConnectionClosed }
        if let error = error as? ChannelError { return error == .ioOnClosedChannel }
        return false
    }

    /// One streamed completion: forwards content, returns the tool calls it asked for.
    private func streamRound(_ messages: [[String: Any]], emit: @Sendable (String) async throws -> Void) async throws -> [ToolCall] {
        var request = HTTPClientRequest(url: settings.baseURL + "/chat/completions")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(settings.apiKey)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "text/event-stream")
        let body: [String: Any] = [
            "model": settings.model, "stream": true, "messages": messages,
            "tools": [["type": "function", "function": Self.quoteTool]],
        ]
        request.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])))

        let response: HTTPClientResponse
        do {
            response = try await execute(request)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            logger.warning("assistant provider unreachable", metadata: ["error": "\(error)"])
            throw AssistantFailure(code: "provider_unavailable", message: "the language model provider could not be reached")
        }
        guard response.status == .ok else {
            let text = String(buffer: (try? await response.body.collect(upTo: 4096)) ?? ByteBuffer())
            logger.warning("assistant provider refused", metadata: ["status": "\(response.status.code)", "body": "\(text.prefix(300))"])
            throw AssistantFailure(code: "provider_error", message: "the language model provider answered \(response.status.code)")
        }

        var parser = ServerSentEventParser()
        var calls: [Int: ToolCall] = [:]
        func handle(_ payload: String) async throws -> Bool {
            if payload == "[DONE]" { return false }
            guard let object = try? JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any],
                let choice = (object["choices"] as? [[String: Any]])?.first
            else { return true }
            let delta = choice["delta"] as? [String: Any] ?? [:]
            if let content = delta["content"] as? String, !content.isEmpty {
                try await emit(content)
            }
            for fragment in delta["tool_calls"] as? [[String: Any]] ?? [] {
                let index = fragment["index"] as? Int ?? 0
                var call = calls[index] ?? ToolCall(id: "", name: "", arguments: "")
                if let id = fragment["id"] as? String { call.id = id }
                if let function = fragment["function"] as? [String: Any] {
                    if let name = function["name"] as? String { call.name += name }
                    if let arguments = function["arguments"] as? String { call.arguments += arguments }
                }
                calls[index] = call
            }
            return true
        }
        do {
            streaming: for try await buffer in response.body {
                for payload in parser.feed(buffer.readableBytesView) where !(try await handle(payload)) {
                    break streaming
                }
            }
        } catch let error where !(error is CancellationError) && !Task.isCancelled {
            logger.warning("assistant provider stream broke", metadata: ["error": "\(error)"])
            throw AssistantFailure(code: "provider_error", message: "the language model provider's stream broke off")
        }
        for payload in parser.finish() { _ = try await handle(payload) }
        return calls.keys.sorted().compactMap { calls[$0] }.map { call in
            var call = call
            if call.id.isEmpty { call.id = "call_\(UUID().uuidString.prefix(8))" }
            return call
        }
    }

    /// Runs the engine for a tool call; errors go back to the model as JSON it can read.
    func runTool(_ call: ToolCall) -> String {
        guard call.name == "osago_quote" else {
            return #"{"error":"unknown tool \#(call.name)"}"#
        }
        do {
            let request = try QuoteRequest.decode(json: Data(call.arguments.utf8))
            let quote = try calculator.quote(request, today: today())
            return String(decoding: try quote.jsonData(), as: UTF8.self)
        } catch let error as QuoteInputError {
            return ChatCompletionChunk.json(["error": error.message, "field": error.field])
        } catch {
            return #"{"error":"could not compute the quote"}"#
        }
    }

    static let instructions = """
        Ты — помощник по страхованию в приложении ECOMANSONI. Отвечай по-русски, кратко и по делу. \
        Любую стоимость ОСАГО получай только через инструмент osago_quote и называй именно его результат; \
        не придумывай цифры. Если для расчёта не хватает данных (мощность, регион, возраст и стаж водителя), \
        спроси их. Если не знаешь ответа, так и скажи. На вопросы не о страховании вежливо откажись: \
        скажи, что отвечаешь только о страховании (ОСАГО, КАСКО). Если в ответе есть стоимость, начни с неё.
        """

    /// The `osago_quote` function: the engine's request shape as JSON Schema.
    static var quoteTool: [String: Any] { [
        "name": "osago_quote",
        "description": "Computes the OSAGO premium exactly by the Bank of Russia formula. Without tb it returns the range over the base-rate corridor.",
        "parameters": [
            "type": "object",
            "properties": [
                "date": ["type": "string", "description": "policy start, YYYY-MM-DD; default today"],
                "owner": ["type": "string", "enum": ["individual", "legal_entity"]],
                "vehicle": [
                    "type": "object",
                    "properties": [
                        "category": ["type": "string", "enum": ["A", "M", "B", "BE"]],
                        "powerHp": ["type": "number"],
                        "registration": ["type": "string", "enum": ["russia", "foreign", "transit"]],
                        "taxi": ["type": "boolean"],
                    ],
                    "required": ["category"],
                ],
                "territory": ["type": "string", "description": "territory code, e.g. moscow, saint_petersburg, moscow_oblast, kazan"],
                "kt": ["type": "number"],
                "tb": ["type": "number", "description": "insurer's base rate; omit for the range"],
                "periodMonths": ["type": "integer", "minimum": 3, "maximum": 12],
                "termMonths": ["type": "integer"],
                "termDays": ["type": "integer"],
                "drivers": [
                    "description": "named drivers or the string \"unlimited\"",
                    "oneOf": [
                        ["type": "string", "enum": ["unlimited"]],
                        [
                            "type": "array",
                            "items": [
                                "type": "object",
                                "properties": [
                                    "age": ["type": "integer"], "experienceYears": ["type": "integer"],
                                    "kbmClass": ["type": "string", "description": "M, 0 … 13; 3 for a new driver"],
                                ],
                                "required": ["age", "experienceYears", "kbmClass"],
                            ],
                        ],
                    ],
                ],
                "ownerKbmClass": ["type": "string"],
                "kn": ["type": "boolean"],
                "trailer": ["type": "boolean"],
            ],
            "required": ["vehicle", "drivers"],
        ] as [String: Any],
    ] }
}
