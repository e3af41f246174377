import GRPCCore
import OKeyAPI
import OKeyDomain
import OKeyStore

/// okey.v1.ApprovalService: the N+1 and N+2 decide. Rights come from each request's routing snapshot.
struct ApprovalRPCService: Okey_V1_ApprovalService.SimpleServiceProtocol {
  let application: RenewalApplication
  let authentication: Authentication

  func listPendingApprovals(request: Okey_V1_ListPendingApprovalsRequest, context: ServerContext) async throws
    -> Okey_V1_ListPendingApprovalsResponse
  {
    let (_, actor) = try Principal.required().require(.approver)
    var query = RenewalQuery()
    query.approverUID = actor.uid
    query.statuses = [.pendingApproval]
    query.routedOnly = true
    query.order = .oldestFirst
    query.limit = try Wire.pageSize(request.pageSize)
    query.after = try Wire.cursor(request.pageToken)
    let page = try await application.store.search(query)
    // Never one's own request, even when the directory names its agent as an approver.
    // The index only finds candidates: the routing snapshot says who decides.
    let renewals = try await application.messages(
      page.renewals.filter { $0.agentUID != actor.uid && $0.routing.namesApprover(actor.uid) })
    return .with {
      $0.renewals = renewals
      $0.nextPageToken = Wire.pageToken(page.next)
    }
  }

  func listKeysToHandOver(request: Okey_V1_ListKeysToHandOverRequest, context: ServerContext) async throws
    -> Okey_V1_ListKeysToHandOverResponse
  {
    let (_, actor) = try Principal.required().require(.approver)
    let limit = try Wire.pageSize(request.pageSize)
    let after = try Wire.cursor(request.pageToken)
    // Who heads what is read from the directory now, never from a cache or the request.
    let heads = try await application.resolver.establishmentsHeaded(by: actor.uid)
    guard !heads.isEmpty else { return .init() }
    var query = RenewalQuery()
    query.handoverEstablishments = heads.map(\.establishment)
    query.statuses = [.readyForPickup]
    query.order = .oldestFirst
    query.limit = limit
    query.after = after
    let page = try await application.store.search(query)
    let renewals = try await application.messages(page.renewals.filter { $0.agentUID != actor.uid })
    return .with {
      $0.renewals = renewals
      $0.nextPageToken = Wire.pageToken(page.next)
    }
  }

  func handOverKey(request: Okey_V1_HandOverKeyRequest, context: ServerContext) async throws
    -> Okey_V1_HandOverKeyResponse
  {
    let (_, actor) = try Principal.required().require(.approver)
    let key = try Idempotency.key(request)
    try RequestChecks.checkID(request.requestID)
    let heads = try await application.resolver.establishmentsHeaded(by: actor.uid)
    if let prior = try await application.replay(request.requestID, to: actor, heads: heads, idempotency: key) {
      let reply = try await application.message(prior)
      return .with { $0.renewal = reply }
    }
    let renewal = try await application.change(
      request.requestID, expectedVersion: request.expectedVersion, actor: actor, heads: heads, idempotency: key
    ) { _, _ in
      .recordHandover(comment: request.comment, heads: heads)
    }
    let reply = try await application.message(renewal)
    return .with { $0.renewal = reply }
  }

  func approve(request: Okey_V1_ApproveRequest, context: ServerContext) async throws -> Okey_V1_ApproveResponse {
    let (_, actor) = try Principal.required().require(.approver)
    let key = try Idempotency.key(request)
    // A retry gets its first result before the directory is asked (a replay writes nothing).
    if let prior = try await application.replay(request.requestID, to: actor, idempotency: key) {
      let reply = try await application.message(prior)
      return .with { $0.renewal = reply }
    }
    try await authentication.requireActiveNow(actor)
    let renewal = try await application.change(
      request.requestID, expectedVersion: request.expectedVersion, actor: actor, idempotency: key
    ) { _, _ in
      .approve(comment: request.comment)
    }
    let reply = try await application.message(renewal)
    return .with { $0.renewal = reply }
  }

  func reject(request: Okey_V1_RejectRequest, context: ServerContext) async throws -> Okey_V1_RejectResponse {
    let (_, actor) = try Principal.required().require(.approver)
    let key = try Idempotency.key(request)
    // A retry gets its first result before the directory is asked (a replay writes nothing).
    if let prior = try await application.replay(request.requestID, to: actor, idempotency: key) {
      let reply = try await application.message(prior)
      return .with { $0.renewal = reply }
    }
    try await authentication.requireActiveNow(actor)
    let renewal = try await application.change(
      request.requestID, expectedVersion: request.expectedVersion, actor: actor, idempotency: key
    ) { _, _ in
      .reject(reason: request.reason)
    }
    let reply = try await application.message(renewal)
    return .with { $0.renewal = reply }
  }
}
