import Foundation
import GRPCCore
import OKeyAPI
import SwiftProtobuf

extension OKeyClient {
  var auth: Okey_V1_AuthService.Client<HTTP2ClientTransportType> { .init(wrapping: grpc) }
  var renewals: Okey_V1_RenewalService.Client<HTTP2ClientTransportType> { .init(wrapping: grpc) }
  var approvals: Okey_V1_ApprovalService.Client<HTTP2ClientTransportType> { .init(wrapping: grpc) }
  var operations: Okey_V1_OperationsService.Client<HTTP2ClientTransportType> { .init(wrapping: grpc) }
  var support: Okey_V1_SupportService.Client<HTTP2ClientTransportType> { .init(wrapping: grpc) }

  // MARK: Auth

  /// Opens a session with a directory password.
  public func login(uid: String, password: String) async throws -> LoginResult {
    let response = try await call {
      try await auth.login(
        .with {
          $0.uid = uid
          $0.password = password
        }, options: options)
    }
    return LoginResult(
      token: response.token, expiresAt: Date(response.expiresAt), principal: FromWire.principal(response.principal))
  }

  /// Who the settings' token (and on-behalf-of) make the caller.
  public func whoAmI() async throws -> PrincipalInfo {
    FromWire.principal(
      try await call { try await auth.whoAmI(.init(), metadata: metadata, options: options) }.principal)
  }

  /// Ends the session of the token in the settings: it stops working at once. Returns the uid
  /// whose session ended.
  public func logout() async throws -> String {
    try await call { try await auth.logout(.init(), metadata: metadata, options: options) }.uid
  }

  // MARK: Agent

  /// Starts a request.
  public func startRenewal(keyType: KeyType, motif: Motif, details: String = "", idempotencyKey: String = "")
    async throws -> Renewal
  {
    let request = Okey_V1_StartRenewalRequest.with {
      $0.keyType = FromWire.wire(keyType)
      $0.motif = Self.wire(motif)
      $0.motifDetails = details
      $0.idempotencyKey = idempotencyKey
    }
    return FromWire.renewal(
      try await call { try await renewals.startRenewal(request, metadata: metadata, options: options) }.renewal)
  }

  /// Attaches a document (PDF, PNG or JPEG).
  public func addDocument(
    requestID: String, filename: String, kind: String, content: Data, mediaType: String = "", expectedVersion: Int64
  ) async throws -> Renewal {
    let request = Okey_V1_AddDocumentRequest.with {
      $0.requestID = requestID
      $0.filename = filename
      $0.kind = kind
      $0.content = content
      $0.mediaType = mediaType
      $0.expectedVersion = expectedVersion
    }
    return FromWire.renewal(
      try await call { try await renewals.addDocument(request, metadata: metadata, options: options) }.renewal)
  }

  /// Removes a document.
  public func removeDocument(requestID: String, documentID: String, expectedVersion: Int64) async throws -> Renewal {
    let request = Okey_V1_RemoveDocumentRequest.with {
      $0.requestID = requestID
      $0.documentID = documentID
      $0.expectedVersion = expectedVersion
    }
    return FromWire.renewal(
      try await call { try await renewals.removeDocument(request, metadata: metadata, options: options) }.renewal)
  }

  /// Names another validator than the proposed N+1.
  public func setValidator(requestID: String, validatorUID: String, expectedVersion: Int64) async throws -> Renewal {
    let request = Okey_V1_SetValidatorRequest.with {
      $0.requestID = requestID
      $0.validatorUid = validatorUID
      $0.expectedVersion = expectedVersion
    }
    return FromWire.renewal(
      try await call { try await renewals.setValidator(request, metadata: metadata, options: options) }.renewal)
  }

  /// Submits a request.
  public func submit(requestID: String, expectedVersion: Int64, idempotencyKey: String = "") async throws -> Renewal {
    let request = Okey_V1_SubmitRenewalRequest.with {
      $0.requestID = requestID
      $0.expectedVersion = expectedVersion
      $0.idempotencyKey = idempotencyKey
    }
    return FromWire.renewal(
      try await call { try await renewals.submitRenewal(request, metadata: metadata, options: options) }.renewal)
  }

