import Foundation

/// The sign-in settings, read from configuration by the composition root.
public struct AuthSettings: Sendable {
    /// Access-token lifetime (`AUTH_JWT_EXPIRY`, seconds).
    public var jwtExpirySeconds: Int = 3600
    /// Minimum gap between two codes to one number (`AUTH_SMS_MAX_FREQUENCY`, seconds).
    public var smsMaxFrequencySeconds: Int = 60
    /// Grace window in which a rotated refresh token may still be exchanged
    /// (`AUTH_REFRESH_TOKEN_REUSE_INTERVAL`, seconds).
    public var refreshTokenReuseIntervalSeconds: Int = 10
    /// How long a one-time code stays valid (`AUTH_SMS_OTP_EXPIRY`, seconds).
    public var otpExpirySeconds: Int = 300
    /// Digits in a one-time code (`AUTH_SMS_OTP_LENGTH`, 6–10).
    public var otpLength: Int = 6
    /// Wrong guesses allowed per code before it is void.
    public var otpMaxAttempts: Int = 5
    /// Codes one number may request per hour (`AUTH_SMS_MAX_PER_HOUR`).
    public var otpMaxPerPhonePerHour: Int = 10
    /// Codes one client address may request per hour (`AUTH_SMS_MAX_PER_ADDRESS_PER_HOUR`).
    public var otpMaxPerAddressPerHour: Int = 30
    /// Fixed codes for test numbers (`AUTH_SMS_TEST_OTP`, `15555550100:123456,...`).
    public var testOTPs: [String: String] = [:]
    /// The `iss` claim of access tokens (`AUTH_JWT_ISSUER`, default `<public URL>/auth/v1`).
    public var issuer: String = "http://localhost:8080/auth/v1"
    /// Requests to `/otp`, `/verify` and `/token` one client address may make at once
    /// (`AUTH_RATE_LIMIT_BURST`).
    public var requestBurstPerAddress: Int = 120
    /// Sustained requests per second per address on those endpoints (`AUTH_RATE_LIMIT_PER_SECOND`).
    public var requestsPerSecondPerAddress: Double = 2
    /// Whether new users may sign up (`AUTH_DISABLE_SIGNUP` inverts it).
    public var signupEnabled: Bool = true
    /// The most bytes `user_metadata` may take as compact JSON (`AUTH_USER_METADATA_MAX_BYTES`).
    /// It is copied into every access token, so it must stay small.
    public var userMetadataMaxBytes: Int = 4096
    /// Phone-change requests (`PUT /user` with `phone`) one user, and separately one client
    /// address, may make at once (`AUTH_PHONE_CHANGE_BURST`).
    public var phoneChangeBurst: Int = 5
    /// Sustained phone-change requests per hour per user and per address
    /// (`AUTH_PHONE_CHANGE_PER_HOUR`).
    public var phoneChangesPerHour: Int = 10

    public init() {}

    /// Parses GoTrue's test-OTP format: `15555550100:123456,15555550101:654321`.
    public static func parseTestOTPs(_ text: String) throws -> [String: String] {
        var result: [String: String] = [:]
        for pair in text.split(separator: ",") {
            let parts = pair.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, let phone = PhoneNumber.normalise(parts[0]), parts[1].allSatisfy(\.isNumber), (4...10).contains(parts[1].count) else {
                throw AuthConfigurationError("AUTH_SMS_TEST_OTP entry '\(pair)' must be <phone>:<4-10 digit code>")
            }
            result[phone] = parts[1]
        }
        return result
    }
}

/// A configuration value of the auth subsystem that cannot be used.
public struct AuthConfigurationError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
