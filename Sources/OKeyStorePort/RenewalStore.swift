import OKeyDomain

/// The persistence port of OKEY: every change of a request commits its new state, its audit events,
/// its outbox messages and its effects in one transaction, or nothing. SQLite implements it
/// (``SQLiteRenewalStore``); a shared store (PostgreSQL) can stand beside it without touching the
/// domain or the RPC layer.
public protocol RenewalStore: Sendable {
  /// Starts a request. `decide` gets the agent's open request id (if any) inside the transaction
  /// and returns the domain's decision. A retry with the same idempotency key in the same `scope`
  /// (the caller's) returns the first result.
  func start(
    agentUID: String,
    scope: String,
    idempotencyKey: IdempotencyKey?,
    decide: @escaping @Sendable (_ openRenewalID: String?) throws -> Result<RenewalDecision, RenewalRefusal>
  ) async throws -> RenewalRequest

  /// Changes a request: loads it, lets `decide` decide from it (and from what the reader finds in
  /// the same transaction), writes the result. Throws the domain's ``RenewalRefusal``, a
  /// ``StoreError``, or what `decide` throws (the transaction is then rolled back). With an idempotency key, a retry returns the first result (the key is scoped to
  /// the request's agent and `operation`).
  func change(
    renewalID: String,
    operation: String,
    idempotencyKey: IdempotencyKey?,
    decide: @escaping @Sendable (RenewalRequest, any ChangeReader) throws -> Result<RenewalDecision, RenewalRefusal>
  ) async throws -> RenewalRequest

  /// One request, or nil.
  func renewal(id: String) async throws -> RenewalRequest?
  /// One request with what a reader shows beside it (history when asked, pickup place and slot),
  /// read in one transaction; nil when there is no such request.
  func renewalView(id: String, withHistory: Bool) async throws -> RenewalView?
  /// The agent's open request, or nil.
  func openRenewal(agentUID: String) async throws -> RenewalRequest?
  /// The audit events of one request, oldest first.
  func history(renewalID: String) async throws -> [AuditEvent]
  /// The content of a document, or nil (unknown, or deleted after the retention period).
  func documentContent(id: String) async throws -> [UInt8]?
  /// Requests matching a query, one page at a time.
  func search(_ query: RenewalQuery) async throws -> RenewalPage
  /// The same page as ``search(_:)``, each request read from its indexed columns only (no stored
  /// state decoded): what a list shows.
  func searchSummaries(_ query: RenewalQuery) async throws -> RenewalSummaryPage
  /// Request counts per status.
  func countByStatus() async throws -> [RenewalStatus: Int]

  /// Publishes a charter version; it becomes the current one. A version is never overwritten.
  func publishCharter(_ charter: Charter) async throws
  /// The charter published last, or nil.
  func currentCharter() async throws -> Charter?

  /// The request kept for an idempotency key of `agentUID`'s request in `operation`, or nil for a new
  /// key; ``StoreError/Code/keyReused`` when it came with other arguments. Read-only: a retry is
  /// answered before anything else (the directory) is asked.
  func keptRenewal(agentUID: String, operation: String, key: IdempotencyKey) async throws -> RenewalRequest?
  /// The reply kept for an idempotency key of a change that is not a request's, as
  /// ``keptRenewal(agentUID:operation:key:)``.
  func keptReply(ownerUID: String, operation: String, key: IdempotencyKey) async throws -> String?

  /// Creates or updates a pickup place and adds slots there. With an idempotency key (scoped to
  /// `ownerUID` and `operation`), `result` (the reply, as text) is kept with the change, and a retry
  /// gets the first call's result back without writing anything; the return value is the result to
  /// answer with.
  func savePickupPlace(_ place: PickupPlace, addingSlots slots: [PickupSlot], idempotency: KeyedResult?) async throws
    -> String?
  /// Publishes a charter version, with an idempotency key as ``savePickupPlace(_:addingSlots:idempotency:)``.
  func publishCharter(_ charter: Charter, idempotency: KeyedResult?) async throws -> String?

  /// Creates or updates a pickup place and adds slots there.
  func savePickupPlace(_ place: PickupPlace, addingSlots slots: [PickupSlot]) async throws
  /// A pickup place, or nil.
  func pickupPlace(id: String) async throws -> PickupPlace?
  /// Slots of a place starting after `after`, earliest first; with `withRoomOnly`, only those not full.
  func pickupSlots(placeID: String, startingAfter after: Instant, withRoomOnly: Bool) async throws -> [PickupSlot]
  /// One slot, or nil.
  func pickupSlot(id: String) async throws -> PickupSlot?

