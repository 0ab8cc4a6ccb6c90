import NIOCore
import Testing
@testable import Redis

/// The RESP3 decoder: every type, any split of the bytes, and each limit or malformation with its own error.
@Suite struct RESPDecoderTests {
    static let samples: [(String, RESPValue)] = [
        ("+OK\r\n", .simpleString("OK")),
        ("-ERR unknown\r\n", .error("ERR unknown")),
        (":-42\r\n", .integer(-42)),
        (":9223372036854775807\r\n", .integer(.max)),
        (":-9223372036854775808\r\n", .integer(.min)),
        ("$5\r\nhe\r\no\r\n", .bulkString(ByteBuffer(string: "he\r\no"))),
        ("$0\r\n\r\n", .bulkString(ByteBuffer())),
        ("$-1\r\n", .null),
        ("*-1\r\n", .null),
        ("_\r\n", .null),
        ("*3\r\n:1\r\n+two\r\n$5\r\nthree\r\n", .array([.integer(1), .simpleString("two"), .bulkString(ByteBuffer(string: "three"))])),
        ("*0\r\n", .array([])),
        ("%2\r\n+a\r\n:1\r\n+b\r\n*1\r\n#t\r\n", .map([.simpleString("a"): .integer(1), .simpleString("b"): .array([.boolean(true)])])),
        ("~2\r\n+x\r\n+y\r\n", .set([.simpleString("x"), .simpleString("y")])),
        (",3.25\r\n", .double(3.25)),
        (",-1e3\r\n", .double(-1000)),
        (",inf\r\n", .double(.infinity)),
        (",-inf\r\n", .double(-.infinity)),
        ("#t\r\n", .boolean(true)),
        ("#f\r\n", .boolean(false)),
        ("(3492890328409238509324850943850943825024385\r\n", .bigNumber("3492890328409238509324850943850943825024385")),
        ("(-12\r\n", .bigNumber("-12")),
        ("=15\r\ntxt:Some string\r\n", .verbatimString("Some string")),
        ("!21\r\nSYNTAX invalid syntax\r\n", .error("SYNTAX invalid syntax")),
        (">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$3\r\nhi!\r\n",
         .push([.bulkString(ByteBuffer(string: "message")), .bulkString(ByteBuffer(string: "ch")), .bulkString(ByteBuffer(string: "hi!"))])),
        ("|1\r\n+ttl\r\n:3600\r\n*2\r\n:1\r\n:2\r\n", .array([.integer(1), .integer(2)])),
        ("*2\r\n|1\r\n+key-popularity\r\n%0\r\n:1\r\n:2\r\n", .array([.integer(1), .integer(2)])),
        ("*2\r\n*2\r\n*0\r\n_\r\n%0\r\n", .array([.array([.array([]), .null]), .map([:])])),
    ]

