import Foundation
import GRDB
import OKeyDomain

// The key inventory.
extension SQLiteRenewalStore {
  public func keys(agentUID: String) async throws -> [KeyRecord] {
    try await guarded {
      try await pool.read { db in try Self.loadKeys(db, agentUID: agentUID).sorted { $0.activatedAt > $1.activatedAt } }
    }
  }

  public func importKeys(_ keys: [KeyRecord]) async throws {
    try await guarded { try await pool.write { db in for key in keys { try Self.saveKey(db, key) } } }
  }

  public func recordExistingKeys(_ keys: [KeyRecord]) async throws -> [ExistingKeyOutcome] {
    try await guarded {
      try await pool.write { db in
        try keys.map { key -> ExistingKeyOutcome in
          if let known = try KeyRow.fetchOne(db, sql: "SELECT * FROM keys WHERE serial = ?", arguments: [key.serial])?
            .key
          {
            guard known.agentUID == key.agentUID else { return .refused("the serial is recorded for another person") }
            guard known.keyType == key.keyType else {
              return .refused("the serial is recorded as a \(known.keyType.rawValue) key")
            }
            return .unchanged
          }
          try Self.saveKey(db, key)
          return .recorded
        }
      }
    }
  }

  static func loadKeys(_ db: Database, agentUID: String) throws -> [KeyRecord] {
    try KeyRow.fetchAll(db, sql: "SELECT * FROM keys WHERE agent_uid = ?", arguments: [agentUID]).map(\.key)
  }

  static func saveKey(_ db: Database, _ key: KeyRecord) throws {
    try db.run(
      """
      INSERT INTO keys (serial, agent_uid, key_type, status, activated_at, replaced_at, renewal_id) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT(serial) DO UPDATE SET status = excluded.status, replaced_at = excluded.replaced_at
      """,
      [
        key.serial, key.agentUID, key.keyType.rawValue, key.status.rawValue, key.activatedAt.millisecondsSinceEpoch,
        key.replacedAt?.millisecondsSinceEpoch, key.renewalID,
      ]
    )
  }
}
