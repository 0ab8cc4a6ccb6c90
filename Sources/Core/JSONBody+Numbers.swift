import Foundation

extension JSONBody {
    /// The rule a number breaks when an argument's type cannot hold it.
    public static let numberRule = "is out of range: integers are whole numbers from -9223372036854775808 to 9223372036854775807"

    /// Names the number that `JSONDecoder` could not hold. Foundation's decoder reports a
    /// number out of range for the target type (`1e300` or `9.5` for an `Int`) as "not valid
    /// JSON" without a coding path; valid JSON text must instead get a 400 naming the field.
    /// Returns nil when `data` is not valid JSON or holds no such number.
    static func unrepresentableNumber(in data: Data) -> APIError? {
        guard let value = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else { return nil }
        // Numbers beyond Int64 first: they break every integer field; fractions only integer ones.
        let path = numberPath(in: value, at: [], where: { Int64(exactly: $0.rounded(.towardZero)) == nil })
            ?? numberPath(in: value, at: [], where: { $0.rounded(.towardZero) != $0 })
        return path.map { APIError.invalidField(render($0), numberRule) }
    }

    /// The path of the first number (depth first, keys in order) for which `matches` holds.
    static func numberPath(in value: Any, at path: [PathStep], where matches: (Double) -> Bool) -> [PathStep]? {
        switch value {
        case is String, is Bool, is NSNull:
            return nil
        case let array as [Any]:
            for (index, element) in array.enumerated() {
                if let found = numberPath(in: element, at: path + [.index(index)], where: matches) { return found }
            }
            return nil
        case let object as [String: Any]:
            for key in object.keys.sorted() {
                if let member = object[key], let found = numberPath(in: member, at: path + [.key(key)], where: matches) { return found }
            }
            return nil
        case let number as NSNumber:
            return matches(number.doubleValue) ? path : nil
        default:
            return nil
        }
    }
}
