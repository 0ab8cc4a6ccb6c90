import Foundation

/// What one instance tells the others on the bus channel `calls`.
///
/// The text on the bus is a compact length-prefixed encoding (``encoded``), not JSON: a
/// receiving instance reads the small header (recipients, type, sender, room, membership
/// update) once and passes the payload on as the JSON text it already is, so a relayed frame
/// is parsed once, by the instance that received it from its client. The JSON of earlier
/// versions (`{"deliver":{…}}`) is still read.
enum CallsRelay: Sendable {
    /// Send a frame to these devices (wherever they are connected), after applying `update`.
    case deliver(Delivery)
    /// The device authenticated a new session elsewhere: close any other session of it (4009).
    case replace(device: String, session: UUID)
    /// A frame too large for a NOTIFY payload, stored in `calls.relay_payloads`.
    case spilled(UUID)

    static let channel = "calls"
    /// Larger encodings (counted as the bus will escape them in its JSON) travel by reference.
    static let inlineLimit = 7000
    /// The first bytes of every encoding (format version 2).
    static let tag = "c2"
}

/// One frame for some devices, and what changed in a room's membership.
struct Delivery: Sendable {
    var devices: [String]
    var type: String
    /// The frame's payload: a JSON object's text.
    var payload: String
    var from: RelaySender?
    /// For `webrtc.*`: delivered only while the sender and the recipient are peers of this
    /// room, checked again by the instance holding the recipient.
    var room: UUID?
    /// A membership change every instance applies to its ``RoomMembership`` first.
    var update: RoomUpdate?
}

/// A room's peers as of `version` (nil when too many for a NOTIFY: cached copies are dropped).
struct RoomUpdate: Sendable {
    var room: UUID
    var version: Int64
    var peers: [RoomPeer]?
}

/// The stamped sender of a relayed frame.
struct RelaySender: Codable, Sendable, Equatable {
    var userId: String
    var deviceId: String

    var json: [String: String] { ["userId": userId, "deviceId": deviceId] }
}

// MARK: Encoding

extension CallsRelay {
    /// `c2` + kind (`D`, `R`, `S`) + fields: strings as `<bytes>:<utf8>`, integers as `<digits>;`,
    /// optionals as a `0`/`1` flag before the value.
    var encoded: String {
        var out = RelayWriter()
        out.raw(Self.tag)
        switch self {
        case .deliver(let delivery):
            out.raw("D")
            out.int(Int64(delivery.devices.count))
            for device in delivery.devices { out.string(device) }
            out.string(delivery.type)
            if let from = delivery.from {
                out.raw("1")
                out.string(from.userId)
                out.string(from.deviceId)
            } else {
                out.raw("0")
            }
            if let room = delivery.room {
                out.raw("1")
                out.string(room.uuidString)
            } else {
                out.raw("0")
            }
            if let update = delivery.update {
                out.raw("1")
                out.string(update.room.uuidString)
                out.int(update.version)
                if let peers = update.peers {
                    out.raw("1")
                    out.int(Int64(peers.count))
                    for peer in peers {
                        out.string(peer.userId.uuidString)
                        out.string(peer.deviceId)
                        out.int(peer.joinedAt)
                    }
                } else {
                    out.raw("0")
                }
            } else {
                out.raw("0")
            }
            out.string(delivery.payload)
        case .replace(let device, let session):
            out.raw("R")
            out.string(device)
            out.string(session.uuidString)
        case .spilled(let id):
            out.raw("S")
            out.string(id.uuidString)
        }
        return out.text
    }

