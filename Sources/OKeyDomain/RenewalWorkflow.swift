/// Something a caller asks of a request. The server gathers what the command needs from the
/// directory and the store (documents already inspected, the corrected routing, the current charter,
/// the slot) before asking the workflow to decide.
public enum RenewalCommand: Sendable, Hashable {
  /// Attach a document that passed ``DocumentRules/inspect(filename:claimedMediaType:kind:content:catalogue:)``.
  case addDocument(id: String, AcceptedDocument, sha256: String)
  /// Remove a document.
  case removeDocument(id: String)
  /// Replace the routing by the one ``ValidatorCorrection`` produced.
  case setValidator(corrected: Routing)
  /// Submit with the routing resolved again from the directory at submission (`changes` says what
  /// differs from the routing the request had): routed with the documents the motif needs, else
  /// kept in AWAITING_DOCUMENTS.
  /// A nil routing keeps the request's own (domain tests; the server always resolves it again).
  /// `oldKeys`: the serials of the agent's active keys of the request's type, which the DSI is told
  /// to suspend when a LOST or STOLEN request is routed.
  case submitting(routing: Routing?, changes: [String], oldKeys: [String] = [])
  /// Approve (N+1 or N+2).
  case approve(comment: String)
  /// Reject with a reason (N+1 or N+2).
  case reject(reason: String)
  /// Choose the phone platform of a software key.
  case choosePlatform(MobilePlatform)
  /// Say the enrolment elements were sent to the DSI mailbox (agent, platform chosen).
  case markElementsSent
  /// Ask the agent for the enrolment elements again, saying what is missing (DSI).
  case requestElementsAgain(message: String)
  /// Confirm the enrolment elements were received (DSI).
  case confirmEnrolment(comment: String)
  /// `enrolment.mode: qr`: the DSI (or the OTP system) attaches the sealed provisioning payload of
  /// the new software token, readable once until `expiresAt`.
  case attachEnrolmentCode(sealed: [UInt8], expiresAt: Instant)
  /// The agent reads the enrolment code, once: it is wiped in the same commit.
  case readEnrolmentCode
  /// The agent scanned the code with the authenticator: the enrolment is confirmed.
  case confirmScanned
  /// Sign the current charter (nil when none is published).
  case signCharter(code: String, acknowledged: Bool, current: Charter?)
  /// Finalise the key (DSI); `place` for hardware keys, looked up from the id the DSI gave;
  /// `replacing`, the serial of the agent's key the new one replaces when the DSI names it (checked
  /// against the inventory by the server).
  /// `heads`: the establishment's heads, told when the key is sent there (no place given).
  case finalize(serial: String, place: PickupPlace?, replacing: String? = nil, heads: [DirectoryPerson] = [])
  /// Book or move the pickup appointment.
  case bookPickup(PickupSlot)
  /// Record the hand-over of a hardware key (DSI), booked or walk-in.
  case recordHandover(comment: String, heads: [EstablishmentHead] = [])
  /// Cancel the appointment: the seat is freed, the key waits again (agent).
  case cancelPickup
  /// Record that the agent did not come to the appointment (DSI).
  case recordNoShow(comment: String)
  /// Let the agent change phone again before `phoneChange.minDays`, on their last completed phone
  /// change, with a reason the agent is told (DSI).
  case allowPhoneChange(reason: String)
  /// Cancel (agent).
  case cancel(reason: String)
  /// Cancel any request that is not over, with a reason the agent is told (DSI).
  case cancelByDSI(reason: String)
  /// Re-resolve the routing of a pending request (DSI).
  case reroute(Routing)
  /// Tell the N+2 that the request has waited too long (the service itself, once).
  case escalate(delayBusinessDays: Int)
  /// Send the reminder the request is due (the service itself; refused when none is due).
  case remind(ReminderPeriods, appointmentStartsAt: Instant?)

  /// Submit with the request's own routing.
  public static var submit: RenewalCommand { .submitting(routing: nil, changes: []) }

  /// The name of the action in the audit trail.
  public var action: String {
    switch self {
    case .addDocument: return "add-document"
    case .removeDocument: return "remove-document"
    case .setValidator: return "set-validator"
    case .submitting: return "submit"
    case .approve: return "approve"
    case .reject: return "reject"
    case .choosePlatform: return "choose-platform"
    case .markElementsSent: return "mark-elements-sent"
    case .requestElementsAgain: return "request-elements-again"
    case .confirmEnrolment: return "confirm-enrolment"
    case .attachEnrolmentCode: return "attach-enrolment-code"
    case .readEnrolmentCode: return "read-enrolment-code"
    case .confirmScanned: return "confirm-scanned"
    case .signCharter: return "sign-charter"
    case .finalize: return "finalize"
    case .bookPickup: return "book-pickup"
    case .recordHandover: return "record-handover"
    case .cancelPickup: return "cancel-pickup"
    case .recordNoShow: return "record-no-show"
    case .allowPhoneChange: return "allow-phone-change"
    case .cancel: return "cancel"
    case .cancelByDSI: return "dsi-cancel"
    case .reroute: return "reroute"
    case .escalate: return "escalate"
    case .remind: return "remind"
    }
  }
}

/// What a decision may depend on besides the request and the command.
public struct DecisionContext: Sendable {
  /// Now.
  public var now: Instant
  /// The academy's days: business days of the escalation delay.
  public var calendar: AcademyCalendar
  /// The version the caller saw.
  public var expectedVersion: Int64
  /// The reasons catalogue.
  public var catalogue: ReasonCatalogue
  /// Document limits.
  public var documentRules: DocumentRules
  /// How a phone change (software key, PHONE_CHANGED) goes: with or without approval.
  public var phoneChange: PhoneChangePolicy
  /// Where hardware keys are handed over: at the agent's establishment for the types it lists.
  public var handover: HandoverPolicy
  /// True when software tokens come by QR code (`enrolment.mode: qr`), false for elements by mail.
  public var enrolmentByCode: Bool

