import Foundation
import GRDB
import OKeyDomain
import Synchronization

/// How hard each commit is pushed to the disk.
///
/// - `full` (the default): SQLite syncs the WAL at every commit. A process crash loses nothing
///   acknowledged, and neither does a power loss or an OS crash. About 4,500 commits/s on this
///   machine's disk, far beyond what an academy needs.
/// - `normal`: SQLite syncs only at checkpoints. A process crash still loses nothing (the WAL is in
///   the OS's cache), but a power loss or an OS crash can lose the last commits acknowledged before
///   it (never corrupts). About 10× faster.
public enum Durability: String, Sendable, Hashable, Codable, CaseIterable {
  case full = "FULL"
  case normal = "NORMAL"

  /// The value `PRAGMA synchronous` reads back for this level.
  public var pragmaValue: Int { self == .full ? 2 : 1 }
}

/// The SQLite implementation of ``RenewalStore``: one file in WAL mode, a single writer, readers in
/// parallel. A request's columns that queries filter on are columns; the whole domain value is kept
/// beside them as JSON (`state_json`), written together.
public final class SQLiteRenewalStore: RenewalStore {
  let pool: DatabasePool
  /// Requests as readers see them, kept after a read and dropped by every change this store makes.
  /// One okeyd owns a database file: another process's writes would not be seen here until then.
  let views = ViewCache(capacity: 20_000)
  /// Requests as last committed by this store, so that a change decodes the stored JSON only when
  /// the row's version is not the one kept here. Consecutive changes of a request are what it
  /// serves, so it stays small.
  let committed = CommittedStates(capacity: 4_096)
  /// Starts and changes of requests, committed in groups (see ``GroupCommit``).
  let group: GroupCommit
  /// The file.
  public let path: String
  /// The durability level set on the writer connection.
  public let durability: Durability
  /// The key that signs audit events; nil for an unkeyed (demo) trail.
  let auditKey: AuditKey?

  /// Opens (creating when missing, with its folder) and migrates the database at `path`. With
  /// `auditKey`, every audit event is signed and verification checks the signatures.
  /// `observeCommit` is told how long each commit of the writer took (its sync to the disk).
  public init(
    path: String, durability: Durability = .full, auditKey: AuditKey? = nil,
    observeCommit: (@Sendable (Duration) -> Void)? = nil
  ) throws {
    self.path = path
    self.durability = durability
    self.auditKey = auditKey
    let folder = (path as NSString).deletingLastPathComponent
    if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
    var configuration = Configuration()
    configuration.busyMode = .timeout(10)
    configuration.foreignKeysEnabled = true
    do {
      pool = try DatabasePool(path: path, configuration: configuration)
      group = GroupCommit(pool: pool)
      // Never migrate, nor write into, a database a newer okeyd wrote.
      let status = try pool.read { db in try Self.migrationStatus(db) }
      if !status.unknown.isEmpty {
        throw StoreError(
          .schemaTooNew,
          "the database \(path) was written by a newer okeyd (schema \(status.unknown.sorted().last ?? "?")); this okeyd knows the schema up to \(Schema.versions.last ?? "?"): run the newer okeyd, or restore a backup this version made"
        )
      }
      try Schema.migrator.migrate(pool)
      // DatabasePool sets synchronous = NORMAL on its writer when it enables WAL: set ours after.
      try pool.barrierWriteWithoutTransaction { db in
        try db.execute(sql: "PRAGMA synchronous = \(durability.rawValue)")
        // Deleted content (read enrolment codes, purged documents) is overwritten, not left in free pages.
        try db.execute(sql: "PRAGMA secure_delete = ON")
        if let observeCommit {
          db.add(transactionObserver: CommitTimer(observe: observeCommit), extent: .databaseLifetime)
        }
      }
      if let auditKey { try pool.write { db in try AuditChain.sealBoundary(with: auditKey, in: db) } }
    } catch let error as DatabaseError {
      throw StoreError(.unavailable, "cannot open the database \(path): \(error.message ?? "\(error)")")
    }
  }

  /// The sizes of the database file and of its write-ahead log, in bytes (0 for a missing file).
  public var fileSizes: (database: Int64, wal: Int64) {
    func size(_ path: String) -> Int64 {
      ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
    }
    return (size(path), size(path + "-wal"))
  }

