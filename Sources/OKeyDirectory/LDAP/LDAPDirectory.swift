import Logging
import NIOPosix
import Synchronization

/// The directory over OpenLDAP's libldap: blocking calls run on a dedicated thread pool (never on
/// Swift's cooperative pool), each on a pooled connection bound as the service account; a dropped
/// connection is replaced and the call retried once.
public final class LDAPDirectory: Directory {
  private let settings: LDAPConnectionSettings
  private let configuration: DirectoryConfiguration
  private let routing: RoutingConfiguration
  private let threads: NIOThreadPool
  private let loginThreads: NIOThreadPool
  private let lookups: Admission
  private let logins: Admission
  private let idle = Mutex<[ConnectionBox]>([])
  private let logger: Logger
  /// Latency of the directory operations made so far.
  public let latency = LatencyRecorder()
  /// Told of every operation: its name (people, person, responsibles, groups, manages, search,
  /// login-lookup, password, service-bind), how long it took, and whether it failed.
  private let observe: @Sendable (_ operation: String, _ duration: Duration, _ failed: Bool) -> Void

  /// What one lane of the pool holds now.
  public struct LaneFigures: Sendable {
    /// "lookups" or "logins".
    public var lane: String
    /// Calls running on a pool thread.
    public var inUse: Int
    /// Calls admitted and waiting for a thread.
    public var queued: Int
    /// The lane's threads (connections at most).
    public var threads: Int
    /// Calls refused since start because the lane was full (DIRECTORY_BUSY).
    public var refusedBusy: Int
  }

  /// The pool's lanes as they are now (for the metrics).
  public var lanes: [LaneFigures] {
    [
      Self.figures("lookups", lookups, threads: max(1, configuration.poolSize)),
      Self.figures("logins", logins, threads: max(1, configuration.loginPoolSize)),
    ]
  }

  private static func figures(_ lane: String, _ admission: Admission, threads: Int) -> LaneFigures {
    let inside = admission.count
    return LaneFigures(
      lane: lane, inUse: min(inside, threads), queued: max(0, inside - threads), threads: threads,
      refusedBusy: admission.refused)
  }

  /// Creates the directory and starts its threads. Nothing connects before the first call; use
  /// ``checkServiceAccount()`` to fail fast on a wrong configuration.
  public init(
    configuration: DirectoryConfiguration, routing: RoutingConfiguration = RoutingConfiguration(),
    logger: Logger = Logger(label: "okey.directory"),
    observe: @escaping @Sendable (_ operation: String, _ duration: Duration, _ failed: Bool) -> Void = { _, _, _ in }
  ) {
    self.observe = observe
    self.configuration = configuration
    self.routing = routing
    self.logger = logger
    self.settings = LDAPConnectionSettings(
      uri: configuration.uri, startTLS: configuration.startTLS, caCertificateFile: configuration.caCertificateFile,
      requireCertificate: configuration.requireCertificate, networkTimeoutSeconds: configuration.networkTimeoutSeconds,
      operationTimeoutSeconds: configuration.operationTimeoutSeconds
    )
    threads = NIOThreadPool(numberOfThreads: max(1, configuration.poolSize))
    threads.start()
    loginThreads = NIOThreadPool(numberOfThreads: max(1, configuration.loginPoolSize))
    loginThreads.start()
    lookups = Admission(
      limit: max(1, configuration.poolSize) + max(0, configuration.lookupQueueLength), lane: "directory lookups")
    logins = Admission(
      limit: max(1, configuration.loginPoolSize) + max(0, configuration.loginQueueLength), lane: "logins")
  }

  /// Stops the threads and closes the connections.
  public func shutdown() async {
    try? await threads.shutdownGracefully()
    try? await loginThreads.shutdownGracefully()
    idle.withLock { $0.removeAll() }
  }

  /// Binds once as the service account: a clear configuration error for a wrong DN or password,
  /// unavailable when the directory cannot be reached.
  public func checkServiceAccount() async throws {
    _ = try await withConnection(operation: "service-bind") { _ in () }
  }

  // MARK: Directory