  /// Creates a context.
  public init(
    now: Instant, expectedVersion: Int64, catalogue: ReasonCatalogue = .standard,
    documentRules: DocumentRules = DocumentRules(), calendar: AcademyCalendar = .utc,
    phoneChange: PhoneChangePolicy = PhoneChangePolicy(), handover: HandoverPolicy = HandoverPolicy(),
    enrolmentByCode: Bool = false
  ) {
    self.enrolmentByCode = enrolmentByCode
    self.phoneChange = phoneChange
    self.handover = handover
    self.now = now
    self.calendar = calendar
    self.expectedVersion = expectedVersion
    self.catalogue = catalogue
    self.documentRules = documentRules
  }
}

/// The phone change of the OKEY book: a new phone for a software key, without a manager's approval
/// when the academy says so, at most once per `minDays` days.
public struct PhoneChangePolicy: Sendable, Hashable {
  /// True keeps the approval (the renewal path); false validates a phone change at submission.
  public var requiresApproval: Bool
  /// Days after a completed phone change before the next one may be asked.
  public var minDays: Int

  /// Creates a policy; the defaults keep today's approval and allow one change a week.
  public init(requiresApproval: Bool = true, minDays: Int = 7) {
    self.requiresApproval = requiresApproval
    self.minDays = minDays
  }

  /// When the agent's completed phone changes that hold back the next one completed: those the DSI
  /// did not release with ``RenewalCommand/allowPhoneChange(reason:)``.
  public static func limitingCompletions(of completed: [RenewalRequest]) -> [Instant] {
    completed.filter {
      $0.status == .completed && covers(keyType: $0.keyType, motif: $0.motif) && $0.earlyPhoneChangeAllowedAt == nil
    }.map { $0.statusSince ?? $0.updatedAt }
  }

  /// True for a request this policy covers: a software key, motif PHONE_CHANGED.
  public static func covers(keyType: KeyType, motif: Motif) -> Bool {
    keyType == .software && motif == .phoneChanged
  }
}

/// Where a hardware key is handed over: for agents of the establishment types listed, by the head
/// or a deputy of their establishment (the OKEY book's second degree); for the others, at the place
/// the DSI indicates, by appointment.
public struct HandoverPolicy: Sendable, Hashable {
  /// Establishment type codes (upper case) whose agents collect their key from their head.
  public var establishmentTypes: Set<String>

  /// Creates a policy; the default hands every key over at a DSI place.
  public init(establishmentTypes: Set<String> = []) {
    self.establishmentTypes = Set(establishmentTypes.map { $0.uppercased() })
  }

  /// The UAI of the establishment whose head hands the key over, or nil for a DSI place.
  public func establishment(for routing: Routing) -> String? {
    guard let uai = routing.establishment, let type = routing.establishmentType,
      establishmentTypes.contains(type.uppercased())
    else { return nil }
    return uai
  }
}

/// The head or a deputy of an establishment, as the directory shows them at the hand-over.
public struct EstablishmentHead: Sendable, Hashable {
  /// Their uid.
  public var uid: String
  /// The establishment they head (UAI).
  public var establishment: String
  /// True for a deputy, false for the principal.
  public var deputy: Bool

  /// Creates a head.
  public init(uid: String, establishment: String, deputy: Bool) {
    self.uid = uid
    self.establishment = establishment
    self.deputy = deputy
  }
}

/// The renewal state machine of DESIGN §3: pure functions from state, command, actor and context
/// to a decision or a refusal.
public enum RenewalWorkflow {
  /// Longest free text (details, comments, reasons), in characters.
  public static let maxTextLength = 2000

  /// Starts a request in DRAFT with the routing the directory proposes.
  /// - Parameter openRequestID: the agent's open request, if any (one open request per agent).
  public static func start(
    id: String,
    actor: Caller,
    keyType: KeyType,
    motif: Motif,
    motifDetails: String,
    routing: Routing,
    openRequestID: String?,
    catalogue: ReasonCatalogue = .standard,
    activeKeysOfType: [String] = [],
    phoneChange: PhoneChangePolicy = PhoneChangePolicy(),
    phoneChangesCompletedAt: [Instant] = [],
    now: Instant
  ) -> Result<RenewalDecision, RenewalRefusal> {
    if PhoneChangePolicy.covers(keyType: keyType, motif: motif), phoneChange.minDays > 0,
      let last = phoneChangesCompletedAt.max(),
      now.millisecondsSinceEpoch - last.millisecondsSinceEpoch < Int64(phoneChange.minDays) * 86_400_000
    {
      return .failure(
        .init(
          .phoneChangeTooSoon,
          "your phone was changed less than \(phoneChange.minDays) days ago: ask the DSI if you need another change now"
        ))
    }
    if motif == .firstKey, let refusal = firstKeyRefusal(keyType: keyType, activeKeys: activeKeysOfType) {
      return .failure(refusal)
    }
    if let openRequestID {
      return .failure(
        .init(
          .openRequestExists,
          "you already have an open renewal request (\(openRequestID)): continue or cancel it first",
          metadata: ["request_id": openRequestID]))
    }
    let details = motifDetails.trimmingSpaces
    if details.count > maxTextLength {
      return .failure(.init(.invalidField, "motif_details: at most \(maxTextLength) characters"))
    }
    if catalogue.entry(for: motif).requiresDetails, details.isEmpty {
      return .failure(
        .init(.invalidField, "motif_details: explain the reason in a few words (required for this motif)"))
    }
    let request = RenewalRequest(
      id: id, agentUID: actor.uid, keyType: keyType, motif: motif, motifDetails: details, routing: routing, now: now)
    let event = RenewalEvent(
      action: "start", actor: actor.serviceAccount ?? actor.uid,
      onBehalfOf: actor.serviceAccount == nil ? nil : actor.uid,
      role: .agent, from: nil, to: .draft,
      details:
        "\(keyType.rawValue) key, motif \(motif.rawValue); proposed validator \(routing.n1?.person.uid ?? "none")",
      at: now
    )
    return .success(RenewalDecision(renewal: request, events: [event], notifications: [], effects: []))
  }

