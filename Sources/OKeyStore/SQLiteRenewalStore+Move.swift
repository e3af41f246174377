import Foundation
import GRDB
import OKeyDomain

// The rows of the store, read page by page to move it to another engine (`okeyd migrate-store`).
extension SQLiteRenewalStore {
  /// Up to `limit` rows of `table` from `offset`, in rowid order (one of ``StoreMove/tables``).
  public func rowPage(of table: String, offset: Int, limit: Int) async throws -> StoreRowPage {
    guard StoreMove.tables.contains(table) else { throw StoreError(.notFound, "no table \(table) to move") }
    return try await guarded {
      try await pool.read { db in
        let columns = try db.columns(in: table).map(\.name)
        let rows = try Row.fetchAll(
          db, sql: "SELECT * FROM \"\(table)\" ORDER BY rowid LIMIT ? OFFSET ?", arguments: [limit, offset])
        return StoreRowPage(
          columns: columns,
          rows: rows.map { row in
            columns.map { column in
              switch row[column] as DatabaseValue? {
              case .none: return .null
              case .some(let value):
                switch value.storage {
                case .null: return .null
                case .int64(let number): return .integer(number)
                case .double(let number): return .real(number)
                case .string(let text): return .text(text)
                case .blob(let data): return .blob([UInt8](data))
                }
              }
            }
          })
      }
    }
  }

  /// How many rows each moved table holds.
  public func rowCounts() async throws -> [String: Int64] {
    try await guarded {
      try await pool.read { db in
        var counts: [String: Int64] = [:]
        for table in StoreMove.tables {
          counts[table] = try db.value(Int64.self, "SELECT COUNT(*) FROM \"\(table)\"") ?? 0
        }
        return counts
      }
    }
  }
}
