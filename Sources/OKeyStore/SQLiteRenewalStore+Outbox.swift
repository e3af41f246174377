import Foundation
import GRDB
import OKeyDomain

// The notification outbox: claims, deliveries, retries, dead letters.
extension SQLiteRenewalStore {
  public func outboxMessages(state: OutboxMessage.State, limit: Int, afterID: Int64 = 0) async throws -> [OutboxMessage]
  {
    try await guarded {
      try await pool.read { db in
        try OutboxRow.fetchAll(
          db, sql: "SELECT * FROM outbox WHERE state = ? AND id > ? ORDER BY id LIMIT ?",
          arguments: [state.rawValue, afterID, limit]
        )
        .map(\.message)
      }
    }
  }

  public func outboxMessages(renewalID: String) async throws -> [OutboxMessage] {
    try await guarded {
      try await pool.read { db in
        try OutboxRow.fetchAll(
          db, sql: "SELECT * FROM outbox WHERE renewal_id = ? ORDER BY id", arguments: [renewalID]
        ).map(\.message)
      }
    }
  }

  public func outboxCount(state: OutboxMessage.State) async throws -> Int {
    try await guarded {
      try await pool.read { db in
        try db.value(Int.self, "SELECT COUNT(*) FROM outbox WHERE state = ?", [state.rawValue]) ?? 0
      }
    }
  }

  public func claimDueOutboxMessages(now: Instant, limit: Int, reclaimingBefore staleClaim: Instant?) async throws
    -> [OutboxMessage]
  {
    try await guarded {
      try await pool.write { db in
        // Due pending messages, and messages claimed long ago whose attempt never ended (its
        // result could not be recorded): they are tried again.
        let rows = try OutboxRow.fetchAll(
          db,
          sql: """
            SELECT * FROM outbox
            WHERE (state = 'PENDING' AND next_attempt_at <= ?) OR (state = 'SENDING' AND claimed_at < ?)
            ORDER BY id LIMIT ?
            """,
          arguments: [now.millisecondsSinceEpoch, staleClaim?.millisecondsSinceEpoch ?? Int64.min, limit])
        var claimed: [OutboxMessage] = []
        for row in rows {
          var message = row.message
          try db.run(
            "UPDATE outbox SET state = 'SENDING', claimed_at = ? WHERE id = ?",
            [now.millisecondsSinceEpoch, message.id])
          message.state = .sending
          claimed.append(message)
        }
        return claimed
      }
    }
  }

  public func markOutboxMessageSent(id: Int64, at: Instant) async throws {
    try await guarded {
      try await pool.write { db in
        try db.run(
          "UPDATE outbox SET state = 'SENT', sent_at = ?, attempts = attempts + 1 WHERE id = ?",
          [at.millisecondsSinceEpoch, id])
      }
    }
  }

  public func markOutboxMessageFailed(id: Int64, error: String, retryAt: Instant?) async throws {
    try await guarded {
      try await pool.write { db in
        try db.run(
          "UPDATE outbox SET state = ?, attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?",
          [retryAt == nil ? "DEAD" : "PENDING", String(error.prefix(1000)), retryAt?.millisecondsSinceEpoch ?? 0, id])
      }
    }
  }

  public func releaseOutboxClaims() async throws -> Int {
    try await guarded {
      try await pool.write { db in
        try db.run("UPDATE outbox SET state = 'PENDING', claimed_at = NULL WHERE state = 'SENDING'")
        return db.changesCount
      }
    }
  }
}
