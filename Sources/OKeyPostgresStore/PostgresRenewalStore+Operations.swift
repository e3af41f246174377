import Foundation
import Logging
import OKeyDomain
import OKeyStorePort
import PostgresNIO

// The outbox, sessions, the audit trail's verification and head, retention and sizes.
extension PostgresRenewalStore {
  static let outboxColumns =
    "id, renewal_id, kind, recipient_uid, recipient_mail, recipient_name, details, state, attempts, message_id, last_error, created_at"

  static func outboxMessage(_ row: PostgresRow) throws -> OutboxMessage {
    let (id, renewalID, kind, uid, mail, name, details, state, attempts, messageID, lastError, createdAt) =
      try row.decode(
        (Int64, String, String, String?, String?, String?, String, String, Int64, String, String?, Int64).self)
    guard let kind = NotificationIntent.Kind(rawValue: kind), let state = OutboxMessage.State(rawValue: state) else {
      throw StoreError(.tampered, "outbox message \(id) has a kind or state OKEY never writes (changed outside OKEY?)")
    }
    return OutboxMessage(
      id: id, renewalID: renewalID, kind: kind,
      recipient: uid.map { DirectoryPerson(uid: $0, displayName: name ?? "", mail: mail ?? "") }, details: details,
      state: state, attempts: Int(attempts), messageID: messageID, lastError: lastError,
      createdAt: Instant(millisecondsSinceEpoch: createdAt))
  }

  func outbox(_ clause: String, _ values: [any PostgresDynamicTypeEncodable & Sendable]) async throws
    -> [OutboxMessage]
  {
    var binds = PostgresBindings()
    for value in values { binds.append(value) }
    let query = PostgresQuery(unsafeSQL: "SELECT \(Self.outboxColumns) FROM outbox WHERE \(clause)", binds: binds)
    return try await read { conn, logger in
      var messages: [OutboxMessage] = []
      for try await row in try await conn.query(query, logger: logger) { messages.append(try Self.outboxMessage(row)) }
      return messages
    }
  }

  public func outboxMessages(state: OutboxMessage.State, limit: Int, afterID: Int64 = 0) async throws -> [OutboxMessage]
  {
    try await outbox("state = $1 AND id > $2 ORDER BY id LIMIT $3", [state.rawValue, afterID, Int64(max(0, limit))])
  }

  public func outboxMessages(renewalID: String) async throws -> [OutboxMessage] {
    try await outbox("renewal_id = $1 ORDER BY id", [renewalID])
  }

  public func outboxCount(state: OutboxMessage.State) async throws -> Int {
    try await read { conn, logger in
      Int(
        try await conn.query("SELECT COUNT(*)::int8 FROM outbox WHERE state = \(state.rawValue)", logger: logger).first(
          Int64.self) ?? 0)
    }
  }

  /// Claims due messages with `FOR UPDATE SKIP LOCKED`: replicas claiming at the same time take
  /// different messages, and each message is sent once.
  public func claimDueOutboxMessages(now: Instant, limit: Int, reclaimingBefore staleClaim: Instant?) async throws
    -> [OutboxMessage]
  {
    let stale = staleClaim?.millisecondsSinceEpoch ?? Int64.min
    let at = now.millisecondsSinceEpoch
    return try await transaction { conn, logger in
      var binds = PostgresBindings()
      binds.append(at)
      binds.append(stale)
      binds.append(Int64(max(0, limit)))
      let query = PostgresQuery(
        unsafeSQL: """
          UPDATE outbox SET state = 'SENDING', claimed_at = $1
          WHERE id IN (
            SELECT id FROM outbox
            WHERE (state = 'PENDING' AND next_attempt_at <= $1) OR (state = 'SENDING' AND claimed_at < $2)
            ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
          RETURNING \(Self.outboxColumns)
          """, binds: binds)
      var messages: [OutboxMessage] = []
      for try await row in try await conn.query(query, logger: logger) { messages.append(try Self.outboxMessage(row)) }
      return messages.sorted { $0.id < $1.id }
    }
  }

  public func markOutboxMessageSent(id: Int64, at: Instant) async throws {
    try await transaction { conn, logger in
      _ = try await conn.query(
        "UPDATE outbox SET state = 'SENT', sent_at = \(at.millisecondsSinceEpoch), attempts = attempts + 1 WHERE id = \(id)",
        logger: logger)
    }
  }

  public func markOutboxMessageFailed(id: Int64, error: String, retryAt: Instant?) async throws {
    let state = retryAt == nil ? "DEAD" : "PENDING"
    let message = String(error.prefix(1000))
    let next = retryAt?.millisecondsSinceEpoch ?? 0
    try await transaction { conn, logger in
      _ = try await conn.query(
        "UPDATE outbox SET state = \(state), attempts = attempts + 1, last_error = \(message), next_attempt_at = \(next) WHERE id = \(id)",
        logger: logger)
    }
  }