  /// Transactions that carried starts and changes of requests since the store opened, and how many
  /// changes they carried together (group commit).
  public var committedGroups: (transactions: Int, changes: Int) {
    let figures = group.figures
    return (figures.groups, figures.changes)
  }

  /// The `PRAGMA synchronous` level of the writer connection (2 FULL, 1 NORMAL).
  public func writerSynchronousLevel() async throws -> Int {
    try await pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
  }

  /// The migrations applied, oldest first.
  public func appliedMigrations() async throws -> [String] {
    // In this code's order ("v10" after "v9"), then any a newer okeyd applied.
    try await pool.read { db in
      let applied = Set(try Schema.migrator.appliedIdentifiers(db))
      return Schema.versions.filter(applied.contains) + applied.subtracting(Schema.versions).sorted()
    }
  }

  /// The migrations this code knows, oldest first.
  public static var knownMigrations: [String] { Schema.versions }

  /// Where a database's schema stands against this code: the migrations applied, those this code
  /// would apply, and those applied by a newer okeyd (unknown here).
  public struct MigrationStatus: Sendable, Equatable {
    /// Applied, in this code's order (unknown ones aside).
    public var applied: [String]
    /// Known here, not applied yet: what opening the store would run, in order.
    public var pending: [String]
    /// Applied by another (newer) okeyd: this one refuses the database.
    public var unknown: [String]
  }

