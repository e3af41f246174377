/// A renewal request: the state the procedure moves through (DESIGN §3).
public struct RenewalRequest: Sendable, Hashable, Codable {
  /// Identifier.
  public var id: String
  /// The agent whose key is renewed.
  public var agentUID: String
  /// Key type asked for.
  public var keyType: KeyType
  /// Why.
  public var motif: Motif
  /// Free text explaining the motif.
  public var motifDetails: String
  /// Where it stands.
  public var status: RenewalStatus
  /// Incremented by every change; callers send the version they saw.
  public var version: Int64
  /// Supporting documents.
  public var documents: [DocumentSummary]
  /// Proposed (then corrected) routing; the snapshot once `routed`.
  public var routing: Routing
  /// True once the routing is snapshotted and the validator notified.
  public var routed: Bool
  /// Software keys: the phone platform chosen.
  public var platform: MobilePlatform?
  /// Charter version signed.
  public var charterVersion: String?
  /// When the charter was signed.
  public var charterSignedAt: Instant?
  /// New key serial, recorded at finalisation.
  public var newKeySerial: String?
  /// Hardware keys: the pickup place.
  public var pickupPlaceID: String?
  /// Hardware keys handed over at the agent's establishment: its UAI, set at finalisation instead of
  /// a pickup place (``HandoverPolicy``).
  public var handoverEstablishment: String?
  /// Hardware keys: the booked slot.
  public var appointmentSlotID: String?
  /// When the appointment was booked.
  public var appointmentBookedAt: Instant?
  /// Software keys: when the agent said the enrolment elements were sent to the DSI mailbox (nil
  /// until then, and again after the DSI asked for them again).
  public var elementsSentAt: Instant?
  /// Software keys with `enrolment.mode: qr`: until when the provisioning payload the DSI attached
  /// may be read, once; nil when none waits (never attached, read, or expired and wiped).
  public var enrolmentCodeExpiresAt: Instant?
  /// True when the token comes by QR code (`enrolment.mode: qr` when the platform was chosen): the
  /// DSI attaches the code, the agent reads it and scans it; nil for the elements sent by mail.
  public var enrolmentByCode: Bool?
  /// When the agent read the enrolment code (it was wiped in the same commit).
  public var enrolmentCodeReadAt: Instant?
  /// On a completed phone change: when the DSI let the agent change phone again before
  /// `phoneChange.minDays` (``RenewalCommand/allowPhoneChange(reason:)``); it no longer counts for the limit.
  public var earlyPhoneChangeAllowedAt: Instant?
  /// The serial of the agent's key the new one replaces, when the DSI named it at finalisation (else
  /// the agent's active keys of the same type are replaced).
  public var replacedKeySerial: String?
  /// When the last reminder about the current wait was sent (``Reminder``).
  public var lastReminderAt: Instant?
  /// When the request entered its current status (nil for requests older than this field: use
  /// `updatedAt`).
  public var statusSince: Instant?
  /// What ``decidedBy`` holds for an automatic validation.
  public static let automaticDecision = "auto"
  /// Who approved or rejected (``automaticDecision`` for automatic validation).
  public var decidedBy: String?
  /// Approval comment or rejection reason.
  public var decisionComment: String?
  /// When the request was submitted and routed (for the N+2 escalation delay).
  public var routedAt: Instant?
  /// When the N+2 was told that the request waits (once).
  public var escalatedAt: Instant?
  /// When it was started.
  public var createdAt: Instant
  /// When it last changed.
  public var updatedAt: Instant

  /// Creates a request in DRAFT.
  public init(
    id: String, agentUID: String, keyType: KeyType, motif: Motif, motifDetails: String, routing: Routing, now: Instant
  ) {
    self.id = id
    self.agentUID = agentUID
    self.keyType = keyType
    self.motif = motif
    self.motifDetails = motifDetails
    self.status = .draft
    self.version = 1
    self.documents = []
    self.routing = routing
    self.routed = false
    self.createdAt = now
    self.updatedAt = now
  }
}

/// One entry of the audit trail of a request, as the domain decides it.
public struct RenewalEvent: Sendable, Hashable, Codable {
  /// What was done, e.g. "submit".
  public var action: String
  /// Who did it: the person's uid, or the internal system's name.
  public var actor: String
  /// For whom, when an internal system acted for a person.
  public var onBehalfOf: String?
  /// The role under which it was done.
  public var role: ActingRole
  /// Status before.
  public var from: RenewalStatus?
  /// Status after.
  public var to: RenewalStatus
  /// Details for people; never a secret.
  public var details: String
  /// When.
  public var at: Instant

  /// Creates an event.
  public init(
    action: String, actor: String, onBehalfOf: String?, role: ActingRole, from: RenewalStatus?, to: RenewalStatus,
    details: String, at: Instant
  ) {
    self.action = action
    self.actor = actor
    self.onBehalfOf = onBehalfOf
    self.role = role
    self.from = from
    self.to = to
    self.details = details
    self.at = at
  }
}