  /// Releases nothing: with several replicas, the messages claimed are another replica's sends in
  /// flight. A claim whose replica died is taken again once stale (`reclaimingBefore`).
  public func releaseOutboxClaims() async throws -> Int { 0 }

  // MARK: Sessions

  public func saveSession(_ session: StoredSession) async throws {
    let groups = session.groups.map(\.rawValue).sorted().joined(separator: ",")
    try await transaction { conn, logger in
      _ = try await conn.query(
        """
        INSERT INTO sessions (token_hash, uid, created_at, expires_at, dn, display_name, mail, groups)
        VALUES (\(session.tokenHash), \(session.uid), \(session.createdAt.millisecondsSinceEpoch),
          \(session.expiresAt.millisecondsSinceEpoch), \(session.dn), \(session.displayName), \(session.mail), \(groups))
        """, logger: logger)
    }
  }

  public func session(tokenHash: String, now: Instant) async throws -> StoredSession? {
    try await read { conn, logger in
      var session: StoredSession?
      for try await row in try await conn.query(
        """
        SELECT token_hash, uid, created_at, expires_at, dn, display_name, mail, groups FROM sessions
        WHERE token_hash = \(tokenHash) AND expires_at > \(now.millisecondsSinceEpoch)
        """, logger: logger)
      {
        let (hash, uid, created, expires, dn, name, mail, groups) = try row.decode(
          (String, String, Int64, Int64, String, String, String, String).self)
        session = StoredSession(
          tokenHash: hash, uid: uid, createdAt: Instant(millisecondsSinceEpoch: created),
          expiresAt: Instant(millisecondsSinceEpoch: expires), dn: dn, displayName: name, mail: mail,
          groups: Set(groups.split(separator: ",").compactMap { Caller.GroupRole(rawValue: String($0)) }))
      }
      return session
    }
  }

  public func deleteSession(tokenHash: String) async throws -> Bool {
    try await transaction { conn, logger in
      try await conn.query("DELETE FROM sessions WHERE token_hash = \(tokenHash) RETURNING 1", logger: logger).all(
        Int32.self
      ).count == 1
    }
  }

  public func deleteExpiredSessions(now: Instant) async throws -> Int {
    try await transaction { conn, logger in
      try await conn.query(
        "DELETE FROM sessions WHERE expires_at <= \(now.millisecondsSinceEpoch) RETURNING 1", logger: logger
      ).all(Int32.self).count
    }
  }

  public func deleteExpiredEnrolmentCodes(now: Instant) async throws -> Int {
    try await transaction { conn, logger in
      try await conn.query(
        "DELETE FROM enrolment_codes WHERE expires_at <= \(now.millisecondsSinceEpoch) RETURNING 1", logger: logger
      ).all(Int32.self).count
    }
  }

  // MARK: Audit trail

  public func verifyAuditTrail(expectedHead: AuditHead?) async throws -> AuditVerification {
    let key = auditKey
    return try await transaction { conn, logger in
      // One snapshot for the whole walk: changes committed meanwhile are not half seen.
      try await conn.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
      return try await Self.verify(key: key, expectedHead: expectedHead, conn, logger)
    }
  }

