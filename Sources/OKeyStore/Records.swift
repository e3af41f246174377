import GRDB
import OKeyDomain

// One record type per table the store reads: its columns named once, decoded with GRDB's throwing
// accessors (a value of the wrong type, written outside okeyd, is an error, never a crash), and
// turned into the domain's value in one place.

/// A row of `sessions`.
struct SessionRow: FetchableRecord, PersistableRecord {
  static let databaseTableName = "sessions"
  enum Columns {
    static let tokenHash = Column("token_hash")
    static let uid = Column("uid")
    static let createdAt = Column("created_at")
    static let expiresAt = Column("expires_at")
    static let dn = Column("dn")
    static let displayName = Column("display_name")
    static let mail = Column("mail")
    static let groups = Column("groups")
  }

  var session: StoredSession

  init(_ session: StoredSession) { self.session = session }

  init(row: Row) throws {
    let groups: String = try row.decode(forColumn: Columns.groups)
    session = StoredSession(
      tokenHash: try row.decode(forColumn: Columns.tokenHash), uid: try row.decode(forColumn: Columns.uid),
      createdAt: Instant(millisecondsSinceEpoch: try row.decode(forColumn: Columns.createdAt)),
      expiresAt: Instant(millisecondsSinceEpoch: try row.decode(forColumn: Columns.expiresAt)),
      dn: try row.decode(forColumn: Columns.dn), displayName: try row.decode(forColumn: Columns.displayName),
      mail: try row.decode(forColumn: Columns.mail),
      groups: Set(groups.split(separator: ",").compactMap { Caller.GroupRole(rawValue: String($0)) }))
  }

  func encode(to container: inout PersistenceContainer) {
    container[Columns.tokenHash] = session.tokenHash
    container[Columns.uid] = session.uid
    container[Columns.createdAt] = session.createdAt.millisecondsSinceEpoch
    container[Columns.expiresAt] = session.expiresAt.millisecondsSinceEpoch
    container[Columns.dn] = session.dn
    container[Columns.displayName] = session.displayName
    container[Columns.mail] = session.mail
    container[Columns.groups] = session.groups.map(\.rawValue).sorted().joined(separator: ",")
  }
}

/// A row of `keys`: the key inventory.
struct KeyRow: FetchableRecord {
  static let databaseTableName = "keys"
  enum Columns {
    static let serial = Column("serial")
    static let agentUID = Column("agent_uid")
    static let keyType = Column("key_type")
    static let status = Column("status")
    static let activatedAt = Column("activated_at")
    static let replacedAt = Column("replaced_at")
    static let renewalID = Column("renewal_id")
  }

  var key: KeyRecord

  init(row: Row) throws {
    let replaced: Int64? = try row.decode(forColumn: Columns.replacedAt)
    key = KeyRecord(
      serial: try row.decode(forColumn: Columns.serial), agentUID: try row.decode(forColumn: Columns.agentUID),
      keyType: KeyType(rawValue: try row.decode(forColumn: Columns.keyType)) ?? .hardware,
      status: KeyRecord.Status(rawValue: try row.decode(forColumn: Columns.status)) ?? .replaced,
      activatedAt: Instant(millisecondsSinceEpoch: try row.decode(forColumn: Columns.activatedAt)),
      replacedAt: replaced.map(Instant.init(millisecondsSinceEpoch:)),
      renewalID: try row.decode(forColumn: Columns.renewalID))
  }
}

/// A row of `outbox`: one notification and its delivery.
struct OutboxRow: FetchableRecord {
  static let databaseTableName = "outbox"
  enum Columns {
    static let id = Column("id")
    static let renewalID = Column("renewal_id")
    static let kind = Column("kind")
    static let recipientUID = Column("recipient_uid")
    static let recipientMail = Column("recipient_mail")
    static let recipientName = Column("recipient_name")
    static let details = Column("details")
    static let createdAt = Column("created_at")
    static let state = Column("state")
    static let attempts = Column("attempts")
    static let lastError = Column("last_error")
    static let messageID = Column("message_id")
  }

  var message: OutboxMessage

  init(row: Row) throws {
    let uid: String? = try row.decode(forColumn: Columns.recipientUID)
    let name: String? = try row.decode(forColumn: Columns.recipientName)
    let mail: String? = try row.decode(forColumn: Columns.recipientMail)
    message = OutboxMessage(
      id: try row.decode(forColumn: Columns.id), renewalID: try row.decode(forColumn: Columns.renewalID),
      kind: NotificationIntent.Kind(rawValue: try row.decode(forColumn: Columns.kind)) ?? .dsiWork,
      recipient: uid.map { DirectoryPerson(uid: $0, displayName: name ?? "", mail: mail ?? "") },
      details: try row.decode(forColumn: Columns.details),
      state: OutboxMessage.State(rawValue: try row.decode(forColumn: Columns.state)) ?? .pending,
      attempts: try row.decode(forColumn: Columns.attempts), messageID: try row.decode(forColumn: Columns.messageID),
      lastError: try row.decode(forColumn: Columns.lastError),
      createdAt: Instant(millisecondsSinceEpoch: try row.decode(forColumn: Columns.createdAt)))
  }
}

