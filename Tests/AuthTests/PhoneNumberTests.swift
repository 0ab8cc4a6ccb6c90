@testable import Auth
import Testing

@Suite struct PhoneNumberTests {
    @Test(arguments: [
        ("+15555550100", "15555550100"),
        ("15555550100", "15555550100"),
        ("+7 (999) 123-45-67", "79991234567"),
        ("8 999 123 45 67", "79991234567"),
        ("89991234567", "79991234567"),
        ("+8 999 123 45 67", "89991234567"),
    ])
    func normalisesToE164Digits(_ input: String, _ expected: String) {
        #expect(PhoneNumber.normalise(input) == expected)
    }

    @Test(arguments: ["", "12ab", "+", "0123456", "1", "+1234567890123456", "phone", "+7 999 123 45 67 ext 5"])
    func refusesWhatCannotBeAPhone(_ input: String) {
        #expect(PhoneNumber.normalise(input) == nil)
    }

    @Test func parsesGoTrueTestOTPList() throws {
        let map = try AuthSettings.parseTestOTPs("15555550100:123456, +7 999 000 00 00:654321")
        #expect(map == ["15555550100": "123456", "79990000000": "654321"])
        #expect(throws: AuthConfigurationError.self) { try AuthSettings.parseTestOTPs("15555550100-123456") }
    }
}
