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
