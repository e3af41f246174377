import GRPCCore
import OKeyAPI
import OKeyDomain
import OKeyStore
import SwiftProtobuf

/// okey.v1.OperationsService: the DSI's operations. Every call needs the DSI group.
struct OperationsRPCService: Okey_V1_OperationsService.SimpleServiceProtocol {
  let application: RenewalApplication

  /// Replies kept for idempotency keys are read back leniently: one written by a newer okeyd may
  /// hold fields this one does not know.
  static let keptReply: JSONDecodingOptions = {
    var options = JSONDecodingOptions()
    options.ignoreUnknownFields = true
    return options
  }()

  func listWork(request: Okey_V1_ListWorkRequest, context: ServerContext) async throws -> Okey_V1_ListWorkResponse {
    _ = try Principal.required().requireDSI()
    var query = RenewalQuery()
    query.statuses =
      try request.statuses.isEmpty
      ? [.awaitingEnrolment, .awaitingDSI, .pickupBooked] : request.statuses.map { try Wire.status($0) }
    // By default only what the DSI can act on now; named statuses list everything in them.
    query.actionableByDSI = request.statuses.isEmpty
    query.order = .oldestFirst
    query.limit = try Wire.pageSize(request.pageSize)
    query.after = try Wire.cursor(request.pageToken)
    let page = try await application.store.search(query)
    var response = Okey_V1_ListWorkResponse()
    response.renewals = try await application.messages(page.renewals)
    response.nextPageToken = Wire.pageToken(page.next)
    return response
  }

  func confirmEnrolmentElements(request: Okey_V1_ConfirmEnrolmentElementsRequest, context: ServerContext) async throws
    -> Okey_V1_ConfirmEnrolmentElementsResponse
  {
    let actor = try Principal.required().requireDSI()
    let reply = try await application.change(request, by: actor) { _, _ in
      .confirmEnrolment(comment: request.comment)
    }
    return .with { $0.renewal = reply }
  }

  func finalize(request: Okey_V1_FinalizeRequest, context: ServerContext) async throws -> Okey_V1_FinalizeResponse {
    let actor = try Principal.required().requireDSI()
    if !request.pickupPlaceID.isEmpty { try RequestChecks.checkID(request.pickupPlaceID, field: "pickup_place_id") }
    // A key sent to the agent's establishment (no place): its heads, read now, are told.
    var found: [DirectoryPerson] = []
    if request.pickupPlaceID.isEmpty {
      let current = try await application.load(request.requestID)
      if current.keyType == .hardware,
        let uai = application.configuration.handover.policy.establishment(for: current.routing)
      {
        found = try await application.resolver.heads(ofEstablishment: uai)
      }
    }
    let heads = found
    let renewal = try await application.change(
      request.requestID, expectedVersion: request.expectedVersion, actor: actor,
      idempotency: try Idempotency.key(request)
    ) { current, reader in
      var place: PickupPlace?
      if !request.pickupPlaceID.isEmpty {
        guard let found = try reader.pickupPlace(id: request.pickupPlaceID) else {
          throw RenewalRefusal(
            .invalidField,
            "pickup_place_id: no place '\(request.pickupPlaceID)': publish it with PublishPickupSlots first")
        }
        place = found
      }
      var replacing: String?
      if !request.replacedKeySerial.isEmpty {
        // Only a key the agent holds now can be the one replaced.
        guard
          try reader.keys(agentUID: current.agentUID).contains(where: {
            $0.serial == request.replacedKeySerial && $0.status == .active
          })
        else {
          throw RenewalRefusal(
            .invalidField,
            "replaced_key_serial: \(request.replacedKeySerial) is not an active key of \(current.agentUID): see okey keys \(current.agentUID)"
          )
        }
        replacing = request.replacedKeySerial
      }
      return .finalize(serial: request.newKeySerial, place: place, replacing: replacing, heads: heads)
    }
    var response = Okey_V1_FinalizeResponse()
    response.renewal = try await application.message(renewal)
    return response
  }