  /// Walks the chain and every request as the transaction of `conn` sees them.
  static func verify(key: AuditKey?, expectedHead: AuditHead?, _ conn: PostgresConnection, _ logger: Logger)
    async throws -> AuditVerification
  {
    do {
      var boundary: (legacyUntil: Int64, seal: String?)?
      for try await row in try await conn.query(
        "SELECT legacy_until, seal FROM audit_meta WHERE id = 1", logger: logger)
      {
        let (legacyUntil, seal) = try row.decode((Int64, String?).self)
        boundary = (legacyUntil, seal)
      }
      var walk = AuditChainWalk(key: key, boundary: boundary, expectedHead: expectedHead)
      for try await row in try await conn.query(
        PostgresQuery(unsafeSQL: "SELECT \(Self.auditColumns) FROM audit_events ORDER BY sequence"), logger: logger)
      {
        walk.visit(try Self.storedAuditEvent(row))
      }
      var head: (sequence: Int64, hash: String)?
      for try await row in try await conn.query(
        "SELECT last_sequence, last_hash FROM audit_head WHERE id = 1", logger: logger)
      {
        let (sequence, hash) = try row.decode((Int64, String).self)
        head = (sequence, hash)
      }
      let renewals =
        try await conn.query("SELECT COUNT(*)::int8 FROM renewals", logger: logger).first(Int64.self) ?? 0
      walk.finishChain(head: head, renewals: renewals)
      var indexed: [String: [String]] = [:]
      for try await row in try await conn.query("SELECT renewal_id, uid FROM renewal_validators", logger: logger) {
        let (renewalID, uid) = try row.decode((String, String).self)
        indexed[renewalID, default: []].append(uid)
      }
      for try await row in try await conn.query(
        """
        SELECT r.id, r.agent_uid, r.key_type, r.status, r.version, r.n1_uid, r.n2_uid, r.routed, r.state_json,
          e.sequence, e.state_hash
        FROM renewals r
        LEFT JOIN audit_events e ON e.sequence = (SELECT MAX(sequence) FROM audit_events WHERE renewal_id = r.id)
        ORDER BY r.created_at, r.id
        """, logger: logger)
      {
        let (id, agent, keyType, status, version, n1, n2, routed, json, lastSequence, lastStateHash) = try row.decode(
          (String, String, String, String, Int64, String?, String?, Bool, String, Int64?, String?).self)
        walk.visit(
          StoredRenewalState(
            id: id, lastSequence: lastSequence, lastStateHash: lastStateHash, stateJSON: json,
            columnsAgree: { state in
              state.id == id && state.agentUID == agent && state.keyType.rawValue == keyType
                && state.status.rawValue == status && state.version == version && state.routing.n1?.person.uid == n1
                && state.routing.n2?.person.uid == n2 && state.routed == routed
            }, indexedCoValidators: indexed.removeValue(forKey: id) ?? []))
      }
      walk.orphanCoValidators(Array(indexed.keys))
      return walk.verification()
    }
  }

  public func auditHead() async throws -> AuditHead {
    try await read { conn, logger in
      var head = AuditHead(sequence: 0, hash: AuditChainRules.genesis)
      for try await row in try await conn.query(
        "SELECT sequence, hash, at FROM audit_events ORDER BY sequence DESC LIMIT 1", logger: logger)
      {
        let (sequence, hash, at) = try row.decode((Int64, String, Int64).self)
        head = AuditHead(sequence: sequence, hash: hash, at: Instant(millisecondsSinceEpoch: at))
      }
      return head
    }
  }

  public func recordRead(renewalID: String, event: RenewalEvent) async throws {
    let key = auditKey
    try await transaction { conn, logger in
      guard
        let json = try await conn.query(
          "SELECT state_json FROM renewals WHERE id = \(renewalID) FOR UPDATE", logger: logger
        ).first(String.self)
      else {
        throw StoreError(.notFound, "no renewal request \(renewalID)")
      }
      try await Self.requireUntampered(renewalID: renewalID, stateJSON: json, conn, logger)
      try await Self.appendAudit([event], renewalID: renewalID, stateJSON: json, key: key, conn, logger)
    }
  }

  static func requireUntampered(
    renewalID: String, stateJSON: String, _ conn: PostgresConnection, _ logger: Logger
  ) async throws {
    let last = try await conn.query(
      "SELECT state_hash FROM audit_events WHERE renewal_id = \(renewalID) ORDER BY sequence DESC LIMIT 1",
      logger: logger
    ).first(String?.self)
    if let refusal = AuditChainRules.tampering(renewalID: renewalID, stateJSON: stateJSON, lastStateHash: last ?? nil) {
      throw refusal
    }
  }

  // MARK: Retention and sizes

  public func purgeDocuments(endedBefore cutoff: Instant, now: Instant) async throws -> Int {
    let key = auditKey
    let terminal = RenewalStatus.allCases.filter(\.isTerminal).map(\.rawValue)
    return try await transaction { conn, logger in
      let ids = try await conn.query(
        """
        SELECT DISTINCT r.id FROM renewals r JOIN documents d ON d.renewal_id = r.id
        WHERE d.purged_at IS NULL AND r.status = ANY(\(terminal)) AND r.updated_at < \(cutoff.millisecondsSinceEpoch)
        ORDER BY r.id
        """, logger: logger
      ).all(String.self)
      for id in ids {
        guard
          let json = try await conn.query(
            "SELECT state_json FROM renewals WHERE id = \(id) FOR UPDATE", logger: logger
          ).first(String.self)
        else { continue }
        let count =
          try await conn.query(
            "SELECT COUNT(*)::int8 FROM documents WHERE renewal_id = \(id) AND purged_at IS NULL", logger: logger
          ).first(Int64.self) ?? 0
        try await conn.query(
          "UPDATE documents SET content = ''::bytea, purged_at = \(now.millisecondsSinceEpoch) WHERE renewal_id = \(id) AND purged_at IS NULL",
          logger: logger)
        let state = try RenewalJSON.decodeRenewal(json)
        // A tampered request keeps its evidence for the investigation and gets no new signed event.
        if (try? await Self.requireUntampered(renewalID: id, stateJSON: json, conn, logger)) == nil { continue }
        let event = RenewalEvent(
          action: "purge-documents", actor: "okey", onBehalfOf: nil, role: .system, from: state.status,
          to: state.status, details: "retention: content of \(count) document(s) deleted, name, size and SHA-256 kept",
          at: now)
        try await Self.appendAudit([event], renewalID: id, stateJSON: json, key: key, conn, logger)
      }
      return ids.count
    }
  }

