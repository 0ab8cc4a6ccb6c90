import Database

/// Per-user limits on changing saved OSAGO calculations (docs/api.md §1.8), counted in the
/// database like the chat and social limits. The number kept is capped separately
/// (``OsagoService/maximumSavedCalculations``).
enum OsagoLimits {
    static let saves = ActionLimit("osago.save", burst: 300, perSeconds: 3600, allowance: "save 300 calculations an hour")
    static let deletions = ActionLimit("osago.delete", burst: 500, perSeconds: 3600, allowance: "delete 500 calculations an hour")
}