  /// Why a first key cannot be asked: the agent already holds an active key of that type.
  static func firstKeyRefusal(keyType: KeyType, activeKeys: [String]) -> RenewalRefusal? {
    guard !activeKeys.isEmpty else { return nil }
    let kind = keyType == .software ? "software" : "hardware"
    return RenewalRefusal(
      .hasActiveKey,
      "you already hold an active \(kind) key (\(activeKeys.joined(separator: ", "))): this is a renewal, not a first key; ask with the motif that applies (EXPIRED, LOST, STOLEN, BROKEN, PHONE_CHANGED)"
    )
  }

  /// Decides `command` on `request` for `actor`.
  public static func decide(
    _ command: RenewalCommand,
    on request: RenewalRequest,
    by actor: Caller,
    context: DecisionContext
  ) -> Result<RenewalDecision, RenewalRefusal> {
    var builder = DecisionBuilder(request: request, actor: actor, context: context)
    do {
      try builder.apply(command)
      return .success(builder.decision)
    } catch {
      return .failure(error)
    }
  }
}

/// Accumulates the effects of one command; every rule lives in `apply`.
struct DecisionBuilder {
  let original: RenewalRequest
  var renewal: RenewalRequest
  let actor: Caller
  let context: DecisionContext
  var events: [RenewalEvent] = []
  var notifications: [NotificationIntent] = []
  var effects: [RenewalEffect] = []

  init(request: RenewalRequest, actor: Caller, context: DecisionContext) {
    self.original = request
    self.renewal = request
    self.actor = actor
    self.context = context
  }

  var decision: RenewalDecision {
    var renewal = self.renewal
    renewal.version = original.version + 1
    renewal.updatedAt = context.now
    return RenewalDecision(renewal: renewal, events: events, notifications: notifications, effects: effects)
  }

  var agent: DirectoryPerson {
    renewal.routing.requester.uid == renewal.agentUID
      ? renewal.routing.requester : DirectoryPerson(uid: renewal.agentUID)
  }

  // MARK: Guards

  func requireAgent() throws(RenewalRefusal) {
    guard actor.uid == original.agentUID else {
      throw RenewalRefusal(
        .notYourRequest, "request \(original.id) is not yours: agents act on their own requests only")
    }
    try actor.requireCapacity(.agent)
  }

  func requireApprover() throws(RenewalRefusal) -> ActingRole {
    guard actor.uid != original.agentUID else {
      throw RenewalRefusal(.ownRequest, "you cannot decide on your own request")
    }
    guard original.routed, original.routing.namesApprover(actor.uid) else {
      throw RenewalRefusal(.notAnApprover, "you are neither the N+1 nor the N+2 of request \(original.id)")
    }
    try actor.requireCapacity(.approver)
    // The snapshot says who was active at submission; a validator disabled then cannot decide.
    let named = (original.routing.n1Level + [original.routing.n2].compactMap { $0 }).filter {
      $0.person.uid == actor.uid
    }
    guard named.contains(where: { $0.person.active }) else {
      throw RenewalRefusal(
        .personDisabled,
        "\(actor.uid) was disabled in the directory when request \(original.id) was routed: the other validator decides"
      )
    }
    return .approver
  }

  /// A DSI operator, never on their own request.
  func requireDSI() throws(RenewalRefusal) {
    try actor.requireDSIGroup()
    guard actor.uid != original.agentUID else {
      throw RenewalRefusal(.ownRequest, "a DSI operator cannot act on their own request: another operator must")
    }
  }

  /// Who may record a hand-over: a DSI operator, or, for a key waiting at an establishment, its head
  /// or a deputy as the directory shows them now (`heads`), never on their own request.
  func requireHandingOver(_ heads: [EstablishmentHead]) throws(RenewalRefusal) -> ActingRole {
    if actor.isDSI {
      try requireDSI()
      return .dsi
    }
    guard let uai = original.handoverEstablishment else {
      throw RenewalRefusal(
        .notDSI, "request \(original.id)'s key waits at a DSI place: the DSI desk records its hand-over")
    }
    guard heads.contains(where: { $0.uid == actor.uid && $0.establishment == uai }) else {
      throw RenewalRefusal(
        .notEstablishmentHead,
        "the key of request \(original.id) waits at establishment \(uai): only its head or a deputy (as the directory shows them), or the DSI, hands it over"
      )
    }
    guard actor.uid != original.agentUID else {
      throw RenewalRefusal(.ownRequest, "you cannot hand your own key over to yourself: another head or the DSI must")
    }
    try actor.requireCapacity(.approver)
    return .establishmentHead
  }

  func requireVersion() throws(RenewalRefusal) {
    guard context.expectedVersion == original.version else {
      throw RenewalRefusal(
        .staleVersion,
        "request \(original.id) changed since you read it (you sent version \(context.expectedVersion), it is at \(original.version)): reload it and try again",
        metadata: ["request_id": original.id, "current_version": "\(original.version)"]
      )
    }
  }

