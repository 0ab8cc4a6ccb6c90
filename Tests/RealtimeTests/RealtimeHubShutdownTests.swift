import Foundation
import Logging
@testable import Realtime
import Testing

/// The hub at shutdown: every socket is closed, those still connecting too.
@Suite struct RealtimeHubShutdownTests {
    let hub = RealtimeHub(catalogs: ChangeCatalogs(feed: ChangeCatalog.chatTables), logger: Logger(label: "test"))

    @Test func aSocketConnectingAfterFinishAllIsFinishedToo() async {
        let before = SocketOutbox(capacity: 100)
        await hub.connect(UUID(), version: .v1, outbox: before, budget: OutboxBudget(limit: 1 << 20))
        #expect(!before.isEnding)
        await hub.finishAll()
        #expect(before.isEnding)
        let after = SocketOutbox(capacity: 100)
        await hub.connect(UUID(), version: .v1, outbox: after, budget: OutboxBudget(limit: 1 << 20))
        #expect(after.isEnding)
    }
}
