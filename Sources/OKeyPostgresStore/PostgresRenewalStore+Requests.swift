import Foundation
import Logging
import OKeyDomain
import OKeyStorePort
import PostgresNIO

// Requests: start, change (state, audit events, outbox rows and effects in one transaction), reads.
extension PostgresRenewalStore {
  public func start(
    agentUID: String,
    scope: String,
    idempotencyKey: IdempotencyKey?,
    decide: @escaping @Sendable (String?) throws -> Result<RenewalDecision, RenewalRefusal>
  ) async throws -> RenewalRequest {
    let auditKey = self.auditKey
    return try await transaction { conn, logger in
      // An agent's starts (and their idempotency keys) go one at a time across replicas.
      try await Self.lock(agentUID, conn, logger)
      if let idempotencyKey,
        let prior = try await Self.idempotentResult(
          conn, logger, agentUID: agentUID, operation: scope, key: idempotencyKey)
      {
        return try RenewalJSON.decodeRenewal(prior)
      }
      let open = try await conn.query(
        "SELECT id FROM renewals WHERE agent_uid = \(agentUID) AND is_open", logger: logger
      ).first(String.self)
      let decision = try decide(open).get()
      let renewal = decision.renewal
      let json = try RenewalJSON.encode(renewal)
      try await conn.query(
        """
        INSERT INTO renewals (id, agent_uid, key_type, status, version, n1_uid, n2_uid, routed, is_open, created_at, updated_at, state_json)
        VALUES (\(renewal.id), \(renewal.agentUID), \(renewal.keyType.rawValue), \(renewal.status.rawValue), \(renewal.version),
          \(renewal.routing.n1?.person.uid), \(renewal.routing.n2?.person.uid), \(renewal.routed), \(!renewal.status.isTerminal),
          \(renewal.createdAt.millisecondsSinceEpoch), \(renewal.updatedAt.millisecondsSinceEpoch), \(json))
        """, logger: logger)
      try await Self.indexCoValidators(of: renewal, conn, logger)
      try await Self.record(decision, stateJSON: json, key: auditKey, conn, logger)
      if let idempotencyKey {
        try await Self.rememberResult(
          conn, logger, agentUID: agentUID, operation: scope, key: idempotencyKey, renewalID: renewal.id, result: json,
          at: renewal.updatedAt)
      }
      return renewal
    }
  }

  public func change(
    renewalID: String,
    operation: String,
    idempotencyKey: IdempotencyKey?,
    decide: @escaping @Sendable (RenewalRequest, any ChangeReader) throws -> Result<RenewalDecision, RenewalRefusal>
  ) async throws -> RenewalRequest {
    let auditKey = self.auditKey
    return try await transaction { conn, logger in
      // The row stays locked until the commit: changes of one request go one after the other,
      // whichever replica they came through.
      guard
        let row = try await conn.query(
          "SELECT state_json FROM renewals WHERE id = \(renewalID) FOR UPDATE", logger: logger
        ).first(String.self)
      else {
        throw StoreError(.notFound, "no renewal request \(renewalID)")
      }
      let current = try RenewalJSON.decodeRenewal(row)
      if let idempotencyKey,
        let prior = try await Self.idempotentResult(
          conn, logger, agentUID: current.agentUID, operation: operation, key: idempotencyKey)
      {
        let renewal = try RenewalJSON.decodeRenewal(prior)
        guard renewal.id == renewalID else {
          throw StoreError(
            .keyReused, "idempotency key already used for request \(renewal.id): use a new key for each change")
        }
        return renewal
      }
      // The row must be what the trail last recorded: a state edited outside okeyd is refused.
      try await Self.requireUntampered(renewalID: renewalID, stateJSON: row, conn, logger)
      let decision = try await Self.decideWithReads(current, decide, conn, logger)
      let renewal = decision.renewal
      guard renewal.version == current.version + 1, renewal.id == current.id else {
        throw StoreError(
          .conflict, "a change of request \(renewalID) did not make its next version; nothing was written")
      }
      let json = try RenewalJSON.encode(renewal)
      let updated = try await conn.query(
        """
        UPDATE renewals SET status = \(renewal.status.rawValue), version = \(renewal.version),
          n1_uid = \(renewal.routing.n1?.person.uid), n2_uid = \(renewal.routing.n2?.person.uid),
          routed = \(renewal.routed), is_open = \(!renewal.status.isTerminal),
          updated_at = \(renewal.updatedAt.millisecondsSinceEpoch), state_json = \(json)
        WHERE id = \(renewal.id) AND version = \(current.version) RETURNING id
        """, logger: logger
      ).all(String.self)
      guard updated.count == 1 else {
        throw StoreError(.staleVersion, "request \(renewalID) changed meanwhile: reload it and try again")
      }
      if renewal.routing.coValidatorUIDs != current.routing.coValidatorUIDs {
        try await Self.indexCoValidators(of: renewal, conn, logger)
      }
      try await Self.record(decision, stateJSON: json, key: auditKey, conn, logger)
      if let idempotencyKey {
        try await Self.rememberResult(
          conn, logger, agentUID: current.agentUID, operation: operation, key: idempotencyKey, renewalID: renewal.id,
          result: json, at: renewal.updatedAt)
      }
      return renewal
    }
  }

