import Foundation
import GRPCCore
import OKeyAPI
import OKeyDomain
import OKeyStore

/// okey.v1.RenewalService: the agent's procedure (the agent's session, or an internal system acting
/// for the agent).
struct RenewalRPCService: Okey_V1_RenewalService.SimpleServiceProtocol {
  let application: RenewalApplication
  let authentication: Authentication

  func startRenewal(request: Okey_V1_StartRenewalRequest, context: ServerContext) async throws
    -> Okey_V1_StartRenewalResponse
  {
    let (_, actor) = try Principal.required().require(.agent)
    let keyType = try Wire.keyType(request.keyType)
    let motif = try Wire.motif(request.motif)
    let key = try Idempotency.key(request)
    let scope = RenewalApplication.idempotencyScope("start", actor: actor)
    if let key, let prior = try await application.store.keptRenewal(agentUID: actor.uid, operation: scope, key: key) {
      let reply = try await application.message(prior)
      return .with { $0.renewal = reply }
    }
    // The directory is asked before the transaction, never inside it.
    let routing = try await application.resolver.resolve(uid: actor.uid)
    if routing.problems.contains(where: { $0.code == "NO_ENTRY" || $0.code == "SEVERAL_ENTRIES" }) {
      throw APIError(
        code: .failedPrecondition, reason: .directoryEntry,
        message: routing.problems.map(\.message).joined(separator: "; ") + ": contact support")
    }
    let id = RequestChecks.newID()
    let catalogue = application.catalogue
    // A first key is for someone without an active key of that type (checked again at submission).
    let activeKeys =
      motif == .firstKey
      ? try await application.store.keys(agentUID: actor.uid).filter {
        $0.status == .active && $0.keyType == keyType
      }.map(\.serial).sorted() : []
    // A phone change waits phoneChange.minDays after the last completed one the DSI did not release.
    var completed = RenewalQuery()
    completed.agentUID = actor.uid
    completed.statuses = [.completed]
    completed.limit = 100
    let phoneChanges: [Instant] =
      PhoneChangePolicy.covers(keyType: keyType, motif: motif)
      ? PhoneChangePolicy.limitingCompletions(of: try await application.store.search(completed).renewals) : []
    let now = application.clock()
    try CallCancellation.check()
    let cancellation = CallCancellation.handle
    let renewal = try await application.store.start(agentUID: actor.uid, scope: scope, idempotencyKey: key) { open in
      if cancellation?.isCancelled == true { throw CallCancellation.deadlinePassed }
      return RenewalWorkflow.start(
        id: id, actor: actor, keyType: keyType, motif: motif, motifDetails: request.motifDetails, routing: routing,
        openRequestID: open, catalogue: catalogue, activeKeysOfType: activeKeys,
        phoneChange: application.configuration.phoneChange.policy, phoneChangesCompletedAt: phoneChanges, now: now)
    }
    application.changes.publish(renewal)
    let reply = try await application.message(renewal)
    return .with { $0.renewal = reply }
  }

  func addDocument(request: Okey_V1_AddDocumentRequest, context: ServerContext) async throws
    -> Okey_V1_AddDocumentResponse
  {
    let (_, actor) = try Principal.required().require(.agent)
    let content = [UInt8](request.content)
    let inspected = application.documentRules.inspect(
      filename: request.filename, claimedMediaType: request.mediaType, kind: request.kind, content: content,
      catalogue: application.catalogue)
    let document = try inspected.get()
    let id = RequestChecks.newID()
    let sha256 = Tokens.hash(bytes: content)
    let renewal = try await application.change(
      request.requestID, expectedVersion: request.expectedVersion, actor: actor,
      idempotency: try Idempotency.key(request)
    ) { _, _ in
      .addDocument(id: id, document, sha256: sha256)
    }
    var response = Okey_V1_AddDocumentResponse()
    response.renewal = try await application.message(renewal)
    // A replay returns the first call's request, whose document has the first call's id.
    if let summary = renewal.documents.first(where: { $0.id == id })
      ?? renewal.documents.last(where: { $0.sha256 == sha256 })
    {
      response.document = Wire.document(summary)
    }
    return response
  }

