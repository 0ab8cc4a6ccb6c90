import NIOConcurrencyHelpers
import NIOCore

/// Open HTTP connections per remote TCP address, admitted up to a cap.
///
/// At the cap, the oldest connection of that address that is not in the middle of a request
/// (still sending a request head, or idle between requests) is closed to make room, so a
/// flood of half-open connections cannot lock the address's next real request out; only
/// when every connection of the address is busy is the new one refused.
final class ConnectionRegistry: Sendable {
    /// A connection's place in the registry.
    struct Ticket: Sendable {
        let address: String
        let id: UInt64
    }

    private struct Entry {
        let id: UInt64
        let channel: any Channel
        var evictable: Bool
    }

    private struct State {
        var lastID: UInt64 = 0
        var connections: [String: [Entry]] = [:]
    }

    let limit: Int
    private let state = NIOLockedValueBox(State())

    init(limit: Int) {
        self.limit = limit
    }

    /// Registers a new connection; nil when the address is at its cap with every connection busy.
    func admit(address: String, channel: any Channel) -> Ticket? {
        let limit = limit
        let (ticket, evicted): (Ticket?, (any Channel)?) = state.withLockedValue { state in
            var entries = state.connections[address, default: []]
            var evicted: (any Channel)?
            if entries.count >= limit {
                guard let index = entries.firstIndex(where: { $0.evictable }) else { return (nil, nil) }
                evicted = entries.remove(at: index).channel
            }
            state.lastID &+= 1
            entries.append(Entry(id: state.lastID, channel: channel, evictable: true))
            state.connections[address] = entries
            return (Ticket(address: address, id: state.lastID), evicted)
        }
        if let evicted {
            ConnectionGuardHandler.count("evicted")
            evicted.close(promise: nil)
        }
        return ticket
    }

    /// Marks whether the connection may be closed to make room (true between requests).
    func setEvictable(_ evictable: Bool, _ ticket: Ticket) {
        state.withLockedValue { state in
            guard let index = state.connections[ticket.address]?.firstIndex(where: { $0.id == ticket.id }) else { return }
            state.connections[ticket.address]?[index].evictable = evictable
        }
    }

    /// Forgets a closed connection.
    func remove(_ ticket: Ticket) {
        state.withLockedValue { state in
            guard var entries = state.connections[ticket.address] else { return }
            entries.removeAll { $0.id == ticket.id }
            state.connections[ticket.address] = entries.isEmpty ? nil : entries
        }
    }

    /// Open connections of an address (for tests).
    func count(_ address: String) -> Int {
        state.withLockedValue { $0.connections[address]?.count ?? 0 }
    }
}
