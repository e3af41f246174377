import GRPCCore
import OKeyAPI
import OKeyDomain

/// okey.v1.AuthService: Login by directory bind, WhoAmI, Logout.
struct AuthRPCService: Okey_V1_AuthService.SimpleServiceProtocol {
  let authentication: Authentication

  func login(request: Okey_V1_LoginRequest, context: ServerContext) async throws -> Okey_V1_LoginResponse {
    let logger = authentication.logger
    guard RequestChecks.isPlausibleUID(request.uid) else {
      throw APIError.invalidArgument("uid", "give your directory login (1 to 64 characters)")
    }
    guard !request.password.isEmpty else { throw APIError.invalidArgument("password", "required") }
    guard request.password.utf8.count <= 1024 else { throw APIError.invalidArgument("password", "too long") }
    let refused = APIError.unauthenticated(.badCredentials, "wrong uid or password")
    let throttle = authentication.loginThrottle
    let logins = authentication.logins
    let peer = Self.peerAddress(context.remotePeer)
    func throttled(_ wait: Int64, _ why: String) -> APIError {
      logins.throttled()
      logger.notice(
        "login refused", metadata: ["uid": "\(request.uid)", "peer": "\(context.remotePeer)", "why": "\(why)"])
      return APIError(
        code: .resourceExhausted, reason: .loginThrottled,
        message: "too many failed logins: try again in \(wait) seconds", metadata: ["retry_after_seconds": "\(wait)"])
    }
    if let wait = throttle.waitBeforeLookup(uid: request.uid, peer: peer, now: authentication.clock()) {
      throw throttled(wait, "too many failures for this uid or from this address")
    }
    guard let person = try await authentication.resolver.loginPerson(uid: request.uid) else {
      throttle.recordUnknown(uid: request.uid, peer: peer, now: authentication.clock())
      logins.failed()
      logger.notice(
        "login refused",
        metadata: ["uid": "\(request.uid)", "peer": "\(context.remotePeer)", "why": "no single directory entry"])
      throw refused
    }
    // Counted on the directory's own uid, reserved before the bind.
    let reservation: LoginThrottle.Reservation
    switch throttle.reserve(canonicalUID: person.uid, now: authentication.clock()) {
    case .success(let reserved): reservation = reserved
    case .failure(let wait): throw throttled(wait.seconds, "too many failures for \(person.uid)")
    }
    // okeyd replicas share the person's failures through the store: a lockout through one holds here.
    let store = authentication.sessions.store
    let personKey = LoginThrottle.key(person.uid)
    let window = throttle.limits.windowSeconds
    if let shared = try await store.loginFailures(person: personKey),
      let wait = throttle.wait(failures: shared.count, last: shared.last, now: authentication.clock())
    {
      throttle.release(reservation)
      throw throttled(wait, "too many failures for \(person.uid) (counted by every okeyd)")
    }
    let accepted: Bool
    do {
      accepted = try await authentication.directory.checkPassword(dn: person.dn, password: request.password)
    } catch {
      throttle.finish(reservation, succeeded: false, peer: peer, now: authentication.clock())
      try? await store.recordLogin(person: personKey, failed: true, at: authentication.clock(), window: window)
      throw error
    }
    guard accepted else {
      throttle.finish(reservation, succeeded: false, peer: peer, now: authentication.clock())
      try? await store.recordLogin(person: personKey, failed: true, at: authentication.clock(), window: window)
      logins.failed()
      logger.notice(
        "login refused", metadata: ["uid": "\(request.uid)", "peer": "\(context.remotePeer)", "why": "wrong password"])
      throw refused
    }
    // Same refusal as a wrong password: nobody learns from it that the account exists.
    guard person.active else {
      throttle.finish(reservation, succeeded: false, peer: peer, now: authentication.clock())
      try? await store.recordLogin(person: personKey, failed: true, at: authentication.clock(), window: window)
      logins.failed()
      logger.notice(
        "login refused",
        metadata: [
          "uid": "\(request.uid)", "peer": "\(context.remotePeer)", "why": "account disabled in the directory",
        ])
      throw refused
    }
    throttle.finish(reservation, succeeded: true, peer: peer, now: authentication.clock())
    try await store.recordLogin(person: personKey, failed: false, at: authentication.clock(), window: window)
    logins.succeeded()
    let groups = try await authentication.resolver.groupRoles(of: person)
    let headed = try await authentication.resolver.establishmentsHeaded(by: person.uid, fresh: false)
    let session = try await authentication.sessions.open(
      for: person, groups: groups, ttlSeconds: authentication.sessionTTLSeconds)
    logger.notice(
      "login",
      metadata: [
        "uid": "\(person.uid)", "peer": "\(context.remotePeer)", "groups": "\(groups.map(\.rawValue).sorted())",
      ])
    return .with {
      $0.token = session.token
      $0.expiresAt = .init(session.expiresAt)
      $0.principal = Self.principal(
        person: person, actor: Caller(uid: person.uid, groups: groups), serviceAccount: nil,
        expiresAt: session.expiresAt, headed: headed)
    }
  }