  func publishPickupSlots(request: Okey_V1_PublishPickupSlotsRequest, context: ServerContext) async throws
    -> Okey_V1_PublishPickupSlotsResponse
  {
    let actor = try Principal.required().requireDSI()
    let key = try Idempotency.key(request)
    let scope = RenewalApplication.idempotencyScope("publish-pickup-slots", actor: actor)
    // A late retry gets its first reply, even once its slots have started.
    if let key, let prior = try await application.store.keptReply(ownerUID: actor.uid, operation: scope, key: key) {
      return try Okey_V1_PublishPickupSlotsResponse(jsonString: prior, options: Self.keptReply)
    }
    let placeMessage = request.place
    try RequestChecks.checkID(placeMessage.placeID, field: "place.place_id")
    guard !placeMessage.name.trimmingCharacters(in: .whitespaces).isEmpty, placeMessage.name.count <= 200 else {
      throw APIError.invalidArgument("place.name", "give a name of 1 to 200 characters")
    }
    guard placeMessage.address.count <= 1000 else {
      throw APIError.invalidArgument("place.address", "at most 1,000 characters")
    }
    guard request.slots.count <= 500 else { throw APIError.invalidArgument("slots", "at most 500 slots per call") }
    let now = application.clock()
    let place = PickupPlace(id: placeMessage.placeID, name: placeMessage.name, address: placeMessage.address)
    var slots: [PickupSlot] = []
    for (index, spec) in request.slots.enumerated() {
      let start = try spec.startsAt.instant(field: "slots[\(index)].starts_at")
      let end = try spec.endsAt.instant(field: "slots[\(index)].ends_at")
      guard spec.hasStartsAt, spec.hasEndsAt, start > now, end > start else {
        throw APIError.invalidArgument("slots[\(index)]", "starts_at must be in the future and ends_at after it")
      }
      guard (1...1000).contains(spec.capacity) else {
        throw APIError.invalidArgument("slots[\(index)].capacity", "between 1 and 1,000")
      }
      slots.append(
        PickupSlot(
          id: RequestChecks.newID(), placeID: place.id, startsAt: start, endsAt: end, capacity: Int(spec.capacity)))
    }
    let response = Okey_V1_PublishPickupSlotsResponse.with {
      $0.place = Wire.place(place)
      $0.slots = slots.map { Wire.slot($0, place: place) }
    }
    let kept = try key.map {
      KeyedResult(
        key: $0, ownerUID: actor.uid, operation: scope,
        result: try response.jsonString(), at: now)
    }
    // A retry with the same key gets the slots the first call created, and creates none.
    let answer = try await application.store.savePickupPlace(place, addingSlots: slots, idempotency: kept)
    return try answer.map { try Okey_V1_PublishPickupSlotsResponse(jsonString: $0, options: Self.keptReply) }
      ?? response
  }

  func importKeys(request: Okey_V1_ImportKeysRequest, context: ServerContext) async throws
    -> Okey_V1_ImportKeysResponse
  {
    let actor = try Principal.required().requireDSI()
    guard (1...1000).contains(request.keys.count) else {
      throw APIError.invalidArgument("keys", "send 1 to 1,000 keys a call")
    }
    var results: [Okey_V1_KeyImportResult] = []
    var accepted: [(index: Int, key: KeyRecord)] = []
    for (index, line) in request.keys.enumerated() {
      func refuse(_ why: String) {
        results.append(
          .with {
            $0.index = Int32(index)
            $0.serial = String(line.serial.prefix(64))
            $0.outcome = .refused
            $0.reason = why
          })
      }
      guard KeyInventory.isValidSerial(line.serial) else {
        refuse("serial: 1 to 64 letters, digits, '-' or '_'")
        continue
      }
      guard let keyType = try? Wire.keyType(line.keyType) else {
        refuse("key_type: HARDWARE or SOFTWARE")
        continue
      }
      guard let activatedAt = try? line.activatedAt.instant(field: "activated_at"), line.hasActivatedAt else {
        refuse("activated_at: the date the key became active")
        continue
      }
      guard RequestChecks.isPlausibleUID(line.uid), let person = try await application.resolver.person(uid: line.uid)
      else {
        refuse("uid: no single person of the directory has this uid")
        continue
      }
      accepted.append(
        (
          index,
          KeyRecord(
            serial: line.serial, agentUID: person.uid, keyType: keyType, status: .active, activatedAt: activatedAt)
        )
      )
    }
    let outcomes = accepted.isEmpty ? [] : try await application.store.recordExistingKeys(accepted.map(\.key))
    for (entry, outcome) in zip(accepted, outcomes) {
      results.append(
        .with {
          $0.index = Int32(entry.index)
          $0.serial = entry.key.serial
          switch outcome {
          case .recorded: $0.outcome = .recorded
          case .unchanged: $0.outcome = .unchanged
          case .refused(let why):
            $0.outcome = .refused
            $0.reason = why
          }
        })
    }
    results.sort { $0.index < $1.index }
    let recorded = results.filter { $0.outcome == .recorded }.count
    application.logger.notice(
      "keys imported",
      metadata: [
        "by": "\(actor.uid)", "recorded": "\(recorded)",
        "refused": "\(results.filter { $0.outcome == .refused }.count)",
        "unchanged": "\(results.filter { $0.outcome == .unchanged }.count)",
      ])
    return .with { $0.results = results }
  }

