import Foundation

/// Waits for an operation that may never finish, but no longer than a deadline.
enum FirstOf {
    /// True when `operation` finished within `timeout`, false when the deadline came first.
    /// The operation is not cancelled (the caller cancels what it can); after a timeout it is
    /// left running detached.
    static func race(_ operation: @autoclosure @escaping @Sendable () async -> Void, orAfter timeout: Duration) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let once = ResumeOnce(continuation)
            Task {
                await operation()
                once.resume(returning: true)
            }
            Task {
                try? await Task.sleep(for: timeout)
                once.resume(returning: false)
            }
        }
    }
}

/// Resumes a continuation with the first value offered; later offers are ignored.
private final class ResumeOnce: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Bool, Never>?

    init(_ continuation: CheckedContinuation<Bool, Never>) {
        self.continuation = continuation
    }

    func resume(returning value: Bool) {
        let pending = lock.withLock { () -> CheckedContinuation<Bool, Never>? in
            defer { continuation = nil }
            return continuation
        }
        pending?.resume(returning: value)
    }
}