/// A row of `idempotency_keys`: the first result of a change, kept for its retries.
struct IdempotencyRow: FetchableRecord, PersistableRecord {
  static let databaseTableName = "idempotency_keys"
  enum Columns {
    static let agentUID = Column("agent_uid")
    static let operation = Column("operation")
    static let key = Column("key")
    static let renewalID = Column("renewal_id")
    static let resultJSON = Column("result_json")
    static let createdAt = Column("created_at")
    static let fingerprint = Column("fingerprint")
  }

  var agentUID: String
  var operation: String
  var key: String
  var renewalID: String
  var resultJSON: String
  var createdAt: Int64
  var fingerprint: String

  init(
    agentUID: String, operation: String, key: String, renewalID: String, resultJSON: String, createdAt: Int64,
    fingerprint: String
  ) {
    self.agentUID = agentUID
    self.operation = operation
    self.key = key
    self.renewalID = renewalID
    self.resultJSON = resultJSON
    self.createdAt = createdAt
    self.fingerprint = fingerprint
  }

  init(row: Row) throws {
    agentUID = try row.decode(forColumn: Columns.agentUID)
    operation = try row.decode(forColumn: Columns.operation)
    key = try row.decode(forColumn: Columns.key)
    renewalID = try row.decode(forColumn: Columns.renewalID)
    resultJSON = try row.decode(forColumn: Columns.resultJSON)
    createdAt = try row.decode(forColumn: Columns.createdAt)
    fingerprint = try row.decode(forColumn: Columns.fingerprint)
  }

  func encode(to container: inout PersistenceContainer) {
    container[Columns.agentUID] = agentUID
    container[Columns.operation] = operation
    container[Columns.key] = key
    container[Columns.renewalID] = renewalID
    container[Columns.resultJSON] = resultJSON
    container[Columns.createdAt] = createdAt
    container[Columns.fingerprint] = fingerprint
  }
}

/// A row of `charters`: one published version of the charter.
struct CharterRow: FetchableRecord {
  static let databaseTableName = "charters"
  enum Columns {
    static let version = Column("version")
    static let text = Column("text")
    static let code = Column("code")
    static let publishedAt = Column("published_at")
  }

  var charter: Charter

  init(row: Row) throws {
    charter = Charter(
      version: try row.decode(forColumn: Columns.version), text: try row.decode(forColumn: Columns.text),
      code: try row.decode(forColumn: Columns.code),
      publishedAt: Instant(millisecondsSinceEpoch: try row.decode(forColumn: Columns.publishedAt)))
  }
}

/// A row of `pickup_places`.
struct PickupPlaceRow: FetchableRecord {
  static let databaseTableName = "pickup_places"
  enum Columns {
    static let id = Column("id")
    static let name = Column("name")
    static let address = Column("address")
  }

  var place: PickupPlace

  init(row: Row) throws {
    place = PickupPlace(
      id: try row.decode(forColumn: Columns.id), name: try row.decode(forColumn: Columns.name),
      address: try row.decode(forColumn: Columns.address))
  }
}

/// A row of `pickup_slots`.
struct PickupSlotRow: FetchableRecord {
  static let databaseTableName = "pickup_slots"
  enum Columns {
    static let id = Column("id")
    static let placeID = Column("place_id")
    static let startsAt = Column("starts_at")
    static let endsAt = Column("ends_at")
    static let capacity = Column("capacity")
    static let booked = Column("booked")
  }

  var slot: PickupSlot

  init(row: Row) throws {
    slot = PickupSlot(
      id: try row.decode(forColumn: Columns.id), placeID: try row.decode(forColumn: Columns.placeID),
      startsAt: Instant(millisecondsSinceEpoch: try row.decode(forColumn: Columns.startsAt)),
      endsAt: Instant(millisecondsSinceEpoch: try row.decode(forColumn: Columns.endsAt)),
      capacity: try row.decode(forColumn: Columns.capacity), booked: try row.decode(forColumn: Columns.booked))
  }
}

/// A row of `audit_events`: one link of the chain.
struct AuditEventRow: FetchableRecord {
  static let databaseTableName = "audit_events"
  enum Columns {
    static let sequence = Column("sequence")
    static let renewalID = Column("renewal_id")
    static let at = Column("at")
    static let actor = Column("actor")
    static let onBehalfOf = Column("on_behalf_of")
    static let role = Column("role")
    static let action = Column("action")
    static let fromStatus = Column("from_status")
    static let toStatus = Column("to_status")
    static let details = Column("details")
    static let previousHash = Column("prev_hash")
    static let hash = Column("hash")
    static let stateHash = Column("state_hash")
    static let mac = Column("mac")
  }