    /// Reads an encoding; nil for anything malformed (never traps).
    static func decode(_ text: String) -> CallsRelay? {
        if text.hasPrefix("{") { return LegacyRelay.decode(text) }
        var reader = RelayReader(text)
        guard reader.raw(tag), let kind = reader.byte() else { return nil }
        switch kind {
        case UInt8(ascii: "D"):
            guard let count = reader.int(), count >= 0, count <= 10_000 else { return nil }
            var devices: [String] = []
            for _ in 0..<count {
                guard let device = reader.string() else { return nil }
                devices.append(device)
            }
            guard let type = reader.string(), let hasFrom = reader.flag() else { return nil }
            var from: RelaySender?
            if hasFrom {
                guard let user = reader.string(), let device = reader.string() else { return nil }
                from = RelaySender(userId: user, deviceId: device)
            }
            guard let hasRoom = reader.flag() else { return nil }
            var room: UUID?
            if hasRoom {
                guard let id = reader.uuid() else { return nil }
                room = id
            }
            guard let hasUpdate = reader.flag() else { return nil }
            var update: RoomUpdate?
            if hasUpdate {
                guard let id = reader.uuid(), let version = reader.int(), let hasPeers = reader.flag() else { return nil }
                var peers: [RoomPeer]?
                if hasPeers {
                    guard let count = reader.int(), count >= 0, count <= 10_000 else { return nil }
                    var list: [RoomPeer] = []
                    for _ in 0..<count {
                        guard let user = reader.uuid(), let device = reader.string(), let joined = reader.int() else { return nil }
                        list.append(RoomPeer(userId: user, deviceId: device, joinedAt: joined))
                    }
                    peers = list
                }
                update = RoomUpdate(room: id, version: version, peers: peers)
            }
            guard let payload = reader.string(), reader.atEnd else { return nil }
            return .deliver(Delivery(devices: devices, type: type, payload: payload, from: from, room: room, update: update))
        case UInt8(ascii: "R"):
            guard let device = reader.string(), let session = reader.uuid(), reader.atEnd else { return nil }
            return .replace(device: device, session: session)
        case UInt8(ascii: "S"):
            guard let id = reader.uuid(), reader.atEnd else { return nil }
            return .spilled(id)
        default:
            return nil
        }
    }

    /// The length of `text` once the bus has put it in a JSON string (NOTIFY's limit applies to that).
    static func escapedLength(_ text: String) -> Int {
        var length = 0
        for byte in text.utf8 {
            switch byte {
            case 0x22, 0x5C: length += 2
            case 0..<0x20: length += 6
            default: length += 1
            }
        }
        return length
    }
}

private struct RelayWriter {
    var text = ""

    init() { text.reserveCapacity(256) }

    mutating func raw(_ value: String) { text.append(value) }

    mutating func int(_ value: Int64) {
        text.append(String(value))
        text.append(";")
    }

    mutating func string(_ value: String) {
        text.append(String(value.utf8.count))
        text.append(":")
        text.append(value)
    }
}

private struct RelayReader {
    let bytes: [UInt8]
    var index = 0

    init(_ text: String) { bytes = Array(text.utf8) }

    var atEnd: Bool { index == bytes.count }

    mutating func byte() -> UInt8? {
        guard index < bytes.count else { return nil }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func raw(_ expected: String) -> Bool {
        for byte in expected.utf8 {
            guard self.byte() == byte else { return false }
        }
        return true
    }

    mutating func flag() -> Bool? {
        switch byte() {
        case UInt8(ascii: "0"): return false
        case UInt8(ascii: "1"): return true
        default: return nil
        }
    }

    /// Decimal digits (optionally `-`) up to the terminator; at most 18 digits, so no overflow.
    private mutating func number(until terminator: UInt8) -> Int64? {
        var negative = false
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        var value: Int64 = 0
        var digits = 0
        while index < bytes.count, bytes[index] != terminator {
            let byte = bytes[index]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), digits < 18 else { return nil }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            digits += 1
            index += 1
        }
        guard digits > 0, index < bytes.count else { return nil }
        index += 1
        return negative ? -value : value
    }

    mutating func int() -> Int64? { number(until: UInt8(ascii: ";")) }

    mutating func string() -> String? {
        guard let length = number(until: UInt8(ascii: ":")), length >= 0, length <= bytes.count - index else { return nil }
        let end = index + Int(length)
        defer { index = end }
        return String(decoding: bytes[index..<end], as: UTF8.self)
    }

    mutating func uuid() -> UUID? { string().flatMap(UUID.init(uuidString:)) }
}

/// The JSON relays of the previous version, read so that instances of both can share a bus
/// during an upgrade.
private enum LegacyRelay: Decodable {
    case deliver(devices: [String], type: String, payload: String, from: RelaySender?)
    case replace(device: String, session: UUID)
    case spilled(UUID)

    static func decode(_ text: String) -> CallsRelay? {
        switch try? JSONDecoder().decode(LegacyRelay.self, from: Data(text.utf8)) {
        case .deliver(let devices, let type, let payload, let from)?:
            return .deliver(Delivery(devices: devices, type: type, payload: payload, from: from))
        case .replace(let device, let session)?: return .replace(device: device, session: session)
        case .spilled(let id)?: return .spilled(id)
        case nil: return nil
        }
    }
}