  static func migrationStatus(_ db: Database) throws -> MigrationStatus {
    let applied = try Schema.migrator.appliedIdentifiers(db)
    let recorded: Set<String> =
      try db.tableExists("grdb_migrations")
      ? Set(String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")) : []
    return MigrationStatus(
      applied: Schema.versions.filter { applied.contains($0) },
      pending: Schema.versions.filter { !applied.contains($0) },
      unknown: recorded.subtracting(Schema.versions).sorted())
  }

  /// The migration status of the database at `path`, read without changing it (`okeyd migrate
  /// --check`); nil when there is no file yet.
  public static func migrationStatus(path: String) throws -> MigrationStatus? {
    guard FileManager.default.fileExists(atPath: path) else { return nil }
    var configuration = Configuration()
    configuration.readonly = true
    return try DatabaseQueue(path: path, configuration: configuration).read { db in try migrationStatus(db) }
  }

  /// Opens the file at `path` and applies the migrations up to and including `version` only (for
  /// upgrade tests).
  public static func migrate(path: String, upTo version: String) throws {
    let queue = try DatabaseQueue(path: path)
    try Schema.migrator.migrate(queue, upTo: version)
  }

  /// Runs `PRAGMA integrity_check` and returns its answer ("ok" when sound).
  public func integrityCheck() async throws -> String {
    try await pool.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ") }
  }

  // MARK: Errors

  func guarded<T>(_ body: () async throws -> T) async throws -> T {
    do {
      return try await body()
    } catch let error as RowDecodingError {
      // A value of another type than its column's: written outside okeyd.
      throw StoreError(.tampered, "a stored row cannot be read (changed outside OKEY?): \(error)")
    } catch let error as DatabaseError {
      switch error.extendedResultCode {
      case .SQLITE_CONSTRAINT_UNIQUE where (error.message ?? "").contains("renewals.agent_uid"):
        throw StoreError(.openRequestExists, "the agent already has an open renewal request")
      case .SQLITE_CONSTRAINT_UNIQUE, .SQLITE_CONSTRAINT_PRIMARYKEY:
        throw StoreError(.conflict, "a value that must be unique is already taken: \(error.message ?? "")")
      case .SQLITE_CONSTRAINT_CHECK:
        throw StoreError(.slotFull, "the slot is full")
      default:
        throw StoreError(.unavailable, "the database cannot be used now: \(error.message ?? "\(error.resultCode)")")
      }
    }
  }

  // MARK: Requests

  public func start(
    agentUID: String,
    scope: String,
    idempotencyKey: IdempotencyKey?,
    decide: @escaping @Sendable (String?) throws -> Result<RenewalDecision, RenewalRefusal>
  ) async throws -> RenewalRequest {
    let renewal = try await startUncached(
      agentUID: agentUID, scope: scope, idempotencyKey: idempotencyKey, decide: decide)
    views.drop(renewal.id)
    committed.keep(renewal)
    return renewal
  }

  private func startUncached(
    agentUID: String,
    scope: String,
    idempotencyKey: IdempotencyKey?,
    decide: @escaping @Sendable (String?) throws -> Result<RenewalDecision, RenewalRefusal>
  ) async throws -> RenewalRequest {
    let auditKey = self.auditKey
    return try await guarded {
      try await group.write { db in
        if let idempotencyKey,
          let prior = try Self.idempotentResult(db, agentUID: agentUID, operation: scope, key: idempotencyKey)
        {
          return try Self.decodeRenewal(prior)
        }
        let open = try db.value(
          String.self,
          "SELECT id FROM renewals WHERE agent_uid = ? AND status NOT IN (\(Self.terminalStatusList))",
          [agentUID])
        let decision = try decide(open).get()
        let renewal = decision.renewal
        let json = try Self.encode(renewal)
        try db.run(
          """
          INSERT INTO renewals (id, agent_uid, key_type, status, version, n1_uid, n2_uid, routed, created_at, updated_at, state_json)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
          """,
          [
            renewal.id, renewal.agentUID, renewal.keyType.rawValue, renewal.status.rawValue, renewal.version,
            renewal.routing.n1?.person.uid, renewal.routing.n2?.person.uid, renewal.routed,
            renewal.createdAt.millisecondsSinceEpoch, renewal.updatedAt.millisecondsSinceEpoch, json,
          ]
        )
        try Self.indexCoValidators(of: renewal, in: db)
        try Self.record(decision, stateJSON: json, key: auditKey, in: db)
        if let idempotencyKey {
          try Self.rememberResult(
            db, agentUID: agentUID, operation: scope, key: idempotencyKey, renewalID: renewal.id,
            result: try Self.encode(renewal), at: renewal.updatedAt)
        }
        return renewal
      }
    }
  }

  public func change(
    renewalID: String,
    operation: String,
    idempotencyKey: IdempotencyKey?,
    decide: @escaping @Sendable (RenewalRequest, any ChangeReader) throws -> Result<RenewalDecision, RenewalRefusal>
  ) async throws -> RenewalRequest {
    // Dropped before and after: a read that started before the change cannot keep its old view.
    views.drop(renewalID)
    defer { views.drop(renewalID) }
    let committed = self.committed
    let auditKey = self.auditKey
    let renewal = try await guarded {
      try await group.write { db in
        guard let row = try db.row("SELECT version, state_json FROM renewals WHERE id = ?", [renewalID]) else {
          throw StoreError(.notFound, "no renewal request \(renewalID)")
        }
        let version: Int64 = try row.decode(atIndex: 0)
        let storedJSON: String = try row.decode(atIndex: 1)
        let current = try committed.state(of: renewalID, atVersion: version) ?? Self.decodeRenewal(storedJSON)
        if let idempotencyKey,
          let prior = try Self.idempotentResult(
            db, agentUID: current.agentUID, operation: operation, key: idempotencyKey)
        {
          let renewal = try Self.decodeRenewal(prior)
          guard renewal.id == renewalID else {
            throw StoreError(
              .keyReused, "idempotency key already used for request \(renewal.id): use a new key for each change")
          }
          return renewal
        }
        // The row must be what the trail last recorded: a state edited in the file is refused, not
        // carried forward and signed.
        try AuditChain.requireUntampered(renewalID: renewalID, stateJSON: storedJSON, in: db)
        let decision = try decide(current, Reader(db: db)).get()
        let renewal = decision.renewal
        // Every change makes a new version: a version number names one committed state only.
        guard renewal.version == current.version + 1, renewal.id == current.id else {
          throw StoreError(
            .conflict, "a change of request \(renewalID) did not make its next version; nothing was written")
        }
        let json = try Self.encode(renewal)
        try db.run(
          """
          UPDATE renewals SET status = ?, version = ?, n1_uid = ?, n2_uid = ?, routed = ?, updated_at = ?, state_json = ?
          WHERE id = ? AND version = ?
          """,
          [
            renewal.status.rawValue, renewal.version, renewal.routing.n1?.person.uid, renewal.routing.n2?.person.uid,
            renewal.routed, renewal.updatedAt.millisecondsSinceEpoch, json, renewal.id,
            current.version,
          ]
        )
        guard db.changesCount == 1 else {
          throw StoreError(.staleVersion, "request \(renewalID) changed meanwhile: reload it and try again")
        }
        if renewal.routing.coValidatorUIDs != current.routing.coValidatorUIDs {
          try Self.indexCoValidators(of: renewal, in: db)
        }
        try Self.record(decision, stateJSON: json, key: auditKey, in: db)
        if let idempotencyKey {
          try Self.rememberResult(
            db, agentUID: current.agentUID, operation: operation, key: idempotencyKey, renewalID: renewal.id,
            result: json, at: renewal.updatedAt)
        }
        return renewal
      }
    }
    // Kept only once committed: a rolled-back change never reaches the cache.
    committed.keep(renewal)
    return renewal
  }

  /// Writes the index of the request's co-validators (second-degree deputies), read by approvers'
  /// pending lists; the routing in `state_json` stays the truth.
  static func indexCoValidators(of renewal: RenewalRequest, in db: Database) throws {
    let uids = renewal.routing.coValidatorUIDs
    try db.run("DELETE FROM renewal_validators WHERE renewal_id = ?", [renewal.id])
    for uid in uids {
      try db.run("INSERT OR IGNORE INTO renewal_validators (renewal_id, uid) VALUES (?, ?)", [renewal.id, uid])
    }
  }

  /// Writes the audit events, outbox rows and effects of a decision in the current transaction.
  static func record(_ decision: RenewalDecision, stateJSON: String, key: AuditKey?, in db: Database) throws {
    let renewal = decision.renewal
    let now = renewal.updatedAt.millisecondsSinceEpoch
    for effect in decision.effects {
      switch effect {
      case .storeDocument(let id, let document):
        let summary = renewal.documents.first { $0.id == id }
        try db.run(
          "INSERT INTO documents (id, renewal_id, kind, filename, media_type, size_bytes, sha256, content, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
          [
            id, renewal.id, document.kind, document.filename, document.mediaType.rawValue, document.content.count,
            summary?.sha256 ?? "", Data(document.content), now,
          ]
        )
      case .deleteDocument(let id):
        try db.run("DELETE FROM documents WHERE id = ? AND renewal_id = ?", [id, renewal.id])
      case .snapshotRouting(let reason):
        try db.run(
          "INSERT INTO routing_snapshots (renewal_id, reason, taken_at, routing_json) VALUES (?, ?, ?, ?)",
          [renewal.id, reason, now, try encode(renewal.routing)]
        )
      case .bookSlot(let id):
        try db.run("UPDATE pickup_slots SET booked = booked + 1 WHERE id = ? AND booked < capacity", [id])
        guard db.changesCount == 1 else { throw StoreError(.slotFull, "slot \(id) is full: pick another one") }
        try db.run(
          "INSERT INTO appointments (renewal_id, slot_id, booked_at) VALUES (?, ?, ?) ON CONFLICT(renewal_id) DO UPDATE SET slot_id = excluded.slot_id, booked_at = excluded.booked_at",
          [renewal.id, id, now]
        )
      case .releaseSlot(let id):
        try db.run("UPDATE pickup_slots SET booked = booked - 1 WHERE id = ? AND booked > 0", [id])
        try db.run("DELETE FROM appointments WHERE renewal_id = ? AND slot_id = ?", [renewal.id, id])
      case .issueKey(let key):
        if let owner = try db.value(String.self, "SELECT agent_uid FROM keys WHERE serial = ?", [key.serial]),
          owner != key.agentUID
        {
          throw StoreError(.conflict, "key serial \(key.serial) already belongs to another person: check the serial")
        }
        let keys = try loadKeys(db, agentUID: key.agentUID)
        for updated in KeyInventory.issue(key, replacing: renewal.replacedKeySerial, to: keys) {
          try saveKey(db, updated)
        }
      case .storeEnrolmentCode(let sealed, let expiresAt):
        try db.run(
          "INSERT OR REPLACE INTO enrolment_codes (renewal_id, sealed, expires_at) VALUES (?, ?, ?)",
          [renewal.id, Data(sealed), expiresAt.millisecondsSinceEpoch])
      case .wipeEnrolmentCode:
        try db.run("DELETE FROM enrolment_codes WHERE renewal_id = ?", [renewal.id])
      case .purgeDocumentContent:
        try db.run(
          "UPDATE documents SET content = X'', purged_at = ? WHERE renewal_id = ? AND purged_at IS NULL",
          [now, renewal.id])
      case .recordDecision(let approver, let approved, let comment):
        try db.run(
          "INSERT INTO approvals (renewal_id, approver_uid, approved, comment, decided_at) VALUES (?, ?, ?, ?, ?)",
          [renewal.id, approver, approved, comment, now]
        )
      }
    }
    try AuditChain.append(decision.events, renewalID: renewal.id, stateJSON: stateJSON, key: key, in: db)
    for notification in decision.notifications {
      var person: DirectoryPerson?
      if case .person(let recipient) = notification.recipient { person = recipient }
      try db.run(
        """
        INSERT INTO outbox (renewal_id, kind, recipient_uid, recipient_mail, recipient_name, to_dsi_mailbox, details, created_at, next_attempt_at, message_id)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [
          renewal.id, notification.kind.rawValue, person?.uid, person?.mail, person?.displayName, person == nil,
          notification.details, now, now, "<\(UUID().uuidString.lowercased())@okey>",
        ]
      )
    }
  }

  public func renewal(id: String) async throws -> RenewalRequest? {
    let committed = self.committed
    return try await guarded {
      try await pool.read { db in
        guard let row = try db.row("SELECT version, state_json FROM renewals WHERE id = ?", [id]) else { return nil }
        // The state this store committed at the row's version, or the stored JSON decoded.
        return try committed.state(of: id, atVersion: try row.decode(atIndex: 0))
          ?? Self.decodeRenewal(try row.decode(atIndex: 1))
      }
    }
  }

  public func renewalView(id: String, withHistory: Bool) async throws -> RenewalView? {
    if withHistory, let cached = views.get(id) { return cached }
    let generation = views.generation(of: id)
    let view: RenewalView? = try await guarded {
      try await pool.read { db in
        guard let renewal = try Self.loadRenewal(db, id: id) else { return nil }
        let reader = Reader(db: db)
        let history =
          withHistory
          ? try AuditEventRow.fetchAll(
            db, sql: "SELECT * FROM audit_events WHERE renewal_id = ? ORDER BY sequence", arguments: [id]
          ).map(\.event)
          : []
        return RenewalView(
          renewal: renewal, history: history,
          place: try renewal.pickupPlaceID.flatMap { try reader.pickupPlace(id: $0) },
          slot: try renewal.appointmentSlotID.flatMap { try reader.pickupSlot(id: $0) })
      }
    }
    // Views showing a place or a slot are not kept: other requests change a slot's occupancy.
    if withHistory, let view, view.place == nil, view.slot == nil { views.put(id, view, ifStill: generation) }
    return view
  }

  public func openRenewal(agentUID: String) async throws -> RenewalRequest? {
    try await guarded {
      try await pool.read { db in
        guard
          let id = try db.value(
            String.self,
            "SELECT id FROM renewals WHERE agent_uid = ? AND status NOT IN (\(Self.terminalStatusList))",
            [agentUID])
        else { return nil }
        return try Self.loadRenewal(db, id: id)
      }
    }
  }

  public func history(renewalID: String) async throws -> [AuditEvent] {
    try await guarded {
      try await pool.read { db in
        try AuditEventRow.fetchAll(
          db, sql: "SELECT * FROM audit_events WHERE renewal_id = ? ORDER BY sequence", arguments: [renewalID]
        )
        .map(\.event)
      }
    }
  }

  public func documentContent(id: String) async throws -> [UInt8]? {
    try await guarded {
      try await pool.read { db in
        try db.value(Data.self, "SELECT content FROM documents WHERE id = ? AND purged_at IS NULL", [id]).map {
          [UInt8]($0)
        }
      }
    }
  }

  public func search(_ query: RenewalQuery) async throws -> RenewalPage {
    let (sql, arguments, limit) = try Self.searchStatement(query, columns: "state_json")
    return try await guarded {
      try await pool.read { db in
        var renewals = try String.fetchAll(db.cachedStatement(sql: sql), arguments: arguments).map(Self.decodeRenewal)
        var next: RenewalCursor?
        if renewals.count > limit {
          renewals.removeLast()
          if let last = renewals.last { next = RenewalCursor(createdAt: last.createdAt, id: last.id) }
        }
        return RenewalPage(renewals: renewals, next: next)
      }
    }
  }

  public func searchSummaries(_ query: RenewalQuery) async throws -> RenewalSummaryPage {
    let (sql, arguments, limit) = try Self.searchStatement(
      query, columns: "id, agent_uid, key_type, status, version, n1_uid, n2_uid, routed, created_at, updated_at")
    return try await guarded {
      try await pool.read { db in
        var summaries: [RenewalSummary] = []
        // The statement is compiled once per connection and shape of query.
        let rows = try Row.fetchCursor(db.cachedStatement(sql: sql), arguments: arguments)
        while let row = try rows.next() {
          let keyType: String = row[2]
          let status: String = row[3]
          guard let keyType = KeyType(rawValue: keyType), let status = RenewalStatus(rawValue: status) else {
            throw StoreError(
              .tampered,
              "request \(row[0] as String) has a key type or status okeyd does not know: it was written outside okeyd")
          }
          summaries.append(
            RenewalSummary(
              id: row[0], agentUID: row[1], keyType: keyType, status: status, version: row[4], n1UID: row[5],
              n2UID: row[6], routed: row[7], createdAt: Instant(millisecondsSinceEpoch: row[8]),
              updatedAt: Instant(millisecondsSinceEpoch: row[9])))
        }
        var next: RenewalCursor?
        if summaries.count > limit {
          summaries.removeLast()
          if let last = summaries.last { next = RenewalCursor(createdAt: last.createdAt, id: last.id) }
        }
        return RenewalSummaryPage(summaries: summaries, next: next)
      }
    }
  }

  /// SQLite's plan for a search (`EXPLAIN QUERY PLAN`), one line per step: for the tests that keep
  /// every search on an index.
  package func searchPlan(_ query: RenewalQuery) async throws -> [String] {
    let (sql, arguments, _) = try Self.searchStatement(query, columns: "id")
    return try await pool.read { db in
      try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments).map { row in row["detail"] }
    }
  }

  /// The one search statement of ``search(_:)`` and ``searchSummaries(_:)``: the query's filters,
  /// keyset pagination on (created_at, id), one row more than the page to tell whether another follows.
  /// Lists are bound as one JSON array (`json_each`) and the limit as a parameter, so that the
  /// statement's text depends only on which filters are set: a few hundred shapes at most, each
  /// compiled once per connection.
  static func searchStatement(_ query: RenewalQuery, columns: String) throws -> (
    sql: String, arguments: StatementArguments, limit: Int
  ) {
    var clauses: [String] = []
    var arguments: StatementArguments = []
    if let agent = query.agentUID {
      clauses.append("agent_uid = ?")
      arguments += [agent]
    }
    if query.statuses.count == 1, let status = query.statuses.first {
      // One status reads its index in (created_at, id) order; a list is merged and sorted.
      clauses.append("status = ?")
      arguments += [status.rawValue]
    } else if !query.statuses.isEmpty {
      clauses.append("status IN (SELECT value FROM json_each(?))")
      arguments += [try RenewalJSON.encode(query.statuses.map(\.rawValue))]
    }
    if let keyType = query.keyType {
      clauses.append("key_type = ?")
      arguments += [keyType.rawValue]
    }
    if let approver = query.approverUID {
      clauses.append(
        "(n1_uid = ? OR n2_uid = ? OR id IN (SELECT renewal_id FROM renewal_validators WHERE uid = ?))")
      arguments += [approver, approver, approver]
    }
    if !query.handoverEstablishments.isEmpty {
      clauses.append("json_extract(state_json, '$.handoverEstablishment') IN (SELECT value FROM json_each(?))")
      arguments += [try RenewalJSON.encode(query.handoverEstablishments)]
    }
    if query.routedOnly { clauses.append("routed = 1") }
    if query.actionableByDSI {
      clauses.append(
        "(status <> '\(RenewalStatus.awaitingEnrolment.rawValue)' OR json_extract(state_json, '$.elementsSentAt') IS NOT NULL OR (json_extract(state_json, '$.enrolmentByCode') = 1 AND json_extract(state_json, '$.platform') IS NOT NULL AND json_extract(state_json, '$.enrolmentCodeReadAt') IS NULL AND id NOT IN (SELECT renewal_id FROM enrolment_codes)))"
      )
    }
    if let after = query.createdAfter {
      clauses.append("created_at >= ?")
      arguments += [after.millisecondsSinceEpoch]
    }
    if let before = query.createdBefore {
      clauses.append("created_at < ?")
      arguments += [before.millisecondsSinceEpoch]
    }
    let newest = query.order == .newestFirst
    if let cursor = query.after {
      clauses.append(newest ? "(created_at, id) < (?, ?)" : "(created_at, id) > (?, ?)")
      arguments += [cursor.createdAt.millisecondsSinceEpoch, cursor.id]
    }
    let limit = max(1, min(query.limit, 1000))
    let direction = newest ? "DESC" : "ASC"
    let sql =
      "SELECT \(columns) FROM renewals" + (clauses.isEmpty ? "" : " WHERE " + clauses.joined(separator: " AND "))
      + " ORDER BY created_at \(direction), id \(direction) LIMIT ?"
    arguments += [limit + 1]
    return (sql, arguments, limit)
  }

  public func countByStatus() async throws -> [RenewalStatus: Int] {
    try await guarded {
      try await pool.read { db in
        var counts: [RenewalStatus: Int] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) AS n FROM renewals GROUP BY status") {
          if let status = RenewalStatus(rawValue: try row.decode(forColumn: "status")) {
            counts[status] = try row.decode(forColumn: "n")
          }
        }
        return counts
      }
    }
  }

  // MARK: Rows

  /// The terminal statuses as an SQL list, derived from the domain.
  static let terminalStatusList = RenewalStatus.allCases.filter(\.isTerminal).map { "'\($0.rawValue)'" }.joined(
    separator: ", ")

  static func encode<T: Encodable>(_ value: T) throws -> String { try RenewalJSON.encode(value) }

  static func decodeRenewal(_ json: String) throws -> RenewalRequest { try RenewalJSON.decodeRenewal(json) }

  static func loadRenewal(_ db: Database, id: String) throws -> RenewalRequest? {
    try db.value(String.self, "SELECT state_json FROM renewals WHERE id = ?", [id]).map(decodeRenewal)
  }

}

struct Reader: ChangeReader {
  let db: Database

  func pickupSlot(id: String) throws -> PickupSlot? {
    try PickupSlotRow.fetchOne(db, sql: "SELECT * FROM pickup_slots WHERE id = ?", arguments: [id])?.slot
  }

  func currentCharter() throws -> Charter? {
    try CharterRow.fetchOne(db, sql: "SELECT * FROM charters ORDER BY seq DESC LIMIT 1")?.charter
  }

  func keys(agentUID: String) throws -> [KeyRecord] {
    try SQLiteRenewalStore.loadKeys(db, agentUID: agentUID)
  }

  func pickupPlace(id: String) throws -> PickupPlace? {
    try PickupPlaceRow.fetchOne(db, sql: "SELECT * FROM pickup_places WHERE id = ?", arguments: [id])?.place
  }

  func enrolmentCode(renewalID: String) throws -> [UInt8]? {
    try db.value(Data.self, "SELECT sealed FROM enrolment_codes WHERE renewal_id = ?", [renewalID]).map {
      [UInt8]($0)
    }
  }
}

/// Times each commit of the writer connection: from SQLite's "will commit" to "did commit", which
/// is the write and sync of the WAL.
private final class CommitTimer: TransactionObserver {
  let observe: @Sendable (Duration) -> Void
  private var started: ContinuousClock.Instant?

  init(observe: @escaping @Sendable (Duration) -> Void) { self.observe = observe }

  func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { false }
  func databaseDidChange(with event: DatabaseEvent) {}
  func databaseWillCommit() throws { started = ContinuousClock.now }
  func databaseDidCommit(_ db: Database) {
    if let started { observe(ContinuousClock.now - started) }
    started = nil
  }
  func databaseDidRollback(_ db: Database) { started = nil }
}