  func removeDocument(request: Okey_V1_RemoveDocumentRequest, context: ServerContext) async throws
    -> Okey_V1_RemoveDocumentResponse
  {
    let (_, actor) = try Principal.required().require(.agent)
    try RequestChecks.checkID(request.documentID, field: "document_id")
    let reply = try await application.change(request, by: actor) { _, _ in
      .removeDocument(id: request.documentID)
    }
    return .with { $0.renewal = reply }
  }

  func setValidator(request: Okey_V1_SetValidatorRequest, context: ServerContext) async throws
    -> Okey_V1_SetValidatorResponse
  {
    let (_, actor) = try Principal.required().require(.agent)
    guard RequestChecks.isPlausibleUID(request.validatorUid) else {
      throw APIError.invalidArgument("validator_uid", "give the validator's directory login")
    }
    let key = try Idempotency.key(request)
    if let prior = try await application.replay(request.requestID, to: actor, idempotency: key) {
      let reply = try await application.message(prior)
      return .with { $0.renewal = reply }
    }
    let current = try await application.loadVisible(request.requestID, to: actor)
    // The directory is consulted before the transaction; the domain checks who asks, the state and
    // the version inside it.
    let corrected = try await application.resolver.correctValidator(of: current.routing, to: request.validatorUid).get()
    let renewal = try await application.change(
      request.requestID, expectedVersion: request.expectedVersion, actor: actor, idempotency: key
    ) { _, _ in
      .setValidator(corrected: corrected)
    }
    let reply = try await application.message(renewal)
    return .with { $0.renewal = reply }
  }

  func submitRenewal(request: Okey_V1_SubmitRenewalRequest, context: ServerContext) async throws
    -> Okey_V1_SubmitRenewalResponse
  {
    let (_, actor) = try Principal.required().require(.agent)
    let key = try Idempotency.key(request)
    if let prior = try await application.replay(request.requestID, to: actor, idempotency: key) {
      let reply = try await application.message(prior)
      return .with {
        $0.renewal = reply
        $0.routed = prior.routed
      }
    }
    let current = try await application.loadVisible(request.requestID, to: actor)
    // Routing as of submission, resolved outside the transaction: a directory outage writes nothing.
    let (routing, changes) = try await application.resolver.routingAtSubmission(of: current.routing)
    if routing.problems.contains(where: { $0.code == "NO_ENTRY" || $0.code == "SEVERAL_ENTRIES" }) {
      throw APIError(
        code: .failedPrecondition, reason: .directoryEntry,
        message: routing.problems.map(\.message).joined(separator: "; ") + ": contact support")
    }
    let renewal = try await application.change(
      request.requestID, expectedVersion: request.expectedVersion, actor: actor, idempotency: key
    ) { current, reader in
      // The keys a LOST or STOLEN request asks the DSI to suspend: the agent's active ones of its type.
      let oldKeys = try reader.keys(agentUID: current.agentUID).filter {
        $0.status == .active && $0.keyType == current.keyType
      }.map(\.serial).sorted()
      return .submitting(routing: routing, changes: changes, oldKeys: oldKeys)
    }
    let reply = try await application.message(renewal)
    return .with {
      $0.renewal = reply
      $0.routed = renewal.routed
    }
  }

  func cancelRenewal(request: Okey_V1_CancelRenewalRequest, context: ServerContext) async throws
    -> Okey_V1_CancelRenewalResponse
  {
    let (_, actor) = try Principal.required().require(.agent)
    let reply = try await application.change(request, by: actor) { _, _ in
      .cancel(reason: request.reason)
    }
    return .with { $0.renewal = reply }
  }

  func getRenewal(request: Okey_V1_GetRenewalRequest, context: ServerContext) async throws -> Okey_V1_GetRenewalResponse
  {
    let (_, actor) = try Principal.required().requirePerson()
    var response = Okey_V1_GetRenewalResponse()
    response.renewal = try await application.visibleMessage(request.requestID, to: actor, history: true)
    return response
  }

  func listMyRenewals(request: Okey_V1_ListMyRenewalsRequest, context: ServerContext) async throws
    -> Okey_V1_ListMyRenewalsResponse
  {
    let (_, actor) = try Principal.required().require(.agent)
    var query = RenewalQuery()
    query.agentUID = actor.uid
    query.limit = try Wire.pageSize(request.pageSize)
    query.after = try Wire.cursor(request.pageToken)
    let page = try await application.store.search(query)
    var response = Okey_V1_ListMyRenewalsResponse()
    response.renewals = try await application.messages(page.renewals)
    response.nextPageToken = Wire.pageToken(page.next)
    return response
  }