  func requireStatus(_ allowed: RenewalStatus..., doing what: String) throws(RenewalRefusal) {
    guard allowed.contains(original.status) else {
      let expected = allowed.map(\.rawValue).joined(separator: " or ")
      throw RenewalRefusal(
        .wrongState, "cannot \(what): request \(original.id) is \(original.status.rawValue), it must be \(expected)")
    }
  }

  func requireKeyType(_ type: KeyType, doing what: String) throws(RenewalRefusal) {
    guard original.keyType == type else {
      throw RenewalRefusal(
        .wrongKeyType, "cannot \(what): request \(original.id) is for a \(original.keyType.rawValue) key")
    }
  }

  static func checkText(_ text: String, field: String, required: Bool) throws(RenewalRefusal) -> String {
    let trimmed = text.trimmingSpaces
    if required, trimmed.isEmpty { throw RenewalRefusal(.invalidField, "\(field): required, say why in a few words") }
    if trimmed.count > RenewalWorkflow.maxTextLength {
      throw RenewalRefusal(.invalidField, "\(field): at most \(RenewalWorkflow.maxTextLength) characters")
    }
    return trimmed
  }

  // MARK: Recording

  mutating func record(_ action: String, role: ActingRole, to status: RenewalStatus, details: String = "") {
    let from = renewal.status
    if status != original.status { renewal.statusSince = context.now }
    renewal.status = status
    let acting = role == .system ? "okey" : (actor.serviceAccount ?? actor.uid)
    let onBehalf = role == .system ? nil : (actor.serviceAccount == nil ? nil : actor.uid)
    events.append(
      RenewalEvent(
        action: action, actor: acting, onBehalfOf: onBehalf, role: role, from: from, to: status, details: details,
        at: context.now)
    )
  }

  mutating func notifyAgent(_ kind: NotificationIntent.Kind, details: String = "") {
    notifications.append(NotificationIntent(kind: kind, recipient: .person(agent), details: details))
  }

  mutating func notifyDSI(_ details: String) {
    notifications.append(NotificationIntent(kind: .dsiWork, recipient: .dsiMailbox, details: details))
  }

  /// The status after approval, and what it calls for.
  mutating func moveOnAfterApproval() {
    switch renewal.keyType {
    case .software:
      renewal.status = .awaitingEnrolment
    case .hardware:
      renewal.status = .awaitingCharter
    }
  }

  // MARK: Rules

