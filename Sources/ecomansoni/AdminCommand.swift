import App
import ArgumentParser
import Foundation
import Logging

/// `ecomansoni admin …`: operator commands of the admin console.
struct AdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin",
        abstract: "Admin console operator commands.",
        subcommands: [Bootstrap.self])

    /// Makes the first owner of a new installation; refused once an owner exists.
    struct Bootstrap: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make the account with this phone number the first owner (created if missing) and print its TOTP secret and recovery codes once.")

        @OptionGroup var common: CommonOptions

        @Option(help: "The owner's phone number (E.164, e.g. +79991234567).")
        var phone: String

        func run() async throws {
            let config = try common.load(extra: ["LOG_LEVEL": ProcessInfo.processInfo.environment["LOG_LEVEL"] ?? "warning"])
            try await reportingErrors {
                let enrolment = try await AdminCommands.bootstrap(config: config, phone: phone, logger: Logger(label: "ecomansoni"))
                print("""
                    owner created for \(enrolment.label)
                    Add this account to an authenticator app (shown once, keep it secret):
                      secret:  \(enrolment.base32Secret)
                      link:    \(enrolment.otpauthURI)
                    Recovery codes (each works once; store them offline):
                    \(enrolment.recoveryCodes.map { "  " + $0 }.joined(separator: "\n"))
                    Sign in with this phone number, then open an admin session with a code from the app (POST /admin/v1/session).
                    """)
            }
        }
    }
}

/// `ecomansoni audit …`: the admin audit log.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Admin audit log commands.",
        subcommands: [Verify.self])

    /// Recomputes the hash chain: exit 0 intact, 1 broken (naming the first broken row).
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the audit log's hash chain: exit 0 when intact, 1 naming the first broken row.")

        @OptionGroup var common: CommonOptions

        @Option(help: "A head written to the server log earlier ('audit anchor'), as SEQ:HASH; it must still be in the chain.")
        var anchor: String?

        @Flag(help: "Print the result as JSON.")
        var json = false

        func run() async throws {
            let parsedAnchor = try anchor.map(Self.parseAnchor)
            let config = try common.load(extra: ["LOG_LEVEL": ProcessInfo.processInfo.environment["LOG_LEVEL"] ?? "warning"])
            var intact = true
            try await reportingErrors {
                let result = try await AdminCommands.verifyAudit(config: config, anchor: parsedAnchor, logger: Logger(label: "ecomansoni"))
                if json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys]
                    print(String(decoding: try encoder.encode(result), as: UTF8.self))
                } else if let broken = result.firstBrokenSeq {
                    print("audit log broken at row \(broken): \(result.problem ?? "")")
                } else {
                    print("audit log intact: \(result.rows) rows, head \(result.headSeq.map(String.init) ?? "-"):\(result.headHash ?? "-")")
                }
                intact = result.intact
            }
            if !intact { throw ExitCode.failure }
        }

        static func parseAnchor(_ text: String) throws -> (seq: Int64, hash: String) {
            let parts = text.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let seq = Int64(parts[0]), seq > 0, parts[1].count == 64,
                parts[1].unicodeScalars.allSatisfy({ $0.isASCII && $0.properties.isASCIIHexDigit })
            else {
                throw ValidationError("--anchor: must be SEQ:HASH, a row number and its 64-digit hex hash")
            }
            return (seq, String(parts[1]))
        }
    }
}
