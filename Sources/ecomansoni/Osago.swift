import ArgumentParser
import Foundation
import Insurance

/// `ecomansoni osago …`: the OSAGO engine for scripts and checks, no server or database.
struct Osago: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "OSAGO premium engine.",
        subcommands: [Quote.self])

    /// `ecomansoni osago quote`: one JSON request on stdin, one JSON result on stdout.
    struct Quote: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read one quote request (JSON) on stdin; print the result (exit 0) or a field error (exit 1).")

        func run() throws {
            let input = FileHandle.standardInput.readDataToEndOfFile()
            let calculator = OsagoCalculator(catalog: try TariffCatalog.bundled())
            do {
                let request = try QuoteRequest.decode(json: input)
                let quote = try calculator.quote(request, today: .today())
                FileHandle.standardOutput.write(try quote.jsonData() + Data("\n".utf8))
            } catch let error as QuoteInputError {
                let body = try JSONSerialization.data(
                    withJSONObject: ["error": error.message, "field": error.field, "rule": error.rule, "code": "22023"],
                    options: [.sortedKeys, .withoutEscapingSlashes])
                FileHandle.standardOutput.write(body + Data("\n".utf8))
                throw ExitCode.failure
            }
        }
    }
}