  func whoAmI(request: Okey_V1_WhoAmIRequest, context: ServerContext) async throws -> Okey_V1_WhoAmIResponse {
    let principal = try Principal.required()
    var expiresAt: Instant?
    var account: String?
    switch principal.kind {
    case .session(_, let expiry): expiresAt = expiry
    case .serviceAccount(let name): account = name
    }
    // Shown only (HandOverKey reads the directory afresh): the cached directory will do.
    let headed =
      principal.person != nil && principal.actor.capacities.contains(.approver)
      ? try await authentication.resolver.establishmentsHeaded(by: principal.actor.uid, fresh: false) : []
    return .with {
      $0.principal = Self.principal(
        person: principal.person, actor: principal.actor, serviceAccount: account, expiresAt: expiresAt,
        headed: headed)
    }
  }

  func logout(request: Okey_V1_LogoutRequest, context: ServerContext) async throws -> Okey_V1_LogoutResponse {
    let principal = try Principal.required()
    guard case .session(let tokenHash, _) = principal.kind else {
      throw APIError(
        code: .failedPrecondition, reason: .notASession,
        message: "service-account keys are configured, not sessions: there is nothing to log out")
    }
    guard try await authentication.sessions.close(tokenHash: tokenHash) else {
      throw APIError.unauthenticated(.tokenInvalid, "the session had already ended: log in again")
    }
    authentication.logger.notice(
      "logout", metadata: ["uid": "\(principal.actor.uid)", "peer": "\(context.remotePeer)"])
    return .with { $0.uid = principal.actor.uid }
  }

  /// The address part of grpc-swift's peer description ("ipv4:127.0.0.1:5000" → "ipv4:127.0.0.1").
  static func peerAddress(_ remotePeer: String) -> String {
    guard let colon = remotePeer.lastIndex(of: ":"), remotePeer.hasPrefix("ipv") else { return remotePeer }
    return String(remotePeer[..<colon])
  }

  static func principal(
    person: DirectoryPerson?, actor: Caller, serviceAccount: String?, expiresAt: Instant?,
    headed: [EstablishmentHead] = []
  ) -> Okey_V1_Principal {
    .with {
      $0.uid = person?.uid ?? ""
      $0.displayName = person?.displayName ?? ""
      var roles: [Okey_V1_Role] = person == nil ? [] : [.agent]
      if actor.groups.contains(.dsi) { roles.append(.dsi) }
      if actor.groups.contains(.support) { roles.append(.support) }
      if serviceAccount != nil { roles.append(.serviceAccount) }
      if !headed.isEmpty { roles.append(.establishmentHead) }
      $0.roles = roles
      $0.headedEstablishments = headed.map(\.establishment)
      $0.serviceAccount = serviceAccount ?? ""
      if let expiresAt { $0.expiresAt = .init(expiresAt) }
    }
  }
}