  /// Cancels a request.
  public func cancel(requestID: String, expectedVersion: Int64, reason: String = "") async throws -> Renewal {
    let request = Okey_V1_CancelRenewalRequest.with {
      $0.requestID = requestID
      $0.expectedVersion = expectedVersion
      $0.reason = reason
    }
    return FromWire.renewal(
      try await call { try await renewals.cancelRenewal(request, metadata: metadata, options: options) }.renewal)
  }

  /// One of the caller's requests (or one they approve, or any for the DSI), with its history.
  public func renewal(_ requestID: String) async throws -> Renewal {
    FromWire.renewal(
      try await call {
        try await renewals.getRenewal(.with { $0.requestID = requestID }, metadata: metadata, options: options)
      }.renewal)
  }

  /// The caller's own requests, newest first.
  public func myRenewals(pageSize: Int = 20, pageToken: String = "") async throws -> RenewalPage {
    let response = try await call {
      try await renewals.listMyRenewals(
        .with {
          $0.pageSize = Int32(pageSize)
          $0.pageToken = pageToken
        }, metadata: metadata, options: options)
    }
    return RenewalPage(renewals: response.renewals.map(FromWire.renewal), nextPageToken: response.nextPageToken)
  }

  /// Chooses the phone platform of a software key; returns the enrolment instructions, in `language`
  /// (`fr` or `en`; empty for the academy's).
  public func choosePlatform(
    requestID: String, platform: MobilePlatform, expectedVersion: Int64, language: String = ""
  ) async throws -> (Renewal, EnrolmentInstructions) {
    let request = Okey_V1_ChooseMobilePlatformRequest.with {
      $0.requestID = requestID
      $0.platform = FromWire.wire(platform)
      $0.expectedVersion = expectedVersion
      $0.language = language
    }
    let response = try await call {
      try await renewals.chooseMobilePlatform(request, metadata: metadata, options: options)
    }
    let instructions = response.instructions
    return (
      FromWire.renewal(response.renewal),
      EnrolmentInstructions(
        platform: platform, steps: instructions.steps, dsiMailbox: instructions.dsiMailbox,
        documentationURL: instructions.documentationURL, language: instructions.language)
    )
  }

  /// The reasons catalogue okeyd runs with: what each motif needs before a request is routed.
  public func reasonsCatalogue() async throws -> ReasonsCatalogue {
    let response = try await call {
      try await renewals.getReasonsCatalogue(.init(), metadata: metadata, options: options)
    }
    return ReasonsCatalogue(
      motifs: response.motifs.compactMap { entry in
        FromWire.motif(entry.motif).map {
          MotifRequirements(
            motif: $0, requiredDocumentKinds: entry.requiredDocumentKinds, detailsRequired: entry.detailsRequired)
        }
      },
      documentKinds: response.documentKinds)
  }

  /// The current charter.
  public func charter() async throws -> CharterInfo {
    let charter = try await call { try await renewals.getCharter(.init(), metadata: metadata, options: options) }
      .charter
    return CharterInfo(
      version: charter.version, text: charter.text, footer: charter.footer, publishedAt: Date(charter.publishedAt))
  }

  /// Signs the charter with the code printed at its bottom.
  public func signCharter(requestID: String, code: String, acknowledged: Bool, expectedVersion: Int64) async throws
    -> Renewal
  {
    let request = Okey_V1_SignCharterRequest.with {
      $0.requestID = requestID
      $0.charterCode = code
      $0.acknowledged = acknowledged
      $0.expectedVersion = expectedVersion
    }
    return FromWire.renewal(
      try await call { try await renewals.signCharter(request, metadata: metadata, options: options) }.renewal)
  }

  /// Free slots at the place where a hardware key waits.
  public func pickupSlots(requestID: String) async throws -> (PickupPlace?, [PickupSlot]) {
    let response = try await call {
      try await renewals.listPickupSlots(.with { $0.requestID = requestID }, metadata: metadata, options: options)
    }
    return (response.hasPlace ? FromWire.place(response.place) : nil, response.slots.map(FromWire.slot))
  }