  var event: AuditEvent
  /// False when the stored role is none okeyd writes (the row was changed outside it).
  var roleKnown: Bool
  /// The hash of the request's state the event recorded (nil for a legacy event).
  var stateHash: String?
  /// The event's HMAC under the audit key (nil for a legacy or unkeyed event).
  var mac: String?

  init(row: Row) throws {
    let from: String? = try row.decode(forColumn: Columns.fromStatus)
    let role = ActingRole(rawValue: try row.decode(forColumn: Columns.role))
    roleKnown = role != nil
    stateHash = try row.decode(forColumn: Columns.stateHash)
    mac = try row.decode(forColumn: Columns.mac)
    event = AuditEvent(
      sequence: try row.decode(forColumn: Columns.sequence),
      renewalID: try row.decode(forColumn: Columns.renewalID),
      event: RenewalEvent(
        action: try row.decode(forColumn: Columns.action), actor: try row.decode(forColumn: Columns.actor),
        onBehalfOf: try row.decode(forColumn: Columns.onBehalfOf), role: role ?? .system,
        from: from.flatMap(RenewalStatus.init(rawValue:)),
        to: RenewalStatus(rawValue: try row.decode(forColumn: Columns.toStatus)) ?? .draft,
        details: try row.decode(forColumn: Columns.details),
        at: Instant(millisecondsSinceEpoch: try row.decode(forColumn: Columns.at))),
      previousHash: try row.decode(forColumn: Columns.previousHash),
      hash: try row.decode(forColumn: Columns.hash))
  }
}

/// The row of `audit_head`: where the chain ends, moved by every append.
struct AuditHeadRow: FetchableRecord {
  static let databaseTableName = "audit_head"
  enum Columns {
    static let lastSequence = Column("last_sequence")
    static let lastHash = Column("last_hash")
  }

  var lastSequence: Int64
  var lastHash: String

  init(row: Row) throws {
    lastSequence = try row.decode(forColumn: Columns.lastSequence)
    lastHash = try row.decode(forColumn: Columns.lastHash)
  }

  /// The head row, or nil before the first event.
  static func read(_ db: Database) throws -> AuditHeadRow? {
    try fetchOne(db, sql: "SELECT last_sequence, last_hash FROM audit_head WHERE id = 1")
  }
}

/// A row of `renewals`: the request's state as JSON, and the columns queries filter on (derived
/// from that state), with its last audit event's sequence and state hash when the query joins them.
struct RenewalRow: FetchableRecord {
  static let databaseTableName = "renewals"
  enum Columns {
    static let id = Column("id")
    static let agentUID = Column("agent_uid")
    static let keyType = Column("key_type")
    static let status = Column("status")
    static let version = Column("version")
    static let n1UID = Column("n1_uid")
    static let n2UID = Column("n2_uid")
    static let routed = Column("routed")
    static let stateJSON = Column("state_json")
    /// Joined: the sequence and state hash of the request's last audit event.
    static let lastSequence = Column("last_sequence")
    static let lastStateHash = Column("last_state_hash")
  }

  var id: String
  var agentUID: String
  var keyType: String
  var status: String
  var version: Int64
  var n1UID: String?
  var n2UID: String?
  var routed: Bool
  var stateJSON: String
  var lastSequence: Int64?
  var lastStateHash: String?

  init(row: Row) throws {
    id = try row.decode(forColumn: Columns.id)
    agentUID = try row.decode(forColumn: Columns.agentUID)
    keyType = try row.decode(forColumn: Columns.keyType)
    status = try row.decode(forColumn: Columns.status)
    version = try row.decode(forColumn: Columns.version)
    n1UID = try row.decode(forColumn: Columns.n1UID)
    n2UID = try row.decode(forColumn: Columns.n2UID)
    routed = try row.decode(forColumn: Columns.routed)
    stateJSON = try row.decode(forColumn: Columns.stateJSON)
    lastSequence = try row.decode(forColumn: Columns.lastSequence)
    lastStateHash = try row.decode(forColumn: Columns.lastStateHash)
  }

  /// True when the filter columns say what the state says.
  func agrees(with state: RenewalRequest) -> Bool {
    state.id == id && state.agentUID == agentUID && state.keyType.rawValue == keyType
      && state.status.rawValue == status && state.version == version && state.routing.n1?.person.uid == n1UID
      && state.routing.n2?.person.uid == n2UID && state.routed == routed
  }
}