  /// A person's keys, newest first.
  func keys(agentUID: String) async throws -> [KeyRecord]
  /// Records keys that existed before OKEY (imports), replacing records with the same serial.
  func importKeys(_ keys: [KeyRecord]) async throws
  /// Records keys that exist outside OKEY, in one transaction: a new serial is recorded, one already
  /// recorded for the same person and type is unchanged, one of another person or type refused.
  func recordExistingKeys(_ keys: [KeyRecord]) async throws -> [ExistingKeyOutcome]
  /// The outbox messages about a request, oldest first.
  func outboxMessages(renewalID: String) async throws -> [OutboxMessage]

  /// Walks the audit chain and every request's state; `expectedHead` is a head exported earlier
  /// (a chain cut before it is reported), or nil.
  func verifyAuditTrail(expectedHead: AuditHead?) async throws -> AuditVerification
  /// The last event of the audit chain.
  func auditHead() async throws -> AuditHead
  /// Deletes the content of the documents of requests that ended before `cutoff` (name, size and
  /// SHA-256 stay), with an audit event for each request; returns how many requests.
  func purgeDocuments(endedBefore cutoff: Instant, now: Instant) async throws -> Int
  /// Deletes idempotency keys created before `cutoff`; returns how many.
  func deleteIdempotencyKeys(createdBefore cutoff: Instant) async throws -> Int
  /// Deletes the enrolment codes not read before their expiry; returns how many.
  func deleteExpiredEnrolmentCodes(now: Instant) async throws -> Int
  /// Rows and bytes of each table, and the database files' sizes.
  func sizes() async throws -> StoreSizes
  /// Appends an audit event that changes nothing (a document read) to a request's trail.
  func recordRead(renewalID: String, event: RenewalEvent) async throws

  /// Stores a session (by the hash of its token only).
  func saveSession(_ session: StoredSession) async throws
  /// The session whose token hashes to `tokenHash`, if it exists and has not expired at `now`.
  func session(tokenHash: String, now: Instant) async throws -> StoredSession?
  /// Deletes the session whose token hashes to `tokenHash`; false when there was none.
  func deleteSession(tokenHash: String) async throws -> Bool
  /// Deletes sessions expired at `now`; returns how many.
  func deleteExpiredSessions(now: Instant) async throws -> Int

  /// Outbox messages in a state, oldest first.
  func outboxMessages(state: OutboxMessage.State, limit: Int, afterID: Int64) async throws -> [OutboxMessage]
  /// How many outbox messages are in a state.
  func outboxCount(state: OutboxMessage.State) async throws -> Int
  /// Marks up to `limit` pending messages due at `now` as being sent, and returns them; messages
  /// claimed before `staleClaim` and never marked (their attempt's end was lost) are claimed again.
  func claimDueOutboxMessages(now: Instant, limit: Int, reclaimingBefore staleClaim: Instant?) async throws
    -> [OutboxMessage]
  /// Records a message as sent.
  func markOutboxMessageSent(id: Int64, at: Instant) async throws
  /// Records a failed attempt: pending again at `retryAt`, or dead when `retryAt` is nil.
  func markOutboxMessageFailed(id: Int64, error: String, retryAt: Instant?) async throws
  /// Puts messages claimed but never marked (a crash between claim and send) back to pending;
  /// returns how many.
  func releaseOutboxClaims() async throws -> Int

  /// Runs `body` unless another okeyd sharing the database runs the job named `job` now (then nil):
  /// escalation, reminders and retention sweeps run on one replica at a time. A store one okeyd
  /// owns runs it at once.
  func exclusively<T: Sendable>(_ job: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T?

  /// The failed logins of a person counted in the store, for okeyd replicas sharing it: the count
  /// and the last failure, or nil when none is recorded. A store one okeyd owns keeps none (its
  /// throttle in memory sees every login).
  func loginFailures(person: String) async throws -> (count: Int, last: Instant)?

  /// Records a login of `person`: a failure counts one more (the count restarting when the last one
  /// is older than `window` seconds), a success clears the count.
  func recordLogin(person: String, failed: Bool, at now: Instant, window: Int64) async throws
}

extension RenewalStore {
  /// One okeyd per database: the job always runs.
  public func exclusively<T: Sendable>(_ job: String, _ body: @escaping @Sendable () async throws -> T)
    async throws -> T?
  {
    try await body()
  }