  mutating func apply(_ command: RenewalCommand) throws(RenewalRefusal) {
    switch command {
    case .addDocument(let id, let document, let sha256):
      try requireAgent()
      try requireVersion()
      try requireStatus(.draft, .awaitingDocuments, doing: "add a document")
      guard renewal.documents.count < context.documentRules.maxCount else {
        throw RenewalRefusal(
          .documentLimit,
          "request \(original.id) already has \(renewal.documents.count) documents, the most allowed: remove one first")
      }
      renewal.documents.append(
        DocumentSummary(
          id: id, filename: document.filename, mediaType: document.mediaType, kind: document.kind,
          sizeBytes: document.content.count, sha256: sha256, addedAt: context.now
        )
      )
      effects.append(.storeDocument(id: id, document))
      record(
        command.action, role: .agent, to: renewal.status,
        details: "\(document.kind): \(document.filename) (\(document.content.count) bytes, sha256 \(sha256))")

    case .removeDocument(let id):
      try requireAgent()
      try requireVersion()
      try requireStatus(.draft, .awaitingDocuments, doing: "remove a document")
      guard let index = renewal.documents.firstIndex(where: { $0.id == id }) else {
        throw RenewalRefusal(.documentNotFound, "request \(original.id) has no document \(id)")
      }
      let removed = renewal.documents.remove(at: index)
      effects.append(.deleteDocument(id: id))
      record(command.action, role: .agent, to: renewal.status, details: "\(removed.kind): \(removed.filename)")

    case .setValidator(let corrected):
      try requireAgent()
      try requireVersion()
      try requireStatus(.draft, .awaitingDocuments, doing: "change the validator")
      let before = renewal.routing.n1?.person.uid
      let proposed = corrected.proposedN1 ?? corrected.n1
      renewal.routing = corrected
      record(
        "set-validator", role: .agent, to: renewal.status,
        details:
          "validator \(corrected.n1?.person.uid ?? "none") instead of the directory's proposal \(proposed?.person.uid ?? "none")"
          + (corrected.n1.map { " — \($0.foundBy)" } ?? "")
      )
      // The proposed N+1 hears that the agent named someone else (once per new choice).
      if let proposedN1 = corrected.proposedN1, let chosen = corrected.n1, chosen.person.uid != proposedN1.person.uid,
        chosen.person.uid != before
      {
        notifications.append(
          NotificationIntent(
            kind: .validatorReplaced, recipient: .person(proposedN1.person), details: chosen.person.uid))
      }

    case .submitting(let resolved, let changes, let oldKeys):
      try requireAgent()
      try requireVersion()
      try requireStatus(.draft, .awaitingDocuments, doing: "submit")
      // A key recorded since the start (an import, another procedure) makes a first key a renewal.
      if renewal.motif == .firstKey,
        let refusal = RenewalWorkflow.firstKeyRefusal(keyType: renewal.keyType, activeKeys: oldKeys)
      {
        throw refusal
      }
      // The routing as the directory gives it today (auto-validation included), not as at the start.
      if let resolved { renewal.routing = resolved }
      let routing = renewal.routing
      let changed = changes.isEmpty ? "" : "; routing changed since the start: " + changes.joined(separator: "; ")
      let missing = context.catalogue.missingKinds(for: renewal.motif, documents: renewal.documents)
      guard missing.isEmpty else {
        // Kept, not routed: nobody is told until documents are added and the request submitted again.
        record(
          command.action, role: .agent, to: .awaitingDocuments,
          details: "not routed: missing \(missing.joined(separator: ", "))" + changed)
        return
      }
      var automatic: String?
      if case .automatic(let reason) = routing.autoValidation {
        automatic = reason
      } else if PhoneChangePolicy.covers(keyType: renewal.keyType, motif: renewal.motif),
        !context.phoneChange.requiresApproval
      {
        automatic = "phone change, no approval needed (phoneChange.requiresApproval: false)"
      }
      if let reason = automatic {
        renewal.routed = true
        renewal.routedAt = context.now
        effects.append(.snapshotRouting(reason: "submit"))
        record(
          command.action, role: .agent, to: .pendingApproval, details: "validated automatically: \(reason)" + changed)
        renewal.decidedBy = RenewalRequest.automaticDecision
        renewal.decisionComment = reason
        let from = renewal.status
        moveOnAfterApproval()
        let to = renewal.status
        renewal.status = from
        record("auto-validate", role: .system, to: to, details: reason)
        notifyAgent(.agentApproved, details: reason)
        if to == .awaitingCharter { notifyAgent(.charterReminder) }
        askToSuspend(oldKeys)
        return
      }
      guard let validator = routing.effectiveValidator else {
        throw RenewalRefusal(
          .noValidator,
          "the directory proposes no active validator for you: name your line manager as validator, then submit")
      }
      renewal.routed = true
      renewal.routedAt = context.now
      effects.append(.snapshotRouting(reason: "submit"))
      var details = "routed to \(routing.askedValidators.map(\.uid).joined(separator: ", "))"
      if let n1 = routing.n1, !n1.person.active { details += " (N+1 \(n1.person.uid) is disabled)" }
      if validator.uid != routing.n1?.person.uid, validator.uid == routing.n2?.person.uid {
        details += ": N+2 validates"
      }
      record(command.action, role: .agent, to: .pendingApproval, details: details + changed)
      for person in routing.askedValidators {
        notifications.append(NotificationIntent(kind: .validatorRouted, recipient: .person(person)))
      }
      askToSuspend(oldKeys)

    case .approve(let comment):
      let role = try requireApprover()
      try requireVersion()
      try requireStatus(.pendingApproval, doing: "approve")
      let comment = try Self.checkText(comment, field: "comment", required: false)
      renewal.decidedBy = actor.uid
      renewal.decisionComment = comment
      let level =
        renewal.routing.n1?.person.uid == actor.uid
        ? "N+1" : (renewal.routing.n1Level.contains { $0.person.uid == actor.uid } ? "co-validator" : "N+2")
      effects.append(.recordDecision(approverUID: actor.uid, approved: true, comment: comment))
      let from = renewal.status
      moveOnAfterApproval()
      let to = renewal.status
      renewal.status = from
      record(
        command.action, role: role, to: to,
        details: "approved by \(level) \(actor.uid)" + (comment.isEmpty ? "" : ": \(comment)"))
      notifyAgent(.agentApproved, details: comment)
      informN1IfN2Decided(approved: true)
      if to == .awaitingCharter { notifyAgent(.charterReminder) }

    case .reject(let reason):
      let role = try requireApprover()
      try requireVersion()
      try requireStatus(.pendingApproval, doing: "reject")
      let reason = try Self.checkText(reason, field: "reason", required: true)
      renewal.decidedBy = actor.uid
      renewal.decisionComment = reason
      effects.append(.recordDecision(approverUID: actor.uid, approved: false, comment: reason))
      record(command.action, role: role, to: .rejected, details: reason)
      notifyAgent(.agentRejected, details: reason)
      informN1IfN2Decided(approved: false)

    case .choosePlatform(let platform):
      try requireAgent()
      try requireVersion()
      try requireKeyType(.software, doing: "choose a phone platform")
      try requireStatus(.awaitingEnrolment, doing: "choose a phone platform")
      if renewal.platform != platform { renewal.elementsSentAt = nil }
      renewal.platform = platform
      renewal.enrolmentByCode = context.enrolmentByCode ? true : nil
      record(command.action, role: .agent, to: .awaitingEnrolment, details: platform.rawValue)
      notifyDSI(
        context.enrolmentByCode
          ? "a token for a \(platform.rawValue) phone is to be made: attach its enrolment code"
          : "enrolment elements for a \(platform.rawValue) phone are on their way to the DSI mailbox")

    case .markElementsSent:
      try requireAgent()
      try requireVersion()
      try requireKeyType(.software, doing: "say the enrolment elements are sent")
      try requireStatus(.awaitingEnrolment, doing: "say the enrolment elements are sent")
      guard let platform = renewal.platform else {
        throw RenewalRefusal(
          .platformNotChosen, "choose your phone platform first: the elements to send depend on it")
      }
      guard renewal.enrolmentByCode != true else {
        throw RenewalRefusal(
          .wrongState,
          "your token comes by QR code: wait for the mail, read the code in OKEY (GetEnrolmentCode), scan it, then say so"
        )
      }
      renewal.elementsSentAt = context.now
      record(command.action, role: .agent, to: .awaitingEnrolment, details: platform.rawValue)
      notifyDSI("the agent says the enrolment elements for a \(platform.rawValue) phone were sent")

    case .requestElementsAgain(let message):
      try requireDSI()
      try requireVersion()
      try requireKeyType(.software, doing: "ask for the enrolment elements again")
      try requireStatus(.awaitingEnrolment, doing: "ask for the enrolment elements again")
      let message = try Self.checkText(message, field: "message", required: true)
      renewal.elementsSentAt = nil
      record(command.action, role: .dsi, to: .awaitingEnrolment, details: message)
      notifyAgent(.elementsRequested, details: message)

    case .confirmEnrolment(let comment):
      try requireDSI()
      try requireVersion()
      try requireStatus(.awaitingEnrolment, doing: "confirm the enrolment elements")
      guard renewal.platform != nil else {
        throw RenewalRefusal(.platformNotChosen, "the agent has not chosen a phone platform yet: wait until they do")
      }
      let comment = try Self.checkText(comment, field: "comment", required: false)
      record(command.action, role: .dsi, to: .awaitingCharter, details: comment)
      notifyAgent(.charterReminder)

    case .attachEnrolmentCode(let sealed, let expiresAt):
      try requireDSI()
      try requireVersion()
      try requireKeyType(.software, doing: "attach an enrolment code")
      try requireStatus(.awaitingEnrolment, doing: "attach an enrolment code")
      guard renewal.platform != nil else {
        throw RenewalRefusal(
          .platformNotChosen, "the agent has not chosen the phone platform yet: the token must be made for it")
      }
      guard renewal.enrolmentByCode == true else {
        throw RenewalRefusal(
          .wrongState,
          "request \(renewal.id)'s token comes by enrolment elements sent by mail (enrolment.mode: mailbox when the platform was chosen)"
        )
      }
      guard !sealed.isEmpty, expiresAt > context.now else {
        throw RenewalRefusal(.invalidField, "payload: give the provisioning payload of the new token")
      }
      let replaced = renewal.enrolmentCodeExpiresAt != nil
      effects.append(.storeEnrolmentCode(sealed: sealed, expiresAt: expiresAt))
      renewal.enrolmentCodeExpiresAt = expiresAt
      renewal.enrolmentCodeReadAt = nil
      record(
        command.action, role: .dsi, to: .awaitingEnrolment,
        details: replaced ? "a new enrolment code replaces the unread one" : "enrolment code attached, to read once")
      notifyAgent(.enrolmentCodeReady)

    case .readEnrolmentCode:
      try requireAgent()
      try requireVersion()
      try requireStatus(.awaitingEnrolment, doing: "read the enrolment code")
      guard let expiresAt = renewal.enrolmentCodeExpiresAt else {
        throw RenewalRefusal(
          .enrolmentCodeUnavailable,
          renewal.enrolmentCodeReadAt == nil
            ? "no enrolment code waits yet: the DSI attaches it and you are told by mail"
            : "the enrolment code was read already, and then wiped: ask the DSI for a new one")
      }
      guard context.now < expiresAt else {
        throw RenewalRefusal(.enrolmentCodeUnavailable, "the enrolment code expired unread: ask the DSI for a new one")
      }
      effects.append(.wipeEnrolmentCode)
      renewal.enrolmentCodeExpiresAt = nil
      renewal.enrolmentCodeReadAt = context.now
      record(command.action, role: .agent, to: .awaitingEnrolment, details: "enrolment code read once, then wiped")

    case .confirmScanned:
      try requireAgent()
      try requireVersion()
      try requireStatus(.awaitingEnrolment, doing: "confirm the scan")
      guard renewal.enrolmentCodeReadAt != nil else {
        throw RenewalRefusal(.enrolmentCodeUnavailable, "read the enrolment code and scan it first")
      }
      record(command.action, role: .agent, to: .awaitingCharter, details: "token scanned")
      notifyAgent(.charterReminder)

    case .signCharter(let code, let acknowledged, let current):
      try requireAgent()
      try requireVersion()
      try requireStatus(.awaitingCharter, doing: "sign the charter")
      guard let charter = current else {
        throw RenewalRefusal(.noCharter, "no charter is published yet: the DSI must publish one before you can sign")
      }
      if let refusal = charter.checkSignature(code: code, acknowledged: acknowledged) { throw refusal }
      renewal.charterVersion = charter.version
      renewal.charterSignedAt = context.now
      record(command.action, role: .agent, to: .awaitingDSI, details: "charter \(charter.version)")
      notifyDSI("a key waits to be finalised")

    case .finalize(let serial, let place, let replacing, let heads):
      try requireDSI()
      try requireVersion()
      try requireStatus(.awaitingDSI, doing: "finalise the key")
      guard KeyInventory.isValidSerial(serial) else {
        throw RenewalRefusal(.invalidField, "new_key_serial: 1 to 64 letters, digits, '-' or '_'")
      }
      if let replacing, !KeyInventory.isValidSerial(replacing) || replacing == serial {
        throw RenewalRefusal(
          .invalidField, "replaced_key_serial: the serial of the agent's key the new one replaces, not the new one")
      }
      renewal.newKeySerial = serial
      renewal.replacedKeySerial = replacing
      switch renewal.keyType {
      case .software:
        guard place == nil else {
          throw RenewalRefusal(.invalidField, "pickup_place_id: a software key has no pickup place; leave it empty")
        }
        issueKey(serial: serial)
        record(command.action, role: .dsi, to: .completed, details: "software key \(serial) active")
        notifyAgent(.agentCompleted, details: serial)
      case .hardware:
        if let place {
          renewal.pickupPlaceID = place.id
          record(
            command.action, role: .dsi, to: .readyForPickup, details: "hardware key \(serial) ready at \(place.id)")
          notifyAgent(.agentReadyForPickup, details: "\(place.name), \(place.address)")
        } else if let uai = context.handover.establishment(for: renewal.routing) {
          renewal.handoverEstablishment = uai
          record(
            command.action, role: .dsi, to: .readyForPickup,
            details: "hardware key \(serial) sent to establishment \(uai), handed over by its head")
          notifyAgent(.agentReadyAtEstablishment, details: uai)
          for head in heads where head.active {
            notifications.append(NotificationIntent(kind: .keyToHandOver, recipient: .person(head), details: uai))
          }
        } else {
          throw RenewalRefusal(
            .invalidField,
            "pickup_place_id: give the place where the agent collects the key (an existing place id); only agents of establishments of the types in handover.establishmentTypes collect it from their head"
          )
        }
      }

    case .bookPickup(let slot):
      try requireAgent()
      try requireVersion()
      try requireKeyType(.hardware, doing: "book a pickup")
      try requireStatus(.readyForPickup, .pickupBooked, doing: "book a pickup")
      if let uai = renewal.handoverEstablishment {
        throw RenewalRefusal(
          .slotElsewhere,
          "your key waits at your establishment (\(uai)): collect it from the head of establishment, without an appointment"
        )
      }
      guard slot.placeID == renewal.pickupPlaceID else {
        throw RenewalRefusal(
          .slotElsewhere,
          "slot \(slot.id) is not at the place where your key waits (\(renewal.pickupPlaceID ?? "none")): pick a slot from ListPickupSlots"
        )
      }
      guard slot.startsAt > context.now else {
        throw RenewalRefusal(.slotPast, "slot \(slot.id) has already started: pick a later one")
      }
      guard slot.id != renewal.appointmentSlotID else {
        throw RenewalRefusal(.slotAlreadyBooked, "you are already booked in slot \(slot.id)")
      }
      guard slot.hasRoom else {
        throw RenewalRefusal(.slotFull, "slot \(slot.id) is full: pick another one")
      }
      if let previous = renewal.appointmentSlotID { effects.append(.releaseSlot(id: previous)) }
      effects.append(.bookSlot(id: slot.id))
      let moved = renewal.appointmentSlotID != nil
      renewal.appointmentSlotID = slot.id
      renewal.appointmentBookedAt = context.now
      record(command.action, role: .agent, to: .pickupBooked, details: (moved ? "moved to slot " : "slot ") + slot.id)
      notifyDSI("a hardware key pickup is booked")

    case .recordHandover(let comment, let heads):
      let role = try requireHandingOver(heads)
      try requireVersion()
      // A walk-in (no booking) is handed the key too; a booked seat is freed by the hand-over.
      try requireStatus(.readyForPickup, .pickupBooked, doing: "record the hand-over")
      let comment = try Self.checkText(comment, field: "comment", required: false)
      issueKey(serial: renewal.newKeySerial ?? "")
      var details = comment
      if role == .establishmentHead, let uai = renewal.handoverEstablishment {
        let title = heads.contains { $0.uid == actor.uid && $0.deputy } ? "deputy" : "head"
        details = "handed over at \(uai) by the \(title) \(actor.uid)" + (comment.isEmpty ? "" : ": " + comment)
      }
      record(command.action, role: role, to: .completed, details: details)
      notifyAgent(.agentCompleted, details: renewal.newKeySerial ?? "")

    case .cancelPickup:
      try requireAgent()
      try requireVersion()
      try requireStatus(.pickupBooked, doing: "cancel the appointment")
      let slot = renewal.appointmentSlotID ?? ""
      effects.append(.releaseSlot(id: slot))
      renewal.appointmentSlotID = nil
      renewal.appointmentBookedAt = nil
      record(command.action, role: .agent, to: .readyForPickup, details: "slot \(slot) freed")
      notifyDSI("a hardware key pickup appointment was cancelled")

    case .recordNoShow(let comment):
      try requireDSI()
      try requireVersion()
      try requireStatus(.pickupBooked, doing: "record a missed appointment")
      let comment = try Self.checkText(comment, field: "comment", required: false)
      let slot = renewal.appointmentSlotID ?? ""
      effects.append(.releaseSlot(id: slot))
      renewal.appointmentSlotID = nil
      renewal.appointmentBookedAt = nil
      record(command.action, role: .dsi, to: .readyForPickup, details: comment.isEmpty ? "slot \(slot)" : comment)
      notifyAgent(.pickupMissed, details: renewal.pickupPlaceID ?? "")

    case .allowPhoneChange(let reason):
      try requireDSI()
      try requireVersion()
      try requireStatus(.completed, doing: "allow another phone change")
      guard PhoneChangePolicy.covers(keyType: original.keyType, motif: original.motif) else {
        throw RenewalRefusal(
          .wrongState,
          "request \(original.id) is not a phone change (software key, motif PHONE_CHANGED): only a completed phone change holds back the next one"
        )
      }
      if let at = original.earlyPhoneChangeAllowedAt {
        throw RenewalRefusal(
          .wrongState,
          "another phone change was already allowed on request \(original.id): the agent may start it now",
          metadata: ["allowed_at_ms": "\(at.millisecondsSinceEpoch)"]
        )
      }
      let reason = try Self.checkText(reason, field: "reason", required: true)
      renewal.earlyPhoneChangeAllowedAt = context.now
      record(command.action, role: .dsi, to: .completed, details: reason)
      notifyAgent(.phoneChangeAllowed, details: reason)

    case .cancelByDSI(let reason):
      try requireDSI()
      try requireVersion()
      if original.status.isTerminal {
        throw RenewalRefusal(.wrongState, "request \(original.id) is already \(original.status.rawValue)")
      }
      let reason = try Self.checkText(reason, field: "reason", required: true)
      if let slot = renewal.appointmentSlotID, original.status == .pickupBooked {
        effects.append(.releaseSlot(id: slot))
      }
      var details = reason
      if !renewal.documents.isEmpty {
        effects.append(.purgeDocumentContent)
        details += "; content of \(renewal.documents.count) document(s) deleted, name, size and SHA-256 kept"
      }
      record(command.action, role: .dsi, to: .cancelled, details: details)
      notifyAgent(.agentCancelled, details: reason)

    case .cancel(let reason):
      try requireAgent()
      try requireVersion()
      if original.status.isTerminal {
        throw RenewalRefusal(.wrongState, "request \(original.id) is already \(original.status.rawValue)")
      }
      guard original.status.isCancellable else {
        throw RenewalRefusal(
          .cancelTooLate,
          "request \(original.id) is \(original.status.rawValue): the DSI is already preparing the key, contact the DSI to stop it"
        )
      }
      let reason = try Self.checkText(reason, field: "reason", required: false)
      var details = reason
      if !renewal.documents.isEmpty {
        // Supporting documents are personal data: gone with the request, their fingerprints kept.
        effects.append(.purgeDocumentContent)
        details +=
          (details.isEmpty ? "" : "; ")
          + "content of \(renewal.documents.count) document(s) deleted, name, size and SHA-256 kept"
      }
      record(command.action, role: .agent, to: .cancelled, details: details)

    case .escalate(let delay):
      // The service's own scan asks; there is no caller to check.
      try requireVersion()
      try requireStatus(.pendingApproval, doing: "escalate")
      guard renewal.escalatedAt == nil else {
        throw RenewalRefusal(.wrongState, "request \(original.id) was already escalated")
      }
      guard !renewal.routing.autoValidation.isAutomatic, let routedAt = renewal.routedAt else {
        throw RenewalRefusal(.wrongState, "request \(original.id) is not waiting for an approver")
      }
      let waited = context.calendar.businessDays(from: routedAt, to: context.now)
      guard waited >= delay else {
        throw RenewalRefusal(
          .wrongState, "request \(original.id) has waited \(waited) business days, fewer than \(delay)")
      }
      guard let n2 = renewal.routing.n2, n2.person.active else {
        throw RenewalRefusal(.noValidator, "request \(original.id) has no active N+2 to tell")
      }
      renewal.escalatedAt = context.now
      record(
        command.action, role: .system, to: .pendingApproval,
        details: "waited \(waited) business days: N+2 \(n2.person.uid) told")
      notifications.append(NotificationIntent(kind: .n2Escalation, recipient: .person(n2.person), details: "\(waited)"))

    case .remind(let periods, let appointmentStartsAt):
      // The service's own scan asks; there is no caller to check.
      try requireVersion()
      guard
        let reminder = Reminder.due(
          for: original, at: context.now, calendar: context.calendar, periods: periods,
          appointmentStartsAt: appointmentStartsAt)
      else {
        throw RenewalRefusal(.wrongState, "request \(original.id) is due no reminder now")
      }
      renewal.lastReminderAt = context.now
      record(command.action, role: .system, to: original.status, details: reminder.kind.rawValue)
      if reminder == .approver {
        let level = renewal.routing.n1Level.map(\.person).filter(\.active)
        guard !level.isEmpty else {
          throw RenewalRefusal(.noValidator, "request \(original.id) has no active N+1 to remind")
        }
        for person in level {
          notifications.append(NotificationIntent(kind: reminder.kind, recipient: .person(person)))
        }
      } else {
        notifyAgent(reminder.kind, details: appointmentStartsAt.map { "\($0.millisecondsSinceEpoch)" } ?? "")
      }

    case .reroute(let routing):
      try requireDSI()
      try requireVersion()
      try requireStatus(.pendingApproval, doing: "re-route")
      guard let validator = routing.effectiveValidator else {
        throw RenewalRefusal(
          .noValidator, "the directory gives no active validator for \(renewal.agentUID) now: fix the directory first")
      }
      let before = renewal.routing.effectiveValidator?.uid ?? "none"
      renewal.routing = routing
      effects.append(.snapshotRouting(reason: "reroute"))
      record(command.action, role: .dsi, to: .pendingApproval, details: "validator \(before) -> \(validator.uid)")
      for person in routing.askedValidators {
        notifications.append(NotificationIntent(kind: .validatorRouted, recipient: .person(person)))
      }
    }
  }

