import Foundation
import GRDB
import OKeyDomain

// Login sessions, stored by token hash.
extension SQLiteRenewalStore {

  public func saveSession(_ session: StoredSession) async throws {
    try await guarded {
      try await pool.write { db in
        try SessionRow(session).insert(db)
      }
    }
  }

  public func session(tokenHash: String, now: Instant) async throws -> StoredSession? {
    try await guarded {
      try await pool.read { db in
        try SessionRow.fetchOne(
          db, sql: "SELECT * FROM sessions WHERE token_hash = ? AND expires_at > ?",
          arguments: [tokenHash, now.millisecondsSinceEpoch]
        )?.session
      }
    }
  }

  public func deleteSession(tokenHash: String) async throws -> Bool {
    try await guarded {
      try await pool.write { db in
        try db.run("DELETE FROM sessions WHERE token_hash = ?", [tokenHash])
        return db.changesCount == 1
      }
    }
  }

  public func deleteExpiredSessions(now: Instant) async throws -> Int {
    try await guarded {
      try await pool.write { db in
        try db.run("DELETE FROM sessions WHERE expires_at <= ?", [now.millisecondsSinceEpoch])
        return db.changesCount
      }
    }
  }
}