  /// One okeyd per database: its throttle in memory sees every login.
  public func loginFailures(person: String) async throws -> (count: Int, last: Instant)? { nil }

  /// One okeyd per database: nothing to record.
  public func recordLogin(person: String, failed: Bool, at now: Instant, window: Int64) async throws {}

  /// The first `limit` messages in `state`, oldest first.
  public func outboxMessages(state: OutboxMessage.State, limit: Int) async throws -> [OutboxMessage] {
    try await outboxMessages(state: state, limit: limit, afterID: 0)
  }

  /// Marks up to `limit` pending messages due at `now` as being sent, and returns them.
  public func claimDueOutboxMessages(now: Instant, limit: Int) async throws -> [OutboxMessage] {
    try await claimDueOutboxMessages(now: now, limit: limit, reclaimingBefore: nil)
  }

  /// Starts a request, idempotency keys scoped to the agent alone.
  public func start(
    agentUID: String,
    idempotencyKey: IdempotencyKey?,
    decide: @escaping @Sendable (_ openRenewalID: String?) throws -> Result<RenewalDecision, RenewalRefusal>
  ) async throws -> RenewalRequest {
    try await start(agentUID: agentUID, scope: "start", idempotencyKey: idempotencyKey, decide: decide)
  }

  /// Walks the audit chain and every request's state.
  public func verifyAuditTrail() async throws -> AuditVerification {
    try await verifyAuditTrail(expectedHead: nil)
  }
}

/// The size of one table (its indexes included).
public struct TableSize: Sendable, Hashable {
  /// The table.
  public var name: String
  /// Its rows.
  public var rows: Int64
  /// Bytes of its pages and its indexes' (0 when SQLite has no dbstat).
  public var bytes: Int64

  /// Creates a value (for the store adapters).
  package init(name: String, rows: Int64, bytes: Int64) {
    self.name = name
    self.rows = rows
    self.bytes = bytes
  }
}

/// How big the store is.
public struct StoreSizes: Sendable, Hashable {
  /// Each table.
  public var tables: [TableSize]
  /// The database file, in bytes.
  public var fileBytes: Int64
  /// Its write-ahead log, in bytes.
  public var walBytes: Int64

  /// Creates a value (for the store adapters).
  package init(tables: [TableSize], fileBytes: Int64, walBytes: Int64) {
    self.tables = tables
    self.fileBytes = fileBytes
    self.walBytes = walBytes
  }
}

/// A request as readers see it: the request, its history, its pickup place and booked slot.
public struct RenewalView: Sendable, Hashable {
  /// The request.
  public var renewal: RenewalRequest
  /// Its audit events, oldest first (empty unless asked).
  public var history: [AuditEvent]
  /// Its pickup place, if any.
  public var place: PickupPlace?
  /// Its booked slot, if any.
  public var slot: PickupSlot?

  /// Creates a value (for the store adapters).
  package init(renewal: RenewalRequest, history: [AuditEvent], place: PickupPlace?, slot: PickupSlot?) {
    self.renewal = renewal
    self.history = history
    self.place = place
    self.slot = slot
  }
}

/// What the change closure may read inside the transaction.
public protocol ChangeReader {
  /// A pickup slot, as it is in this transaction.
  func pickupSlot(id: String) throws -> PickupSlot?
  /// The current charter.
  func currentCharter() throws -> Charter?
  /// A pickup place.
  func pickupPlace(id: String) throws -> PickupPlace?
  /// A person's keys in the inventory.
  func keys(agentUID: String) throws -> [KeyRecord]
  /// The sealed enrolment code of a request, as it is in this transaction; nil when none waits.
  func enrolmentCode(renewalID: String) throws -> [UInt8]?
}

/// What became of a key recorded with ``RenewalStore/recordExistingKeys(_:)``.
public enum ExistingKeyOutcome: Sendable, Hashable {
  case recorded
  case unchanged
  case refused(String)
}

/// A search over requests. Filters combine with AND; nil or empty filters match everything.
public struct RenewalQuery: Sendable, Hashable {
  /// Order of results.
  public enum Order: Sendable, Hashable {
    case newestFirst
    case oldestFirst
  }