  /// A LOST or STOLEN key must stop working before anyone approves its replacement: the DSI mailbox
  /// hears at routing which of the agent's keys to suspend.
  mutating func askToSuspend(_ oldKeys: [String]) {
    guard renewal.motif == .lost || renewal.motif == .stolen else { return }
    let serials = oldKeys.isEmpty ? "no active key in the inventory" : oldKeys.joined(separator: ", ")
    notifyDSI(
      "suspend the old \(renewal.keyType.rawValue) key of \(renewal.agentUID) now (reported \(renewal.motif.rawValue)): \(serials)"
    )
  }

  /// The N+2, or a co-validator (another head of the establishment), decided in the N+1's stead: the
  /// N+1 hears what was decided and by whom ("approved by N+2 UID", "rejected by co-validator UID").
  mutating func informN1IfN2Decided(approved: Bool) {
    guard let n1 = original.routing.n1, n1.person.uid != actor.uid else { return }
    let role: String
    if original.routing.n2?.person.uid == actor.uid {
      role = "N+2"
    } else if original.routing.n1Level.contains(where: { $0.person.uid == actor.uid }) {
      role = "co-validator"
    } else {
      return
    }
    notifications.append(
      NotificationIntent(
        kind: .n1Informed, recipient: .person(n1.person),
        details: "\(approved ? "approved" : "rejected") by \(role) \(actor.uid)"))
  }

  mutating func issueKey(serial: String) {
    effects.append(
      .issueKey(
        KeyRecord(
          serial: serial, agentUID: renewal.agentUID, keyType: renewal.keyType, status: .active,
          activatedAt: context.now, renewalID: renewal.id)
      )
    )
  }
}
