import Foundation
import Logging
import OKeyAPI
import OKeyDirectory
import OKeyDomain
import OKeyStore
import Synchronization

/// What every RPC service shares: the store, the directory and its resolver, the rules, the clock,
/// and the hub that tells watchers about changes. Handlers stay thin: decode, authorise, call here.
final class RenewalApplication: Sendable {
  let configuration: OKeyConfiguration
  let store: any RenewalStore
  let directory: any Directory
  let resolver: RoutingResolver
  let catalogue: ReasonCatalogue
  let documentRules: DocumentRules
  let changes = RenewalChangeHub()
  let logger: Logger
  let clock: @Sendable () -> Instant
  let sessions: SessionBook
  /// Failed logins per uid.
  let loginThrottle: LoginThrottle
  /// People service accounts act for, with their groups, cached like directory entries.
  let actingPeople: TTLCache<String, ActingPerson?>
  /// The bound on open Watch streams, per connection and in all.
  let streams: StreamQuota

  init(
    configuration: OKeyConfiguration, store: any RenewalStore, directory: any Directory, resolver: RoutingResolver,
    logger: Logger, tokenKey: AuditKey? = nil, clock: @escaping @Sendable () -> Instant = RenewalApplication.systemClock
  ) {
    self.configuration = configuration
    self.store = store
    self.directory = directory
    self.resolver = resolver
    self.catalogue = .standard
    self.documentRules = DocumentRules(
      maxBytes: configuration.limits.maxDocumentBytes, maxCount: configuration.limits.maxDocumentsPerRequest)
    self.logger = logger
    self.clock = clock
    self.sessions = SessionBook(
      store: store, clock: clock, resolver: resolver, recheckSeconds: configuration.sessions.recheckSeconds, logger: logger, tokenKey: tokenKey)
    self.loginThrottle = LoginThrottle(
      maxFailures: configuration.sessions.maxFailedLogins, maxPeerFailures: configuration.sessions.maxFailedLoginsPerPeer,
      windowSeconds: configuration.sessions.lockoutSeconds)
    self.streams = StreamQuota(perConnection: configuration.limits.maxWatchStreamsPerConnection, total: configuration.limits.maxWatchStreams)
    // Never longer than a session trusts its person: a disabled person is not acted for past it.
    self.actingPeople = TTLCache(
      ttl: .milliseconds(Int64(min(configuration.directory.cacheTTLSeconds, Double(configuration.sessions.recheckSeconds)) * 1000)),
      capacity: configuration.directory.cacheCapacity)
  }

  @Sendable static func systemClock() -> Instant {
    Instant(millisecondsSinceEpoch: Int64((Date().timeIntervalSince1970 * 1000).rounded()))
  }

  static func newID() -> String { UUID().uuidString.lowercased() }

  /// A uid worth asking the directory about: 1 to 64 characters, no control characters. Filter
  /// metacharacters are allowed through: the directory escapes them and finds nobody.
  static func isPlausibleUID(_ uid: String) -> Bool {
    (1...64).contains(uid.count) && !uid.unicodeScalars.contains { $0.properties.generalCategory == .control }
  }