  public func people(withUID uid: String) async throws -> [DirectoryEntry] {
    let filter = "(&(objectClass=person)(\(routing.uidAttribute)=\(LDAPText.escapeFilterValue(uid))))"
    return try await lookup(
      "people", base: configuration.peopleBase, scope: .subtree, filter: filter, attributes: routing.personAttributes)
  }

  public func person(dn: String) async throws -> DirectoryEntry? {
    guard LDAPText.normalizeDN(dn) != nil else { return nil }
    do {
      return try await lookup(
        "person", base: dn, scope: .base, filter: "(objectClass=person)", attributes: routing.personAttributes
      ).first
    } catch let error as DirectoryError where error.code == .invalidDN {
      return nil
    }
  }

  public func responsibles(forEstablishment uai: String) async throws -> [DirectoryEntry] {
    let filter = "(&(objectClass=person)(\(routing.responsibilityAttribute)=\(LDAPText.escapeFilterValue(uai))$*))"
    return try await lookup(
      "responsibles", base: configuration.peopleBase, scope: .subtree, filter: filter,
      attributes: routing.personAttributes)
  }

  public func groups(withMember memberDN: String) async throws -> [String] {
    let filter = "(member=\(LDAPText.escapeFilterValue(memberDN)))"
    return try await lookup(
      "groups", base: configuration.groupsBase, scope: .subtree, filter: filter, attributes: ["cn"]
    ).map(\.dn)
  }

  public func managesSomeone(dn: String) async throws -> Bool {
    guard LDAPText.normalizeDN(dn) != nil else { return false }
    let filter = "(&(objectClass=person)(\(routing.managerAttribute)=\(LDAPText.escapeFilterValue(dn))))"
    return try await !lookup(
      "manages", base: configuration.peopleBase, scope: .subtree, filter: filter, attributes: ["1.1"], sizeLimit: 1
    ).isEmpty
  }

  public func checkPassword(dn: String, password: String) async throws -> Bool {
    // An empty password would be an anonymous bind, which succeeds: refuse it before any bind.
    guard !password.isEmpty, !dn.isEmpty else { return false }
    let settings = self.settings
    return try await logins.admit {
      try await timed("password") {
        try await loginThreads.runIfActive {
          // The user's own connection: a bind changes a connection's identity, so never a pooled one.
          let connection = try LDAPConnection(settings)
          do {
            try connection.bind(dn: dn, password: password)
            return true
          } catch let error as DirectoryError where error.code == .invalidCredentials || error.code == .invalidDN {
            return false
          }
        }
      }
    }
  }

  public func loginEntries(withUID uid: String) async throws -> [DirectoryEntry] {
    let filter = "(&(objectClass=person)(\(routing.uidAttribute)=\(LDAPText.escapeFilterValue(uid))))"
    let base = configuration.peopleBase
    let attributes = routing.personAttributes
    return try await logins.admit {
      try await withConnection(operation: "login-lookup", on: loginThreads) { connection in
        try connection.search(base: base, scope: .subtree, filter: filter, attributes: attributes, sizeLimit: 1000)
      }
    }
  }

  /// A raw search on a pooled connection (also used by the benchmark as the libldap baseline).
  public func search(base: String, scope: SearchScope, filter: String, attributes: [String], sizeLimit: Int32 = 1000)
    async throws -> [DirectoryEntry]
  {
    try await lookup("search", base: base, scope: scope, filter: filter, attributes: attributes, sizeLimit: sizeLimit)
  }

  private func lookup(
    _ operation: String, base: String, scope: SearchScope, filter: String, attributes: [String], sizeLimit: Int32 = 1000
  ) async throws -> [DirectoryEntry] {
    let ldapScope: LDAPScope = scope == .base ? .base : (scope == .oneLevel ? .oneLevel : .subtree)
    return try await lookups.admit {
      try await withConnection(operation: operation, on: threads) { connection in
        try connection.search(
          base: base, scope: ldapScope, filter: filter, attributes: attributes, sizeLimit: sizeLimit)
      }
    }
  }

  // MARK: Pool

