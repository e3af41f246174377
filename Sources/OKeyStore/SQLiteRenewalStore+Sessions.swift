import Foundation
import GRDB
import OKeyDomain

// Login sessions, stored by token hash.
extension SQLiteRenewalStore {

  public func saveSession(_ session: StoredSession) async throws {
    try await guarded {
      try await pool.write { db in
        try db.run(
          "INSERT INTO sessions (token_hash, uid, created_at, expires_at, dn, display_name, mail, groups) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
          [
            session.tokenHash, session.uid, session.createdAt.millisecondsSinceEpoch,
            session.expiresAt.millisecondsSinceEpoch,
            session.dn, session.displayName, session.mail,
            session.groups.map(\.rawValue).sorted().joined(separator: ","),
          ]
        )
      }
    }
  }

  public func session(tokenHash: String, now: Instant) async throws -> StoredSession? {
    try await guarded {
      try await pool.read { db in
        try db.row(
          "SELECT * FROM sessions WHERE token_hash = ? AND expires_at > ?",
          [tokenHash, now.millisecondsSinceEpoch]
        ).map { row in
          StoredSession(
            tokenHash: row["token_hash"], uid: row["uid"],
            createdAt: Instant(millisecondsSinceEpoch: row["created_at"]),
            expiresAt: Instant(millisecondsSinceEpoch: row["expires_at"]), dn: row["dn"],
            displayName: row["display_name"],
            mail: row["mail"],
            groups: Set(
              (row["groups"] as String).split(separator: ",").compactMap { Caller.GroupRole(rawValue: String($0)) }))
        }
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
