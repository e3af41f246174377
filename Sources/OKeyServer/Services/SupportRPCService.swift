import GRPCCore
import OKeyAPI
import OKeyDomain
import OKeyStore

/// okey.v1.SupportService: read-only queries for support staff.
struct SupportRPCService: Okey_V1_SupportService.SimpleServiceProtocol {
  let application: RenewalApplication

  func searchRenewals(request: Okey_V1_SearchRenewalsRequest, context: ServerContext) async throws
    -> Okey_V1_SearchRenewalsResponse
  {
    _ = try Principal.required().requireSupport()
    var query = RenewalQuery()
    if !request.agentUid.isEmpty { query.agentUID = request.agentUid }
    query.statuses = try request.statuses.map { try Wire.status($0) }
    switch request.keyType {
    case .unspecified: break
    default: query.keyType = try Wire.keyType(request.keyType)
    }
    if !request.approverUid.isEmpty { query.approverUID = request.approverUid }
    if request.hasCreatedAfter { query.createdAfter = try request.createdAfter.instant(field: "created_after") }
    if request.hasCreatedBefore { query.createdBefore = try request.createdBefore.instant(field: "created_before") }
    query.limit = try Wire.pageSize(request.pageSize)
    query.after = try Wire.cursor(request.pageToken)
    switch try Wire.view(request.view) {
    case .basic:
      let page = try await application.store.searchSummaries(query)
      return .with {
        $0.renewals = page.summaries.map(Wire.renewal)
        $0.nextPageToken = Wire.pageToken(page.next)
      }
    case .full:
      let page = try await application.store.search(query)
      let renewals = try await application.messages(page.renewals)
      return .with {
        $0.renewals = renewals
        $0.nextPageToken = Wire.pageToken(page.next)
      }
    }
  }

  func getRenewal(request: Okey_V1_SupportServiceGetRenewalRequest, context: ServerContext) async throws
    -> Okey_V1_SupportServiceGetRenewalResponse
  {
    _ = try Principal.required().requireSupport()
    var response = Okey_V1_SupportServiceGetRenewalResponse()
    response.renewal = try await application.visibleMessage(request.requestID, to: nil, history: true)
    return response
  }

  func resolveRouting(request: Okey_V1_ResolveRoutingRequest, context: ServerContext) async throws
    -> Okey_V1_ResolveRoutingResponse
  {
    _ = try Principal.required().requireSupport()
    guard RequestChecks.isPlausibleUID(request.uid) else {
      throw APIError.invalidArgument("uid", "give a directory login (1 to 64 characters)")
    }
    let routing = try await application.resolver.resolve(uid: request.uid)
    return .with { $0.routing = Wire.routing(routing) }
  }

  func listKeys(request: Okey_V1_ListKeysRequest, context: ServerContext) async throws -> Okey_V1_ListKeysResponse {
    _ = try Principal.required().requireSupport()
    guard RequestChecks.isPlausibleUID(request.uid) else {
      throw APIError.invalidArgument("uid", "give a directory login (1 to 64 characters)")
    }
    // A person has a handful of keys: read them all, hand them out a page at a time.
    let keys = try await application.store.keys(agentUID: request.uid)
    guard request.pageSize >= 0 else { throw APIError.invalidArgument("page_size", "must not be negative") }
    let size = request.pageSize == 0 ? 50 : min(Int(request.pageSize), 500)
    let start = try Wire.offset(request.pageToken)
    let page = keys.dropFirst(start).prefix(size)
    return .with {
      $0.keys = page.map(Wire.key)
      $0.nextPageToken = start + page.count < keys.count ? Wire.offsetToken(start + page.count) : ""
    }
  }