    @Test func decodesEveryType() throws {
        for (text, expected) in Self.samples {
            var buffer = ByteBuffer(string: text + "+next\r\n")
            let value = try RESPDecoder.decode(&buffer, limits: RESPDecodingLimits())
            #expect(value == expected, "\(text.debugDescription)")
            #expect(try RESPDecoder.decode(&buffer, limits: RESPDecodingLimits()) == .simpleString("next"))
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test func nanIsADouble() throws {
        var buffer = ByteBuffer(string: ",nan\r\n")
        let value = try RESPDecoder.decode(&buffer, limits: RESPDecodingLimits())
        guard case .double(let number) = value else {
            Issue.record("not a double: \(String(describing: value))")
            return
        }
        #expect(number.isNaN)
    }

    @Test func everyPrefixNeedsMoreBytesAndLeavesTheBufferUntouched() throws {
        for (text, _) in Self.samples {
            let bytes = Array(text.utf8)
            for length in 0..<bytes.count {
                var buffer = ByteBuffer(bytes: bytes[0..<length])
                let before = buffer
                #expect(try RESPDecoder.decode(&buffer, limits: RESPDecodingLimits()) == nil, "\(text.debugDescription) cut at \(length)")
                #expect(buffer == before)
            }
        }
    }

    @Test func theStreamDecoderFedOneByteAtATimeYieldsEachValueOnce() throws {
        let stream = Self.samples.map(\.0).joined()
        var decoder = RESPStreamDecoder(limits: RESPDecodingLimits())
        var buffer = ByteBuffer()
        var values: [RESPValue] = []
        for byte in stream.utf8 {
            buffer.writeInteger(byte)
            while let value = try decoder.next(&buffer) {
                values.append(value)
            }
        }
        #expect(values == Self.samples.map(\.1))
        #expect(buffer.readableBytes == 0)
    }

    @Test func theStreamDecoderAcceptsArbitrarySplits() throws {
        let stream = Array(Self.samples.map(\.0).joined().utf8)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            var decoder = RESPStreamDecoder(limits: RESPDecodingLimits())
            var buffer = ByteBuffer()
            var values: [RESPValue] = []
            var offset = 0
            while offset < stream.count {
                let chunk = Int.random(in: 1...17, using: &generator)
                let end = min(stream.count, offset + chunk)
                buffer.writeBytes(stream[offset..<end])
                offset = end
                while let value = try decoder.next(&buffer) { values.append(value) }
            }
            #expect(values == Self.samples.map(\.1))
        }
    }

    static let malformed: [(String, RESPDecodingLimits, RESPDecodingError)] = [
        ("?x\r\n", RESPDecodingLimits(), .invalidTypeByte(UInt8(ascii: "?"))),
        ("\u{7}\r\n", RESPDecodingLimits(), .invalidTypeByte(7)),
        ("?", RESPDecodingLimits(), .invalidTypeByte(UInt8(ascii: "?"))),
        ("$11\r\nhello world\r\n", RESPDecodingLimits(maximumBulkLength: 10), .bulkTooLong(type: UInt8(ascii: "$"), length: 11, maximum: 10)),
        ("=600000000\r\n", RESPDecodingLimits(), .bulkTooLong(type: UInt8(ascii: "="), length: 600_000_000, maximum: 512 * 1024 * 1024)),
        ("*1\r\n*1\r\n*1\r\n:1\r\n", RESPDecodingLimits(maximumDepth: 2), .nestingTooDeep(maximum: 2)),
        (String(repeating: "*1\r\n", count: 40) + ":1\r\n", RESPDecodingLimits(), .nestingTooDeep(maximum: 32)),
        ("*5\r\n", RESPDecodingLimits(maximumAggregateCount: 4), .aggregateTooLarge(type: UInt8(ascii: "*"), count: 5, maximum: 4)),
        ("%3\r\n", RESPDecodingLimits(maximumAggregateCount: 2), .aggregateTooLarge(type: UInt8(ascii: "%"), count: 3, maximum: 2)),
        ("*99999999999\r\n", RESPDecodingLimits(), .aggregateTooLarge(type: UInt8(ascii: "*"), count: 99_999_999_999, maximum: 16 * 1024 * 1024)),
        ("$abc\r\n", RESPDecodingLimits(), .invalidLength(type: UInt8(ascii: "$"), text: "abc")),
        ("*\r\n", RESPDecodingLimits(), .invalidLength(type: UInt8(ascii: "*"), text: "")),
        ("*1.5\r\n", RESPDecodingLimits(), .invalidLength(type: UInt8(ascii: "*"), text: "1.5")),
        ("$-2\r\n", RESPDecodingLimits(), .negativeLength(type: UInt8(ascii: "$"), length: -2)),
        ("*-5\r\n", RESPDecodingLimits(), .negativeLength(type: UInt8(ascii: "*"), length: -5)),
        ("%-1\r\n", RESPDecodingLimits(), .negativeLength(type: UInt8(ascii: "%"), length: -1)),
        ("!-1\r\n", RESPDecodingLimits(), .negativeLength(type: UInt8(ascii: "!"), length: -1)),
        (":9223372036854775808\r\n", RESPDecodingLimits(), .integerOverflow(type: UInt8(ascii: ":"), text: "9223372036854775808")),
        (":-9223372036854775809\r\n", RESPDecodingLimits(), .integerOverflow(type: UInt8(ascii: ":"), text: "-9223372036854775809")),
        ("$99999999999999999999\r\n", RESPDecodingLimits(), .integerOverflow(type: UInt8(ascii: "$"), text: "99999999999999999999")),
        (":12a\r\n", RESPDecodingLimits(), .invalidInteger("12a")),
        (":\r\n", RESPDecodingLimits(), .invalidInteger("")),
        (":-\r\n", RESPDecodingLimits(), .invalidInteger("-")),
        (",abc\r\n", RESPDecodingLimits(), .invalidDouble("abc")),
        (",0x1p3\r\n", RESPDecodingLimits(), .invalidDouble("0x1p3")),
        ("#x\r\n", RESPDecodingLimits(), .invalidBoolean("x")),
        ("(12z\r\n", RESPDecodingLimits(), .invalidBigNumber("12z")),
        ("_x\r\n", RESPDecodingLimits(), .invalidNull("x")),
        ("=3\r\ntxt\r\n", RESPDecodingLimits(), .invalidVerbatimString),
        ("=4\r\ntxt!\r\n", RESPDecodingLimits(), .invalidVerbatimString),
        ("$3\r\nabcd\r\n", RESPDecodingLimits(), .missingCRLF(type: UInt8(ascii: "$"))),
        ("+OK\rX", RESPDecodingLimits(), .missingCRLF(type: UInt8(ascii: "+"))),
        ("+OK\n", RESPDecodingLimits(), .missingCRLF(type: UInt8(ascii: "+"))),
        ("+" + String(repeating: "a", count: 20), RESPDecodingLimits(maximumLineLength: 10), .lineTooLong(type: UInt8(ascii: "+"), maximum: 10)),
        ("-" + String(repeating: "a", count: 11) + "\r\n", RESPDecodingLimits(maximumLineLength: 10), .lineTooLong(type: UInt8(ascii: "-"), maximum: 10)),
        ("$?\r\n", RESPDecodingLimits(), .streamedTypeNotSupported(type: UInt8(ascii: "$"))),
        ("*?\r\n", RESPDecodingLimits(), .streamedTypeNotSupported(type: UInt8(ascii: "*"))),
    ]

    @Test func malformedInputAndBrokenLimitsThrowPreciseErrors() throws {
        for (text, limits, expected) in Self.malformed {
            var buffer = ByteBuffer(string: text)
            let before = buffer
            #expect(throws: expected, "\(text.prefix(60).debugDescription)") {
                try RESPDecoder.decode(&buffer, limits: limits)
            }
            #expect(buffer == before)
        }
    }