  /// Runs `decide` against what it reads, fetched in this transaction: the reads it usually needs
  /// first, then whatever else it asked for (the decision is pure, so it is taken again with them).
  static func decideWithReads(
    _ current: RenewalRequest,
    _ decide: @Sendable (RenewalRequest, any ChangeReader) throws -> Result<RenewalDecision, RenewalRefusal>,
    _ conn: PostgresConnection, _ logger: Logger
  ) async throws -> RenewalDecision {
    let reader = PrefetchedReader()
    try await reader.load(.charter, conn, logger)
    try await reader.load(.keys(current.agentUID), conn, logger)
    try await reader.load(.enrolmentCode(current.id), conn, logger)
    if let place = current.pickupPlaceID { try await reader.load(.place(place), conn, logger) }
    for _ in 0..<8 {
      let outcome = Result { try decide(current, reader) }
      let missing = reader.takeMisses()
      if missing.isEmpty { return try outcome.get().get() }
      for read in missing { try await reader.load(read, conn, logger) }
    }
    throw StoreError(.unavailable, "a change of request \(current.id) kept asking for more reads; nothing was written")
  }

  /// Takes the transaction-scoped advisory lock named by `name`.
  static func lock(_ name: String, _ conn: PostgresConnection, _ logger: Logger) async throws {
    try await conn.query("SELECT pg_advisory_xact_lock(hashtextextended(\(name), 0))", logger: logger).consume()
  }

  /// Writes the index of the request's co-validators.
  static func indexCoValidators(of renewal: RenewalRequest, _ conn: PostgresConnection, _ logger: Logger) async throws {
    try await conn.query("DELETE FROM renewal_validators WHERE renewal_id = \(renewal.id)", logger: logger)
    for uid in renewal.routing.coValidatorUIDs {
      try await conn.query(
        "INSERT INTO renewal_validators (renewal_id, uid) VALUES (\(renewal.id), \(uid)) ON CONFLICT DO NOTHING",
        logger: logger)
    }
  }

