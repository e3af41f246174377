import Foundation
import Logging
import OKeyAPI
import OKeyDirectory
import OKeyDomain
import OKeyStore
import Synchronization

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
  /// True when other okeyd replicas share the store: a session is looked up in it on every call
  /// (one indexed read), so that a logout through another replica holds here from the next call.
  let shared: Bool
  /// Sessions found in the database, by token hash, trusted for 30 s without reading them again.
  private let recent = TTLCache<String, Principal>(ttl: .seconds(30), capacity: 10_000)
  /// Sessions whose person and groups were read from the directory less than `recheckSeconds` ago.
  private let checked: TTLCache<String, Principal>
  /// Sessions ended by logout, kept longer than `recent` keeps anything: a call that read the
  /// session just before the logout cannot put it back in `recent` for later calls.
  private let ended = TTLCache<String, Bool>(ttl: .seconds(60), capacity: 10_000)

  init(
    store: any RenewalStore, clock: @escaping @Sendable () -> Instant, resolver: RoutingResolver, recheckSeconds: Int,
    logger: Logger,
    tokenKey: AuditKey? = nil, shared: Bool = false
  ) {
    self.tokenKey = tokenKey
    self.shared = shared
    self.store = store
    self.clock = clock
    self.resolver = resolver
    self.logger = logger
    self.checked = TTLCache(ttl: .seconds(recheckSeconds), capacity: 10_000)
  }

  func open(for person: DirectoryPerson, groups: Set<Caller.GroupRole>, ttlSeconds: Int) async throws -> (
    token: String, expiresAt: Instant
  ) {
    let token = Tokens.make()
    let now = clock()
    let expiresAt = now.adding(seconds: Int64(ttlSeconds))
    let hash = self.hash(token)
    try await store.saveSession(
      StoredSession(
        tokenHash: hash, uid: person.uid, createdAt: now, expiresAt: expiresAt, dn: person.dn,
        displayName: person.displayName, mail: person.mail, groups: groups))
    // Just read from the directory by the login itself.
    checked.insert(
      Principal(
        person: person, actor: Caller(uid: person.uid, groups: groups),
        kind: .session(tokenHash: hash, expiresAt: expiresAt)), for: hash)
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
    // Another replica may have ended it: the shared store says, whatever this one remembers.
    if shared, try await store.session(tokenHash: hash, now: now) == nil {
      recent.remove(hash)
      checked.remove(hash)
      return nil
    }
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
        logger.notice(
          "session revoked",
          metadata: ["uid": "\(uid)", "why": "disabled or no longer a single entry in the directory"])
        _ = try await close(tokenHash: hash)
        return nil
      }
      principal.person = person
      principal.actor.groups = try await resolver.groupRoles(of: person)
    } catch let error as DirectoryError where error.code == .unavailable {
      // An outage must not lock everyone out of their own requests, but rights the directory gives
      // cannot be confirmed: the DSI and support roles are withheld until it answers again (fail
      // closed). Approvals read the directory themselves and fail UNAVAILABLE.
      logger.warning(
        "session not re-read: directory unavailable; DSI and support rights withheld",
        metadata: ["uid": "\(uid)", "cause": "\(error)"])
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
    let principal = Principal(
      person: person, actor: Caller(uid: session.uid, groups: session.groups),
      kind: .session(tokenHash: hash, expiresAt: session.expiresAt))
    recent.insert(principal, for: hash)
    return principal
  }
}