  func chooseMobilePlatform(request: Okey_V1_ChooseMobilePlatformRequest, context: ServerContext) async throws
    -> Okey_V1_ChooseMobilePlatformResponse
  {
    let (_, actor) = try Principal.required().require(.agent)
    let platform = try Wire.platform(request.platform)
    let language = try Wire.language(request.language, default: application.configuration.mail.language)
    let renewal = try await application.change(
      request.requestID, expectedVersion: request.expectedVersion, actor: actor,
      idempotency: try Idempotency.key(request)
    ) { _, _ in
      .choosePlatform(platform)
    }
    let guide = application.enrolmentGuide
    let reply = try await application.message(renewal)
    return .with {
      $0.renewal = reply
      $0.instructions = .with {
        $0.platform = Wire.platform(platform)
        $0.dsiMailbox = guide.mailbox
        $0.documentationURL = guide.documentationURL
        $0.language = language
        $0.steps = guide.steps(
          for: platform, language: language, requestID: renewal.id, firstKey: renewal.motif == .firstKey,
          phoneChange: renewal.motif == .phoneChanged)
      }
    }
  }

  func getReasonsCatalogue(request: Okey_V1_GetReasonsCatalogueRequest, context: ServerContext) async throws
    -> Okey_V1_GetReasonsCatalogueResponse
  {
    _ = try Principal.required()
    let catalogue = application.catalogue
    return .with {
      $0.motifs = Motif.allCases.map { motif in
        let entry = catalogue.entry(for: motif)
        return .with {
          $0.motif = Wire.motif(motif)
          $0.requiredDocumentKinds = entry.requiredDocumentKinds
          $0.detailsRequired = entry.requiresDetails
        }
      }
      $0.documentKinds = catalogue.knownDocumentKinds.sorted()
    }
  }

  func getCharter(request: Okey_V1_GetCharterRequest, context: ServerContext) async throws -> Okey_V1_GetCharterResponse
  {
    _ = try Principal.required()
    guard let charter = try await application.store.currentCharter() else {
      throw APIError.notFound("no charter is published yet: the DSI publishes it with OperationsService.PublishCharter")
    }
    return .with { $0.charter = Wire.charter(charter) }
  }

  func signCharter(request: Okey_V1_SignCharterRequest, context: ServerContext) async throws
    -> Okey_V1_SignCharterResponse
  {
    let (_, actor) = try Principal.required().require(.agent)
    let reply = try await application.change(request, by: actor) { _, reader in
      .signCharter(code: request.charterCode, acknowledged: request.acknowledged, current: try reader.currentCharter())
    }
    return .with { $0.renewal = reply }
  }

  func listPickupSlots(request: Okey_V1_ListPickupSlotsRequest, context: ServerContext) async throws
    -> Okey_V1_ListPickupSlotsResponse
  {
    let (_, actor) = try Principal.required().requirePerson()
    let renewal = try await application.loadVisible(request.requestID, to: actor)
    if let uai = renewal.handoverEstablishment {
      throw RenewalRefusal(
        .slotElsewhere,
        "the key of request \(renewal.id) waits at establishment \(uai): its head hands it over, without an appointment"
      )
    }
    guard renewal.keyType == .hardware, let placeID = renewal.pickupPlaceID,
      renewal.status == .readyForPickup || renewal.status == .pickupBooked
    else {
      throw RenewalRefusal(
        .wrongState, "request \(renewal.id) is \(renewal.status.rawValue): slots are for hardware keys ready for pickup"
      )
    }
    let place = try await application.store.pickupPlace(id: placeID)
    let slots = try await application.store.pickupSlots(
      placeID: placeID, startingAfter: application.clock(), withRoomOnly: true)
    return .with {
      if let place { $0.place = Wire.place(place) }
      $0.slots = slots.map { Wire.slot($0, place: place) }
    }
  }

