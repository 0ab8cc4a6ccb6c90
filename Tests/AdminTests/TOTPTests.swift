import Foundation
import Testing

@testable import Admin

/// RFC 6238's SHA-1 test vectors (Appendix B), cut to six digits as authenticator apps show them.
@Suite struct TOTPTests {
    static let secret = Array("12345678901234567890".utf8)

    @Test(arguments: [
        (59, "287082"), (1_111_111_109, "081804"), (1_111_111_111, "050471"), (1_234_567_890, "005924"),
        (2_000_000_000, "279037"), (20_000_000_000, "353130"),
    ])
    func rfcVectors(seconds: Int, code: String) {
        let date = Date(timeIntervalSince1970: TimeInterval(seconds))
        #expect(TOTP.code(secret: Self.secret, step: TOTP.step(at: date)) == code)
    }

    @Test func aCodeFromTheNeighbouringStepIsAcceptedAndOneFurtherIsNot() {
        let now = Date(timeIntervalSince1970: 1_111_111_111)
        let step = TOTP.step(at: now)
        let previous = TOTP.code(secret: Self.secret, step: step - 1)
        #expect(TOTP.matchingStep(previous, secret: Self.secret, at: now) == step - 1)
        let tooOld = TOTP.code(secret: Self.secret, step: step - 2)
        #expect(TOTP.matchingStep(tooOld, secret: Self.secret, at: now) == nil)
    }

    @Test(arguments: ["", "12345", "1234567", "abcdef", "12 456", "٠١٢٣٤٥"])
    func malformedCodesMatchNothing(code: String) {
        #expect(TOTP.matchingStep(code, secret: Self.secret, at: Date()) == nil)
    }

    @Test func base32OfTheRFCSecret() {
        #expect(Base32.encode(Self.secret) == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
        #expect(Base32.encode([]) == "")
        #expect(Base32.encode([0xff]) == "74")
    }

    @Test func enrolmentLinkNamesIssuerAndSecret() {
        let enrolment = AdminEnrolment.generate(issuer: "ECOMANSONI", label: "+79990001122")
        #expect(enrolment.secret.count == 20)
        #expect(enrolment.otpauthURI.hasPrefix("otpauth://totp/ECOMANSONI:%2B79990001122?secret=\(enrolment.base32Secret)&issuer=ECOMANSONI"))
        #expect(Set(enrolment.recoveryCodes).count == 10)
        for code in enrolment.recoveryCodes {
            #expect(RecoveryCode.hash(code) != nil)
            #expect(RecoveryCode.hash(code.lowercased().replacingOccurrences(of: "-", with: " ")) == RecoveryCode.hash(code))
        }
        #expect(RecoveryCode.hash("ABCDE-FGHI1") == nil)
    }
}