  /// Writes the effects, audit events and outbox rows of a decision in the current transaction, and
  /// announces the change to every replica's watchers (delivered at commit).
  static func record(
    _ decision: RenewalDecision, stateJSON: String, key: AuditKey?, _ conn: PostgresConnection, _ logger: Logger
  ) async throws {
    let renewal = decision.renewal
    let now = renewal.updatedAt.millisecondsSinceEpoch
    for effect in decision.effects {
      switch effect {
      case .storeDocument(let id, let document):
        let summary = renewal.documents.first { $0.id == id }
        try await conn.query(
          """
          INSERT INTO documents (id, renewal_id, kind, filename, media_type, size_bytes, sha256, content, added_at)
          VALUES (\(id), \(renewal.id), \(document.kind), \(document.filename), \(document.mediaType.rawValue),
            \(Int64(document.content.count)), \(summary?.sha256 ?? ""), \(ByteBuffer(bytes: document.content)), \(now))
          """, logger: logger)
      case .deleteDocument(let id):
        try await conn.query("DELETE FROM documents WHERE id = \(id) AND renewal_id = \(renewal.id)", logger: logger)
      case .snapshotRouting(let reason):
        let routing = try RenewalJSON.encode(renewal.routing)
        try await conn.query(
          "INSERT INTO routing_snapshots (renewal_id, reason, taken_at, routing_json) VALUES (\(renewal.id), \(reason), \(now), \(routing))",
          logger: logger)
      case .bookSlot(let id):
        let booked = try await conn.query(
          "UPDATE pickup_slots SET booked = booked + 1 WHERE id = \(id) AND booked < capacity RETURNING id",
          logger: logger
        ).all(String.self)
        guard booked.count == 1 else { throw StoreError(.slotFull, "slot \(id) is full: pick another one") }
        try await conn.query(
          """
          INSERT INTO appointments (renewal_id, slot_id, booked_at) VALUES (\(renewal.id), \(id), \(now))
          ON CONFLICT (renewal_id) DO UPDATE SET slot_id = excluded.slot_id, booked_at = excluded.booked_at
          """, logger: logger)
      case .releaseSlot(let id):
        try await conn.query(
          "UPDATE pickup_slots SET booked = booked - 1 WHERE id = \(id) AND booked > 0", logger: logger)
        try await conn.query(
          "DELETE FROM appointments WHERE renewal_id = \(renewal.id) AND slot_id = \(id)", logger: logger)
      case .issueKey(let issued):
        if let owner = try await conn.query(
          "SELECT agent_uid FROM keys WHERE serial = \(issued.serial)", logger: logger
        ).first(String.self), owner != issued.agentUID {
          throw StoreError(
            .conflict, "key serial \(issued.serial) already belongs to another person: check the serial")
        }
        let keys = try await loadKeys(conn, logger, agentUID: issued.agentUID)
        for updated in KeyInventory.issue(issued, replacing: renewal.replacedKeySerial, to: keys) {
          try await saveKey(conn, logger, updated)
        }
      case .storeEnrolmentCode(let sealed, let expiresAt):
        try await conn.query(
          """
          INSERT INTO enrolment_codes (renewal_id, sealed, expires_at)
          VALUES (\(renewal.id), \(ByteBuffer(bytes: sealed)), \(expiresAt.millisecondsSinceEpoch))
          ON CONFLICT (renewal_id) DO UPDATE SET sealed = excluded.sealed, expires_at = excluded.expires_at
          """, logger: logger)
      case .wipeEnrolmentCode:
        try await conn.query("DELETE FROM enrolment_codes WHERE renewal_id = \(renewal.id)", logger: logger)
      case .purgeDocumentContent:
        try await conn.query(
          "UPDATE documents SET content = ''::bytea, purged_at = \(now) WHERE renewal_id = \(renewal.id) AND purged_at IS NULL",
          logger: logger)
      case .recordDecision(let approver, let approved, let comment):
        try await conn.query(
          """
          INSERT INTO approvals (renewal_id, approver_uid, approved, comment, decided_at)
          VALUES (\(renewal.id), \(approver), \(approved), \(comment), \(now))
          """, logger: logger)
      }
    }
    try await appendAudit(decision.events, renewalID: renewal.id, stateJSON: stateJSON, key: key, conn, logger)
    for notification in decision.notifications {
      var person: DirectoryPerson?
      if case .person(let recipient) = notification.recipient { person = recipient }
      let messageID = "<\(UUID().uuidString.lowercased())@okey>"
      try await conn.query(
        """
        INSERT INTO outbox (renewal_id, kind, recipient_uid, recipient_mail, recipient_name, to_dsi_mailbox, details, created_at, next_attempt_at, message_id)
        VALUES (\(renewal.id), \(notification.kind.rawValue), \(person?.uid), \(person?.mail), \(person?.displayName),
          \(person == nil), \(notification.details), \(now), \(now), \(messageID))
        """, logger: logger)
    }
    try await conn.query("SELECT pg_notify(\(changesChannel), \(renewal.id))", logger: logger).consume()
  }

