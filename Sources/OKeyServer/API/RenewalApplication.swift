import Foundation
import Logging
import OKeyAPI
import OKeyDirectory
import OKeyDomain
import OKeyStore
import Synchronization

/// What the renewal services share: the store, the directory and its resolver, the rules, the clock,
/// and the hub that tells watchers about changes (who calls is ``Authentication``'s part). Handlers stay thin: decode, authorise, call here.
///
/// ## Caches: the one policy
///
/// Every cache of okeyd, what it holds, its bound, and what makes it forget. A cache never decides
/// alone: a change reads the request inside its transaction; a session or a person acted for is
/// trusted at most `sessions.recheckSeconds`.
///
/// | cache | key → value | bound | forgets on |
/// |---|---|---|---|
/// | `CachingDirectory` (OKeyDirectory) | uid, DN, UAI, member DN → entries, groups, manages-someone | `directory.cacheTTLSeconds`, `directory.cacheCapacity` each | TTL; `forget(uid:)` (re-route, `person(uid:fresh:)`, validator correction) |
/// | `RoutingResolver.resolutions` | uid → routing | `directory.cacheTTLSeconds`, `directory.cacheCapacity` | TTL; `forget(uid:)`; `resolveFresh(uid:)` (re-route) reads past every cache, then forgets the agent, N+1 and N+2 |
/// | `Authentication.actingPeople` | on-behalf-of uid → person and groups | min(`directory.cacheTTLSeconds`, `sessions.recheckSeconds`), `directory.cacheCapacity` | TTL |
/// | `SessionBook.recent` | token hash → session | 30 s (never past expiry), 10,000 | TTL; logout |
/// | `SessionBook.checked` | token hash → session re-read from the directory | `sessions.recheckSeconds`, 10,000 | TTL; logout |
/// | `SessionBook.ended` | token hash → ended by logout | 60 s, 10,000 | TTL (longer than `recent`) |
/// | `ViewCache` (OKeyStore) | request id → view (place, slot, history) | 20,000 | every change of the request, before and after its transaction |
/// | `CommittedStates` (OKeyStore) | request id → last committed state | 4,096 | used only at the row's version; replaced on commit |
final class RenewalApplication: Sendable {
  let configuration: OKeyConfiguration
  let store: any RenewalStore
  let directory: any Directory
  let resolver: RoutingResolver
  let catalogue: ReasonCatalogue
  /// The enrolment instructions (configuration `enrolment`).
  let enrolmentGuide: EnrolmentGuide
  let documentRules: DocumentRules
  let changes = RenewalChangeHub()
  let logger: Logger
  let clock: @Sendable () -> Instant
  /// The academy's days (time zone and holidays).
  let calendar: AcademyCalendar
  /// The bound on open Watch streams, per connection and in all.
  let streams: StreamQuota
  /// Seals the enrolment codes (`enrolment.mode: qr`); nil in mailbox mode.
  let enrolmentSeal: EnrolmentCodeSeal?

  init(
    configuration: OKeyConfiguration, store: any RenewalStore, directory: any Directory, resolver: RoutingResolver,
    logger: Logger, clock: @escaping @Sendable () -> Instant = RenewalApplication.systemClock,
    enrolmentSeal: EnrolmentCodeSeal? = nil
  ) {
    self.enrolmentSeal = enrolmentSeal
    self.configuration = configuration
    self.store = store
    self.directory = directory
    self.resolver = resolver
    self.catalogue = configuration.reasons.catalogue
    self.enrolmentGuide = configuration.enrolment.guide(dsiMailbox: configuration.dsiMailbox)
    self.documentRules = DocumentRules(
      maxBytes: configuration.limits.maxDocumentBytes, maxCount: configuration.limits.maxDocumentsPerRequest)
    self.logger = logger
    self.clock = clock
    self.calendar = configuration.academyCalendar()
    self.streams = StreamQuota(
      perConnection: configuration.limits.maxWatchStreamsPerConnection, total: configuration.limits.maxWatchStreams)
  }

  @Sendable static func systemClock() -> Instant {
    Instant(millisecondsSinceEpoch: Int64((Date().timeIntervalSince1970 * 1000).rounded()))
  }

  /// The scope an idempotency key lives in: the operation, the caller (person, and the internal
  /// system acting for them) — so that one caller's key never returns another caller's result.
  /// Unambiguous: the operation is fixed, an account name holds no '|' (configuration checks it), the
  /// uid comes last.
  static func idempotencyScope(_ operation: String, actor: Caller) -> String {
    "\(operation)|\(actor.serviceAccount ?? "")|\(actor.uid)"
  }

  // MARK: Reading

  /// The request, or NOT_FOUND.
  func load(_ id: String) async throws -> RenewalRequest {
    try RequestChecks.checkID(id)
    guard let renewal = try await store.renewal(id: id) else { throw APIError.notFound("no renewal request \(id)") }
    return renewal
  }

  /// The request if `actor` may read it through the agent/approver/DSI services: its agent, an
  /// approver its routing snapshot names, or a DSI operator.
  func loadVisible(_ id: String, to actor: Caller, heads: [EstablishmentHead] = []) async throws -> RenewalRequest {
    let renewal = try await load(id)
    try Self.requireVisible(renewal, to: actor, heads: heads)
    return renewal
  }

