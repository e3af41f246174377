import Logging
import OKeyDirectory
import OKeyDomain
import OKeyStore
import Synchronization

/// Who is calling: the service accounts (replaced on SIGHUP), login sessions, the people internal
/// systems act for, and the throttle on failed logins. The authentication interceptor, the Auth
/// service and the calls that check their caller again (decisions, long Watch streams) use it;
/// nothing else does.
final class Authentication: Sendable {
  /// Sessions issued at login.
  let sessions: SessionBook
  /// Failed logins per uid and per address.
  let loginThrottle: LoginThrottle
  /// Logins since start, by outcome (read by the metrics).
  let logins = LoginCounts()
  /// People service accounts act for, with their groups, cached like directory entries.
  let actingPeople: TTLCache<String, ActingPerson?>
  /// The directory: routing reads and the password check of a login.
  let resolver: RoutingResolver
  let directory: any Directory
  let clock: @Sendable () -> Instant
  let logger: Logger
  /// How long a login session lasts, in seconds.
  let sessionTTLSeconds: Int
  private let accounts: Mutex<[OKeyConfiguration.ServiceAccount]>

  init(
    configuration: OKeyConfiguration, store: any RenewalStore, directory: any Directory, resolver: RoutingResolver,
    logger: Logger, tokenKey: AuditKey?, clock: @escaping @Sendable () -> Instant
  ) {
    self.resolver = resolver
    self.directory = directory
    self.clock = clock
    self.logger = logger
    self.sessionTTLSeconds = configuration.sessions.ttlSeconds
    self.accounts = Mutex(configuration.serviceAccounts)
    self.sessions = SessionBook(
      store: store, clock: clock, resolver: resolver, recheckSeconds: configuration.sessions.recheckSeconds,
      logger: logger, tokenKey: tokenKey, shared: configuration.database.kind == .postgresql)
    self.loginThrottle = LoginThrottle(
      maxFailures: configuration.sessions.maxFailedLogins,
      maxPeerFailures: configuration.sessions.maxFailedLoginsPerPeer,
      windowSeconds: configuration.sessions.lockoutSeconds)
    // Never longer than a session trusts its person: a disabled person is not acted for past it.
    self.actingPeople = TTLCache(
      ttl: .milliseconds(
        Int64(min(configuration.directory.cacheTTLSeconds, Double(configuration.sessions.recheckSeconds)) * 1000)),
      capacity: configuration.directory.cacheCapacity)
  }

  // MARK: Service accounts

  /// The service account whose key has SHA-256 `keyHash`, if any (compared in constant time).
  func serviceAccount(keyHash: String) -> OKeyConfiguration.ServiceAccount? {
    accounts.withLock { $0.first(where: { Tokens.equal($0.keySHA256, keyHash) }) }
  }

  /// The service account named `name`, if it is still configured.
  func serviceAccount(named name: String) -> OKeyConfiguration.ServiceAccount? {
    accounts.withLock { $0.first(where: { $0.name == name }) }
  }

  /// Replaces the service accounts (a reload): a removed account or a rotated key is refused from
  /// the next call on, and open Watch streams of a removed account end at their next check.
  func replaceServiceAccounts(_ new: [OKeyConfiguration.ServiceAccount]) {
    accounts.withLock { $0 = new }
  }

  // MARK: People acted for

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

  // MARK: Checking the caller again

  /// The caller as the directory and the configuration give them now; throws when `principal` no
  /// longer holds: a session ended, revoked or expired, a service account removed, or a person acted
  /// for who is gone or disabled. Long calls (WatchRenewal) ask it from time to time.
  func revalidate(_ principal: Principal) async throws -> Principal {
    switch principal.kind {
    case .session(let hash, _):
      guard let fresh = try await sessions.session(forTokenHash: hash) else {
        throw APIError.unauthenticated(.tokenInvalid, "the session ended: log in again")
      }
      return fresh
    case .serviceAccount(let name):
      guard let account = serviceAccount(named: name) else {
        throw APIError.unauthenticated(.tokenInvalid, "service account \(name) is no longer configured")
      }
      guard let uid = principal.person?.uid else { return principal }
      guard let acting = try await actingPerson(uid), acting.person.active else {
        throw APIError.denied(.personDisabled, "\(uid) is disabled in the directory: nobody may act for them")
      }
      return Principal.acting(for: acting.person, groups: acting.groups, through: account)
    }
  }

  /// PERMISSION_DENIED unless the directory, read now (no cache), holds `caller` as one active
  /// person: a decision is never taken by an account disabled since its session or snapshot.
  func requireActiveNow(_ caller: Caller) async throws {
    guard let person = try await resolver.person(uid: caller.uid, fresh: true), person.active else {
      throw APIError.denied(
        .personDisabled, "\(caller.uid) is disabled in the directory: a disabled account cannot decide")
    }
  }
}

/// Logins since start by outcome: accepted, refused (unknown uid, wrong password, disabled account),
/// and refused by the throttle before the directory was asked.
final class LoginCounts: Sendable {
  private let counts = Mutex((succeeded: 0, failed: 0, throttled: 0))

  func succeeded() { counts.withLock { $0.succeeded += 1 } }
  func failed() { counts.withLock { $0.failed += 1 } }
  func throttled() { counts.withLock { $0.throttled += 1 } }

  /// The three counts, read together.
  var snapshot: (succeeded: Int, failed: Int, throttled: Int) { counts.withLock { $0 } }
}