  public func sizes() async throws -> StoreSizes {
    try await read { conn, logger in
      var tables: [TableSize] = []
      let names = try await conn.query(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename", logger: logger
      ).all(String.self)
      for name in names {
        let quoted = "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        for try await row in try await conn.query(
          PostgresQuery(
            unsafeSQL: "SELECT COUNT(*)::int8, pg_total_relation_size('\(quoted)')::int8 FROM \(quoted)"),
          logger: logger)
        {
          let (rows, bytes) = try row.decode((Int64, Int64).self)
          tables.append(TableSize(name: name, rows: rows, bytes: bytes))
        }
      }
      let database =
        try await conn.query("SELECT pg_database_size(current_database())::int8", logger: logger).first(Int64.self)
        ?? 0
      return StoreSizes(tables: tables, fileBytes: database, walBytes: 0)
    }
  }
}

// Replicas: jobs one at a time, and the changes each commits.
extension PostgresRenewalStore {
  /// Runs `body` holding the session advisory lock named by `job`, on a connection kept for the
  /// time: nil at once when another replica holds it. The lock goes with the connection if this
  /// process dies.
  public func exclusively<T: Sendable>(_ job: String, _ body: @escaping @Sendable () async throws -> T)
    async throws -> T?
  {
    let logger = self.logger
    do {
      return try await client.withConnection { conn -> T? in
        let taken =
          try await conn.query("SELECT pg_try_advisory_lock(hashtextextended(\(job), 0))", logger: logger).first(
            Bool.self) ?? false
        guard taken else { return nil }
        do {
          let result = try await body()
          try await conn.query("SELECT pg_advisory_unlock(hashtextextended(\(job), 0))", logger: logger).consume()
          return result
        } catch {
          try? await conn.query("SELECT pg_advisory_unlock(hashtextextended(\(job), 0))", logger: logger).consume()
          throw error
        }
      }
    } catch {
      throw Self.storeError(error)
    }
  }

  /// Calls `onChange` with the id of every request committed, through this replica or another, until
  /// the task is cancelled; a lost connection is opened again after a second (`onFailure` is told).
  /// Changes committed while it was lost are not replayed: a watcher gets the next one.
  public func followChanges(
    _ onChange: @escaping @Sendable (String) async -> Void, onFailure: @escaping @Sendable (any Error) -> Void
  ) async {
    let logger = self.logger
    while !Task.isCancelled {
      do {
        try await client.withConnection { conn in
          try await conn.listen(on: Self.changesChannel) { notifications in
            for try await notification in notifications { await onChange(notification.payload) }
          }
        }
      } catch {
        if Task.isCancelled { return }
        logger.debug("change feed lost", metadata: ["cause": "\(String(reflecting: error))"])
        onFailure(Self.storeError(error))
        try? await Task.sleep(for: .seconds(1))
      }
    }
  }
}

// Failed logins shared by the replicas.
extension PostgresRenewalStore {
  public func loginFailures(person: String) async throws -> (count: Int, last: Instant)? {
    try await read { conn, logger in
      var found: (count: Int, last: Instant)?
      for try await row in try await conn.query(
        "SELECT failures, last_at FROM login_failures WHERE person = \(person)", logger: logger)
      {
        let (count, last) = try row.decode((Int64, Int64).self)
        found = (Int(count), Instant(millisecondsSinceEpoch: last))
      }
      return found
    }
  }

  public func recordLogin(person: String, failed: Bool, at now: Instant, window: Int64) async throws {
    let at = now.millisecondsSinceEpoch
    let windowStart = at - window * 1000
    try await transaction { conn, logger in
      if failed {
        _ = try await conn.query(
          """
          INSERT INTO login_failures (person, failures, last_at) VALUES (\(person), 1, \(at))
          ON CONFLICT (person) DO UPDATE SET
            failures = CASE WHEN login_failures.last_at < \(windowStart) THEN 1 ELSE login_failures.failures + 1 END,
            last_at = excluded.last_at
          """, logger: logger)
      } else {
        _ = try await conn.query("DELETE FROM login_failures WHERE person = \(person)", logger: logger)
      }
    }
  }
}