  /// Appends events to the one chain: its head row is locked until the commit, so appends from every
  /// replica line up.
  static func appendAudit(
    _ events: [RenewalEvent], renewalID: String, stateJSON: String, key: AuditKey?, _ conn: PostgresConnection,
    _ logger: Logger
  ) async throws {
    guard !events.isEmpty else { return }
    var head: (sequence: Int64, hash: String) = (0, AuditChainRules.genesis)
    for try await row in try await conn.query(
      "SELECT last_sequence, last_hash FROM audit_head WHERE id = 1 FOR UPDATE", logger: logger)
    {
      let (sequence, hash) = try row.decode((Int64, String).self)
      head = (sequence, hash)
    }
    let links = AuditChainRules.links(events, renewalID: renewalID, stateJSON: stateJSON, after: head, key: key)
    for link in links {
      let event = link.event
      try await conn.query(
        """
        INSERT INTO audit_events (sequence, renewal_id, at, actor, on_behalf_of, role, action, from_status, to_status, details, prev_hash, hash, state_hash, mac)
        VALUES (\(link.sequence), \(renewalID), \(event.at.millisecondsSinceEpoch), \(event.actor), \(event.onBehalfOf),
          \(event.role.rawValue), \(event.action), \(event.from?.rawValue), \(event.to.rawValue), \(event.details),
          \(link.previous), \(link.hash), \(link.stateHash), \(link.mac))
        """, logger: logger)
    }
    if let last = links.last {
      try await conn.query(
        "UPDATE audit_head SET last_sequence = \(last.sequence), last_hash = \(last.hash) WHERE id = 1", logger: logger)
    }
  }

  // MARK: Reads

  public func renewal(id: String) async throws -> RenewalRequest? {
    try await read { conn, logger in try await Self.loadRenewal(conn, logger, id: id) }
  }

  static func loadRenewal(_ conn: PostgresConnection, _ logger: Logger, id: String) async throws -> RenewalRequest? {
    try await conn.query("SELECT state_json FROM renewals WHERE id = \(id)", logger: logger).first(String.self).map(
      RenewalJSON.decodeRenewal)
  }

  public func renewalView(id: String, withHistory: Bool) async throws -> RenewalView? {
    try await read { conn, logger in
      guard let renewal = try await Self.loadRenewal(conn, logger, id: id) else { return nil }
      let history = withHistory ? try await Self.history(conn, logger, renewalID: id) : []
      let place = try await renewal.pickupPlaceID.asyncMap { try await Self.pickupPlace(conn, logger, id: $0) }
      let slot = try await renewal.appointmentSlotID.asyncMap { try await Self.pickupSlot(conn, logger, id: $0) }
      return RenewalView(renewal: renewal, history: history, place: place ?? nil, slot: slot ?? nil)
    }
  }

  public func openRenewal(agentUID: String) async throws -> RenewalRequest? {
    try await read { conn, logger in
      try await conn.query(
        "SELECT state_json FROM renewals WHERE agent_uid = \(agentUID) AND is_open", logger: logger
      ).first(String.self).map(RenewalJSON.decodeRenewal)
    }
  }

  public func history(renewalID: String) async throws -> [AuditEvent] {
    try await read { conn, logger in try await Self.history(conn, logger, renewalID: renewalID) }
  }

  static let auditColumns =
    "sequence, renewal_id, at, actor, on_behalf_of, role, action, from_status, to_status, details, prev_hash, hash, state_hash, mac"

