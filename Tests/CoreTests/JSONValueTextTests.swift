@testable import Core
import Foundation
import Testing

/// The hand-written `JSONValue.parse` and `jsonText` (JSONValue+Text.swift) against the
/// Foundation implementations they replaced, kept here as the reference: the same text for
/// every value, and for every input the same value or an error where the reference errs.
/// The one intended difference: the parser never nests deeper than
/// `JSONNesting.maximumDepth`, even where the byte scan missed the depth (see
/// `hiddenDepthIsRefusedNow`).
@Suite struct JSONValueTextTests {
    // MARK: The reference (the implementation before JSONValue+Text.swift)

    static func referenceText(_ value: JSONValue) -> String {
        (try? String(decoding: JSONBody.encoder.encode(value), as: UTF8.self)) ?? "null"
    }

    static func referenceParse(_ text: String) throws -> JSONValue {
        guard !JSONNesting.isTooDeep(text.utf8) else { throw JSONValue.TooDeep() }
        return try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    // MARK: Comparison

    /// Equality down to the bytes: numbers by bit pattern (so -0 ≠ 0), strings and keys by
    /// UTF-8 (Swift's `==` on strings is canonical equivalence).
    static func identical(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.number(let x), .number(let y)): return x.bitPattern == y.bitPattern
        case (.string(let x), .string(let y)): return x.utf8.elementsEqual(y.utf8)
        case (.array(let x), .array(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { identical($0, $1) }
        case (.object(let x), .object(let y)):
            guard x.count == y.count else { return false }
            for (key, value) in x {
                guard let index = y.index(forKey: key), y[index].key.utf8.elementsEqual(key.utf8),
                    identical(value, y[index].value)
                else { return false }
            }
            return true
        default: return false
        }
    }

    static func depth(_ value: JSONValue) -> Int {
        switch value {
        case .array(let items): return 1 + (items.map(depth).max() ?? 0)
        case .object(let members): return 1 + (members.values.map(depth).max() ?? 0)
        default: return 0
        }
    }

    enum Outcome: CustomStringConvertible {
        case value(JSONValue)
        case tooDeep
        case error

        var description: String {
            switch self {
            case .value(let value): return "value \(JSONValueTextTests.referenceText(value)) \(value)"
            case .tooDeep: return "TooDeep"
            case .error: return "error"
            }
        }
    }

    static func outcome(_ parse: (String) throws -> JSONValue, _ text: String) -> Outcome {
        do {
            return .value(try parse(text))
        } catch is JSONValue.TooDeep {
            return .tooDeep
        } catch {
            return .error
        }
    }

    /// nil when both agree (the intended depth difference included), else a description.
    static func parseDifference(_ text: String) -> String? {
        let expected = outcome(referenceParse, text)
        let actual = outcome(JSONValue.parse, text)
        switch (expected, actual) {
        case (.value(let a), .value(let b)):
            return identical(a, b) ? nil : "different values: reference \(expected), new \(actual)"
        case (.tooDeep, .tooDeep), (.error, .error):
            return nil
        case (.value(let a), .tooDeep) where depth(a) > JSONNesting.maximumDepth:
            return nil
        default:
            return "reference \(expected), new \(actual)"
        }
    }

    static func textDifference(_ value: JSONValue) -> String? {
        let expected = referenceText(value)
        let actual = value.jsonText
        return expected.utf8.elementsEqual(actual.utf8) ? nil : "reference \(expected), new \(actual)"
    }

    func expectSameParse(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let difference = Self.parseDifference(text)
        #expect(difference == nil, "\(Array(text.utf8).prefix(200)) \(text.debugDescription.prefix(300))", sourceLocation: sourceLocation)
        if let difference { Issue.record(Comment(rawValue: difference), sourceLocation: sourceLocation) }
        // Whatever parses must also write the same text.
        if let value = try? Self.referenceParse(text) {
            let textDifference = Self.textDifference(value)
            #expect(textDifference == nil, "\(textDifference ?? "")", sourceLocation: sourceLocation)
        }
    }

    // MARK: Hand-picked cases

    static let parseCases: [String] = [
        // scalars and whitespace
        "", " ", "null", "true", "false", "nul", "tru", "fals", "nulll", "truex", " null ", "\n\t\r null \r\n",
        "\u{0B}null", "\u{0C}null", "\u{A0}null", "null\u{0}", "\u{FEFF}null", "\u{FEFF}\u{FEFF}null", "\u{FEFF}",
        "\u{FEFF} [1]", " \u{FEFF}[1]", "[1]\u{FEFF}", "NULL", "True", "nan", "NaN", "Infinity", "-Infinity", "undefined",
        // numbers
        "0", "-0", "0.0", "-0.0", "1", "-1", "01", "-01", "00", "1.", ".5", "-.5", "+1", "1.5", "-1.5", "1e5", "1E5",
        "1e+5", "1e-5", "1E-05", "1e", "1e+", "1e-", "1.e5", "1.5e", "-", "--1", "1-", "1+1", "1.2.3", "1e5e5",
        "1e5.5", "0x10", "0e0", "0.e1", "-0e-0", "0.1", "0.2", "0.3", "1e300", "-1e300", "1e308", "1.7976931348623157e308",
        "1.7976931348623159e308", "1e309", "1e400", "-1e400", "1e-300", "1e-320", "5e-324", "2e-324", "3e-324",
        "2.4703282292062328e-324", "2.4703282292062327e-324", "1e-400", "0e-400", "0.000e-999", "0e99999999999999999999",
        "1e99999999999999999999", "1e-99999999999999999999", "123456789012345678", "9007199254740993", "9007199254740992",
        "9007199254740991", "18446744073709551616", "123456789012345678901234567890", "-123456789012345678901234567890",
        "0.1000000000000000055511151231257827", "2.2250738585072011e-308", "2.2250738585072012e-308",
        "4.9406564584124654e-324", "1.00000000000000011102230246251565404236316680908203125",
        "1.00000000000000011102230246251565404236316680908203124", "1.00000000000000011102230246251565404236316680908203126",
        "7.038531e-26", "0.000000000000000000000000000000000000001", "100000000000000000000000", "1e22", "1e23",
        "9999999999999999999", "99999999999999999999", "0.99999999999999999999", "3.141592653589793238462643383279",
        // the reference's zero test reads the last 1-3 bytes backwards: "0e2" is an error, "0e12" zero
        "0e2", "0E8", "-0e2", "0e12", "0e-2", "0.0e2", "0.00e2", "0e123", "0e1234", "-0.0e0", "0.0e00001",
        "[1,-0,0.5,-1e19,1e300]", "[01]", "[1.]", "[-]", "[1e]", "[1 2]", "[1,,2]", "1 2",
        // strings
        #""""#, #""a""#, #""\""#, #""\"""#, #""\\""#, #""\/""#, #""/""#, #""\b\f\n\r\t""#, #""\a""#, #""\x41""#, #""\'""#,
        #""\u0041""#, #""\u00e9""#, #""\u00E9""#, #""\u0000""#, #""a\u0000b""#, #""\u001f""#, #""\u007f""#, #""\u2028\u2029""#,
        #""\ud83d\ude00""#, #""\uD83D\uDE00""#, #""\ud800""#, #""\udc00""#, #""\ud800\u0041""#, #""\ud800x""#, #""\ud800\""#,
        #""\ud800\ud800""#, #""\udc00\ud800""#, #""\ud83d\ude00\ud83d""#, #""\u12""#, #""\u12345""#, #""\u004g""#, #""\u+123""#,
        #""\u-123""#, #""\u 123""#, #""\U0041""#, #""\u""#, #""\"#, #""abc"#, "\"a\u{0}b\"", "\"a\u{1}b\"", "\"a\u{1F}b\"",
        "\"a\u{7F}b\"", "\"tab\there\"", "\"line\nbreak\"", "\"😀\"", "\"Привет\"", "\"e\u{301}\"", "\"\u{FEFF}\"",
        #""\u123\""#, #"["\u123\"]"#, #""\u00""#, #""\u0""#,
        // arrays and objects
        "[]", "[ ]", "[", "]", "[,]", "[1,]", "[1, ]", "[1,]]", "[1,,]", "[[]]", "[[],]", "[1,2,3]", "[\"a\",null,true,false]",
        "{}", "{ }", "{", "}", "{,}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":1 , }", "{\"a\":1,,}", "{a:1}", "{'a':1}",
        "{\"a\":1}", "{\"a\" : 1 }", "{\"a\":1,\"b\":2}", "{\"a\":1 \"b\":2}", "{1:2}", "{\"a\":1}}", "{\"a\":[1,{\"b\":null}]}",
        // repeated keys: the first wins; a later value is scanned, never read
        #"{"a":1,"a":2}"#, #"{"a":1,"a":1e400}"#, #"{"a":1,"a":"\ud800"}"#, #"{"a":1,"a":"\x"}"#, #"{"a":1,"a":1-+e}"#,
        #"{"a":1,"a":-}"#, #"{"a":1,"a":"\u12"}"#, #"{"a":1,"a":"\u1"2"}"#, #"{"a":1,"a":[01,1.,"\q"]}"#,
        #"{"a":1,"a":{"\z":1e999}}"#, #"{"a":1,"a":tru}"#, #"{"a":1,"a":+1}"#, #"{"a":1,"a":.5}"#, #"{"a":1,"a":[}"#,
        "{\"a\":1,\"a\":\"x\u{1}y\"}", #"{"a":"\ud800","a":1}"#, #"{"\u0061":1,"a":2}"#, #"{"a":1,"\u0061":2}"#,
        #"{"é":1,"é":2}"#, #"{"é":1,"é":2}"#, #"{"é":1,"e\u0301":2}"#, "{\"é\":1,\"e\u{301}\":2}", "{\"e\u{301}\":1,\"é\":2}", #"{"a":1,"a":2,"b":3,"b":[1,}"#,
        #"{"a":{"x":1},"a":{"x":2},"b":{"c":1,"c":"\q"}}"#, #"{"\ud800":1,"a":1}"#, #"{"a":1,"\ud800":1}"#,
        // encoding detection of the reference (NUL in the first bytes: UTF-16 or UTF-32)
        "\u{0}", "\u{0}\u{0}", "\u{0}1", "1\u{0}", "\u{0}1\u{0}2", "1\u{0}2\u{0}", "[\u{0}]\u{0}", "\u{0}[\u{0}]",
        "\u{0}\u{0}\u{0}1", "1\u{0}\u{0}\u{0}", "\u{0}\u{0}\u{0}[\u{0}\u{0}\u{0}]", "[\u{0}\u{0}\u{0}]\u{0}\u{0}\u{0}",
        "\u{0}[\u{0}1\u{0}]", "\"\u{0}a\u{0}\"\u{0}", "[\u{0}\"\u{0}é\u{0}\"\u{0}]\u{0}", "\u{0}\u{0}1\u{0}", "1\u{0}\u{0}",
        "\u{0}\u{0}\u{0}\u{0}", "\u{0} ", " \u{0}", "\u{0}\u{0}\u{0}1\u{0}", "1\u{0}2", "\u{0}é", "é\u{0}",
        // nesting
        String(repeating: "[", count: 32) + String(repeating: "]", count: 32),
        String(repeating: "[", count: 33) + String(repeating: "]", count: 33),
        String(repeating: "[", count: 32) + "1," + String(repeating: "]", count: 32),
        String(repeating: "{\"a\":", count: 32) + "1" + String(repeating: "}", count: 32),
        #"{"a":1,"a":"# + String(repeating: "[", count: 31) + String(repeating: "]", count: 31) + "}",
        #"{"a":1,"a":"# + String(repeating: "[", count: 32) + String(repeating: "]", count: 32) + "}",
    ]

    @Test func handPickedTextsParseTheSame() {
        for text in Self.parseCases {
            expectSameParse(text)
            expectSameParse("[" + text + "]")
            expectSameParse(#"{"k":"# + text + "}")
            expectSameParse(" " + text + " ")
        }
    }

    static let textCases: [JSONValue] = {
        var values: [JSONValue] = [
            .null, .bool(true), .bool(false), .string(""), .array([]), .object([:]),
            .string("a\"b\\c/d\u{8}\u{C}\n\r\t\u{0}\u{1}\u{1F}\u{7F}\u{80}\u{A0}é€😀\u{2028}\u{FEFF}e\u{301}"),
            .object(["b": .null, "a": .null, "B": .null, "_": .null, "": .null, "ä": .null, "😀": .null, "\u{7F}": .null,
                "aa": .null, "a\u{0}": .null, "é": .null, "z": .null, "Я": .null, "\u{FFFF}": .null, "\u{10000}": .null]),
            // keys alike in their first eight bytes (the writer's sort compares those first)
            .object(["abcdefgh": .null, "abcdefgh\u{0}": .null, "abcdefgh1": .null, "abcdefgg9": .null, "abcdefg": .null,
                "abcdefg\u{0}": .null, "abcdefg\u{0}\u{0}": .null, "abcdefghé": .null, "abcdefghA": .null, "\u{0}": .null,
                "\u{0}\u{0}": .null, "привет мир": .null, "привет": .null, "приветствие": .null]),
            .array([.number(.nan)]), .object(["a": .number(.infinity)]), .number(-.infinity), .number(.nan),
            .number(.signalingNaN), .number(-.nan),
        ]
        let numbers: [Double] = [
            0, -0.0, 1, -1, 0.1, 0.2, 0.3, -0.5, 1.5, 1e-7, 1e300, 1e-300, 123456789012345680, 1e15, -1e15, 1e15 - 1,
            -(1e15 - 1), 999999999999999.5, 1e16, 1e21, 1e22, 1e23, 9007199254740992, 9007199254740994, 0.1 + 0.2,
            .pi, .ulpOfOne, .leastNonzeroMagnitude, .leastNormalMagnitude, .greatestFiniteMagnitude,
            -.greatestFiniteMagnitude, Double(bitPattern: 1), 1.7976931348623157e308, 4294967296, 2147483648.5, 1e-5, 1e-4, 0.001,
            100, 1e14, 1e14 + 0.5, 12345.678, 2.5e-8, Double(Int64.max), Double(Int64.min), 1 / 3, 2 / 3, Double(bitPattern: 0x0000_1000_0000_0000),
        ]
        values += numbers.map { .number($0) }
        values += numbers.map { .number(-$0) }
        return values
    }()

    @Test func handPickedValuesWriteTheSame() {
        for value in Self.textCases {
            #expect(Self.textDifference(value) == nil, "\(value)")
            #expect(Self.textDifference(.array([value, value])) == nil, "\(value)")
            #expect(Self.textDifference(.object(["x": value])) == nil, "\(value)")
        }
    }

    @Test func theWriterGivesUpWhereTheEncoderDid() {
        func nested(_ depth: Int, object: Bool) -> JSONValue {
            var value = JSONValue.null
            for _ in 0..<depth { value = object ? .object(["a": value]) : .array([value]) }
            return value
        }
        for depth in [510, 511, 512, 513] {
            for object in [false, true] {
                let value = nested(depth, object: object)
                #expect(Self.textDifference(value) == nil, "depth \(depth)")
            }
        }
        #expect(nested(511, object: false).jsonText != "null")
        #expect(nested(512, object: false).jsonText == "null")
    }

    /// A `\u` escape whose four bytes end in a backslash fooled the byte scan of
    /// `JSONNesting.isTooDeep` into reading the rest of the text as a string, so the
    /// reference decoded nesting beyond the bound when that escape sat in a repeated key's
    /// value (which is scanned, not read). The new parser refuses it.
    @Test func hiddenDepthIsRefusedNow() throws {
        let deep = String(repeating: "[", count: 40) + String(repeating: "]", count: 40)
        let text = #"{"a":0,"a":"\u000\","z":"# + deep + "}"
        #expect(!JSONNesting.isTooDeep(text.utf8))
        let reference = try Self.referenceParse(text)
        #expect(Self.depth(reference) == 41)
        #expect(throws: JSONValue.TooDeep.self) { try JSONValue.parse(text) }
    }

    // MARK: The fuzz corpus

    static let fuzzRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz")

    static func fuzzInputs() -> [URL] {
        var files: [URL] = []
        for folder in ["Corpus", "Regressions"] {
            let base = fuzzRoot.appendingPathComponent(folder)
            let targets = (try? FileManager.default.contentsOfDirectory(atPath: base.path)) ?? []
            for target in targets.sorted() where !target.hasPrefix(".") {
                let directory = base.appendingPathComponent(target)
                let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
                files += names.filter { !$0.hasPrefix(".") }.sorted().map { directory.appendingPathComponent($0) }
            }
        }
        return files
    }

    @Test func everyFuzzInputParsesTheSame() throws {
        let files = Self.fuzzInputs()
        #expect(files.count > 50)
        for file in files {
            let text = String(decoding: try Data(contentsOf: file), as: UTF8.self)
            expectSameParse(text)
            for line in text.split(separator: "\n", omittingEmptySubsequences: true) { expectSameParse(String(line)) }
        }
    }

    // MARK: Generated values and texts

    /// SplitMix64: seeded, so a failure reproduces.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let scalarPool: [Unicode.Scalar] = [
        "a", "b", "z", "A", "Z", "0", "9", " ", "\"", "\\", "/", "\u{0}", "\u{1}", "\u{8}", "\u{9}", "\u{A}", "\u{C}",
        "\u{D}", "\u{1F}", "\u{7F}", "\u{80}", "\u{A0}", "é", "\u{301}", "Я", "ж", "€", "\u{2028}", "\u{FEFF}", "\u{FFFF}",
        "😀", "\u{10FFFF}", "{", "}", "[", "]", ",", ":",
    ]

    static func randomString(_ g: inout Generator) -> String {
        var text = ""
        for _ in 0..<Int.random(in: 0...8, using: &g) {
            text.unicodeScalars.append(scalarPool.randomElement(using: &g) ?? "a")
        }
        return text
    }

    static func randomNumber(_ g: inout Generator) -> Double {
        switch Int.random(in: 0..<6, using: &g) {
        case 0: return Double(Int.random(in: -1000...1000, using: &g))
        case 1: return Double(Int64.random(in: -2_000_000_000_000_000...2_000_000_000_000_000, using: &g))
        case 2: return Double(bitPattern: g.next())
        case 3: return Double.random(in: -1...1, using: &g)
        case 4: return Double(Int.random(in: -100_000...100_000, using: &g)) / 100
        default:
            return Double(Int.random(in: 1...999, using: &g)) * pow(10, Double(Int.random(in: -330...310, using: &g)))
        }
    }

    static func randomValue(_ g: inout Generator, depth: Int) -> JSONValue {
        let kind = Int.random(in: 0..<(depth > 4 ? 5 : 7), using: &g)
        switch kind {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &g))
        case 2, 3: return .number(randomNumber(&g))
        case 4: return .string(randomString(&g))
        case 5:
            return .array((0..<Int.random(in: 0...4, using: &g)).map { _ in randomValue(&g, depth: depth + 1) })
        default:
            var members: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0...5, using: &g) { members[randomString(&g)] = randomValue(&g, depth: depth + 1) }
            return .object(members)
        }
    }

    /// Bytes that make interesting edits of JSON text.
    static let editPool: [String] = [
        "\"", "\\", "\\u", "\\ud800", "\\udc00", "\\u00", ",", ":", "[", "]", "{", "}", " ", "\n", "\u{0}", "\u{1}", "-",
        "+", ".", "e", "E", "0", "1", "9", "t", "n", "f", "true", "null", "é", "😀", "\u{FEFF}", "/", "x", "\"a\":1,",
    ]

    static func mutated(_ text: String, _ g: inout Generator) -> String {
        var scalars = Array(text.unicodeScalars)
        for _ in 0..<Int.random(in: 1...3, using: &g) {
            let position = Int.random(in: 0...scalars.count, using: &g)
            switch Int.random(in: 0..<3, using: &g) {
            case 0 where position < scalars.count:
                scalars.remove(at: position)
            case 1 where position < scalars.count:
                scalars.replaceSubrange(position...position, with: (editPool.randomElement(using: &g) ?? "x").unicodeScalars)
            default:
                scalars.insert(contentsOf: (editPool.randomElement(using: &g) ?? "x").unicodeScalars, at: position)
            }
        }
        var result = ""
        result.unicodeScalars.append(contentsOf: scalars)
        return result
    }

    @Test func generatedValuesWriteAndParseTheSame() {
        var g = Generator(state: 0x5EED_0001)
        for round in 0..<600 {
            let value = Self.randomValue(&g, depth: 0)
            let difference = Self.textDifference(value)
            #expect(difference == nil, "round \(round): \(difference ?? "")")
            let text = Self.referenceText(value)
            expectSameParse(text)
            for _ in 0..<4 { expectSameParse(Self.mutated(text, &g)) }
        }
    }

    @Test func generatedNumberTokensParseTheSame() {
        var g = Generator(state: 0x5EED_0002)
        let alphabet = Array("0123456789.+-eE".unicodeScalars)
        let digits = Array("0123456789".unicodeScalars)
        for _ in 0..<2_000 {
            var token = ""
            if Bool.random(using: &g) {
                // Mostly well-formed: sign, digits, fraction, exponent.
                if Bool.random(using: &g) { token += "-" }
                for _ in 0..<Int.random(in: 1...25, using: &g) { token.unicodeScalars.append(digits.randomElement(using: &g) ?? "1") }
                if Bool.random(using: &g) {
                    token += "."
                    for _ in 0..<Int.random(in: 0...25, using: &g) { token.unicodeScalars.append(digits.randomElement(using: &g) ?? "1") }
                }
                if Bool.random(using: &g) {
                    token += ["e", "E", "e+", "e-", "E-"].randomElement(using: &g) ?? "e"
                    for _ in 0..<Int.random(in: 0...4, using: &g) { token.unicodeScalars.append(digits.randomElement(using: &g) ?? "1") }
                }
            } else {
                for _ in 0..<Int.random(in: 1...10, using: &g) { token.unicodeScalars.append(alphabet.randomElement(using: &g) ?? "1") }
            }
            expectSameParse(token)
            expectSameParse("[" + token + "]")
            expectSameParse(#"{"a":1,"a":"# + token + "}")
        }
        // Zeros with exponents, where the reference's zero test is order-sensitive.
        let zeroAlphabet = Array("00000.eE+-123".unicodeScalars)
        for _ in 0..<2_000 {
            var token = "0"
            for _ in 0..<Int.random(in: 0...9, using: &g) { token.unicodeScalars.append(zeroAlphabet.randomElement(using: &g) ?? "0") }
            expectSameParse(token)
            expectSameParse("-" + token)
        }
        // Every double's own text, and its shortest and longest decimal forms.
        for _ in 0..<2_000 {
            let number = Self.randomNumber(&g)
            guard number.isFinite else { continue }
            expectSameParse(number.description)
            expectSameParse(String(format: "%.17g", number))
            expectSameParse(String(format: "%.25e", number))
        }
    }

    @Test func generatedStringsParseTheSame() {
        var g = Generator(state: 0x5EED_0003)
        let pieces: [String] = [
            "a", "é", "😀", "\u{0}", "\u{1}", "\u{1F}", "\u{7F}", "\t", "\n", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n",
            "\\r", "\\t", "\\a", "\\x", "\\u0041", "\\u00e9", "\\u00E9", "\\u0000", "\\ud83d\\ude00", "\\ud800", "\\udc00",
            "\\uDBFF\\uDFFF", "\\ud800\\ud800", "\\u12", "\\u12g4", "\\u", "\\", "\"", "\\u123\\", "\\uFFFF", "\\uFEFF",
        ]
        for _ in 0..<2_000 {
            var body = ""
            for _ in 0..<Int.random(in: 0...5, using: &g) { body += pieces.randomElement(using: &g) ?? "a" }
            expectSameParse("\"" + body + "\"")
            expectSameParse("{\"" + body + "\":1}")
            expectSameParse(#"{"a":1,"a":""# + body + "\"}")
        }
    }
}
