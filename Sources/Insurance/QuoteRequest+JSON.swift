import Foundation

extension QuoteRequest {
    /// Most named drivers one request may list.
    public static let maximumDrivers = 20

    /// Reads the JSON request shape (see docs/insurance.md), refusing unknown keys, wrong
    /// types and malformed values with the field's JSON path.
    public static func decode(json: Data) throws(QuoteInputError) -> QuoteRequest {
        do {
            return try JSONDecoder().decode(JSONRequest.self, from: json).request
        } catch let error as QuoteInputError {
            throw error
        } catch {
            throw QuoteInputError(field: "body", rule: "must be a JSON object")
        }
    }
}

/// The wire shape, decoded field by field so every error names its JSON path.
private struct JSONRequest: Decodable {
    let request: QuoteRequest

    init(from decoder: any Decoder) throws {
        let root = try FieldReader(decoder, path: "")
        try root.allow(["date", "owner", "vehicle", "territory", "kt", "tb", "periodMonths", "termMonths", "termDays",
                        "drivers", "ownerKbmClass", "kn", "trailer"])
        let vehicle = try root.object("vehicle")
        try vehicle.allow(["category", "powerHp", "registration", "taxi"])

        var date: CalendarDate?
        if let text = try root.string("date") {
            guard let parsed = CalendarDate(text) else { throw root.error("date", "must be a date written YYYY-MM-DD") }
            date = parsed
        }
        let drivers: DriversInput
        if try root.isString("drivers") {
            guard try root.string("drivers") == "unlimited" else {
                throw root.error("drivers", #"must be a list of drivers or "unlimited""#)
            }
            drivers = .unlimited
        } else {
            let list = try root.objects("drivers")
            guard !list.isEmpty else { throw root.error("drivers", #"must list at least one driver, or be "unlimited""#) }
            guard list.count <= QuoteRequest.maximumDrivers else {
                throw root.error("drivers", "at most \(QuoteRequest.maximumDrivers) named drivers")
            }
            drivers = .named(try list.map { driver in
                try driver.allow(["age", "experienceYears", "kbmClass"])
                return DriverInput(
                    age: try driver.requiredInt("age"), experienceYears: try driver.requiredInt("experienceYears"),
                    kbmClass: try driver.requiredClassLabel("kbmClass"))
            })
        }
        request = QuoteRequest(
            date: date,
            owner: try root.enumeration("owner", OwnerKind.self) ?? .individual,
            category: try vehicle.requiredString("category"),
            powerHp: try vehicle.decimal("powerHp"),
            registration: try vehicle.enumeration("registration", Registration.self) ?? .russia,
            taxi: try vehicle.bool("taxi") ?? false,
            territory: try root.string("territory"),
            kt: try root.decimal("kt"),
            tb: try root.decimal("tb"),
            periodMonths: try root.int("periodMonths"),
            termMonths: try root.int("termMonths"),
            termDays: try root.int("termDays"),
            drivers: drivers,
            ownerKbmClass: try root.classLabel("ownerKbmClass"),
            kn: try root.bool("kn") ?? false,
            trailer: try root.bool("trailer") ?? false)
    }
}

private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// Typed reads of one JSON object with errors that carry the field's path.
private struct FieldReader {
    let container: KeyedDecodingContainer<AnyKey>
    let path: String

    init(_ decoder: any Decoder, path: String) throws {
        do {
            container = try decoder.container(keyedBy: AnyKey.self)
        } catch {
            throw QuoteInputError(field: path.isEmpty ? "body" : path, rule: "must be a JSON object")
        }
        self.path = path
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
    func error(_ key: String, _ rule: String) -> QuoteInputError { QuoteInputError(field: name(key), rule: rule) }

    func allow(_ keys: Set<String>) throws {
        if let unknown = container.allKeys.map(\.stringValue).sorted().first(where: { !keys.contains($0) }) {
            throw error(unknown, "unknown field")
        }
    }

    private func present(_ key: String) throws -> Bool {
        let key = AnyKey(key)
        guard container.contains(key) else { return false }
        return !(try container.decodeNil(forKey: key))
    }

    private func read<T: Decodable>(_ type: T.Type, _ key: String, _ rule: String) throws -> T? {
        guard try present(key) else { return nil }
        do { return try container.decode(T.self, forKey: AnyKey(key)) } catch { throw self.error(key, rule) }
    }

    func isString(_ key: String) throws -> Bool {
        guard try present(key) else { return false }
        return (try? container.decode(String.self, forKey: AnyKey(key))) != nil
    }

    func string(_ key: String) throws -> String? { try read(String.self, key, "must be a string") }

    func requiredString(_ key: String) throws -> String {
        guard let value = try string(key) else { throw error(key, "is required") }
        return value
    }

    func bool(_ key: String) throws -> Bool? { try read(Bool.self, key, "must be true or false") }

    func int(_ key: String) throws -> Int? { try read(Int.self, key, "must be a whole number") }

    func requiredInt(_ key: String) throws -> Int {
        guard let value = try int(key) else { throw error(key, "is required") }
        return value
    }

    /// A decimal given as a JSON number or as a decimal string (`"8665.50"`).
    func decimal(_ key: String) throws -> Decimal? {
        guard try present(key) else { return nil }
        if let text = try? container.decode(String.self, forKey: AnyKey(key)) {
            guard let value = DecimalText.parse(text.trimmingCharacters(in: .whitespaces)) else {
                throw error(key, "must be a number")
            }
            return value
        }
        return try read(Decimal.self, key, "must be a number")
    }

    /// A КБМ class label; numbers are accepted for the numeric classes (`13` → `"13"`).
    func classLabel(_ key: String) throws -> String? {
        guard try present(key) else { return nil }
        if let number = try? container.decode(Int.self, forKey: AnyKey(key)) { return String(number) }
        return try read(String.self, key, #"must be a class label such as "M", "0" … "13""#)
    }

    func requiredClassLabel(_ key: String) throws -> String {
        guard let value = try classLabel(key) else { throw error(key, "is required") }
        return value
    }

    func enumeration<T: RawRepresentable & CaseIterable>(_ key: String, _ type: T.Type) throws -> T? where T.RawValue == String {
        guard let text = try string(key) else { return nil }
        guard let value = T(rawValue: text) else {
            throw error(key, "must be one of: " + T.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return value
    }

    func object(_ key: String) throws -> FieldReader {
        guard try present(key) else { throw error(key, "is required") }
        do {
            return try FieldReader(container.superDecoder(forKey: AnyKey(key)), path: name(key))
        } catch let failure as QuoteInputError {
            throw failure
        } catch {
            throw self.error(key, "must be a JSON object")
        }
    }

    func objects(_ key: String) throws -> [FieldReader] {
        guard try present(key) else { throw error(key, "is required") }
        var list: UnkeyedDecodingContainer
        do { list = try container.nestedUnkeyedContainer(forKey: AnyKey(key)) } catch {
            throw self.error(key, #"must be a list of drivers or "unlimited""#)
        }
        var readers: [FieldReader] = []
        while !list.isAtEnd {
            let index = readers.count
            let element = try list.superDecoder()
            readers.append(try FieldReader(element, path: "\(name(key))[\(index)]"))
        }
        return readers
    }
}