  static func history(_ conn: PostgresConnection, _ logger: Logger, renewalID: String) async throws -> [AuditEvent] {
    var events: [AuditEvent] = []
    let rows = try await conn.query(
      .binding("SELECT \(auditColumns) FROM audit_events WHERE renewal_id = $1 ORDER BY sequence", renewalID),
      logger: logger)
    for try await row in rows { events.append(try storedAuditEvent(row).event) }
    return events
  }

  /// An audit row as the verifier reads it (unknown roles and statuses are kept visible, not dropped).
  static func storedAuditEvent(_ row: PostgresRow) throws -> StoredAuditEvent {
    let (sequence, renewalID, at, actor, onBehalfOf, role, action, from, to, details, previous, hash, stateHash, mac) =
      try row.decode(
        (
          Int64, String, Int64, String, String?, String, String, String?, String, String, String, String, String?,
          String?
        ).self)
    let knownRole = ActingRole(rawValue: role)
    let event = RenewalEvent(
      action: action, actor: actor, onBehalfOf: onBehalfOf, role: knownRole ?? .system,
      from: from.flatMap(RenewalStatus.init(rawValue:)), to: RenewalStatus(rawValue: to) ?? .draft, details: details,
      at: Instant(millisecondsSinceEpoch: at))
    return StoredAuditEvent(
      event: AuditEvent(sequence: sequence, renewalID: renewalID, event: event, previousHash: previous, hash: hash),
      roleKnown: knownRole != nil && RenewalStatus(rawValue: to) != nil
        && (from == nil || RenewalStatus(rawValue: from ?? "") != nil),
      stateHash: stateHash, mac: mac)
  }

  public func documentContent(id: String) async throws -> [UInt8]? {
    try await read { conn, logger in
      try await conn.query(
        "SELECT content FROM documents WHERE id = \(id) AND purged_at IS NULL", logger: logger
      ).first(ByteBuffer.self).map { Array($0.readableBytesView) }
    }
  }

  public func search(_ query: RenewalQuery) async throws -> RenewalPage {
    let (statement, limit) = Self.searchStatement(query, columns: "state_json")
    return try await read { conn, logger in
      var renewals = try await conn.query(statement, logger: logger).all(String.self).map(RenewalJSON.decodeRenewal)
      var next: RenewalCursor?
      if renewals.count > limit {
        renewals.removeLast()
        if let last = renewals.last { next = RenewalCursor(createdAt: last.createdAt, id: last.id) }
      }
      return RenewalPage(renewals: renewals, next: next)
    }
  }

  public func searchSummaries(_ query: RenewalQuery) async throws -> RenewalSummaryPage {
    let (statement, limit) = Self.searchStatement(
      query, columns: "id, agent_uid, key_type, status, version, n1_uid, n2_uid, routed, created_at, updated_at")
    return try await read { conn, logger in
      var summaries: [RenewalSummary] = []
      for try await row in try await conn.query(statement, logger: logger) {
        let (id, agent, keyType, status, version, n1, n2, routed, created, updated) = try row.decode(
          (String, String, String, String, Int64, String?, String?, Bool, Int64, Int64).self)
        guard let keyType = KeyType(rawValue: keyType), let status = RenewalStatus(rawValue: status) else {
          throw StoreError(
            .tampered, "request \(id) has a key type or status okeyd does not know: it was written outside okeyd")
        }
        summaries.append(
          RenewalSummary(
            id: id, agentUID: agent, keyType: keyType, status: status, version: version, n1UID: n1, n2UID: n2,
            routed: routed, createdAt: Instant(millisecondsSinceEpoch: created),
            updatedAt: Instant(millisecondsSinceEpoch: updated)))
      }
      var next: RenewalCursor?
      if summaries.count > limit {
        summaries.removeLast()
        if let last = summaries.last { next = RenewalCursor(createdAt: last.createdAt, id: last.id) }
      }
      return RenewalSummaryPage(summaries: summaries, next: next)
    }
  }