  /// Checks a request id's shape (INVALID_ARGUMENT naming the field otherwise).
  static func checkID(_ id: String, field: String = "request_id") throws {
    guard (1...64).contains(id.count), id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
      throw APIError.invalidArgument(field, "not a request id: use the request_id OKEY returned")
    }
  }

  /// The scope an idempotency key lives in: the operation, the caller (person, and the internal
  /// system acting for them) — so that one caller's key never returns another caller's result.
  /// Unambiguous: the operation is fixed, an account name holds no '|' (configuration checks it), the
  /// uid comes last.
  static func idempotencyScope(_ operation: String, actor: Caller) -> String {
    "\(operation)|\(actor.serviceAccount ?? "")|\(actor.uid)"
  }


  /// A person a service account acts for, with their directory groups.
  struct ActingPerson: Sendable {
    var person: DirectoryPerson
    var groups: Set<Caller.GroupRole>
  }

  /// The person named by `x-okey-on-behalf-of` and their groups, for the directory cache's lifetime
  /// (at most `sessions.recheckSeconds`): one lookup, not one per call. Nil when no single entry has
  /// the uid.
  func actingPerson(_ uid: String) async throws -> ActingPerson? {
    let resolver = self.resolver
    return try await actingPeople.value(for: uid) {
      guard let person = try await resolver.person(uid: uid) else { return nil }
      return ActingPerson(person: person, groups: try await resolver.groupRoles(of: person))
    }
  }

  /// The caller as the directory gives them now; throws when `principal` no longer holds: a session
  /// ended, revoked or expired, or a person acted for who is gone or disabled. Long calls
  /// (WatchRenewal) ask it from time to time.
  func revalidate(_ principal: Principal) async throws -> Principal {
    switch principal.kind {
    case .session(let hash, _):
      guard let fresh = try await sessions.session(forTokenHash: hash) else {
        throw APIError.unauthenticated(.tokenInvalid, "the session ended: log in again")
      }
      return fresh
    case .serviceAccount(let name):
      guard let uid = principal.person?.uid else { return principal }
      guard let acting = try await actingPerson(uid), acting.person.active,
        let account = configuration.serviceAccounts.first(where: { $0.name == name })
      else {
        throw APIError.denied(.personDisabled, "\(uid) is disabled in the directory: nobody may act for them")
      }
      return Principal.acting(for: acting.person, groups: acting.groups, through: account)
    }
  }

  /// PERMISSION_DENIED unless the directory, read now (no cache), holds `actor` as one active
  /// person: a decision is never taken by an account disabled since its session or snapshot.
  func requireActiveNow(_ actor: Caller) async throws {
    guard let person = try await resolver.person(uid: actor.uid, fresh: true), person.active else {
      throw APIError.denied(.personDisabled, "\(actor.uid) is disabled in the directory: a disabled account cannot decide")
    }
  }

  // MARK: Reading

  /// The request, or NOT_FOUND.
  func load(_ id: String) async throws -> RenewalRequest {
    try Self.checkID(id)
    guard let renewal = try await store.renewal(id: id) else { throw APIError.notFound("no renewal request \(id)") }
    return renewal
  }

  /// The request if `actor` may read it through the agent/approver/DSI services: its agent, an
  /// approver its routing snapshot names, or a DSI operator.
  func loadVisible(_ id: String, to actor: Caller) async throws -> RenewalRequest {
    let renewal = try await load(id)
    try Self.requireVisible(renewal, to: actor)
    return renewal
  }

  /// PERMISSION_DENIED unless `actor` is the request's agent (with the agent capacity), an approver
  /// its routing snapshot names (with the approver capacity), or a DSI operator.
  static func requireVisible(_ renewal: RenewalRequest, to actor: Caller) throws {
    let agent = renewal.agentUID == actor.uid && actor.capacities.contains(.agent)
    let approver = renewal.routed && renewal.routing.namesApprover(actor.uid) && actor.capacities.contains(.approver)
    guard agent || approver || actor.isDSI else {
      throw APIError.denied(.notYourRequest, "request \(renewal.id) is not yours: agents see their own requests only")
    }
  }

  /// The wire form of a request `actor` may read (see ``loadVisible(_:to:)``), with its place,
  /// appointment and history, read in one transaction.
  func visibleMessage(_ id: String, to actor: Caller?, history: Bool) async throws -> Okey_V1_Renewal {
    try Self.checkID(id)
    guard let view = try await store.renewalView(id: id, withHistory: history) else { throw APIError.notFound("no renewal request \(id)") }
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
    let place = try await renewal.pickupPlaceID.asyncMap { try await store.pickupPlace(id: $0) } ?? nil
    let slot = try await renewal.appointmentSlotID.asyncMap { try await store.pickupSlot(id: $0) } ?? nil
    let events = history ? try await store.history(renewalID: renewal.id) : []
    return Wire.renewal(renewal, catalogue: catalogue, history: events, place: place, slot: slot)
  }

  // MARK: Changing

  /// The first result of a change retried with its idempotency key, or nil for a new key. Asked
  /// before the directory: a retry during a directory outage still gets its answer.
  func replay(_ id: String, to actor: Caller, idempotency: IdempotencyKey?) async throws -> RenewalRequest? {
    guard let idempotency else { return nil }
    let current = try await loadVisible(id, to: actor)
    return try await store.keptRenewal(agentUID: current.agentUID, operation: Self.idempotencyScope("change", actor: actor), key: idempotency)
  }

  /// Applies a command to a request in one store transaction: the command is built inside the
  /// transaction from what it needs (`build` may refuse), decided by the domain, written with its
  /// audit events and outbox rows, then announced to watchers.
  func change(
    _ id: String,
    expectedVersion: Int64,
    actor: Caller,
    idempotency: IdempotencyKey? = nil,
    now: Instant? = nil,
    build: @escaping @Sendable (RenewalRequest, any ChangeReader) throws -> RenewalCommand
  ) async throws -> RenewalRequest {
    try Self.checkID(id)
    // 0 is what a client that forgot the field sends: never a version a request had.
    guard expectedVersion >= 1 else {
      throw APIError.invalidArgument("expected_version", "give the version of the request you last read (versions start at 1)")
    }
    // A call past its deadline is cancelled here and writes nothing.
    try CallCancellation.check()
    let context = DecisionContext(now: now ?? clock(), expectedVersion: expectedVersion, catalogue: catalogue, documentRules: documentRules)
    let cancellation = CallCancellation.handle
    if idempotency != nil {
      // A replay returns the first result only to a caller who may still see the request.
      _ = try await loadVisible(id, to: actor)
    }
    // One scope for every change of the caller: a key's fingerprint names its RPC and arguments.
    let scope = Self.idempotencyScope("change", actor: actor)
    let renewal = try await store.change(renewalID: id, operation: scope, idempotencyKey: idempotency) { current, reader in
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

extension Optional {
  func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
    guard let value = self else { return nil }
    return try await transform(value)
  }
}

/// Sessions: issued at login, stored hashed, found by token hash until they expire. A session found
/// is remembered for a few seconds (never past its expiry), so that a person's calls do not each
/// read the database; unknown tokens are never remembered. The person and their groups are read
/// again from the directory at most `recheckSeconds` after the last read: a person disabled or gone
/// loses the session, a person removed from a group loses its rights.
struct SessionBook: Sendable {
  let store: any RenewalStore
  let clock: @Sendable () -> Instant
  let resolver: RoutingResolver
  let logger: Logger
  /// The key session tokens are stored under (HMAC); nil (demos) for plain SHA-256.
  let tokenKey: AuditKey?
  /// Sessions found in the database, by token hash, trusted for 30 s without reading them again.
  private let recent = TTLCache<String, Principal>(ttl: .seconds(30), capacity: 10_000)
  /// Sessions whose person and groups were read from the directory less than `recheckSeconds` ago.
  private let checked: TTLCache<String, Principal>
  /// Sessions ended by logout, kept longer than `recent` keeps anything: a call that read the
  /// session just before the logout cannot put it back in `recent` for later calls.
  private let ended = TTLCache<String, Bool>(ttl: .seconds(60), capacity: 10_000)

  init(
    store: any RenewalStore, clock: @escaping @Sendable () -> Instant, resolver: RoutingResolver, recheckSeconds: Int, logger: Logger,
    tokenKey: AuditKey? = nil
  ) {
    self.tokenKey = tokenKey
    self.store = store
    self.clock = clock
    self.resolver = resolver
    self.logger = logger
    self.checked = TTLCache(ttl: .seconds(recheckSeconds), capacity: 10_000)
  }

  func open(for person: DirectoryPerson, groups: Set<Caller.GroupRole>, ttlSeconds: Int) async throws -> (token: String, expiresAt: Instant) {
    let token = Tokens.make()
    let now = clock()
    let expiresAt = now.adding(seconds: Int64(ttlSeconds))
    let hash = self.hash(token)
    try await store.saveSession(
      StoredSession(
        tokenHash: hash, uid: person.uid, createdAt: now, expiresAt: expiresAt, dn: person.dn,
        displayName: person.displayName, mail: person.mail, groups: groups))
    // Just read from the directory by the login itself.
    checked.insert(Principal(person: person, actor: Caller(uid: person.uid, groups: groups), kind: .session(tokenHash: hash, expiresAt: expiresAt)), for: hash)
    return (token, expiresAt)
  }

  /// What the store keeps of a session token: its HMAC under the key kept outside the database, so
  /// that someone able to write the file cannot mint a session (SHA-256 when okeyd has no key).
  func hash(_ token: String) -> String {
    tokenKey.map { $0.authenticationCode("okey-session:" + token) } ?? Tokens.hash(token)
  }

  /// Ends a session: its token stops working at once (the remembered entries go too).
  func close(tokenHash hash: String) async throws -> Bool {
    ended.insert(true, for: hash)
    recent.remove(hash)
    checked.remove(hash)
    return try await store.deleteSession(tokenHash: hash)
  }

  /// The session of `hash`, with its person and groups as the directory gives them (re-read when
  /// the last read is older than `recheckSeconds`); nil when unknown, expired, ended or revoked.
  func session(forTokenHash hash: String) async throws -> Principal? {
    let now = clock()
    if ended.cached(hash) != nil { return nil }
    if let principal = checked.cached(hash) {
      guard case .session(_, let expiresAt) = principal.kind, now < expiresAt else {
        checked.remove(hash)
        return nil
      }
      return principal
    }
    guard var principal = try await stored(hash, now: now) else { return nil }
    let uid = principal.actor.uid
    do {
      guard let person = try await resolver.person(uid: uid, fresh: true), person.active else {
        logger.notice("session revoked", metadata: ["uid": "\(uid)", "why": "disabled or no longer a single entry in the directory"])
        _ = try await close(tokenHash: hash)
        return nil
      }
      principal.person = person
      principal.actor.groups = try await resolver.groupRoles(of: person)
    } catch let error as DirectoryError where error.code == .unavailable {
      // An outage must not lock everyone out of their own requests, but rights the directory gives
      // cannot be confirmed: the DSI and support roles are withheld until it answers again (fail
      // closed). Approvals read the directory themselves and fail UNAVAILABLE.
      logger.warning("session not re-read: directory unavailable; DSI and support rights withheld", metadata: ["uid": "\(uid)", "cause": "\(error)"])
      principal.actor.groups = []
      return principal
    }
    if ended.cached(hash) != nil { return nil }
    checked.insert(principal, for: hash)
    recent.insert(principal, for: hash)
    return principal
  }

  private func stored(_ hash: String, now: Instant) async throws -> Principal? {
    if let principal = recent.cached(hash) {
      guard case .session(_, let expiresAt) = principal.kind, now < expiresAt else {
        recent.remove(hash)
        return nil
      }
      return principal
    }
    guard let session = try await store.session(tokenHash: hash, now: now) else { return nil }
    let person = DirectoryPerson(uid: session.uid, dn: session.dn, displayName: session.displayName, mail: session.mail)
    let principal = Principal(person: person, actor: Caller(uid: session.uid, groups: session.groups), kind: .session(tokenHash: hash, expiresAt: session.expiresAt))
    recent.insert(principal, for: hash)
    return principal
  }
}

/// Tells WatchRenewal streams about changes, by request id.
final class RenewalChangeHub: Sendable {
  private struct State {
    var subscribers: [String: [Int: AsyncStream<RenewalRequest>.Continuation]] = [:]
    var next = 0
  }

  private let state = Mutex(State())

  /// A stream of the changes of one request, and a function that ends it.
  func subscribe(_ id: String) -> (changes: AsyncStream<RenewalRequest>, stop: @Sendable () -> Void) {
    let (stream, continuation) = AsyncStream.makeStream(of: RenewalRequest.self, bufferingPolicy: .bufferingNewest(16))
    let key = state.withLock { state -> Int in
      let key = state.next
      state.next += 1
      state.subscribers[id, default: [:]][key] = continuation
      return key
    }
    continuation.onTermination = { [weak self] _ in
      self?.state.withLock { state in
        state.subscribers[id]?[key] = nil
        if state.subscribers[id]?.isEmpty == true { state.subscribers[id] = nil }
      }
    }
    return (stream, { continuation.finish() })
  }

  func publish(_ renewal: RenewalRequest) {
    let continuations = state.withLock { Array($0.subscribers[renewal.id]?.values ?? [:].values) }
    for continuation in continuations { continuation.yield(renewal) }
  }

  /// Open subscriptions (for leak tests and metrics).
  var subscriptionCount: Int { state.withLock { $0.subscribers.values.reduce(0) { $0 + $1.count } } }

  /// Ends every subscription (shutdown).
  func finishAll() {
    let all = state.withLock { state -> [AsyncStream<RenewalRequest>.Continuation] in
      let all = state.subscribers.values.flatMap(\.values)
      state.subscribers.removeAll()
      return all
    }
    for continuation in all { continuation.finish() }
  }
}