    @Test func errorDescriptionsNameTheTypeByteAndTheLimit() {
        #expect(RESPDecodingError.invalidTypeByte(UInt8(ascii: "?")).description == "invalid RESP type byte '?'")
        #expect(RESPDecodingError.invalidTypeByte(0).description == "invalid RESP type byte 0x00")
        #expect(RESPDecodingError.bulkTooLong(type: UInt8(ascii: "$"), length: 11, maximum: 10).description
            == "RESP '$' length 11 exceeds the limit of 10 bytes")
        #expect(RESPDecodingError.nestingTooDeep(maximum: 32).description == "RESP aggregates nested more than 32 levels deep")
        #expect(RESPDecodingError.aggregateTooLarge(type: UInt8(ascii: "*"), count: 5, maximum: 4).description
            == "RESP '*' count 5 exceeds the limit of 4 elements")
        #expect(RESPDecodingError.negativeLength(type: UInt8(ascii: "$"), length: -2).description.contains("negative"))
    }

    @Test func randomBytesNeverTrap() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("+-:$*%~>|_,#(=!\r\n0123456789-?abtf.".utf8)
        for _ in 0..<20_000 {
            let length = Int.random(in: 0...40, using: &generator)
            var buffer = ByteBuffer()
            for _ in 0..<length {
                let byte = Bool.random(using: &generator)
                    ? alphabet[Int.random(in: 0..<alphabet.count, using: &generator)]
                    : UInt8.random(in: 0...255, using: &generator)
                buffer.writeInteger(byte)
            }
            var decoder = RESPStreamDecoder(limits: RESPDecodingLimits(maximumBulkLength: 64, maximumAggregateCount: 8, maximumDepth: 4, maximumLineLength: 32))
            while (try? decoder.next(&buffer)) != nil {}
        }
    }

    @Test func convenienceAccessors() {
        #expect(RESPValue.bulkString(ByteBuffer(string: "12")).string == "12")
        #expect(RESPValue.bulkString(ByteBuffer(string: "12")).int == 12)
        #expect(RESPValue.integer(7).int == 7)
        #expect(RESPValue.simpleString("OK").string == "OK")
        #expect(RESPValue.null.string == nil)
        #expect(RESPValue.set([.integer(1)]).array == [.integer(1)])
        #expect(RESPValue.push([.integer(1)]).array == [.integer(1)])
        #expect(RESPValue.integer(1).array == nil)
    }

    @Test func theEncoderWritesArraysOfBulkStrings() {
        var buffer = ByteBuffer()
        RESPEncoder.writeCommand(["SET", "k", "é"], into: &buffer)
        #expect(String(buffer: buffer) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\né\r\n")
        var binary = ByteBuffer()
        RESPEncoder.writeCommand([ByteBuffer(bytes: [0, 13, 10])], into: &binary)
        #expect(Array(binary.readableBytesView) == Array("*1\r\n$3\r\n".utf8) + [0, 13, 10] + Array("\r\n".utf8))
    }
}
