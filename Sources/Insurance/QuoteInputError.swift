/// A quote request the engine refuses: the offending field (a JSON path such as
/// `drivers[0].age`) and the rule it broke. The engine never guesses around bad input.
public struct QuoteInputError: Error, Sendable, Equatable, CustomStringConvertible {
    public let field: String
    public let rule: String

    public init(field: String, rule: String) {
        self.field = field
        self.rule = rule
    }

    /// `field: rule`, the message clients show.
    public var message: String { "\(field): \(rule)" }
    public var description: String { message }
}