  /// Books (or moves) the pickup appointment.
  public func bookPickup(requestID: String, slotID: String, expectedVersion: Int64) async throws -> Renewal {
    let request = Okey_V1_BookPickupRequest.with {
      $0.requestID = requestID
      $0.slotID = slotID
      $0.expectedVersion = expectedVersion
    }
    return FromWire.renewal(
      try await call { try await renewals.bookPickup(request, metadata: metadata, options: options) }.renewal)
  }

  /// Says the enrolment elements of a software key were sent to the DSI mailbox.
  public func markElementsSent(requestID: String, expectedVersion: Int64) async throws -> Renewal {
    let request = Okey_V1_MarkElementsSentRequest.with {
      $0.requestID = requestID
      $0.expectedVersion = expectedVersion
    }
    return FromWire.renewal(
      try await call { try await renewals.markElementsSent(request, metadata: metadata, options: options) }.renewal)
  }

  /// Cancels the pickup appointment: the seat is freed, the key waits for another booking.
  public func cancelPickup(requestID: String, expectedVersion: Int64) async throws -> Renewal {
    let request = Okey_V1_CancelPickupRequest.with {
      $0.requestID = requestID
      $0.expectedVersion = expectedVersion
    }
    return FromWire.renewal(
      try await call { try await renewals.cancelPickup(request, metadata: metadata, options: options) }.renewal)
  }

  /// Follows a request: `onChange` gets its current state, then each change, until it is terminal.
  public func watch(requestID: String, onChange: @escaping @Sendable (Renewal) async throws -> Void) async throws {
    var options = self.options
    options.timeout = nil
    try await call {
      try await renewals.watchRenewal(.with { $0.requestID = requestID }, metadata: metadata, options: options) {
        response in
        for try await message in response.messages { try await onChange(FromWire.renewal(message.renewal)) }
      }
    }
  }

  // MARK: Approvers

  /// Requests waiting for the caller's decision.
  public func pendingApprovals(pageSize: Int = 20, pageToken: String = "") async throws -> RenewalPage {
    let response = try await call {
      try await approvals.listPendingApprovals(
        .with {
          $0.pageSize = Int32(pageSize)
          $0.pageToken = pageToken
        }, metadata: metadata, options: options)
    }
    return RenewalPage(renewals: response.renewals.map(FromWire.renewal), nextPageToken: response.nextPageToken)
  }

  /// Approves a request.
  public func approve(requestID: String, comment: String = "", expectedVersion: Int64) async throws -> Renewal {
    let request = Okey_V1_ApproveRequest.with {
      $0.requestID = requestID
      $0.comment = comment
      $0.expectedVersion = expectedVersion
    }
    return FromWire.renewal(
      try await call { try await approvals.approve(request, metadata: metadata, options: options) }.renewal)
  }

  /// Rejects a request with a reason.
  public func reject(requestID: String, reason: String, expectedVersion: Int64) async throws -> Renewal {
    let request = Okey_V1_RejectRequest.with {
      $0.requestID = requestID
      $0.reason = reason
      $0.expectedVersion = expectedVersion
    }
    return FromWire.renewal(
      try await call { try await approvals.reject(request, metadata: metadata, options: options) }.renewal)
  }

  /// Hardware keys waiting at the establishments the caller heads (principal or deputy), oldest first.
  public func keysToHandOver(pageSize: Int = 20, pageToken: String = "") async throws -> RenewalPage {
    let response = try await call {
      try await approvals.listKeysToHandOver(
        .with {
          $0.pageSize = Int32(pageSize)
          $0.pageToken = pageToken
        }, metadata: metadata, options: options)
    }
    return RenewalPage(renewals: response.renewals.map(FromWire.renewal), nextPageToken: response.nextPageToken)
  }

  /// Records, as the head or a deputy of the establishment where the key waits, that its agent
  /// collected it.
  public func handOverKey(requestID: String, comment: String = "", expectedVersion: Int64) async throws -> Renewal {
    let request = Okey_V1_HandOverKeyRequest.with {
      $0.requestID = requestID
      $0.comment = comment
      $0.expectedVersion = expectedVersion
    }
    return FromWire.renewal(
      try await call { try await approvals.handOverKey(request, metadata: metadata, options: options) }.renewal)
  }

