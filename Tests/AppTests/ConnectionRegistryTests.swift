@testable import App
import NIOCore
import NIOEmbedded
import Testing

/// The per-address connection cap: room is made by closing an idle connection, and only an
/// address whose connections are all busy is refused.
@Suite struct ConnectionRegistryTests {
    @Test func atTheCapTheOldestIdleConnectionMakesRoom() throws {
        let registry = ConnectionRegistry(limit: 2)
        let first = EmbeddedChannel()
        let second = EmbeddedChannel()
        let third = EmbeddedChannel()
        try first.connect(to: .init(ipAddress: "127.0.0.1", port: 1)).wait()
        let firstTicket = try #require(registry.admit(address: "10.0.0.1", channel: first))
        _ = try #require(registry.admit(address: "10.0.0.1", channel: second))
        _ = try #require(registry.admit(address: "10.0.0.1", channel: third))
        #expect(registry.count("10.0.0.1") == 2)
        #expect(!first.isActive)
        registry.remove(firstTicket)
        #expect(registry.count("10.0.0.1") == 2)
    }

    @Test func whenEveryConnectionIsBusyTheNewOneIsRefused() throws {
        let registry = ConnectionRegistry(limit: 2)
        let busy = try (0..<2).map { _ in try #require(registry.admit(address: "10.0.0.2", channel: EmbeddedChannel())) }
        for ticket in busy { registry.setEvictable(false, ticket) }
        #expect(registry.admit(address: "10.0.0.2", channel: EmbeddedChannel()) == nil)
        // Other addresses are not affected.
        #expect(registry.admit(address: "10.0.0.3", channel: EmbeddedChannel()) != nil)
        registry.remove(busy[0])
        #expect(registry.admit(address: "10.0.0.2", channel: EmbeddedChannel()) != nil)
    }
}
