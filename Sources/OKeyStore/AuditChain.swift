import GRDB
import OKeyDomain

/// One stored audit event.
public struct AuditEvent: Sendable, Hashable {
  /// Position in the chain, from 1.
  public var sequence: Int64
  /// The request it concerns.
  public var renewalID: String
  /// The event.
  public var event: RenewalEvent
  /// Hash of the event before (64 zeros for the first).
  public var previousHash: String
  /// This event's hash.
  public var hash: String
}

/// A break found in the audit chain.
public struct AuditProblem: Sendable, Hashable {
  /// What is wrong.
  public enum Kind: String, Sendable, Hashable {
    /// An event's content does not match its hash.
    case altered = "ALTERED"
    /// An event that was not written by the service sits in the chain.
    case inserted = "INSERTED"
    /// An event is missing.
    case removed = "REMOVED"
  }

  /// Sequence number where the chain breaks.
  public var sequence: Int64
  /// What is wrong.
  public var kind: Kind
  /// For people.
  public var message: String
}

/// The outcome of a verification of the audit chain.
public struct AuditVerification: Sendable, Hashable {
  /// Events read.
  public var eventsChecked: Int64
  /// Breaks found, in chain order.
  public var problems: [AuditProblem]
  /// True when nothing is wrong.
  public var intact: Bool { problems.isEmpty }
}

/// The hash chain of the audit log: each event carries the hash of the one before.
enum AuditChain {
  static let genesis = String(repeating: "0", count: 64)

  /// The hash of an event given the hash before it. Fields are length-prefixed so that no two
  /// different events serialise the same way.
  static func hash(previous: String, sequence: Int64, renewalID: String, event: RenewalEvent) -> String {
    let fields: [String] = [
      previous, String(sequence), renewalID, String(event.at.millisecondsSinceEpoch), event.actor,
      event.onBehalfOf ?? "\u{0}", event.role.rawValue, event.action, event.from?.rawValue ?? "\u{0}",
      event.to.rawValue, event.details,
    ]
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

  /// Appends events in the current transaction and moves the head.
  static func append(_ events: [RenewalEvent], renewalID: String, in db: Database) throws {
    let head = try db.row("SELECT last_sequence, last_hash FROM audit_head WHERE id = 1")
    var sequence: Int64 = head?["last_sequence"] ?? 0
    var previous: String = head?["last_hash"] ?? genesis
    for event in events {
      sequence += 1
      let hash = hash(previous: previous, sequence: sequence, renewalID: renewalID, event: event)
      try db.run(
        """
        INSERT INTO audit_events (sequence, renewal_id, at, actor, on_behalf_of, role, action, from_status, to_status, details, prev_hash, hash)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [
          sequence, renewalID, event.at.millisecondsSinceEpoch, event.actor, event.onBehalfOf, event.role.rawValue,
          event.action, event.from?.rawValue, event.to.rawValue, event.details, previous, hash,
        ]
      )
      previous = hash
    }
    try db.run(
      "INSERT INTO audit_head (id, last_sequence, last_hash) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET last_sequence = excluded.last_sequence, last_hash = excluded.last_hash",
      [sequence, previous]
    )
  }

  static func event(from row: Row) -> AuditEvent {
    let from: String? = row["from_status"]
    let to: String = row["to_status"]
    let role: String = row["role"]
    return AuditEvent(
      sequence: row["sequence"],
      renewalID: row["renewal_id"],
      event: RenewalEvent(
        action: row["action"], actor: row["actor"], onBehalfOf: row["on_behalf_of"],
        role: ActingRole(rawValue: role) ?? .system, from: from.flatMap(RenewalStatus.init(rawValue:)),
        to: RenewalStatus(rawValue: to) ?? .draft, details: row["details"],
        at: Instant(millisecondsSinceEpoch: row["at"])
      ),
      previousHash: row["prev_hash"],
      hash: row["hash"]
    )
  }

  /// Walks the whole chain and reports every break.
  static func verify(in db: Database) throws -> AuditVerification {
    var problems: [AuditProblem] = []
    var expectedPrevious = genesis
    var expectedSequence: Int64 = 1
    var checked: Int64 = 0
    let cursor = try Row.fetchCursor(db, sql: "SELECT * FROM audit_events ORDER BY sequence")
    while let row = try cursor.next() {
      let stored = event(from: row)
      checked += 1
      let roleKnown = ActingRole(rawValue: row["role"] as String) != nil
      if stored.sequence != expectedSequence {
        problems.append(
          AuditProblem(
            sequence: expectedSequence, kind: .removed,
            message: "events \(expectedSequence) to \(stored.sequence - 1) are missing"
          )
        )
      } else if stored.previousHash != expectedPrevious {
        problems.append(
          AuditProblem(
            sequence: stored.sequence, kind: .inserted,
            message: "event \(stored.sequence) does not follow the event before it")
        )
      }
      let recomputed = hash(
        previous: stored.previousHash, sequence: stored.sequence, renewalID: stored.renewalID, event: stored.event)
      if recomputed != stored.hash || !roleKnown {
        problems.append(
          AuditProblem(
            sequence: stored.sequence, kind: .altered,
            message: "event \(stored.sequence) was changed after it was written")
        )
      }
      expectedPrevious = stored.hash
      expectedSequence = stored.sequence + 1
    }
    let head = try db.row("SELECT last_sequence, last_hash FROM audit_head WHERE id = 1")
    let headSequence: Int64 = head?["last_sequence"] ?? 0
    let headHash: String = head?["last_hash"] ?? genesis
    if headSequence > expectedSequence - 1 {
      problems.append(
        AuditProblem(
          sequence: expectedSequence, kind: .removed, message: "the last events up to \(headSequence) are missing")
      )
    } else if headSequence < expectedSequence - 1 {
      problems.append(
        AuditProblem(
          sequence: headSequence + 1, kind: .inserted,
          message: "events after \(headSequence) were not written by the service")
      )
    } else if headHash != expectedPrevious {
      problems.append(
        AuditProblem(sequence: headSequence, kind: .altered, message: "the last event does not match the chain's head"))
    }
    return AuditVerification(eventsChecked: checked, problems: problems)
  }
}