  func verifyAuditTrail(request: Okey_V1_VerifyAuditTrailRequest, context: ServerContext) async throws
    -> Okey_V1_VerifyAuditTrailResponse
  {
    _ = try Principal.required().requireSupport()
    var expected: AuditHead?
    if request.expectedHeadSequence != 0 || !request.expectedHeadHash.isEmpty {
      guard request.expectedHeadSequence > 0 else {
        throw APIError.invalidArgument(
          "expected_head_sequence", "a positive sequence number, as `okey audit head` printed it")
      }
      guard request.expectedHeadHash.count == 64, request.expectedHeadHash.allSatisfy({ $0.isHexDigit }) else {
        throw APIError.invalidArgument("expected_head_hash", "the 64 hex characters `okey audit head` printed")
      }
      expected = AuditHead(sequence: request.expectedHeadSequence, hash: request.expectedHeadHash.lowercased())
    }
    let result = try await application.store.verifyAuditTrail(expectedHead: expected)
    return .with {
      $0.intact = result.intact
      $0.eventsChecked = result.eventsChecked
      $0.requestsChecked = result.requestsChecked
      $0.keyed = result.keyed
      $0.problems = result.problems.map { problem in
        .with {
          $0.sequence = problem.sequence
          $0.kind = problem.kind.rawValue
          $0.problemKind = Okey_V1_AuditProblemKind(wireName: problem.kind.rawValue) ?? .unspecified
          $0.message = problem.message
          $0.requestID = problem.renewalID ?? ""
        }
      }
    }
  }

  func getAuditHead(request: Okey_V1_GetAuditHeadRequest, context: ServerContext) async throws
    -> Okey_V1_GetAuditHeadResponse
  {
    _ = try Principal.required().requireSupport()
    let head = try await application.store.auditHead()
    return .with {
      $0.sequence = head.sequence
      $0.hash = head.hash
      if let at = head.at { $0.at = .init(at) }
    }
  }

  func stats(request: Okey_V1_StatsRequest, context: ServerContext) async throws -> Okey_V1_StatsResponse {
    _ = try Principal.required().requireSupport()
    let counts = try await application.store.countByStatus()
    let pending = try await application.store.outboxCount(state: .pending)
    let dead = try await application.store.outboxCount(state: .dead)
    let cache = application.resolver.cacheCounters
    let sizes = try await application.store.sizes()
    return .with {
      $0.tables = sizes.tables.map { table in
        .with {
          $0.name = table.name
          $0.rows = table.rows
          $0.bytes = table.bytes
        }
      }
      $0.databaseBytes = sizes.fileBytes
      $0.walBytes = sizes.walBytes
      $0.renewalsByStatus = RenewalStatus.allCases.compactMap { status in
        guard let count = counts[status] else { return nil }
        return .with {
          $0.status = Wire.status(status)
          $0.count = Int64(count)
        }
      }
      $0.directoryCacheHits = Int64(cache.hits)
      $0.directoryCacheMisses = Int64(cache.misses)
      $0.outboxPending = Int64(pending)
      $0.outboxDead = Int64(dead)
    }
  }

  func listOutbox(request: Okey_V1_ListOutboxRequest, context: ServerContext) async throws -> Okey_V1_ListOutboxResponse
  {
    _ = try Principal.required().requireSupport()
    let state: OutboxMessage.State?
    switch request.deliveryState {
    case .unspecified:
      state = request.state.isEmpty ? .dead : OutboxMessage.State(rawValue: request.state.uppercased())
      guard state != nil else {
        throw APIError.invalidArgument("state", "use PENDING, SENDING, SENT or DEAD (or delivery_state)")
      }
    case .UNRECOGNIZED(let number):
      throw APIError.invalidArgument("delivery_state", "\(number) is not an OutboxState")
    default:
      state = OutboxMessage.State(rawValue: request.deliveryState.wireName)
    }
    guard let state else { throw APIError.invalidArgument("delivery_state", "not a delivery state of the outbox") }
    guard request.limit >= 0 else { throw APIError.invalidArgument("limit", "must not be negative") }
    guard request.pageSize >= 0 else { throw APIError.invalidArgument("page_size", "must not be negative") }
    let requested = request.pageSize != 0 ? request.pageSize : request.limit
    let limit = requested == 0 ? 50 : min(Int(requested), 500)
    let afterID = try Wire.rowID(request.pageToken)
    // One more than the page: whether another page follows.
    var messages = try await application.store.outboxMessages(state: state, limit: limit + 1, afterID: afterID)
    let more = messages.count > limit
    if more { messages.removeLast() }
    let mailbox = application.configuration.dsiMailbox
    return .with {
      $0.messages = messages.map { Wire.outboxMessage($0, dsiMailbox: mailbox) }
      if more, let last = messages.last { $0.nextPageToken = Wire.rowIDToken(last.id) }
    }
  }

