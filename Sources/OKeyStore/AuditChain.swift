import Crypto
import Foundation
import GRDB
import OKeyDomain

/// The hash chain of the audit log: each event carries the hash of the one before, the hash of the
/// request's stored state after it, and an HMAC of its hash under the audit key. Events written
/// before the chain was keyed (up to `audit_meta.legacy_until`) are checked with the rule they were
/// written with (no state hash, no signature); that boundary is itself signed.
enum AuditChain {
  static let genesis = AuditChainRules.genesis

  static func stateHash(_ json: String) -> String { AuditChainRules.stateHash(json) }

  /// Signs the legacy boundary with `key` when it is not signed yet (first start with a key).
  static func sealBoundary(with key: AuditKey, in db: Database) throws {
    guard
      let legacyUntil = try db.value(Int64.self, "SELECT legacy_until FROM audit_meta WHERE id = 1 AND seal IS NULL")
    else { return }
    try db.run(
      "UPDATE audit_meta SET seal = ? WHERE id = 1 AND seal IS NULL",
      [key.sign(AuditChainRules.boundaryText(legacyUntil))])
  }

  /// Throws ``StoreError/tampered`` when the request's stored state (`stateJSON`, as read in this
  /// transaction before any write) is not the one its last signed event recorded: a row changed
  /// outside okeyd must never be carried forward and signed by the next change.
  static func requireUntampered(renewalID: String, stateJSON: String, in db: Database) throws {
    guard
      let row = try db.row(
        "SELECT state_hash FROM audit_events WHERE renewal_id = ? ORDER BY sequence DESC LIMIT 1", [renewalID])
    else {
      return
    }
    // A legacy event recorded no state.
    let recorded: String? = try row.decode(forColumn: AuditEventRow.Columns.stateHash)
    if let refusal = AuditChainRules.tampering(renewalID: renewalID, stateJSON: stateJSON, lastStateHash: recorded) {
      throw refusal
    }
  }

  /// Appends events in the current transaction and moves the head. `stateJSON` is the request's
  /// stored state after the change.
  static func append(_ events: [RenewalEvent], renewalID: String, stateJSON: String, key: AuditKey?, in db: Database)
    throws
  {
    let head = try AuditHeadRow.read(db)
    let links = AuditChainRules.links(
      events, renewalID: renewalID, stateJSON: stateJSON,
      after: (head?.lastSequence ?? 0, head?.lastHash ?? genesis), key: key)
    for link in links {
      let event = link.event
      try db.run(
        """
        INSERT INTO audit_events (sequence, renewal_id, at, actor, on_behalf_of, role, action, from_status, to_status, details, prev_hash, hash, state_hash, mac)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [
          link.sequence, renewalID, event.at.millisecondsSinceEpoch, event.actor, event.onBehalfOf, event.role.rawValue,
          event.action, event.from?.rawValue, event.to.rawValue, event.details, link.previous, link.hash,
          link.stateHash, link.mac,
        ]
      )
    }
    guard let last = links.last else { return }
    try db.run(
      "INSERT INTO audit_head (id, last_sequence, last_hash) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET last_sequence = excluded.last_sequence, last_hash = excluded.last_hash",
      [last.sequence, last.hash]
    )
  }

  /// The last event of the chain.
  static func head(in db: Database) throws -> AuditHead {
    guard let row = try db.row("SELECT sequence, hash, at FROM audit_events ORDER BY sequence DESC LIMIT 1") else {
      return AuditHead(sequence: 0, hash: genesis)
    }
    typealias Columns = AuditEventRow.Columns
    return AuditHead(
      sequence: try row.decode(forColumn: Columns.sequence), hash: try row.decode(forColumn: Columns.hash),
      at: Instant(millisecondsSinceEpoch: try row.decode(forColumn: Columns.at)))
  }

  /// Walks the whole chain and every request, and reports every break: altered or unsigned events,
  /// gaps, a head that does not match, a chain cut before `expectedHead`, a chain emptied while
  /// requests exist, and requests whose stored state is not the one their last event recorded.
  static func verify(in db: Database, key: AuditKey?, expectedHead: AuditHead?) throws -> AuditVerification {
    let meta = try db.row("SELECT legacy_until, seal FROM audit_meta WHERE id = 1")
    var walk = AuditChainWalk(
      key: key, boundary: meta.map { (legacyUntil: $0["legacy_until"] ?? 0, seal: $0["seal"]) },
      expectedHead: expectedHead)
    let cursor = try AuditEventRow.fetchCursor(db, sql: "SELECT * FROM audit_events ORDER BY sequence")
    while let row = try cursor.next() {
      walk.visit(StoredAuditEvent(event: row.event, roleKnown: row.roleKnown, stateHash: row.stateHash, mac: row.mac))
    }
    let head = try AuditHeadRow.read(db)
    walk.finishChain(
      head: head.map { (sequence: $0.lastSequence, hash: $0.lastHash) },
      renewals: try db.value(Int64.self, "SELECT COUNT(*) FROM renewals") ?? 0)
    // The co-validators index, by request (rows whose request is gone are reported too).
    var indexed: [String: [String]] = [:]
    for row in try Row.fetchAll(db, sql: "SELECT renewal_id, uid FROM renewal_validators") {
      let renewalID: String = row["renewal_id"]
      let uid: String = row["uid"]
      indexed[renewalID, default: []].append(uid)
    }
    let renewals = try RenewalRow.fetchCursor(
      db,
      sql: """
        SELECT r.id, r.agent_uid, r.key_type, r.status, r.version, r.n1_uid, r.n2_uid, r.routed, r.state_json,
          e.sequence AS last_sequence, e.state_hash AS last_state_hash
        FROM renewals r
        LEFT JOIN audit_events e ON e.sequence = (SELECT MAX(sequence) FROM audit_events WHERE renewal_id = r.id)
        ORDER BY r.created_at, r.id
        """)
    while let row = try renewals.next() {
      walk.visit(
        StoredRenewalState(
          id: row.id, lastSequence: row.lastSequence, lastStateHash: row.lastStateHash, stateJSON: row.stateJSON,
          columnsAgree: { row.agrees(with: $0) }, indexedCoValidators: indexed.removeValue(forKey: row.id) ?? []))
    }
    walk.orphanCoValidators(Array(indexed.keys))
    return walk.verification()
  }
}
