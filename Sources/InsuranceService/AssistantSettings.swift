import Configuration
import Core
import Foundation

/// The insurance assistant's settings (docs/configuration.md, "Insurance assistant").
public struct AssistantSettings: Sendable {
    /// The OpenAI-compatible model (`LLM_BASE_URL`, `LLM_API_KEY`, `LLM_MODEL`); nil runs
    /// the built-in assistant.
    public var provider: ProviderSettings?
    /// Questions each user may ask per minute (`ASSISTANT_RATE_PER_MINUTE`).
    public var ratePerMinute = 10
    /// Seconds of silence before a keep-alive comment in an answer stream (`ASSISTANT_KEEPALIVE_SECONDS`).
    public var keepAliveSeconds = 15

    public init() {}

    /// Reads the variables above: the three `LLM_*` together or none. Each error names the variable.
    public init(reader: ConfigReader) throws {
        self.init()
        let baseURL = reader.nonEmptyString("llm.base.url")
        let apiKey = reader.nonEmptyString("llm.api.key", isSecret: true)
        let model = reader.nonEmptyString("llm.model")
        switch (baseURL, apiKey, model) {
        case (nil, nil, nil):
            provider = nil
        case let (baseURL?, apiKey?, model?):
            guard let parsed = URL(string: baseURL), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
                throw ConfigurationError("LLM_BASE_URL must be an http(s) URL such as https://api.example.com/v1")
            }
            provider = ProviderSettings(baseURL: baseURL, apiKey: apiKey, model: model)
        default:
            throw ConfigurationError("LLM_BASE_URL, LLM_API_KEY and LLM_MODEL must be set together (or none, for the built-in assistant)")
        }
        ratePerMinute = try reader.integer("assistant.ratePerMinute", variable: "ASSISTANT_RATE_PER_MINUTE", default: 10, in: 1...10_000)
        keepAliveSeconds = try reader.integer("assistant.keepaliveSeconds", variable: "ASSISTANT_KEEPALIVE_SECONDS", default: 15, in: 1...300)
    }
}
