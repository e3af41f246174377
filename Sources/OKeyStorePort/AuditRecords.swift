import Crypto
import Foundation
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

  /// Creates a value (for the store adapters).
  package init(sequence: Int64, renewalID: String, event: RenewalEvent, previousHash: String, hash: String) {
    self.sequence = sequence
    self.renewalID = renewalID
    self.event = event
    self.previousHash = previousHash
    self.hash = hash
  }
}

/// A break found in the audit chain.
public struct AuditProblem: Sendable, Hashable {
  /// What is wrong.
  public enum Kind: String, Sendable, Hashable, CaseIterable {
    /// An event's content, or its signature, does not match.
    case altered = "ALTERED"
    /// An event that was not written by the service sits in the chain.
    case inserted = "INSERTED"
    /// Events are missing (a gap in the sequence, or the last ones before the head).
    case removed = "REMOVED"
    /// The chain ends before the head exported earlier.
    case truncated = "TRUNCATED"
    /// No events at all while requests exist.
    case emptied = "EMPTIED"
    /// A request's stored state is not the one its last event recorded.
    case stateMismatch = "STATE_MISMATCH"
  }

  /// Sequence number where the chain breaks (0 when no event is concerned).
  public var sequence: Int64
  /// What is wrong.
  public var kind: Kind
  /// For people.
  public var message: String
  /// The request concerned (state mismatches), or nil.
  public var renewalID: String?

  /// Creates a problem.
  public init(sequence: Int64, kind: Kind, message: String, renewalID: String? = nil) {
    self.sequence = sequence
    self.kind = kind
    self.message = message
    self.renewalID = renewalID
  }
}

/// The outcome of a verification of the audit chain.
public struct AuditVerification: Sendable, Hashable {
  /// Events read.
  public var eventsChecked: Int64
  /// Requests whose stored state was compared with their last event.
  public var requestsChecked: Int64 = 0
  /// True when the signatures were checked with the audit key.
  public var keyed = false
  /// Breaks found, in chain order.
  public var problems: [AuditProblem]
  /// True when nothing is wrong.
  public var intact: Bool { problems.isEmpty }

  /// Creates a value (for the store adapters).
  package init(eventsChecked: Int64, requestsChecked: Int64 = 0, keyed: Bool = false, problems: [AuditProblem]) {
    self.eventsChecked = eventsChecked
    self.requestsChecked = requestsChecked
    self.keyed = keyed
    self.problems = problems
  }
}

/// The last event of the chain, to export and compare later.
public struct AuditHead: Sendable, Hashable {
  /// Its sequence number (0 for an empty chain).
  public var sequence: Int64
  /// Its hash (64 zeros for an empty chain).
  public var hash: String
  /// When it was written.
  public var at: Instant?

  /// Creates a head.
  public init(sequence: Int64, hash: String, at: Instant? = nil) {
    self.sequence = sequence
    self.hash = hash
    self.at = at
  }
}

/// The key that signs the audit trail (HMAC-SHA-256), kept outside the database.
public struct AuditKey: Sendable {
  let key: SymmetricKey

  /// A key from its bytes (at least 32).
  public init(bytes: [UInt8]) {
    key = SymmetricKey(data: bytes)
  }

  /// Lower-case hex HMAC-SHA-256 of `text` under this key (also what okeyd stores of session
  /// tokens, so that rows written into the file by hand open no session).
  public func authenticationCode(_ text: String) -> String { sign(text) }

  /// Lower-case hex HMAC-SHA-256 of `text`.
  package func sign(_ text: String) -> String {
    SHA256Hex.hex(Array(HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: key)))
  }
}