  /// Only this agent's requests.
  public var agentUID: String?
  /// Only these statuses.
  public var statuses: [RenewalStatus] = []
  /// Only this key type.
  public var keyType: KeyType?
  /// Only requests whose routing names this uid as N+1 or N+2.
  public var approverUID: String?
  /// Only requests whose hardware key waits at one of these establishments (UAIs); empty for any.
  public var handoverEstablishments: [String] = []
  /// Only routed requests (snapshot taken).
  public var routedOnly = false
  /// Only what the DSI can act on now: a software key in AWAITING_ENROLMENT only once the agent said
  /// the elements were sent.
  public var actionableByDSI = false
  /// Only requests started at or after this instant.
  public var createdAfter: Instant?
  /// Only requests started before this instant.
  public var createdBefore: Instant?
  /// Order.
  public var order: Order = .newestFirst
  /// Page size.
  public var limit = 20
  /// Continue after this position (from ``RenewalPage/next``).
  public var after: RenewalCursor?

  /// Creates a query.
  public init() {}
}

/// A position in a result list: the creation instant and id of the last request of a page.
public struct RenewalCursor: Sendable, Hashable {
  /// Creation instant of the last request seen.
  public var createdAt: Instant
  /// Id of the last request seen.
  public var id: String

  /// Creates a cursor.
  public init(createdAt: Instant, id: String) {
    self.createdAt = createdAt
    self.id = id
  }
}

/// One page of requests.
public struct RenewalPage: Sendable, Hashable {
  /// The requests.
  public var renewals: [RenewalRequest]
  /// Where the next page starts; nil on the last page.
  public var next: RenewalCursor?

  /// Creates a value (for the store adapters).
  package init(renewals: [RenewalRequest], next: RenewalCursor?) {
    self.renewals = renewals
    self.next = next
  }
}

/// A request as a list shows it: the columns the store keeps beside the stored state.
public struct RenewalSummary: Sendable, Hashable {
  /// The request's id.
  public var id: String
  /// The agent who asked.
  public var agentUID: String
  /// The kind of key asked for.
  public var keyType: KeyType
  /// Where the request stands.
  public var status: RenewalStatus
  /// The optimistic version.
  public var version: Int64
  /// The N+1's uid, when routed.
  public var n1UID: String?
  /// The N+2's uid, when there is one.
  public var n2UID: String?
  /// True once submitted with its documents.
  public var routed: Bool
  /// When the request was started.
  public var createdAt: Instant
  /// When it last changed.
  public var updatedAt: Instant

  /// Creates a value (for the store adapters and tests).
  package init(
    id: String, agentUID: String, keyType: KeyType, status: RenewalStatus, version: Int64, n1UID: String?,
    n2UID: String?, routed: Bool, createdAt: Instant, updatedAt: Instant
  ) {
    self.id = id
    self.agentUID = agentUID
    self.keyType = keyType
    self.status = status
    self.version = version
    self.n1UID = n1UID
    self.n2UID = n2UID
    self.routed = routed
    self.createdAt = createdAt
    self.updatedAt = updatedAt
  }
}

/// One page of request summaries.
public struct RenewalSummaryPage: Sendable, Hashable {
  /// The requests.
  public var summaries: [RenewalSummary]
  /// Where the next page starts; nil on the last page.
  public var next: RenewalCursor?

  /// Creates a value (for the store adapters).
  package init(summaries: [RenewalSummary], next: RenewalCursor?) {
    self.summaries = summaries
    self.next = next
  }
}

/// A login session, known by the hash of its token.
public struct StoredSession: Sendable, Hashable {
  /// SHA-256 of the token, hex.
  public var tokenHash: String
  /// The person.
  public var uid: String
  /// When it was opened.
  public var createdAt: Instant
  /// When it stops working.
  public var expiresAt: Instant
  /// The person's directory DN, name and mail at login.
  public var dn: String
  public var displayName: String
  public var mail: String
  /// The person's group roles at login.
  public var groups: Set<Caller.GroupRole>

  /// Creates a session record.
  public init(
    tokenHash: String, uid: String, createdAt: Instant, expiresAt: Instant, dn: String = "", displayName: String = "",
    mail: String = "", groups: Set<Caller.GroupRole> = []
  ) {
    self.tokenHash = tokenHash
    self.uid = uid
    self.createdAt = createdAt
    self.expiresAt = expiresAt
    self.dn = dn
    self.displayName = displayName
    self.mail = mail
    self.groups = groups
  }
}

/// A notification waiting in (or gone through) the outbox.
public struct OutboxMessage: Sendable, Hashable {
  /// Delivery state.
  public enum State: String, Sendable, Hashable, CaseIterable {
    case pending = "PENDING"
    case sending = "SENDING"
    case sent = "SENT"
    case dead = "DEAD"
  }

