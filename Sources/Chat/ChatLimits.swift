import Database

/// Per-user limits on the chat calls a client can repeat (docs/api.md §1.8). Each is a token
/// bucket counted in the database: `burst` at once, refilled evenly over the period.
/// Messages have their own exact sliding-window limit (``MessageRules/perMinute``).
enum ChatLimits {
    static let directConversations = ActionLimit("chat.open_dm", burst: 200, perSeconds: 3600, allowance: "open 200 direct conversations an hour")
    static let groupsCreated = ActionLimit("chat.create_group", burst: 20, perSeconds: 3600, allowance: "create 20 groups an hour")
    /// Costs one token per user listed (at creation or in `add_chat_members`).
    static let membersAdded = ActionLimit("chat.add_members", burst: 500, perSeconds: 3600, allowance: "add 500 members to groups an hour")
    /// Removing members, changing roles and leaving.
    static let membershipChanges = ActionLimit("chat.membership", burst: 200, perSeconds: 3600, allowance: "change group membership 200 times an hour")
    static let mutes = ActionLimit("chat.mute", burst: 200, perSeconds: 3600, allowance: "change mute settings 200 times an hour")
    /// Delivered and read acknowledgements together.
    static let acknowledgements = ActionLimit("chat.ack", burst: 300, perSeconds: 60, allowance: "send 300 receipts a minute")
    static let edits = ActionLimit("chat.edit", burst: 60, perSeconds: 60, allowance: "edit 60 messages a minute")
    static let deletions = ActionLimit("chat.delete", burst: 60, perSeconds: 60, allowance: "delete 60 messages a minute")
    static let reactions = ActionLimit("chat.react", burst: 120, perSeconds: 60, allowance: "react 120 times a minute")
    static let searches = ActionLimit("chat.search", burst: 60, perSeconds: 60, allowance: "search messages 60 times a minute")
    /// Pinning and unpinning together.
    static let pins = ActionLimit("chat.pin", burst: 60, perSeconds: 60, allowance: "pin or unpin 60 times a minute")
    static let hides = ActionLimit("chat.hide", burst: 120, perSeconds: 60, allowance: "hide 120 messages a minute")
    static let reports = ActionLimit("chat.report", burst: 20, perSeconds: 3600, allowance: "report 20 messages an hour")
}