  func attachEnrolmentCode(request: Okey_V1_AttachEnrolmentCodeRequest, context: ServerContext) async throws
    -> Okey_V1_AttachEnrolmentCodeResponse
  {
    let actor = try Principal.required().requireDSI()
    guard let seal = application.enrolmentSeal else {
      throw RenewalRefusal(
        .wrongState,
        "enrolment.mode is mailbox: agents send their enrolment elements by mail; there is no code to attach")
    }
    try RequestChecks.checkID(request.requestID)
    let payload = request.payload
    guard (1...2000).contains(payload.utf8.count),
      !payload.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
    else {
      throw APIError.invalidArgument(
        "payload", "give the token's provisioning payload: 1 to 2,000 bytes of text without control characters")
    }
    guard QRCodeImage.png(of: payload) != nil else {
      throw APIError.invalidArgument("payload", "too long for a QR code: give the token's provisioning payload")
    }
    let sealed = try seal.seal(payload, requestID: request.requestID)
    let expiresAt = application.clock().adding(seconds: Int64(application.configuration.enrolment.codeHours) * 3600)
    // The idempotency fingerprint covers the payload through a keyed digest, never a plain hash.
    var fingerprinted = request
    fingerprinted.payload = seal.digest(payload)
    let renewal = try await application.change(
      request.requestID, expectedVersion: request.expectedVersion, actor: actor,
      idempotency: try Idempotency.key(fingerprinted)
    ) { _, _ in
      .attachEnrolmentCode(sealed: sealed, expiresAt: expiresAt)
    }
    let reply = try await application.message(renewal)
    return .with { $0.renewal = reply }
  }

  func requestElementsAgain(request: Okey_V1_RequestElementsAgainRequest, context: ServerContext) async throws
    -> Okey_V1_RequestElementsAgainResponse
  {
    let actor = try Principal.required().requireDSI()
    let reply = try await application.change(request, by: actor) { _, _ in
      .requestElementsAgain(message: request.message)
    }
    return .with { $0.renewal = reply }
  }

  func recordNoShow(request: Okey_V1_RecordNoShowRequest, context: ServerContext) async throws
    -> Okey_V1_RecordNoShowResponse
  {
    let actor = try Principal.required().requireDSI()
    let reply = try await application.change(request, by: actor) { _, _ in
      .recordNoShow(comment: request.comment)
    }
    return .with { $0.renewal = reply }
  }

  func allowPhoneChange(request: Okey_V1_AllowPhoneChangeRequest, context: ServerContext) async throws
    -> Okey_V1_AllowPhoneChangeResponse
  {
    let actor = try Principal.required().requireDSI()
    let reply = try await application.change(request, by: actor) { _, _ in
      .allowPhoneChange(reason: request.reason)
    }
    return .with { $0.renewal = reply }
  }

  func cancelRenewal(request: Okey_V1_OperationsServiceCancelRenewalRequest, context: ServerContext) async throws
    -> Okey_V1_OperationsServiceCancelRenewalResponse
  {
    let actor = try Principal.required().requireDSI()
    let reply = try await application.change(request, by: actor) { _, _ in
      .cancelByDSI(reason: request.reason)
    }
    return .with { $0.renewal = reply }
  }

  func recordHandover(request: Okey_V1_RecordHandoverRequest, context: ServerContext) async throws
    -> Okey_V1_RecordHandoverResponse
  {
    let actor = try Principal.required().requireDSI()
    let reply = try await application.change(request, by: actor) { _, _ in
      .recordHandover(comment: request.comment)
    }
    return .with { $0.renewal = reply }
  }

  func publishCharter(request: Okey_V1_PublishCharterRequest, context: ServerContext) async throws
    -> Okey_V1_PublishCharterResponse
  {
    let actor = try Principal.required().requireDSI()
    let key = try Idempotency.key(request)
    if let refusal = Charter.validate(version: request.version, text: request.text, code: request.code) {
      throw refusal
    }
    guard request.text.utf8.count <= 200_000 else { throw APIError.invalidArgument("text", "at most 200,000 bytes") }
    let charter = Charter(
      version: request.version, text: request.text, code: request.code, publishedAt: application.clock())
    let response = Okey_V1_PublishCharterResponse.with { $0.charter = Wire.charter(charter) }
    let kept = try key.map {
      KeyedResult(
        key: $0, ownerUID: actor.uid, operation: RenewalApplication.idempotencyScope("publish-charter", actor: actor),
        result: try response.jsonString(), at: charter.publishedAt)
    }
    let answer = try await application.store.publishCharter(charter, idempotency: kept)
    return try answer.map { try Okey_V1_PublishCharterResponse(jsonString: $0, options: Self.keptReply) } ?? response
  }

  func reroute(request: Okey_V1_RerouteRequest, context: ServerContext) async throws -> Okey_V1_RerouteResponse {
    let actor = try Principal.required().requireDSI()
    let key = try Idempotency.key(request)
    if let prior = try await application.replay(request.requestID, to: actor, idempotency: key) {
      let reply = try await application.message(prior)
      return .with { $0.renewal = reply }
    }
    let current = try await application.load(request.requestID)
    // Fresh from the directory (no cache on the way), outside the transaction.
    let routing = try await application.resolver.resolveFresh(uid: current.agentUID)
    let renewal = try await application.change(
      request.requestID, expectedVersion: request.expectedVersion, actor: actor, idempotency: key
    ) { _, _ in
      .reroute(routing)
    }
    let reply = try await application.message(renewal)
    return .with { $0.renewal = reply }
  }
}
