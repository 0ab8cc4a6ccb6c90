import Configuration
import Core

extension AuthSettings {
    /// Reads the `AUTH_*` variables (docs/configuration.md, "Auth"). The token issuer comes
    /// from the server's public URL and is set by the caller. Each error names the variable.
    public init(reader: ConfigReader) throws {
        self.init()
        jwtExpirySeconds = try reader.integer("auth.jwtExpiry", variable: "AUTH_JWT_EXPIRY", default: 3600, in: 30...604_800)
        smsMaxFrequencySeconds = try reader.integer("auth.sms.maxFrequency", variable: "AUTH_SMS_MAX_FREQUENCY", default: 60, in: 0...86_400)
        refreshTokenReuseIntervalSeconds = try reader.integer(
            "auth.refreshTokenReuseInterval", variable: "AUTH_REFRESH_TOKEN_REUSE_INTERVAL", default: 10, in: 0...3600)
        otpExpirySeconds = try reader.integer("auth.sms.otpExpiry", variable: "AUTH_SMS_OTP_EXPIRY", default: 300, in: 30...3600)
        otpLength = try reader.integer("auth.sms.otpLength", variable: "AUTH_SMS_OTP_LENGTH", default: 6, in: 6...10)
        otpMaxPerPhonePerHour = try reader.integer("auth.sms.maxPerHour", variable: "AUTH_SMS_MAX_PER_HOUR", default: 10, in: 1...10_000)
        otpMaxPerAddressPerHour = try reader.integer(
            "auth.sms.maxPerAddressPerHour", variable: "AUTH_SMS_MAX_PER_ADDRESS_PER_HOUR", default: 30, in: 1...1_000_000)
        requestBurstPerAddress = try reader.integer("auth.rateLimit.burst", variable: "AUTH_RATE_LIMIT_BURST", default: 120, in: 1...1_000_000)
        requestsPerSecondPerAddress = Double(
            try reader.integer("auth.rateLimit.perSecond", variable: "AUTH_RATE_LIMIT_PER_SECOND", default: 2, in: 1...100_000))
        signupEnabled = !(reader.bool(forKey: "auth.disableSignup") ?? false)
        userMetadataMaxBytes = try reader.integer(
            "auth.userMetadataMaxBytes", variable: "AUTH_USER_METADATA_MAX_BYTES", default: 4096, in: 2...65_536)
        phoneChangeBurst = try reader.integer("auth.phoneChange.burst", variable: "AUTH_PHONE_CHANGE_BURST", default: 5, in: 1...10_000)
        phoneChangesPerHour = try reader.integer("auth.phoneChange.perHour", variable: "AUTH_PHONE_CHANGE_PER_HOUR", default: 10, in: 1...1_000_000)
        if let text = reader.nonEmptyString("auth.sms.testOtp") {
            do {
                testOTPs = try Self.parseTestOTPs(text)
            } catch {
                throw ConfigurationError("AUTH_SMS_TEST_OTP: \(error)")
            }
        }
    }
}
