import Foundation
import GRDB
import OKeyDomain

// The audit trail's verification and head, retention, sizes, and audited reads.
extension SQLiteRenewalStore {
  public func verifyAuditTrail(expectedHead: AuditHead?) async throws -> AuditVerification {
    let key = auditKey
    return try await guarded {
      try await pool.read { db in try AuditChain.verify(in: db, key: key, expectedHead: expectedHead) }
    }
  }

  public func auditHead() async throws -> AuditHead {
    try await guarded { try await pool.read { db in try AuditChain.head(in: db) } }
  }

  public func purgeDocuments(endedBefore cutoff: Instant, now: Instant) async throws -> Int {
    let key = auditKey
    let purged: [String] = try await guarded {
      try await pool.write { db in
        let ids = try String.fetchAll(
          db,
          sql: """
            SELECT DISTINCT r.id FROM renewals r JOIN documents d ON d.renewal_id = r.id
            WHERE d.purged_at IS NULL AND r.status IN (\(Self.terminalStatusList)) AND r.updated_at < ?
            """,
          arguments: [cutoff.millisecondsSinceEpoch])
        for id in ids {
          let count =
            try db.value(Int.self, "SELECT COUNT(*) FROM documents WHERE renewal_id = ? AND purged_at IS NULL", [id])
            ?? 0
          try db.run(
            "UPDATE documents SET content = X'', purged_at = ? WHERE renewal_id = ? AND purged_at IS NULL",
            [now.millisecondsSinceEpoch, id])
          guard let json = try db.value(String.self, "SELECT state_json FROM renewals WHERE id = ?", [id]),
            let status = try db.value(String.self, "SELECT status FROM renewals WHERE id = ?", [id]).flatMap(
              RenewalStatus.init(rawValue:))
          else { continue }
          // A tampered request keeps its evidence for the investigation and gets no new signed event.
          if (try? AuditChain.requireUntampered(renewalID: id, stateJSON: json, in: db)) == nil { continue }
          let event = RenewalEvent(
            action: "purge-documents", actor: "okey", onBehalfOf: nil, role: .system, from: status, to: status,
            details: "retention: content of \(count) document(s) deleted, name, size and SHA-256 kept", at: now)
          try AuditChain.append([event], renewalID: id, stateJSON: json, key: key, in: db)
        }
        return ids
      }
    }
    for id in purged { views.drop(id) }
    return purged.count
  }

  public func sizes() async throws -> StoreSizes {
    let path = self.path
    let tables: [TableSize] = try await guarded {
      try await pool.read { db in
        let names = try String.fetchAll(
          db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        var bytes: [String: Int64] = [:]
        // dbstat (compiled into Debian's SQLite) gives the pages of each table and its indexes.
        if let rows = try? Row.fetchAll(
          db,
          sql:
            "SELECT m.tbl_name AS name, SUM(s.pgsize) AS bytes FROM dbstat s JOIN sqlite_master m ON m.name = s.name GROUP BY m.tbl_name"
        ) {
          for row in rows { bytes[try row.decode(forColumn: "name")] = try row.decode(forColumn: "bytes") }
        }
        return try names.map { name in
          let count = try db.value(Int64.self, "SELECT COUNT(*) FROM \"\(name)\"") ?? 0
          return TableSize(name: name, rows: count, bytes: bytes[name] ?? 0)
        }
      }
    }
    func fileSize(_ path: String) -> Int64 {
      ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
    }
    return StoreSizes(tables: tables, fileBytes: fileSize(path), walBytes: fileSize(path + "-wal"))
  }

  public func recordRead(renewalID: String, event: RenewalEvent) async throws {
    let key = auditKey
    try await guarded {
      try await pool.write { db in
        guard let json = try db.value(String.self, "SELECT state_json FROM renewals WHERE id = ?", [renewalID]) else {
          throw StoreError(.notFound, "no renewal request \(renewalID)")
        }
        try AuditChain.requireUntampered(renewalID: renewalID, stateJSON: json, in: db)
        try AuditChain.append([event], renewalID: renewalID, stateJSON: json, key: key, in: db)
      }
    }
    // The history shown with the request grew.
    views.drop(renewalID)
  }
}