  /// Reads the enrolment code of the caller's request once (`enrolment.mode: qr`): it is wiped.
  public func enrolmentCode(requestID: String, expectedVersion: Int64) async throws -> EnrolmentCode {
    let request = Okey_V1_GetEnrolmentCodeRequest.with {
      $0.requestID = requestID
      $0.expectedVersion = expectedVersion
    }
    let response = try await call { try await renewals.getEnrolmentCode(request, metadata: metadata, options: options) }
    return EnrolmentCode(
      payload: response.payload, qrCodePNG: [UInt8](response.qrCodePng), renewal: FromWire.renewal(response.renewal))
  }

  /// Says the agent scanned the enrolment code: the request goes to AWAITING_CHARTER.
  public func confirmEnrolmentScanned(requestID: String, expectedVersion: Int64) async throws -> Renewal {
    let request = Okey_V1_ConfirmEnrolmentScannedRequest.with {
      $0.requestID = requestID
      $0.expectedVersion = expectedVersion
    }
    return FromWire.renewal(
      try await call { try await renewals.confirmEnrolmentScanned(request, metadata: metadata, options: options) }
        .renewal)
  }

  /// Attaches the provisioning payload of a request's new software token (DSI, `enrolment.mode: qr`).
  public func attachEnrolmentCode(requestID: String, payload: String, expectedVersion: Int64) async throws -> Renewal {
    let request = Okey_V1_AttachEnrolmentCodeRequest.with {
      $0.requestID = requestID
      $0.payload = payload
      $0.expectedVersion = expectedVersion
    }
    return FromWire.renewal(
      try await call { try await operations.attachEnrolmentCode(request, metadata: metadata, options: options) }
        .renewal)
  }

  // MARK: DSI

  /// Requests waiting for the DSI (default statuses when `statuses` is empty).
  public func work(statuses: [RenewalStatus] = [], pageSize: Int = 20, pageToken: String = "") async throws
    -> RenewalPage
  {
    let request = Okey_V1_ListWorkRequest.with {
      $0.statuses = statuses.map(Self.wire)
      $0.pageSize = Int32(pageSize)
      $0.pageToken = pageToken
    }
    let response = try await call { try await operations.listWork(request, metadata: metadata, options: options) }
    return RenewalPage(renewals: response.renewals.map(FromWire.renewal), nextPageToken: response.nextPageToken)
  }

  /// Confirms the enrolment elements of a software key were received.
  public func confirmEnrolmentElements(requestID: String, comment: String = "", expectedVersion: Int64) async throws
    -> Renewal
  {
    let request = Okey_V1_ConfirmEnrolmentElementsRequest.with {
      $0.requestID = requestID
      $0.comment = comment
      $0.expectedVersion = expectedVersion
    }
    return FromWire.renewal(
      try await call { try await operations.confirmEnrolmentElements(request, metadata: metadata, options: options) }
        .renewal)
  }

  /// Finalises a key; hardware keys need the pickup place.
  public func finalize(
    requestID: String, serial: String, pickupPlaceID: String = "", replacing replacedSerial: String = "",
    expectedVersion: Int64
  ) async throws -> Renewal {
    let request = Okey_V1_FinalizeRequest.with {
      $0.requestID = requestID
      $0.newKeySerial = serial
      $0.pickupPlaceID = pickupPlaceID
      $0.replacedKeySerial = replacedSerial
      $0.expectedVersion = expectedVersion
    }
    return FromWire.renewal(
      try await call { try await operations.finalize(request, metadata: metadata, options: options) }.renewal)
  }

