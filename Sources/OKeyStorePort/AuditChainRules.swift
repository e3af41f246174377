import Foundation
import OKeyDomain

/// The rules of the audit hash chain, the same for every store adapter: each event carries the hash
/// of the one before, the hash of the request's stored state after it, and an HMAC of its hash under
/// the audit key. Events written before the chain was keyed (up to the boundary `legacyUntil`) are
/// checked with the rule they were written with (no state hash, no signature); the boundary is
/// itself signed.
package enum AuditChainRules {
  /// The hash before the first event.
  package static let genesis = String(repeating: "0", count: 64)

  /// The hash of an event given the hash before it. Fields are length-prefixed so that no two
  /// different events serialise the same way. Legacy events have no state hash.
  package static func hash(
    previous: String, sequence: Int64, renewalID: String, event: RenewalEvent, stateHash: String?
  ) -> String {
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

  /// The hash of a request's stored state (its JSON, byte for byte as stored).
  package static func stateHash(_ json: String) -> String {
    SHA256Hex.digest(Array(json.utf8))
  }

  /// What the audit key signs to protect the legacy boundary.
  package static func boundaryText(_ legacyUntil: Int64) -> String { "okey-audit-legacy-until:\(legacyUntil)" }

  /// The refusal when a request's stored state is not the one its last signed event recorded: a row
  /// changed outside okeyd is never carried forward and signed by the next change. Nil when it is.
  package static func tampering(renewalID: String, stateJSON: String, lastStateHash: String?) -> StoreError? {
    guard let lastStateHash, lastStateHash != stateHash(stateJSON) else { return nil }
    return StoreError(
      .tampered,
      "request \(renewalID) was changed outside OKEY since its last audited change: nothing is written on it; support must run okey audit verify"
    )
  }

  /// The rows of `events` as they are appended after `head` (sequence and hash of the last event):
  /// each with its sequence, the hash before it, its hash and its signature.
  package static func links(
    _ events: [RenewalEvent], renewalID: String, stateJSON: String, after head: (sequence: Int64, hash: String),
    key: AuditKey?
  ) -> [(sequence: Int64, event: RenewalEvent, previous: String, hash: String, stateHash: String, mac: String?)] {
    var sequence = head.sequence
    var previous = head.hash
    let state = stateHash(stateJSON)
    return events.map { event in
      sequence += 1
      let hash = hash(previous: previous, sequence: sequence, renewalID: renewalID, event: event, stateHash: state)
      defer { previous = hash }
      return (sequence, event, previous, hash, state, key?.sign(hash))
    }
  }
}

/// The JSON a request's whole state is stored as, beside the columns queries filter on: the same
/// bytes in every store, so that the audit chain's state hashes agree after a move between stores.
package enum RenewalJSON {
  static let encoder: JSONEncoder = {
    let encoder = JSONEncoder()
    encoder.outputFormatting = []
    return encoder
  }()

  /// The stored form of a value.
  package static func encode<T: Encodable>(_ value: T) throws -> String {
    String(decoding: try encoder.encode(value), as: UTF8.self)
  }

  /// A request from its stored form.
  package static func decodeRenewal(_ json: String) throws -> RenewalRequest {
    try JSONDecoder().decode(RenewalRequest.self, from: Data(json.utf8))
  }
}

/// One stored audit event as the verifier reads it.
package struct StoredAuditEvent: Sendable {
  /// The event and its links.
  package var event: AuditEvent
  /// False when the stored role is none okeyd writes (the row was changed outside it).
  package var roleKnown: Bool
  /// The hash of the request's state the event recorded (nil for a legacy event).
  package var stateHash: String?
  /// The event's HMAC under the audit key (nil for a legacy or unkeyed event).
  package var mac: String?

  /// Creates one.
  package init(event: AuditEvent, roleKnown: Bool, stateHash: String?, mac: String?) {
    self.event = event
    self.roleKnown = roleKnown
    self.stateHash = stateHash
    self.mac = mac
  }
}

/// A stored request as the verifier compares it with its last event.
package struct StoredRenewalState {
  /// The request's id.
  package var id: String
  /// Its last event's sequence and state hash (nil when no event records it).
  package var lastSequence: Int64?
  /// The state hash its last event recorded.
  package var lastStateHash: String?
  /// The stored JSON state.
  package var stateJSON: String
  /// True when the row's filter columns are those its state gives.
  package var columnsAgree: (RenewalRequest) -> Bool
  /// The co-validators the index holds for it.
  package var indexedCoValidators: [String]

  /// Creates one.
  package init(
    id: String, lastSequence: Int64?, lastStateHash: String?, stateJSON: String,
    columnsAgree: @escaping (RenewalRequest) -> Bool, indexedCoValidators: [String]
  ) {
    self.id = id
    self.lastSequence = lastSequence
    self.lastStateHash = lastStateHash
    self.stateJSON = stateJSON
    self.columnsAgree = columnsAgree
    self.indexedCoValidators = indexedCoValidators
  }
}

/// The verification of the whole chain and of every request, fed by a store in sequence order:
/// altered or unsigned events, gaps, a head that does not match, a chain cut before the exported
/// head, a chain emptied while requests exist, requests whose stored state is not the one their last
/// event recorded.
package struct AuditChainWalk {
  let key: AuditKey?
  let legacyUntil: Int64
  let expectedHead: AuditHead?
  package private(set) var problems: [AuditProblem] = []
  var expectedPrevious = AuditChainRules.genesis
  var expectedSequence: Int64 = 1
  var checked: Int64 = 0
  var requestsChecked: Int64 = 0
  var exportedHash: String?
  // Each request's events must follow one another: an event starts where the one before ended.
  var lastStatus: [String: RenewalStatus] = [:]

  /// Starts a walk; `boundary` is the stored legacy boundary and its seal (nil when the record is missing).
  package init(key: AuditKey?, boundary: (legacyUntil: Int64, seal: String?)?, expectedHead: AuditHead?) {
    self.key = key
    self.expectedHead = expectedHead
    legacyUntil = boundary?.legacyUntil ?? 0
    if boundary == nil {
      problems.append(
        AuditProblem(sequence: 0, kind: .altered, message: "the audit chain's boundary record is missing"))
    } else if let key, boundary?.seal != key.sign(AuditChainRules.boundaryText(legacyUntil)) {
      problems.append(
        AuditProblem(
          sequence: legacyUntil, kind: .altered,
          message: "the boundary of unsigned events (\(legacyUntil)) was changed, or okeyd runs with another audit key"
        ))
    }
  }

  /// Checks the next event of the chain.
  package mutating func visit(_ row: StoredAuditEvent) {
    let stored = row.event
    checked += 1
    if stored.sequence != expectedSequence {
      problems.append(
        AuditProblem(
          sequence: expectedSequence, kind: .removed,
          message: "events \(expectedSequence) to \(stored.sequence - 1) are missing"))
    } else if stored.previousHash != expectedPrevious {
      problems.append(
        AuditProblem(
          sequence: stored.sequence, kind: .inserted,
          message: "event \(stored.sequence) does not follow the event before it"
        ))
    }
    let legacy = stored.sequence <= legacyUntil
    var sound = row.roleKnown && (legacy || row.stateHash != nil)
    if sound {
      let recomputed = AuditChainRules.hash(
        previous: stored.previousHash, sequence: stored.sequence, renewalID: stored.renewalID, event: stored.event,
        stateHash: legacy ? nil : row.stateHash)
      sound = recomputed == stored.hash
    }
    if sound, !legacy, let key, row.mac != key.sign(stored.hash) { sound = false }
    if !sound {
      problems.append(
        AuditProblem(
          sequence: stored.sequence, kind: .altered,
          message: "event \(stored.sequence) was changed after it was written"))
    }
    if let expectedHead, stored.sequence == expectedHead.sequence { exportedHash = stored.hash }
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

  /// Compares the chain's end with the stored head and the exported one; `renewals` counts the
  /// stored requests (an empty chain beside requests is a trail emptied).
  package mutating func finishChain(head: (sequence: Int64, hash: String)?, renewals: Int64) {
    let headSequence = head?.sequence ?? 0
    let headHash = head?.hash ?? AuditChainRules.genesis
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
      } else if exportedHash != expectedHead.hash.lowercased() {
        problems.append(
          AuditProblem(
            sequence: expectedHead.sequence, kind: .altered,
            message: "event \(expectedHead.sequence) is not the one exported as the head: the chain was rewritten"))
      }
    }
    if checked == 0, renewals > 0 {
      problems.append(
        AuditProblem(sequence: 0, kind: .emptied, message: "the audit trail is empty while \(renewals) requests exist"))
    }
  }

  /// Compares a stored request with its last event: the hash of its state, and the columns queries
  /// filter on (derived from that state).
  package mutating func visit(_ row: StoredRenewalState) {
    requestsChecked += 1
    let id = row.id
    func mismatch(_ why: String) {
      problems.append(
        AuditProblem(
          sequence: row.lastSequence ?? 0, kind: .stateMismatch, message: "request \(id): \(why)", renewalID: id))
    }
    guard let lastSequence = row.lastSequence else {
      mismatch("no audit event records it")
      return
    }
    if lastSequence > legacyUntil, row.lastStateHash != AuditChainRules.stateHash(row.stateJSON) {
      mismatch("its stored state is not the one its last event (\(lastSequence)) recorded")
    }
    guard let state = try? RenewalJSON.decodeRenewal(row.stateJSON) else {
      mismatch("its stored state cannot be read")
      return
    }
    if !row.columnsAgree(state) { mismatch("its columns were changed apart from its state") }
    if row.indexedCoValidators.sorted() != state.routing.coValidatorUIDs {
      mismatch("its co-validators index was changed apart from its state")
    }
  }

  /// Reports co-validators indexed for requests that do not exist.
  package mutating func orphanCoValidators(_ ids: [String]) {
    for id in ids.sorted() {
      problems.append(
        AuditProblem(
          sequence: 0, kind: .stateMismatch, message: "request \(id): co-validators indexed for no request",
          renewalID: id))
    }
  }

  /// The result.
  package func verification() -> AuditVerification {
    AuditVerification(eventsChecked: checked, requestsChecked: requestsChecked, keyed: key != nil, problems: problems)
  }
}
