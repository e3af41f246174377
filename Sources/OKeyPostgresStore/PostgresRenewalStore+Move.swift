import Foundation
import Logging
import OKeyDomain
import OKeyStorePort
import PostgresNIO

// Moving a store into PostgreSQL (`okeyd migrate-store`).
extension PostgresRenewalStore {
  /// What a move copied and found.
  public struct MoveReport: Sendable {
    /// Rows copied, by table.
    public var copied: [String: Int64]
    /// The audit chain as verified on arrival, before the commit.
    public var verification: AuditVerification
  }

  /// Copies a store into this one, which must be empty, in one transaction: `page` gives each table
  /// of ``StoreMove/tables`` a page at a time (offset, limit). The audit chain is verified on arrival,
  /// with this store's key and against `expectedHead` (the source's head), before the commit: a copy
  /// that does not verify is not kept. A store already holding requests, events, charters or keys is
  /// refused (``StoreError/Code/conflict``): a second run never duplicates anything.
  public func importStore(
    expectedHead: AuditHead,
    page: @escaping @Sendable (_ table: String, _ offset: Int, _ limit: Int) async throws -> StoreRowPage
  ) async throws -> MoveReport {
    let key = auditKey
    return try await transaction(within: .seconds(6 * 3600)) { conn, logger in
      try await Self.lock("okey-migrate-store", conn, logger)
      let held =
        try await conn.query(
          """
          SELECT (SELECT COUNT(*) FROM renewals) + (SELECT COUNT(*) FROM audit_events)
            + (SELECT COUNT(*) FROM charters) + (SELECT COUNT(*) FROM keys)
          """, logger: logger
        ).first(Int64.self) ?? 0
      guard held == 0 else {
        throw StoreError(
          .conflict,
          "the PostgreSQL database already holds \(held) requests, audit events, charters or keys: a store is moved once, into an empty database; nothing was copied"
        )
      }
      var types: [String: [String: String]] = [:]
      for try await row in try await conn.query(
        "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns WHERE table_schema = current_schema()",
        logger: logger)
      {
        let (table, column, type) = try row.decode((String, String, String).self)
        types[table, default: [:]][column] = type
      }
      var copied: [String: Int64] = [:]
      for table in StoreMove.tables {
        guard let target = types[table] else {
          throw StoreError(.conflict, "the PostgreSQL schema has no table \(table)")
        }
        var offset = 0
        while true {
          let batch = try await page(table, offset, 500)
          for row in batch.rows {
            try await Self.insert(row, columns: batch.columns, into: table, types: target, conn, logger)
          }
          offset += batch.rows.count
          copied[table, default: 0] += Int64(batch.rows.count)
          if batch.rows.count < 500 { break }
        }
      }
      // The serial columns go on after the rows copied.
      for (table, column) in [("routing_snapshots", "id"), ("approvals", "id"), ("charters", "seq"), ("outbox", "id")] {
        try await conn.query(
          PostgresQuery(
            unsafeSQL:
              "SELECT setval(pg_get_serial_sequence('\(table)', '\(column)'), COALESCE((SELECT MAX(\(column)) FROM \(table)), 0) + 1, false)"
          ), logger: logger
        ).consume()
      }
      let verification = try await Self.verify(key: key, expectedHead: expectedHead, conn, logger)
      guard verification.intact else {
        throw StoreError(
          .tampered,
          "the audit chain does not verify on arrival (\(verification.problems.count) problem(s), the first: \(verification.problems.first?.message ?? "")): nothing was kept"
        )
      }
      return MoveReport(copied: copied, verification: verification)
    }
  }

  /// Inserts one row, each value converted to its target column's type; the chain's head and
  /// boundary rows replace the ones the schema made.
  static func insert(
    _ row: [StoreValue], columns: [String], into table: String, types: [String: String], _ conn: PostgresConnection,
    _ logger: Logger
  ) async throws {
    var names: [String] = []
    var binds = PostgresBindings()
    for (column, value) in zip(columns, row) {
      guard let type = types[column] else {
        throw StoreError(.conflict, "this okeyd's PostgreSQL schema has no column \(table).\(column)")
      }
      names.append(column)
      try bind(value, as: type, to: &binds, at: "\(table).\(column)")
    }
    if table == "renewals", let index = columns.firstIndex(of: "status"), case .text(let status) = row[index] {
      names.append("is_open")
      binds.append(!(RenewalStatus(rawValue: status)?.isTerminal ?? false))
    }
    let placeholders = (0..<binds.count).map { "$\($0 + 1)" }.joined(separator: ", ")
    var sql = "INSERT INTO \(table) (\(names.joined(separator: ", "))) VALUES (\(placeholders))"
    if ["audit_head", "audit_meta"].contains(table) {
      sql +=
        " ON CONFLICT (id) DO UPDATE SET "
        + names.filter { $0 != "id" }.map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
    }
    try await conn.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
  }

  static func bind(_ value: StoreValue, as type: String, to binds: inout PostgresBindings, at column: String) throws {
    func refuse() -> StoreError {
      StoreError(.conflict, "\(column) holds \(value), which is not a \(type): fix it in the source before moving")
    }
    switch (value, type) {
    case (.null, _): binds.appendNull()
    case (.integer(let number), "bigint"), (.integer(let number), "integer"): binds.append(number)
    case (.integer(let number), "boolean"): binds.append(number != 0)
    case (.integer(let number), "text"): binds.append(String(number))
    case (.real(let number), "text"): binds.append(String(number))
    case (.text(let text), "text"): binds.append(text)
    case (.text(let text), "bigint"), (.text(let text), "integer"):
      guard let number = Int64(text) else { throw refuse() }
      binds.append(number)
    case (.blob(let bytes), "bytea"): binds.append(ByteBuffer(bytes: bytes))
    case (.text(let text), "bytea"): binds.append(ByteBuffer(string: text))
    case (.blob(let bytes), "text"):
      guard let text = String(validating: bytes, as: UTF8.self) else { throw refuse() }
      binds.append(text)
    default: throw refuse()
    }
  }
}