  func getEnrolmentCode(request: Okey_V1_GetEnrolmentCodeRequest, context: ServerContext) async throws
    -> Okey_V1_GetEnrolmentCodeResponse
  {
    let (_, actor) = try Principal.required().require(.agent)
    guard let seal = application.enrolmentSeal else {
      throw RenewalRefusal(
        .enrolmentCodeUnavailable, "enrolment.mode is mailbox: send the enrolment elements by mail instead")
    }
    // A person disabled since their session was checked reads nothing.
    try await authentication.requireActiveNow(actor)
    let opened = OpenedCode()
    let renewal = try await application.change(
      request.requestID, expectedVersion: request.expectedVersion, actor: actor
    ) { current, reader in
      // Only the agent's own code is opened; the domain refuses anyone else.
      guard current.agentUID == actor.uid else { return .readEnrolmentCode }
      // Opened and drawn inside the transaction: the code returned is the one this commit wipes, and
      // a code that cannot be drawn is not wiped.
      if let sealed = try reader.enrolmentCode(renewalID: current.id) {
        do {
          let payload = try seal.open(sealed, requestID: current.id)
          guard let png = QRCodeImage.png(of: payload) else { throw EnrolmentCodeLost() }
          opened.keep(payload, png: png)
        } catch {
          throw RenewalRefusal(
            .enrolmentCodeUnavailable,
            "the enrolment code cannot be opened with the current enrolment.codeKeyFile: ask the DSI for a new one")
        }
      } else if current.enrolmentCodeExpiresAt != nil {
        // The state says one waits but the retention sweep removed it: it expired.
        throw RenewalRefusal(.enrolmentCodeUnavailable, "the enrolment code expired unread: ask the DSI for a new one")
      }
      return .readEnrolmentCode
    }
    guard let (payload, png) = opened.code else { throw EnrolmentCodeLost() }
    let reply = try await application.message(renewal)
    return .with {
      $0.payload = payload
      $0.qrCodePng = Data(png)
      $0.renewal = reply
    }
  }

  func confirmEnrolmentScanned(request: Okey_V1_ConfirmEnrolmentScannedRequest, context: ServerContext) async throws
    -> Okey_V1_ConfirmEnrolmentScannedResponse
  {
    let (_, actor) = try Principal.required().require(.agent)
    let reply = try await application.change(request, by: actor) { _, _ in .confirmScanned }
    return .with { $0.renewal = reply }
  }

  func markElementsSent(request: Okey_V1_MarkElementsSentRequest, context: ServerContext) async throws
    -> Okey_V1_MarkElementsSentResponse
  {
    let (_, actor) = try Principal.required().require(.agent)
    let reply = try await application.change(request, by: actor) { _, _ in
      .markElementsSent
    }
    return .with { $0.renewal = reply }
  }

  func cancelPickup(request: Okey_V1_CancelPickupRequest, context: ServerContext) async throws
    -> Okey_V1_CancelPickupResponse
  {
    let (_, actor) = try Principal.required().require(.agent)
    let reply = try await application.change(request, by: actor) { _, _ in
      .cancelPickup
    }
    return .with { $0.renewal = reply }
  }

  func bookPickup(request: Okey_V1_BookPickupRequest, context: ServerContext) async throws -> Okey_V1_BookPickupResponse
  {
    let (_, actor) = try Principal.required().require(.agent)
    try RequestChecks.checkID(request.slotID, field: "slot_id")
    let renewal = try await application.change(
      request.requestID, expectedVersion: request.expectedVersion, actor: actor,
      idempotency: try Idempotency.key(request)
    ) { _, reader in
      // An unknown slot goes to the domain as a slot of no place: it checks who asks before it
      // says the slot is not at the request's place.
      let slot =
        try reader.pickupSlot(id: request.slotID)
        ?? PickupSlot(
          id: request.slotID, placeID: "", startsAt: Instant(millisecondsSinceEpoch: 0),
          endsAt: Instant(millisecondsSinceEpoch: 0), capacity: 0)
      return .bookPickup(slot)
    }
    var response = Okey_V1_BookPickupResponse()
    response.renewal = try await application.message(renewal)
    return response
  }