  /// Publishes a pickup place and slots there.
  public func publishPickupSlots(place: PickupPlace, slots: [(start: Date, end: Date, capacity: Int)]) async throws
    -> [PickupSlot]
  {
    let request = Okey_V1_PublishPickupSlotsRequest.with {
      $0.place = .with {
        $0.placeID = place.id
        $0.name = place.name
        $0.address = place.address
      }
      $0.slots = slots.map { slot in
        .with {
          $0.startsAt = Google_Protobuf_Timestamp(date: slot.start)
          $0.endsAt = Google_Protobuf_Timestamp(date: slot.end)
          $0.capacity = Int32(slot.capacity)
        }
      }
    }
    return try await call { try await operations.publishPickupSlots(request, metadata: metadata, options: options) }
      .slots.map(FromWire.slot)
  }

  /// Records the hand-over of a hardware key.
  public func recordHandover(requestID: String, comment: String = "", expectedVersion: Int64) async throws -> Renewal {
    let request = Okey_V1_RecordHandoverRequest.with {
      $0.requestID = requestID
      $0.comment = comment
      $0.expectedVersion = expectedVersion
    }
    return FromWire.renewal(
      try await call { try await operations.recordHandover(request, metadata: metadata, options: options) }.renewal)
  }

  /// Records that the agent missed the appointment: the key waits for another booking (DSI).
  public func recordNoShow(requestID: String, comment: String = "", expectedVersion: Int64) async throws -> Renewal {
    let request = Okey_V1_RecordNoShowRequest.with {
      $0.requestID = requestID
      $0.comment = comment
      $0.expectedVersion = expectedVersion
    }
    return FromWire.renewal(
      try await call { try await operations.recordNoShow(request, metadata: metadata, options: options) }.renewal)
  }

  /// Lets the agent change phone again before `phoneChange.minDays`, on their last completed phone
  /// change, with the reason the agent is told (DSI).
  public func allowPhoneChange(requestID: String, reason: String, expectedVersion: Int64) async throws -> Renewal {
    let request = Okey_V1_AllowPhoneChangeRequest.with {
      $0.requestID = requestID
      $0.reason = reason
      $0.expectedVersion = expectedVersion
    }
    return FromWire.renewal(
      try await call { try await operations.allowPhoneChange(request, metadata: metadata, options: options) }.renewal)
  }

  /// Asks the agent for the enrolment elements again, saying what is missing (DSI).
  public func requestElementsAgain(requestID: String, message: String, expectedVersion: Int64) async throws -> Renewal {
    let request = Okey_V1_RequestElementsAgainRequest.with {
      $0.requestID = requestID
      $0.message = message
      $0.expectedVersion = expectedVersion
    }
    return FromWire.renewal(
      try await call { try await operations.requestElementsAgain(request, metadata: metadata, options: options) }
        .renewal)
  }

  /// Cancels a request that is not over, with a reason the agent is told (DSI).
  public func cancelAsDSI(requestID: String, reason: String, expectedVersion: Int64) async throws -> Renewal {
    let request = Okey_V1_OperationsServiceCancelRenewalRequest.with {
      $0.requestID = requestID
      $0.reason = reason
      $0.expectedVersion = expectedVersion
    }
    return FromWire.renewal(
      try await call { try await operations.cancelRenewal(request, metadata: metadata, options: options) }.renewal)
  }

  /// Records keys that exist outside OKEY in the inventory (DSI); one result per key, in order.
  public func importKeys(_ keys: [ExistingKey]) async throws -> [KeyImportInfo] {
    let request = Okey_V1_ImportKeysRequest.with {
      $0.keys = keys.map { key in
        .with {
          $0.serial = key.serial
          $0.keyType = key.keyType.map { FromWire.wire($0) } ?? .unspecified
          $0.uid = key.uid
          if let date = key.activatedAt { $0.activatedAt = Google_Protobuf_Timestamp(date: date) }
        }
      }
    }
    return try await call { try await operations.importKeys(request, metadata: metadata, options: options) }.results
      .map {
        KeyImportInfo(
          index: Int($0.index), serial: $0.serial,
          outcome: $0.outcome.wireName,
          reason: $0.reason)
      }
  }

  /// Publishes a charter version.
  public func publishCharter(version: String, text: String, code: String) async throws -> CharterInfo {
    let charter = try await call {
      try await operations.publishCharter(
        .with {
          $0.version = version
          $0.text = text
          $0.code = code
        }, metadata: metadata, options: options)
    }.charter
    return CharterInfo(
      version: charter.version, text: charter.text, footer: charter.footer, publishedAt: Date(charter.publishedAt))
  }

