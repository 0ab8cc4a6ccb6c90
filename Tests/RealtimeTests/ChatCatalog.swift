import Chat
@testable import Realtime

extension ChangeCatalog {
    /// The tables the chat module publishes: what these tests bind to.
    static let chat = ChangeCatalog(ChatChangeFeed.tables)
}