  func getDocument(request: Okey_V1_GetDocumentRequest, context: ServerContext) async throws
    -> Okey_V1_GetDocumentResponse
  {
    let (_, actor) = try Principal.required().requirePerson()
    try RequestChecks.checkID(request.documentID, field: "document_id")
    let hidden = APIError.notFound("no document \(request.documentID) on a request you may read")
    // The same answer whether the request exists or not.
    try RequestChecks.checkID(request.requestID)
    let renewal: RenewalRequest
    do {
      renewal = try await application.load(request.requestID)
    } catch let error as APIError where error.code == .notFound {
      throw hidden
    }
    // Who reads decides what: the content for the agent, the snapshot's validators and the DSI;
    // metadata for support; nothing (not even that it exists) for anyone else.
    let role: ActingRole
    if renewal.agentUID == actor.uid && actor.capacities.contains(.agent) {
      role = .agent
    } else if renewal.routed && renewal.routing.namesApprover(actor.uid) && actor.capacities.contains(.approver) {
      role = .approver
    } else if actor.isDSI {
      role = .dsi
    } else if actor.groups.contains(.support) {
      role = .support
    } else {
      throw hidden
    }
    guard let summary = renewal.documents.first(where: { $0.id == request.documentID }) else { throw hidden }
    var content: [UInt8] = []
    if role != .support {
      guard let stored = try await application.store.documentContent(id: summary.id) else {
        throw APIError(
          code: .failedPrecondition, reason: .documentPurged,
          message:
            "the content of \(summary.filename) was deleted when the request ended (personal data); its name, size and SHA-256 \(summary.sha256) remain"
        )
      }
      // The bytes must still be the ones uploaded: the approver decides on what the agent sent.
      guard SHA256Hex.digest(stored) == summary.sha256 else {
        application.logger.critical(
          "document changed outside OKEY", metadata: ["request": "\(renewal.id)", "document": "\(summary.id)"])
        throw APIError(
          code: .dataLoss, reason: .documentAltered,
          message:
            "document \(summary.filename) no longer matches the SHA-256 recorded at upload: it is not served; tell support"
        )
      }
      content = stored
    }
    try CallCancellation.check()
    let event = RenewalEvent(
      action: "read-document", actor: actor.serviceAccount ?? actor.uid,
      onBehalfOf: actor.serviceAccount == nil ? nil : actor.uid,
      role: role, from: renewal.status, to: renewal.status,
      details: "\(summary.kind): \(summary.filename) (sha256 \(summary.sha256))"
        + (role == .support ? ", metadata only" : ""),
      at: application.clock())
    try await application.store.recordRead(renewalID: renewal.id, event: event)
    return .with {
      $0.document = Wire.document(summary)
      $0.content = Data(content)
      $0.contentIncluded = role != .support
    }
  }

  func watchRenewal(
    request: Okey_V1_WatchRenewalRequest,
    response: RPCWriter<Okey_V1_WatchRenewalResponse>,
    context: ServerContext
  ) async throws {
    let principal = try Principal.required()
    let (_, actor) = try principal.requirePerson()
    try RequestChecks.checkID(request.requestID)
    try await application.streams.withPlace(for: context.remotePeer) {
      try await watch(request.requestID, principal: principal, actor: actor, response: response)
    }
  }

  private func watch(
    _ requestID: String, principal: Principal, actor: OKeyDomain.Caller,
    response: RPCWriter<Okey_V1_WatchRenewalResponse>
  ) async throws {
    // Subscribe first, then read: no change can fall between the two.
    let subscription = application.changes.subscribe(requestID)
    defer { subscription.stop() }
    let first = try await application.loadVisible(requestID, to: actor)
    let firstMessage = try await application.message(first)
    try await response.write(
      .with {
        $0.renewal = firstMessage
        $0.changedAt = .init(first.updatedAt)
      })
    if first.status.isTerminal { return }
    let application = self.application
    // The caller's rights are checked again while the stream is open: a session that ends or a
    // person disabled ends the stream.
    let recheck = Duration.seconds(max(1, min(application.configuration.sessions.recheckSeconds, 60)))
    try await withRPCCancellationHandler {
      try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
          var current = first
          for await change in subscription.changes where change.version > current.version {
            current = change
            let message = try await application.message(change)
            try await response.write(
              .with {
                $0.renewal = message
                $0.changedAt = .init(change.updatedAt)
              })
            if change.status.isTerminal { return }
          }
        }
        group.addTask {
          while !Task.isCancelled {
            try await Task.sleep(for: recheck)
            // Still this caller, and still allowed to see the request (a re-route or a group
            // removal ends the stream too).
            let fresh = try await authentication.revalidate(principal)
            try RenewalApplication.requireVisible(try await application.load(requestID), to: fresh.actor)
          }
        }
        try await group.next()
        group.cancelAll()
      }
    } onCancelRPC: {
      subscription.stop()
    }
  }
}

extension Tokens {
  /// Lower-case hex SHA-256 of bytes.
  static func hash(bytes: [UInt8]) -> String {
    hashHex(bytes)
  }
}
