import Crypto
import Foundation
import GRDB
import OKeyDomain

/// The hash chain of the audit log: each event carries the hash of the one before, the hash of the
/// request's stored state after it, and an HMAC of its hash under the audit key. Events written
/// before the chain was keyed (up to `audit_meta.legacy_until`) are checked with the rule they were
/// written with (no state hash, no signature); that boundary is itself signed.
enum AuditChain {
  static let genesis = String(repeating: "0", count: 64)

  /// The hash of an event given the hash before it. Fields are length-prefixed so that no two
  /// different events serialise the same way. Legacy events have no state hash.
  static func hash(previous: String, sequence: Int64, renewalID: String, event: RenewalEvent, stateHash: String?)
    -> String
  {
    var fields: [String] = [
      previous, String(sequence), renewalID, String(event.at.millisecondsSinceEpoch), event.actor,
      event.onBehalfOf ?? "\u{0}", event.role.rawValue, event.action, event.from?.rawValue ?? "\u{0}",
      event.to.rawValue, event.details,
    ]
    if let stateHash { fields.append(stateHash) }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(256)
    for field in fields {
      bytes.append(contentsOf: String(field.utf8.count).utf8)
      bytes.append(UInt8(ascii: ":"))
      bytes.append(contentsOf: field.utf8)
      bytes.append(UInt8(ascii: ";"))
    }
    return SHA256Hex.digest(bytes)
  }

  /// The hash of a request's stored state (its `state_json`).
  static func stateHash(_ json: String) -> String {
    SHA256Hex.digest(Array(json.utf8))
  }

  /// What the audit key signs to protect the legacy boundary.
  static func boundaryText(_ legacyUntil: Int64) -> String { "okey-audit-legacy-until:\(legacyUntil)" }

  /// Signs the legacy boundary with `key` when it is not signed yet (first start with a key).
  static func sealBoundary(with key: AuditKey, in db: Database) throws {
    guard
      let legacyUntil = try db.value(Int64.self, "SELECT legacy_until FROM audit_meta WHERE id = 1 AND seal IS NULL")
    else { return }
    try db.run("UPDATE audit_meta SET seal = ? WHERE id = 1 AND seal IS NULL", [key.sign(boundaryText(legacyUntil))])
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
    guard let recorded: String = try row.decode(forColumn: AuditEventRow.Columns.stateHash) else { return }
    guard recorded == stateHash(stateJSON) else {
      throw StoreError(
        .tampered,
        "request \(renewalID) was changed outside OKEY since its last audited change: nothing is written on it; support must run okey audit verify"
      )
    }
  }