  /// Re-resolves the routing of a pending request.
  public func reroute(requestID: String, expectedVersion: Int64) async throws -> Renewal {
    let request = Okey_V1_RerouteRequest.with {
      $0.requestID = requestID
      $0.expectedVersion = expectedVersion
    }
    return FromWire.renewal(
      try await call { try await operations.reroute(request, metadata: metadata, options: options) }.renewal)
  }

  // MARK: Support

  /// Searches every request (support staff). With `view: .basic`, each request carries only its
  /// id, agent, key type, status, version, routed flag, times and the N+1 and N+2 uids: a list's
  /// columns, several times cheaper to serve.
  public func searchRenewals(
    agentUID: String = "", statuses: [RenewalStatus] = [], approverUID: String = "", pageSize: Int = 20,
    pageToken: String = "", view: SearchView = .full
  ) async throws -> RenewalPage {
    let request = Okey_V1_SearchRenewalsRequest.with {
      $0.agentUid = agentUID
      $0.statuses = statuses.map(Self.wire)
      $0.approverUid = approverUID
      $0.pageSize = Int32(pageSize)
      $0.pageToken = pageToken
      $0.view = FromWire.wire(view)
    }
    let response = try await call { try await support.searchRenewals(request, metadata: metadata, options: options) }
    return RenewalPage(renewals: response.renewals.map(FromWire.renewal), nextPageToken: response.nextPageToken)
  }

  /// Any request with its history (support staff).
  public func supportRenewal(_ requestID: String) async throws -> Renewal {
    FromWire.renewal(
      try await call {
        try await support.getRenewal(.with { $0.requestID = requestID }, metadata: metadata, options: options)
      }.renewal)
  }

  /// The routing the directory gives a person now (support staff).
  public func routing(uid: String) async throws -> RoutingInfo {
    FromWire.routing(
      try await call { try await support.resolveRouting(.with { $0.uid = uid }, metadata: metadata, options: options) }
        .routing)
  }

  /// A person's keys (support staff).
  public func keys(uid: String) async throws -> [KeyInfo] {
    try await call { try await support.listKeys(.with { $0.uid = uid }, metadata: metadata, options: options) }.keys.map
    {
      KeyInfo(
        serial: $0.serial, keyType: FromWire.keyType($0.keyType), active: $0.status == .active,
        activatedAt: Date($0.activatedAt),
        replacedAt: $0.hasReplacedAt ? Date($0.replacedAt) : nil, requestID: $0.requestID)
    }
  }

  /// Verifies the audit chain and every request's state (support staff); with `expectedHead` (from
  /// ``auditHead()`` earlier), a chain cut after it is reported.
  public func verifyAuditTrail(expectedHead: AuditHeadInfo? = nil) async throws -> AuditReport {
    let request = Okey_V1_VerifyAuditTrailRequest.with {
      if let expectedHead {
        $0.expectedHeadSequence = expectedHead.sequence
        $0.expectedHeadHash = expectedHead.hash
      }
    }
    let response = try await call { try await support.verifyAuditTrail(request, metadata: metadata, options: options) }
    return AuditReport(
      intact: response.intact, eventsChecked: response.eventsChecked,
      problems: response.problems.map { "\($0.sequence) \($0.kind): \($0.message)" }, keyed: response.keyed,
      requestsChecked: response.requestsChecked)
  }

  /// The head of the audit chain (support staff).
  public func auditHead() async throws -> AuditHeadInfo {
    let response = try await call { try await support.getAuditHead(.init(), metadata: metadata, options: options) }
    return AuditHeadInfo(sequence: response.sequence, hash: response.hash, at: response.hasAt ? Date(response.at) : nil)
  }

