import Foundation
import GRDB
import OKeyDomain

// Idempotency keys: the result each keeps, checked against its call's fingerprint.
extension SQLiteRenewalStore {
  public func deleteIdempotencyKeys(createdBefore cutoff: Instant) async throws -> Int {
    try await guarded {
      try await pool.write { db in
        try db.run("DELETE FROM idempotency_keys WHERE created_at < ?", [cutoff.millisecondsSinceEpoch])
        return db.changesCount
      }
    }
  }

  public func deleteExpiredEnrolmentCodes(now: Instant) async throws -> Int {
    try await guarded {
      try await pool.write { db in
        try db.run("DELETE FROM enrolment_codes WHERE expires_at <= ?", [now.millisecondsSinceEpoch])
        return db.changesCount
      }
    }
  }

  public func keptRenewal(agentUID: String, operation: String, key: IdempotencyKey) async throws -> RenewalRequest? {
    try await guarded {
      try await pool.read { db in
        try Self.idempotentResult(db, agentUID: agentUID, operation: operation, key: key).map(Self.decodeRenewal)
      }
    }
  }

  public func keptReply(ownerUID: String, operation: String, key: IdempotencyKey) async throws -> String? {
    try await guarded {
      try await pool.read { db in try Self.idempotentResult(db, agentUID: ownerUID, operation: operation, key: key) }
    }
  }

  /// The result kept for `key`, or nil; throws ``StoreError/Code/keyReused`` when the key came with
  /// other arguments.
  static func idempotentResult(_ db: Database, agentUID: String, operation: String, key: IdempotencyKey) throws
    -> String?
  {
    guard
      let row = try IdempotencyRow.fetchOne(
        db,
        sql: "SELECT * FROM idempotency_keys WHERE agent_uid = ? AND operation = ? AND key = ?",
        arguments: [agentUID, operation, key.key])
    else { return nil }
    return try key.keptResult(row.resultJSON, storedFingerprint: row.fingerprint)
  }

  static func rememberResult(
    _ db: Database, agentUID: String, operation: String, key: IdempotencyKey, renewalID: String, result: String,
    at: Instant
  )
    throws
  {
    try IdempotencyRow(
      agentUID: agentUID, operation: operation, key: key.key, renewalID: renewalID, resultJSON: result,
      createdAt: at.millisecondsSinceEpoch, fingerprint: key.fingerprint
    ).insert(db)
  }
}