  /// The one search statement of ``search(_:)`` and ``searchSummaries(_:)``: the query's filters,
  /// keyset pagination on (created_at, id), one row more than the page to tell whether another follows.
  static func searchStatement(_ query: RenewalQuery, columns: String) -> (query: PostgresQuery, limit: Int) {
    var sql = SQLBuilder()
    var clauses: [String] = []
    if let agent = query.agentUID { clauses.append("agent_uid = \(sql.bind(agent))") }
    if !query.statuses.isEmpty { clauses.append("status IN (\(sql.bindList(query.statuses.map(\.rawValue))))") }
    if let keyType = query.keyType { clauses.append("key_type = \(sql.bind(keyType.rawValue))") }
    if let approver = query.approverUID {
      let uid = sql.bind(approver)
      clauses.append(
        "(n1_uid = \(uid) OR n2_uid = \(uid) OR id IN (SELECT renewal_id FROM renewal_validators WHERE uid = \(uid)))")
    }
    if !query.handoverEstablishments.isEmpty {
      clauses.append(
        "(state_json::jsonb ->> 'handoverEstablishment') IN (\(sql.bindList(query.handoverEstablishments)))")
    }
    if query.routedOnly { clauses.append("routed") }
    if query.actionableByDSI {
      clauses.append(
        """
        (status <> '\(RenewalStatus.awaitingEnrolment.rawValue)' OR (state_json::jsonb ->> 'elementsSentAt') IS NOT NULL
          OR ((state_json::jsonb ->> 'enrolmentByCode') = 'true' AND (state_json::jsonb ->> 'platform') IS NOT NULL
            AND (state_json::jsonb ->> 'enrolmentCodeReadAt') IS NULL AND id NOT IN (SELECT renewal_id FROM enrolment_codes)))
        """)
    }
    if let after = query.createdAfter { clauses.append("created_at >= \(sql.bind(after.millisecondsSinceEpoch))") }
    if let before = query.createdBefore { clauses.append("created_at < \(sql.bind(before.millisecondsSinceEpoch))") }
    let newest = query.order == .newestFirst
    if let cursor = query.after {
      let at = sql.bind(cursor.createdAt.millisecondsSinceEpoch)
      let id = sql.bind(cursor.id)
      clauses.append(newest ? "(created_at, id) < (\(at), \(id))" : "(created_at, id) > (\(at), \(id))")
    }
    let limit = max(1, min(query.limit, 1000))
    let direction = newest ? "DESC" : "ASC"
    sql.text =
      "SELECT \(columns) FROM renewals" + (clauses.isEmpty ? "" : " WHERE " + clauses.joined(separator: " AND "))
      + " ORDER BY created_at \(direction), id \(direction) LIMIT \(limit + 1)"
    return (sql.query, limit)
  }

  public func countByStatus() async throws -> [RenewalStatus: Int] {
    try await read { conn, logger in
      var counts: [RenewalStatus: Int] = [:]
      for try await row in try await conn.query(
        "SELECT status, COUNT(*)::int8 FROM renewals GROUP BY status", logger: logger)
      {
        let (status, count) = try row.decode((String, Int64).self)
        if let status = RenewalStatus(rawValue: status) { counts[status] = Int(count) }
      }
      return counts
    }
  }

  // MARK: Idempotency

  public func keptRenewal(agentUID: String, operation: String, key: IdempotencyKey) async throws -> RenewalRequest? {
    try await read { conn, logger in
      try await Self.idempotentResult(conn, logger, agentUID: agentUID, operation: operation, key: key).map(
        RenewalJSON.decodeRenewal)
    }
  }

  public func keptReply(ownerUID: String, operation: String, key: IdempotencyKey) async throws -> String? {
    try await read { conn, logger in
      try await Self.idempotentResult(conn, logger, agentUID: ownerUID, operation: operation, key: key)
    }
  }