  func explainRenewal(request: Okey_V1_ExplainRenewalRequest, context: ServerContext) async throws
    -> Okey_V1_ExplainRenewalResponse
  {
    _ = try Principal.required().requireSupport()
    let renewal = try await application.load(request.requestID)
    let waiting = renewal.waiting
    let history = try await application.store.history(renewalID: renewal.id)
    let toAgent = try await application.store.outboxMessages(renewalID: renewal.id).last {
      $0.recipient?.uid == renewal.agentUID
    }
    let message = try await application.message(renewal)
    let mailbox = application.configuration.dsiMailbox
    return .with {
      $0.renewal = message
      $0.step = waiting.step
      $0.waitingFor = Wire.wire(waiting.party)
      $0.people = waiting.people.map(Wire.person)
      $0.since = .init(renewal.statusSince ?? renewal.updatedAt)
      $0.lastEvents = history.suffix(3).map(Wire.event)
      if let toAgent { $0.lastMessageToAgent = Wire.outboxMessage(toAgent, dsiMailbox: mailbox) }
    }
  }

  func report(request: Okey_V1_ReportRequest, context: ServerContext) async throws -> Okey_V1_ReportResponse {
    _ = try Principal.required().requireSupport()
    guard request.hasFrom else { throw APIError.invalidArgument("from", "the start of the period") }
    guard request.hasTo else { throw APIError.invalidArgument("to", "the end of the period") }
    let from = try request.from.instant(field: "from")
    let to = try request.to.instant(field: "to")
    guard from < to else { throw APIError.invalidArgument("to", "the end of the period comes after its start") }
    guard (0...365).contains(request.lateAfterBusinessDays) else {
      throw APIError.invalidArgument("late_after_business_days", "0 (the default, 5) to 365 business days")
    }
    var query = RenewalQuery()
    query.createdAfter = from
    query.createdBefore = to
    query.order = .oldestFirst
    query.limit = 500
    var requests: [(renewal: RenewalRequest, events: [RenewalEvent])] = []
    while true {
      let page = try await application.store.search(query)
      for renewal in page.renewals {
        requests.append((renewal, try await application.store.history(renewalID: renewal.id).map(\.event)))
      }
      guard requests.count <= 5000 else {
        throw APIError.invalidArgument("to", "more than 5,000 requests in the period: narrow it (from, to)")
      }
      guard let next = page.next else { break }
      query.after = next
    }
    let report = RenewalReport.make(
      requests, now: application.clock(), calendar: application.calendar,
      lateAfter: request.lateAfterBusinessDays == 0 ? 5 : Int(request.lateAfterBusinessDays))
    func counts(_ values: [String: Int]) -> [Okey_V1_ReportCount] {
      values.sorted { $0.key < $1.key }.map { entry in
        .with {
          $0.key = entry.key
          $0.count = Int32(clamping: entry.value)
        }
      }
    }
    return .with {
      $0.requests = Int32(clamping: report.requests)
      $0.byStatus = counts(report.byStatus)
      $0.byMotif = counts(report.byMotif)
      $0.byKeyType = counts(report.byKeyType)
      $0.byEstablishment = counts(report.byEstablishment)
      $0.stepTimes = report.stepTimes.map { time in
        .with {
          $0.step = time.step.rawValue
          $0.count = Int32(clamping: time.count)
          $0.medianSeconds = time.medianSeconds
          $0.p90Seconds = time.p90Seconds
        }
      }
      $0.late = report.late.map { late in
        .with {
          $0.requestID = late.renewal.id
          $0.agentUid = late.renewal.agentUID
          $0.status = Wire.status(late.renewal.status)
          $0.since = .init(late.renewal.statusSince ?? late.renewal.updatedAt)
          $0.businessDays = Int32(clamping: late.businessDays)
          $0.waitingFor = Wire.wire(late.waiting.party)
          $0.people = late.waiting.people.map(\.uid)
        }
      }
    }
  }
}
