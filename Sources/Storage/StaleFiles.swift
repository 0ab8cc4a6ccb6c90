import Foundation

/// Removes what crashed writes left in a scratch directory (`incoming/`, `processing/`).
///
/// Only files untouched for `age` go, so a second instance sharing the directory keeps the
/// files it is writing right now.
public enum StaleFiles {
    /// Deletes the regular files directly in `directory` last modified more than `age` ago; returns how many.
    @discardableResult
    public static func remove(in directory: String, olderThan age: TimeInterval = 3600) -> Int {
        let manager = FileManager.default
        guard let names = try? manager.contentsOfDirectory(atPath: directory) else { return 0 }
        let cutoff = Date().addingTimeInterval(-age)
        var removed = 0
        for name in names {
            let path = (directory as NSString).appendingPathComponent(name)
            guard let attributes = try? manager.attributesOfItem(atPath: path),
                attributes[.type] as? FileAttributeType == .typeRegular,
                let modified = attributes[.modificationDate] as? Date, modified < cutoff
            else { continue }
            if (try? manager.removeItem(atPath: path)) != nil { removed += 1 }
        }
        return removed
    }
}
