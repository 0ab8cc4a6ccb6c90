import Core
import Database
import Foundation
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// This instance's copy of `admin.kill_switches`, read again every ``interval`` (half a second),
/// so a switch flipped on any instance is honoured everywhere within a second. Until its first
/// read (at start) no switch counts as engaged.
public final class KillSwitchBoard: KillSwitches, Service {
    let database: Database
    let logger: Logger
    let interval: Duration
    private let engaged = NIOLockedValueBox<Set<KillSwitch>>([])

    public init(database: Database, logger: Logger, interval: Duration = .milliseconds(500)) {
        self.database = database
        self.logger = logger
        self.interval = interval
    }

    public func isEngaged(_ killSwitch: KillSwitch) -> Bool {
        engaged.withLockedValue { $0.contains(killSwitch) }
    }

    /// Reads the table now.
    public func refresh() async throws {
        let current = try await database.withStatement { connection in
            var names = Set<KillSwitch>()
            for try await name in try await connection.rows("SELECT name FROM admin.kill_switches WHERE engaged", []).decode(String.self) {
                if let killSwitch = KillSwitch(rawValue: name) { names.insert(killSwitch) }
            }
            return names
        }
        let previous = engaged.withLockedValue { state in
            defer { state = current }
            return state
        }
        if previous != current {
            logger.notice("kill switches", metadata: ["engaged": "\(current.map(\.rawValue).sorted().joined(separator: ","))"])
        }
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var failing = false
            while !Task.isCancelled {
                do {
                    try await self.refresh()
                    failing = false
                } catch {
                    // Keep the last state known; say so once per outage.
                    if !failing { self.logger.warning("kill switches not read", metadata: ["error": "\(error)"]) }
                    failing = true
                }
                try? await Task.sleep(for: self.interval)
            }
        }
    }
}