/// A message the change calls for, written to the outbox in the same transaction.
public struct NotificationIntent: Sendable, Hashable, Codable {
  /// What the message says.
  public enum Kind: String, Sendable, Hashable, Codable {
    /// To the validator: a request waits for your decision.
    case validatorRouted = "VALIDATOR_ROUTED"
    /// To the agent: your request was approved.
    case agentApproved = "AGENT_APPROVED"
    /// To the agent: your request was rejected.
    case agentRejected = "AGENT_REJECTED"
    /// To the agent: sign the charter.
    case charterReminder = "CHARTER_REMINDER"
    /// To the agent: your hardware key is ready at the place.
    case agentReadyForPickup = "AGENT_READY_FOR_PICKUP"
    /// To the agent: your hardware key waits at your establishment; its head hands it over.
    case agentReadyAtEstablishment = "AGENT_READY_AT_ESTABLISHMENT"
    /// To the heads of an establishment: a key waits there for you to hand over.
    case keyToHandOver = "KEY_TO_HAND_OVER"
    /// To the agent: the QR code of your new token is ready in OKEY, to read once.
    case enrolmentCodeReady = "ENROLMENT_CODE_READY"
    /// To the agent: your new key is active (the PIN stays the old key's).
    case agentCompleted = "AGENT_COMPLETED"
    /// To the DSI mailbox: an operation waits.
    case dsiWork = "DSI_WORK"
    /// To the N+2: a request has waited longer than the escalation delay.
    case n2Escalation = "N2_ESCALATION"
    /// To the N+1 the directory proposed: the agent named another validator.
    case validatorReplaced = "VALIDATOR_REPLACED"
    /// To the N+1: the N+2 decided the request in their absence.
    case n1Informed = "N1_INFORMED"
    /// To the agent: the DSI cancelled the request, with its reason.
    case agentCancelled = "AGENT_CANCELLED"
    /// To the agent: the DSI asks for the enrolment elements again, with its message.
    case elementsRequested = "ELEMENTS_REQUESTED"
    /// To the agent: the appointment was missed; book another one.
    case pickupMissed = "PICKUP_MISSED"
    /// To the agent: the DSI lets them change phone again now, with its reason.
    case phoneChangeAllowed = "PHONE_CHANGE_ALLOWED"
    /// To the agent: the supporting documents are still missing.
    case documentsReminder = "DOCUMENTS_REMINDER"
    /// To the agent: the enrolment elements are still awaited.
    case elementsReminder = "ELEMENTS_REMINDER"
    /// To the agent: the key waits; book an appointment.
    case pickupReminder = "PICKUP_REMINDER"
    /// To the N+1: a request still waits for your decision.
    case approverReminder = "APPROVER_REMINDER"
    /// To the agent: your appointment is on the next working day.
    case appointmentReminder = "APPOINTMENT_REMINDER"
  }

  /// Who receives it.
  public enum Recipient: Sendable, Hashable, Codable {
    /// A person of the directory.
    case person(DirectoryPerson)
    /// The DSI mailbox from the configuration.
    case dsiMailbox
  }

  /// What.
  public var kind: Kind
  /// Who.
  public var recipient: Recipient
  /// Facts for the template (place, reason...).
  public var details: String

  /// Creates an intent.
  public init(kind: Kind, recipient: Recipient, details: String = "") {
    self.kind = kind
    self.recipient = recipient
    self.details = details
  }
}

/// Side effects on other records that the store performs in the transaction of the change.
public enum RenewalEffect: Sendable, Hashable {
  /// Store a new document's content under the id of its summary.
  case storeDocument(id: String, AcceptedDocument)
  /// Delete a document.
  case deleteDocument(id: String)
  /// Keep a copy of the routing as a snapshot (submission, re-route).
  case snapshotRouting(reason: String)
  /// Take one place in a slot (the store refuses past capacity).
  case bookSlot(id: String)
  /// Give back a place in a slot (moved appointment).
  case releaseSlot(id: String)
  /// Issue the new key: the agent's active keys become replaced, this one active.
  case issueKey(KeyRecord)
  /// Record an approver's decision.
  case recordDecision(approverUID: String, approved: Bool, comment: String)
  /// Keep the sealed provisioning payload of the request's new software token (replacing any),
  /// readable until `expiresAt`.
  case storeEnrolmentCode(sealed: [UInt8], expiresAt: Instant)
  /// Delete the request's enrolment code (read, or replaced by nothing).
  case wipeEnrolmentCode
  /// Delete the content of the request's documents (personal data), keeping their name, size and
  /// SHA-256 in the state and the audit trail.
  case purgeDocumentContent
}

/// What a command does: the new state, its audit events, its notifications and effects.
public struct RenewalDecision: Sendable, Hashable {
  /// The request after the change (version incremented).
  public var renewal: RenewalRequest
  /// Audit events, in order.
  public var events: [RenewalEvent]
  /// Messages to send.
  public var notifications: [NotificationIntent]
  /// Effects on other records.
  public var effects: [RenewalEffect]
}