  /// Row id.
  public var id: Int64
  /// The request.
  public var renewalID: String
  /// What it says.
  public var kind: NotificationIntent.Kind
  /// The person it goes to, or nil for the DSI mailbox.
  public var recipient: DirectoryPerson?
  /// Facts for the template.
  public var details: String
  /// State.
  public var state: State
  /// Attempts so far.
  public var attempts: Int
  /// Stable Message-ID, the same on every attempt.
  public var messageID: String
  /// The last delivery error, if any.
  public var lastError: String?
  /// When it was written.
  public var createdAt: Instant

  /// Creates a value (for the store adapters).
  package init(
    id: Int64, renewalID: String, kind: NotificationIntent.Kind, recipient: DirectoryPerson?, details: String,
    state: State, attempts: Int, messageID: String, lastError: String?, createdAt: Instant
  ) {
    self.id = id
    self.renewalID = renewalID
    self.kind = kind
    self.recipient = recipient
    self.details = details
    self.state = state
    self.attempts = attempts
    self.messageID = messageID
    self.lastError = lastError
    self.createdAt = createdAt
  }
}

/// A client's idempotency key with the fingerprint of its call's arguments: the same key with other
/// arguments is refused (``StoreError/Code/keyReused``), never answered with another call's result.
public struct IdempotencyKey: Sendable, Hashable {
  /// The key the client chose.
  public var key: String
  /// A digest of the call's arguments (the key left out); a key matches only the same digest.
  public var fingerprint: String

  /// Creates a key.
  public init(key: String, fingerprint: String) {
    self.key = key
    self.fingerprint = fingerprint
  }

  /// The result kept under this key when `storedFingerprint` (the first call's) matches this call's;
  /// ``StoreError/Code/keyReused`` when the key comes back with other arguments.
  package func keptResult(_ result: String, storedFingerprint: String) throws -> String {
    guard storedFingerprint == fingerprint else {
      throw StoreError(
        .keyReused,
        "idempotency key '\(key)' was used for a call with other arguments: use a new key for each distinct change")
    }
    return result
  }
}

/// An idempotency key for a change that is not a request's, with who it belongs to, and the reply
/// to keep for its retries.
public struct KeyedResult: Sendable {
  /// The key and its fingerprint.
  public var key: IdempotencyKey
  /// Who the key belongs to (the caller's uid).
  public var ownerUID: String
  /// The operation and caller scope the key lives in.
  public var operation: String
  /// The reply to keep, as text.
  public var result: String
  /// When the change is made (the key is swept `retention.idempotencyKeyDays` later).
  public var at: Instant

  /// Creates one.
  public init(key: IdempotencyKey, ownerUID: String, operation: String, result: String, at: Instant) {
    self.key = key
    self.ownerUID = ownerUID
    self.operation = operation
    self.result = result
    self.at = at
  }
}

/// A failure of the store itself (the domain's refusals are ``RenewalRefusal``).
public struct StoreError: Error, Sendable, Hashable, CustomStringConvertible {
  /// Stable reasons.
  public enum Code: String, Sendable, Hashable {
    /// No such request (or document, place, slot).
    case notFound = "NOT_FOUND"
    /// The request changed under the caller.
    case staleVersion = "STALE_VERSION"
    /// The agent already has an open request.
    case openRequestExists = "OPEN_REQUEST_EXISTS"
    /// The slot filled up.
    case slotFull = "SLOT_FULL"
    /// A unique value is taken (charter version, key serial, idempotency key on another request).
    case conflict = "CONFLICT"
    /// The database cannot be read or written now (disk full, I/O error, locked).
    case unavailable = "UNAVAILABLE"
    /// An idempotency key came back with other arguments than its first call's.
    case keyReused = "IDEMPOTENCY_KEY_REUSED"
    /// The stored request no longer matches its audit trail (changed outside okeyd): nothing is
    /// written on top of it until an operator has looked.
    case tampered = "REQUEST_TAMPERED"
    /// The database was written by a newer okeyd (its schema has migrations this one does not
    /// know): it is not opened for writing.
    case schemaTooNew = "SCHEMA_TOO_NEW"
    /// The database file is locked by another okeyd (``DatabaseLock``).
    case inUse = "IN_USE"
  }

  /// The reason.
  public var code: Code
  /// For people.
  public var message: String

  /// Creates an error.
  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  public static func == (lhs: StoreError, rhs: StoreError) -> Bool { lhs.code == rhs.code }
  public func hash(into hasher: inout Hasher) { hasher.combine(code) }
  public var description: String { "\(code.rawValue): \(message)" }
}
