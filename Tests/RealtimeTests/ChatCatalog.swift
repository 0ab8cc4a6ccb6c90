import Chat
@testable import Realtime

extension ChangeCatalog {
    /// The tables the chat module publishes: what these tests bind to.
    static let chatTables = ChatChangeFeed.tables
    static let chat = ChangeCatalog(chatTables)
}
