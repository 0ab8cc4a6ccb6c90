@testable import Calls
import Logging
import Testing

/// What a client is told when Janus refuses a request: a lost session or
/// handle is retryable `SFU_UNAVAILABLE` only when Janus's core says so; a plugin's error
/// with the same number is not taken for it.
@Suite struct SfuErrorMappingTests {
    private static let logger = Logger(label: "test")

    @Test(arguments: [458, 459])
    func aLostSessionOrHandleFromJanusCoreIsRetryable(code: Int) {
        let error = SfuDevice.clientError(JanusError(code: code, reason: "gone", core: true), logger: Self.logger)
        #expect(error.code == .sfuUnavailable)
        #expect(error.details["retryAfterMs"] == 1000)
    }

    @Test(arguments: [458, 459])
    func aPluginErrorWithTheSameNumberIsNotALostSession(code: Int) {
        let error = SfuDevice.clientError(JanusError(code: code, reason: "plugin", core: false), logger: Self.logger)
        #expect(error.code == .internal)
    }
}