  static func idempotentResult(
    _ conn: PostgresConnection, _ logger: Logger, agentUID: String, operation: String, key: IdempotencyKey
  ) async throws -> String? {
    var found: (fingerprint: String, result: String)?
    for try await row in try await conn.query(
      "SELECT fingerprint, result_json FROM idempotency_keys WHERE agent_uid = \(agentUID) AND operation = \(operation) AND key = \(key.key)",
      logger: logger)
    {
      let (fingerprint, result) = try row.decode((String, String).self)
      found = (fingerprint, result)
    }
    guard let found else { return nil }
    return try key.keptResult(found.result, storedFingerprint: found.fingerprint)
  }

  static func rememberResult(
    _ conn: PostgresConnection, _ logger: Logger, agentUID: String, operation: String, key: IdempotencyKey,
    renewalID: String, result: String, at: Instant
  ) async throws {
    try await conn.query(
      """
      INSERT INTO idempotency_keys (agent_uid, operation, key, renewal_id, result_json, fingerprint, created_at)
      VALUES (\(agentUID), \(operation), \(key.key), \(renewalID), \(result), \(key.fingerprint), \(at.millisecondsSinceEpoch))
      """, logger: logger)
  }

  public func deleteIdempotencyKeys(createdBefore cutoff: Instant) async throws -> Int {
    try await transaction { conn, logger in
      try await conn.query(
        "DELETE FROM idempotency_keys WHERE created_at < \(cutoff.millisecondsSinceEpoch) RETURNING 1", logger: logger
      ).all(Int32.self).count
    }
  }
}

extension Optional {
  /// `map` with an async transform.
  func asyncMap<U>(_ transform: (Wrapped) async throws -> U) async rethrows -> U? {
    guard let value = self else { return nil }
    return try await transform(value)
  }
}

/// What a change's decision reads, loaded in its transaction before the decision is taken; a read not
/// loaded yet is recorded as missing (and answered empty), and the decision is taken again once it is.
final class PrefetchedReader: ChangeReader {
  enum Read: Hashable {
    case slot(String)
    case place(String)
    case keys(String)
    case charter
    case enrolmentCode(String)
  }

  private var slots: [String: PickupSlot?] = [:]
  private var places: [String: PickupPlace?] = [:]
  private var keysByAgent: [String: [KeyRecord]] = [:]
  private var charter: Charter??
  private var codes: [String: [UInt8]?] = [:]
  private var misses: Set<Read> = []

  func takeMisses() -> Set<Read> {
    defer { misses = [] }
    return misses
  }

  func load(_ read: Read, _ conn: PostgresConnection, _ logger: Logger) async throws {
    switch read {
    case .slot(let id): slots[id] = .some(try await PostgresRenewalStore.pickupSlot(conn, logger, id: id))
    case .place(let id): places[id] = .some(try await PostgresRenewalStore.pickupPlace(conn, logger, id: id))
    case .keys(let uid): keysByAgent[uid] = try await PostgresRenewalStore.loadKeys(conn, logger, agentUID: uid)
    case .charter: charter = .some(try await PostgresRenewalStore.currentCharter(conn, logger))
    case .enrolmentCode(let id):
      codes[id] = .some(
        try await conn.query("SELECT sealed FROM enrolment_codes WHERE renewal_id = \(id)", logger: logger).first(
          ByteBuffer.self
        ).map { Array($0.readableBytesView) })
    }
  }

  func pickupSlot(id: String) throws -> PickupSlot? {
    guard let slot = slots[id] else {
      misses.insert(.slot(id))
      return nil
    }
    return slot
  }

  func currentCharter() throws -> Charter? {
    guard let charter else {
      misses.insert(.charter)
      return nil
    }
    return charter
  }

  func pickupPlace(id: String) throws -> PickupPlace? {
    guard let place = places[id] else {
      misses.insert(.place(id))
      return nil
    }
    return place
  }

  func keys(agentUID: String) throws -> [KeyRecord] {
    guard let keys = keysByAgent[agentUID] else {
      misses.insert(.keys(agentUID))
      return []
    }
    return keys
  }

  func enrolmentCode(renewalID: String) throws -> [UInt8]? {
    guard let code = codes[renewalID] else {
      misses.insert(.enrolmentCode(renewalID))
      return nil
    }
    return code
  }
}