  /// A supporting document of a request: the content for the agent, the request's validators and
  /// the DSI; the metadata only for support staff.
  public func document(requestID: String, documentID: String) async throws -> DocumentContent {
    let response = try await call {
      try await renewals.getDocument(
        .with {
          $0.requestID = requestID
          $0.documentID = documentID
        }, metadata: metadata, options: options)
    }
    let d = response.document
    return DocumentContent(
      document: DocumentInfo(
        id: d.documentID, filename: d.filename, mediaType: d.mediaType, kind: d.kind, sizeBytes: d.sizeBytes,
        sha256: d.sha256),
      content: response.content, contentIncluded: response.contentIncluded)
  }

  /// Request counts and directory cache figures (support staff).
  public func stats() async throws -> ServiceStats {
    let response = try await call { try await support.stats(.init(), metadata: metadata, options: options) }
    return ServiceStats(
      renewalsByStatus: Dictionary(
        uniqueKeysWithValues: response.renewalsByStatus.map { (FromWire.status($0.status).rawValue, $0.count) }),
      directoryCacheHits: response.directoryCacheHits, directoryCacheMisses: response.directoryCacheMisses,
      outboxPending: response.outboxPending, outboxDead: response.outboxDead,
      tables: response.tables.map { TableStats(name: $0.name, rows: $0.rows, bytes: $0.bytes) },
      databaseBytes: response.databaseBytes, walBytes: response.walBytes)
  }

  /// Outbox messages in a delivery state (DEAD by default) (support staff).
  public func outbox(state: String = "DEAD", limit: Int = 50) async throws -> [OutboxEntry] {
    let response = try await call {
      try await support.listOutbox(
        .with {
          $0.state = state
          $0.limit = Int32(limit)
        }, metadata: metadata, options: options)
    }
    return response.messages.map(FromWire.outboxEntry)
  }

  /// The figures of the requests started in [from, to) (support): counts, step durations, late requests.
  public func report(from: Date, to: Date, lateAfterBusinessDays: Int = 0) async throws -> ReportInfo {
    let response = try await call {
      try await support.report(
        .with {
          $0.from = Google_Protobuf_Timestamp(date: from)
          $0.to = Google_Protobuf_Timestamp(date: to)
          $0.lateAfterBusinessDays = Int32(clamping: lateAfterBusinessDays)
        }, metadata: metadata, options: options)
    }
    func counts(_ values: [Okey_V1_ReportCount]) -> [String: Int] {
      Dictionary(values.map { ($0.key, Int($0.count)) }, uniquingKeysWith: +)
    }
    return ReportInfo(
      requests: Int(response.requests), byStatus: counts(response.byStatus), byMotif: counts(response.byMotif),
      byKeyType: counts(response.byKeyType), byEstablishment: counts(response.byEstablishment),
      stepTimes: response.stepTimes.map {
        .init(step: $0.step, count: Int($0.count), medianSeconds: $0.medianSeconds, p90Seconds: $0.p90Seconds)
      },
      late: response.late.map {
        .init(
          requestID: $0.requestID, agentUID: $0.agentUid, status: FromWire.status($0.status), since: Date($0.since),
          businessDays: Int($0.businessDays), waitingFor: $0.waitingFor.wireName, people: $0.people)
      })
  }

  /// What a request waits for: its step, who must act, since when, its last events, and the last
  /// message the agent was sent (support).
  public func explain(requestID: String) async throws -> RenewalExplanation {
    let response = try await call {
      try await support.explainRenewal(.with { $0.requestID = requestID }, metadata: metadata, options: options)
    }
    var renewal = response.renewal
    renewal.history = response.lastEvents
    let withEvents = FromWire.renewal(renewal)
    return RenewalExplanation(
      renewal: withEvents, step: response.step, waitingFor: response.waitingFor.wireName,
      people: response.people.map(FromWire.person), since: Date(response.since), lastEvents: withEvents.history,
      lastMessageToAgent: response.hasLastMessageToAgent ? FromWire.outboxEntry(response.lastMessageToAgent) : nil)
  }

  // MARK: Wire values

  static func wire(_ motif: Motif) -> Okey_V1_Motif { FromWire.wire(motif) }
  static func wire(_ status: RenewalStatus) -> Okey_V1_RenewalStatus { FromWire.wire(status) }
}