  private func timed<T>(_ operation: String, _ body: () async throws -> T) async throws -> T {
    let clock = ContinuousClock()
    let start = clock.now
    do {
      let result = try await body()
      let duration = clock.now - start
      latency.record(duration)
      observe(operation, duration, false)
      return result
    } catch {
      let duration = clock.now - start
      latency.record(duration)
      observe(operation, duration, true)
      throw error
    }
  }

  private func withConnection<T: Sendable>(
    operation: String, on pool: NIOThreadPool? = nil, _ body: @escaping @Sendable (LDAPConnection) throws -> T
  ) async throws -> T {
    try await timed(operation) {
      try await (pool ?? threads).runIfActive { [self] in
        var attempt = 0
        while true {
          let box = try checkout()
          do {
            let result = try body(box.connection)
            idle.withLock { $0.append(box) }
            return result
          } catch let error as DirectoryError where error.code == .unavailable && attempt == 0 {
            // The connection may have been dropped (directory restarted): retry once on a new one.
            attempt += 1
            continue
          }
        }
      }
    }
  }

  private func checkout() throws -> ConnectionBox {
    if let box = idle.withLock({ $0.popLast() }) { return box }
    let connection = try LDAPConnection(settings)
    let failure: DirectoryError? = Self.attempt { () throws(DirectoryError) in
      try connection.bind(dn: configuration.bindDN, password: configuration.bindPassword)
    }
    if let failure {
      guard failure.code == .invalidCredentials else { throw failure }
      throw DirectoryError(
        .configuration,
        "the directory refused OKEY's service account \(configuration.bindDN) (invalid credentials): check directory.bindDN and the bind password"
      )
    }
    return ConnectionBox(connection: connection)
  }

  /// Runs `body` and returns its error, if any.
  private static func attempt(_ body: () throws(DirectoryError) -> Void) -> DirectoryError? {
    do {
      try body()
      return nil
    } catch {
      return error
    }
  }
}

/// A bounded queue in front of a thread pool: at most `limit` calls in it (running or waiting); one
/// more is refused at once rather than waiting behind a flood.
final class Admission: Sendable {
  private let inside = Mutex((count: 0, refused: 0))
  let limit: Int
  /// Calls in the lane now, running or waiting.
  var count: Int { inside.withLock { $0.count } }
  /// Calls refused since start because the lane was full.
  var refused: Int { inside.withLock { $0.refused } }
  let lane: String

  init(limit: Int, lane: String) {
    self.limit = limit
    self.lane = lane
  }

  func admit<T>(_ body: () async throws -> T) async throws -> T {
    let admitted = inside.withLock { state -> Bool in
      guard state.count < limit else {
        state.refused += 1
        return false
      }
      state.count += 1
      return true
    }
    guard admitted else { throw DirectoryError(.busy, "\(limit) \(lane) already wait for the directory") }
    defer { inside.withLock { $0.count -= 1 } }
    return try await body()
  }
}

/// Search scopes of ``LDAPDirectory/search(base:scope:filter:attributes:sizeLimit:)``.
public enum SearchScope: Sendable {
  case base
  case oneLevel
  case subtree
}

/// A connection handed between pool threads; only one thread uses it at a time.
private final class ConnectionBox: @unchecked Sendable {
  let connection: LDAPConnection
  init(connection: LDAPConnection) { self.connection = connection }
}

/// Counts and times directory operations.
public final class LatencyRecorder: Sendable {
  private struct State {
    var count = 0
    var total = Duration.zero
    var maximum = Duration.zero
  }

  private let state = Mutex(State())

  /// Creates an empty recorder.
  public init() {}

  func record(_ duration: Duration) {
    state.withLock {
      $0.count += 1
      $0.total += duration
      $0.maximum = max($0.maximum, duration)
    }
  }

  /// Operations recorded, their mean and their longest duration.
  public var snapshot: (count: Int, mean: Duration, maximum: Duration) {
    state.withLock { ($0.count, $0.count == 0 ? .zero : $0.total / $0.count, $0.maximum) }
  }
}