  /// Appends events in the current transaction and moves the head. `stateJSON` is the request's
  /// stored state after the change.
  static func append(_ events: [RenewalEvent], renewalID: String, stateJSON: String, key: AuditKey?, in db: Database)
    throws
  {
    let head = try AuditHeadRow.read(db)
    var sequence = head?.lastSequence ?? 0
    var previous = head?.lastHash ?? genesis
    let stateHash = stateHash(stateJSON)
    for event in events {
      sequence += 1
      let hash = hash(previous: previous, sequence: sequence, renewalID: renewalID, event: event, stateHash: stateHash)
      try db.run(
        """
        INSERT INTO audit_events (sequence, renewal_id, at, actor, on_behalf_of, role, action, from_status, to_status, details, prev_hash, hash, state_hash, mac)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [
          sequence, renewalID, event.at.millisecondsSinceEpoch, event.actor, event.onBehalfOf, event.role.rawValue,
          event.action, event.from?.rawValue, event.to.rawValue, event.details, previous, hash, stateHash,
          key?.sign(hash),
        ]
      )
      previous = hash
    }
    try db.run(
      "INSERT INTO audit_head (id, last_sequence, last_hash) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET last_sequence = excluded.last_sequence, last_hash = excluded.last_hash",
      [sequence, previous]
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
    var problems: [AuditProblem] = []
    let meta = try db.row("SELECT legacy_until, seal FROM audit_meta WHERE id = 1")
    let legacyUntil: Int64 = meta?["legacy_until"] ?? 0
    if meta == nil {
      problems.append(
        AuditProblem(sequence: 0, kind: .altered, message: "the audit chain's boundary record is missing"))
    } else if let key {
      let seal: String? = meta?["seal"]
      if seal != key.sign(boundaryText(legacyUntil)) {
        problems.append(
          AuditProblem(
            sequence: legacyUntil, kind: .altered,
            message:
              "the boundary of unsigned events (\(legacyUntil)) was changed, or okeyd runs with another audit key"))
      }
    }
    var expectedPrevious = genesis
    var expectedSequence: Int64 = 1
    var checked: Int64 = 0
    var hashes: [Int64: String] = [:]
    // Each request's events must follow one another: an event starts where the one before ended.
    var lastStatus: [String: RenewalStatus] = [:]
    let cursor = try AuditEventRow.fetchCursor(db, sql: "SELECT * FROM audit_events ORDER BY sequence")
    while let row = try cursor.next() {
      let stored = row.event
      checked += 1
      let roleKnown = row.roleKnown
      if stored.sequence != expectedSequence {
        problems.append(
          AuditProblem(
            sequence: expectedSequence, kind: .removed,
            message: "events \(expectedSequence) to \(stored.sequence - 1) are missing"))
      } else if stored.previousHash != expectedPrevious {
        problems.append(
          AuditProblem(
            sequence: stored.sequence, kind: .inserted,
            message: "event \(stored.sequence) does not follow the event before it"))
      }
      let legacy = stored.sequence <= legacyUntil
      let stateHash = row.stateHash
      let mac = row.mac
      var sound = roleKnown && (legacy || stateHash != nil)
      if sound {
        let recomputed = hash(
          previous: stored.previousHash, sequence: stored.sequence, renewalID: stored.renewalID, event: stored.event,
          stateHash: legacy ? nil : stateHash)
        sound = recomputed == stored.hash
      }
      if sound, !legacy, let key, mac != key.sign(stored.hash) { sound = false }
      if !sound {
        problems.append(
          AuditProblem(
            sequence: stored.sequence, kind: .altered,
            message: "event \(stored.sequence) was changed after it was written"))
      }
      if let expectedHead, stored.sequence == expectedHead.sequence { hashes[stored.sequence] = stored.hash }
      if let from = stored.event.from, let before = lastStatus[stored.renewalID], from != before {
        problems.append(
          AuditProblem(
            sequence: stored.sequence, kind: .stateMismatch,
            message:
              "event \(stored.sequence) of request \(stored.renewalID) starts from \(from.rawValue) but the request was \(before.rawValue)",
            renewalID: stored.renewalID))
      }
      lastStatus[stored.renewalID] = stored.event.to
      expectedPrevious = stored.hash
      expectedSequence = stored.sequence + 1
    }
    let head = try AuditHeadRow.read(db)
    let headSequence = head?.lastSequence ?? 0
    let headHash = head?.lastHash ?? genesis
    if headSequence > expectedSequence - 1 {
      problems.append(
        AuditProblem(
          sequence: expectedSequence, kind: .removed, message: "the last events up to \(headSequence) are missing"))
    } else if headSequence < expectedSequence - 1 {
      problems.append(
        AuditProblem(
          sequence: headSequence + 1, kind: .inserted,
          message: "events after \(headSequence) were not written by the service"))
    } else if headHash != expectedPrevious {
      problems.append(
        AuditProblem(sequence: headSequence, kind: .altered, message: "the last event does not match the chain's head"))
    }
    if let expectedHead, expectedHead.sequence > 0 {
      if expectedSequence - 1 < expectedHead.sequence {
        problems.append(
          AuditProblem(
            sequence: expectedHead.sequence, kind: .truncated,
            message:
              "the chain ends at \(expectedSequence - 1), before the exported head \(expectedHead.sequence): events were removed from its end"
          ))
      } else if hashes[expectedHead.sequence] != expectedHead.hash.lowercased() {
        problems.append(
          AuditProblem(
            sequence: expectedHead.sequence, kind: .altered,
            message: "event \(expectedHead.sequence) is not the one exported as the head: the chain was rewritten"))
      }
    }
    let renewals = try db.value(Int64.self, "SELECT COUNT(*) FROM renewals") ?? 0
    if checked == 0, renewals > 0 {
      problems.append(
        AuditProblem(sequence: 0, kind: .emptied, message: "the audit trail is empty while \(renewals) requests exist"))
    }
    let requestsChecked = try verifyStates(in: db, legacyUntil: legacyUntil, problems: &problems)
    return AuditVerification(
      eventsChecked: checked, requestsChecked: requestsChecked, keyed: key != nil, problems: problems)
  }

  /// Compares each request's stored row with its last event: the hash of its state, and the
  /// columns queries filter on (derived from that state).
  static func verifyStates(in db: Database, legacyUntil: Int64, problems: inout [AuditProblem]) throws -> Int64 {
    var checked: Int64 = 0
    // The co-validators index, by request (rows whose request is gone are reported too).
    var indexed: [String: [String]] = [:]
    for row in try Row.fetchAll(db, sql: "SELECT renewal_id, uid FROM renewal_validators") {
      let renewalID: String = row["renewal_id"]
      let uid: String = row["uid"]
      indexed[renewalID, default: []].append(uid)
    }
    let cursor = try RenewalRow.fetchCursor(
      db,
      sql: """
        SELECT r.id, r.agent_uid, r.key_type, r.status, r.version, r.n1_uid, r.n2_uid, r.routed, r.state_json,
          e.sequence AS last_sequence, e.state_hash AS last_state_hash
        FROM renewals r
        LEFT JOIN audit_events e ON e.sequence = (SELECT MAX(sequence) FROM audit_events WHERE renewal_id = r.id)
        ORDER BY r.created_at, r.id
        """)
    while let row = try cursor.next() {
      checked += 1
      let id = row.id
      func mismatch(_ why: String) {
        problems.append(
          AuditProblem(
            sequence: row.lastSequence ?? 0, kind: .stateMismatch, message: "request \(id): \(why)", renewalID: id))
      }
      guard let lastSequence = row.lastSequence else {
        mismatch("no audit event records it")
        continue
      }
      if lastSequence > legacyUntil, row.lastStateHash != stateHash(row.stateJSON) {
        mismatch("its stored state is not the one its last event (\(lastSequence)) recorded")
      }
      guard let state = try? SQLiteRenewalStore.decodeRenewal(row.stateJSON) else {
        mismatch("its stored state cannot be read")
        continue
      }
      if !row.agrees(with: state) { mismatch("its columns were changed apart from its state") }
      if (indexed.removeValue(forKey: id) ?? []).sorted() != state.routing.coValidatorUIDs {
        mismatch("its co-validators index was changed apart from its state")
      }
    }
    for id in indexed.keys.sorted() {
      problems.append(
        AuditProblem(
          sequence: 0, kind: .stateMismatch, message: "request \(id): co-validators indexed for no request",
          renewalID: id))
    }
    return checked
  }
}
