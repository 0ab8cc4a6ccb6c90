import Core
import Foundation
@testable import Tables

// MARK: table-query

extension FuzzTarget {
    /// Each line as a `/rest/v1/<table>` request: the query string (`TableQueryParser`), a
    /// `Prefer` header, a `Range` header (`RowWindow`) and an `Accept` header (`TableMedia`).
    /// Traps unless an accepted query stays within the limits (limit and offset not negative,
    /// at most the maximum filters and list items) and a resolved window asks for at most the
    /// maximum rows from a non-negative offset.
    static func tableQuery(_ text: String) {
        let limits = TableLimits()
        let parser = TableQueryParser(limits: limits)
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).prefix(16) {
            let raw = String(line)
            if let query = try? parser.parse(rawQuery: raw) {
                guard (query.limit ?? 0) >= 0, (query.offset ?? 0) >= 0 else { fatalError("table-query: negative window in \(raw)") }
                let leaves = query.filters.reduce(0) { $0 + Self.leaves($1) }
                guard leaves <= limits.maximumFilters else { fatalError("table-query: \(leaves) filters in \(raw)") }
                for tree in query.filters {
                    Self.checkLists(tree, limits: limits, raw: raw)
                }
                if let window = try? RowWindow.resolve(
                    limitParameter: query.limit, offsetParameter: query.offset, rangeHeader: raw, maximumRows: limits.maximumRows) {
                    guard window.offset >= 0, (0...limits.maximumRows).contains(window.limit) else {
                        fatalError("table-query: window \(window) from \(raw)")
                    }
                }
            }
            _ = try? Prefer(headerValues: [raw])
            _ = try? TableMedia.negotiate(raw)
            _ = RowWindow.parseRange(raw)
            _ = TablesController.plannedRows(raw)
        }
    }

    private static func leaves(_ tree: FilterTree) -> Int {
        switch tree {
        case .leaf: 1
        case .and(let children, _), .or(let children, _): children.reduce(0) { $0 + leaves($1) }
        }
    }

    private static func checkLists(_ tree: FilterTree, limits: TableLimits, raw: String) {
        switch tree {
        case .leaf(let filter):
            if case .list(let items) = filter.value, items.count > limits.maximumListItems {
                fatalError("table-query: \(items.count) list items in \(raw)")
            }
        case .and(let children, _), .or(let children, _):
            for child in children { checkLists(child, limits: limits, raw: raw) }
        }
    }
}