  /// PERMISSION_DENIED unless `actor` is the request's agent (with the agent capacity), an approver
  /// its routing snapshot names (with the approver capacity), a DSI operator, or the head or a deputy
  /// of the establishment where its key waits (`heads`, read from the directory by the caller, with
  /// the approver capacity).
  static func requireVisible(_ renewal: RenewalRequest, to actor: Caller, heads: [EstablishmentHead] = []) throws {
    let agent = renewal.agentUID == actor.uid && actor.capacities.contains(.agent)
    let approver = renewal.routed && renewal.routing.namesApprover(actor.uid) && actor.capacities.contains(.approver)
    let head =
      renewal.handoverEstablishment.map { uai in
        heads.contains { $0.uid == actor.uid && $0.establishment == uai }
      } == true && actor.capacities.contains(.approver)
    guard agent || approver || head || actor.isDSI else {
      throw APIError.denied(.notYourRequest, "request \(renewal.id) is not yours: agents see their own requests only")
    }
  }

  /// The wire form of a request `actor` may read (see ``loadVisible(_:to:)``), with its place,
  /// appointment and history, read in one transaction.
  func visibleMessage(_ id: String, to actor: Caller?, history: Bool) async throws -> Okey_V1_Renewal {
    try RequestChecks.checkID(id)
    guard let view = try await store.renewalView(id: id, withHistory: history) else {
      throw APIError.notFound("no renewal request \(id)")
    }
    if let actor { try Self.requireVisible(view.renewal, to: actor) }
    return Wire.renewal(view.renewal, catalogue: catalogue, history: view.history, place: view.place, slot: view.slot)
  }

  /// The wire form of requests, each with its place and appointment.
  func messages(_ renewals: [RenewalRequest]) async throws -> [Okey_V1_Renewal] {
    var messages: [Okey_V1_Renewal] = []
    for renewal in renewals { messages.append(try await message(renewal)) }
    return messages
  }

  /// The one reply builder of every RPC that returns a request: its wire form, with its place,
  /// appointment and (optionally) history.
  func message(_ renewal: RenewalRequest, history: Bool = false) async throws -> Okey_V1_Renewal {
    var place: PickupPlace?
    var slot: PickupSlot?
    if let id = renewal.pickupPlaceID { place = try await store.pickupPlace(id: id) }
    if let id = renewal.appointmentSlotID { slot = try await store.pickupSlot(id: id) }
    let events = history ? try await store.history(renewalID: renewal.id) : []
    return Wire.renewal(renewal, catalogue: catalogue, history: events, place: place, slot: slot)
  }

  // MARK: Changing

  /// The first result of a change retried with its idempotency key, or nil for a new key. Asked
  /// before the directory: a retry during a directory outage still gets its answer.
  func replay(_ id: String, to actor: Caller, heads: [EstablishmentHead] = [], idempotency: IdempotencyKey?)
    async throws -> RenewalRequest?
  {
    guard let idempotency else { return nil }
    let current = try await loadVisible(id, to: actor, heads: heads)
    return try await store.keptRenewal(
      agentUID: current.agentUID, operation: Self.idempotencyScope("change", actor: actor), key: idempotency)
  }

  /// The one path of an RPC that changes a request: its idempotency key read, the change applied
  /// (see ``change(_:expectedVersion:actor:idempotency:now:build:)``), and the reply built.
  func change(
    _ request: some RenewalChangeRequest, by actor: Caller,
    build: @escaping @Sendable (RenewalRequest, any ChangeReader) throws -> RenewalCommand
  ) async throws -> Okey_V1_Renewal {
    let renewal = try await change(
      request.requestID, expectedVersion: request.expectedVersion, actor: actor,
      idempotency: try Idempotency.key(request), build: build)
    return try await message(renewal)
  }

  /// Applies a command to a request in one store transaction: the command is built inside the
  /// transaction from what it needs (`build` may refuse), decided by the domain, written with its
  /// audit events and outbox rows, then announced to watchers.
  func change(
    _ id: String,
    expectedVersion: Int64,
    actor: Caller,
    heads: [EstablishmentHead] = [],
    idempotency: IdempotencyKey? = nil,
    now: Instant? = nil,
    build: @escaping @Sendable (RenewalRequest, any ChangeReader) throws -> RenewalCommand
  ) async throws -> RenewalRequest {
    try RequestChecks.checkID(id)
    // 0 is what a client that forgot the field sends: never a version a request had.
    guard expectedVersion >= 1 else {
      throw APIError.invalidArgument(
        "expected_version", "give the version of the request you last read (versions start at 1)")
    }
    // A call past its deadline is cancelled here and writes nothing.
    try CallCancellation.check()
    let context = DecisionContext(
      now: now ?? clock(), expectedVersion: expectedVersion, catalogue: catalogue, documentRules: documentRules,
      calendar: calendar, phoneChange: configuration.phoneChange.policy, handover: configuration.handover.policy,
      enrolmentByCode: configuration.enrolment.byCode)
    let cancellation = CallCancellation.handle
    if idempotency != nil {
      // A replay returns the first result only to a caller who may still see the request.
      _ = try await loadVisible(id, to: actor, heads: heads)
    }
    // One scope for every change of the caller: a key's fingerprint names its RPC and arguments.
    let scope = Self.idempotencyScope("change", actor: actor)
    let renewal = try await store.change(renewalID: id, operation: scope, idempotencyKey: idempotency) {
      current, reader in
      // Checked again inside the transaction (the handle is captured: task-locals do not reach the
      // writer's queue): a deadline that passed while waiting for the writer rolls it back.
      if cancellation?.isCancelled == true { throw CallCancellation.deadlinePassed }
      do {
        let command = try build(current, reader)
        return RenewalWorkflow.decide(command, on: current, by: actor, context: context)
      } catch let refusal as RenewalRefusal {
        return .failure(refusal)
      }
    }
    changes.publish(renewal)
    return renewal
  }
}
