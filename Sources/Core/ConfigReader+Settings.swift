import Configuration

/// A configuration value that cannot be used; the message names the variable and the rule.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The readers every module's `Settings(reader:)` shares: an unset or empty variable gives the
/// default, anything else must satisfy the rule or the error names the variable
/// (`variable` is the environment name the key maps to, e.g. `CALLS_HEARTBEAT_SECONDS`).
extension ConfigReader {
    /// An integer in `range`.
    public func integer(_ key: ConfigKey, variable: String, default fallback: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text = nonEmptyString(key) else { return fallback }
        guard let number = Int(text.trimmingSpaces), range.contains(number) else {
            throw ConfigurationError("\(variable) must be an integer from \(range.lowerBound) to \(range.upperBound), not '\(text)'")
        }
        return number
    }

    /// A whole number of seconds in `range`, as a duration.
    public func seconds(_ key: ConfigKey, variable: String, default fallback: Int, in range: ClosedRange<Int>) throws -> Duration {
        .seconds(try integer(key, variable: variable, default: fallback, in: range))
    }

    /// The value, or nil when it is unset or empty.
    public func nonEmptyString(_ key: ConfigKey, isSecret: Bool = false) -> String? {
        guard let text = string(forKey: key, isSecret: isSecret), !text.isEmpty else { return nil }
        return text
    }

    /// A comma-separated list, each entry trimmed, empty entries dropped.
    public func list(_ key: ConfigKey) -> [String] {
        (nonEmptyString(key) ?? "").split(separator: ",").map { String($0).trimmingSpaces }.filter { !$0.isEmpty }
    }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    fileprivate var trimmingSpaces: String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { $0 != " " && $0 != "\t" }),
            let last = scalars.lastIndex(where: { $0 != " " && $0 != "\t" })
        else { return "" }
        return String(scalars[first...last])
    }
}
