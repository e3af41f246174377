import Foundation
import Logging
import OKeyDomain
import OKeyStorePort
import PostgresNIO

/// Where and how to reach the PostgreSQL server.
public struct PostgresStoreConfiguration: Sendable {
  /// Host name or address.
  public var host: String
  /// TCP port.
  public var port: Int
  /// Role.
  public var username: String
  /// Its password (from `OKEY_DATABASE_PASSWORD`, never from the configuration file).
  public var password: String?
  /// Database.
  public var database: String
  /// True to require TLS to the server (certificate verified against the system's roots).
  public var requireTLS: Bool
  /// Connections of this okeyd's pool.
  public var poolSize: Int
  /// How long a call waits for the database before failing UNAVAILABLE.
  public var operationTimeout: Duration

  /// Creates a configuration.
  public init(
    host: String, port: Int = 5432, username: String, password: String?, database: String, requireTLS: Bool = false,
    poolSize: Int = 10, operationTimeout: Duration = .seconds(10)
  ) {
    self.host = host
    self.port = port
    self.username = username
    self.password = password
    self.database = database
    self.requireTLS = requireTLS
    self.poolSize = poolSize
    self.operationTimeout = operationTimeout
  }

  /// Reads `postgres://USER@HOST:PORT/DATABASE[?sslmode=require]`; a password in the URL is refused
  /// (it belongs in `OKEY_DATABASE_PASSWORD`).
  public init(url: String, password: String?, poolSize: Int = 10, operationTimeout: Duration = .seconds(10)) throws {
    guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
      let host = components.host, !host.isEmpty
    else {
      throw StoreError(.unavailable, "database.url must read postgres://USER@HOST:PORT/DATABASE, not \(url)")
    }
    guard components.password == nil else {
      throw StoreError(.unavailable, "database.url must not hold the password: set OKEY_DATABASE_PASSWORD")
    }
    let database = String(components.path.drop(while: { $0 == "/" }))
    guard let user = components.user, !user.isEmpty, !database.isEmpty else {
      throw StoreError(.unavailable, "database.url must name the role and the database: postgres://USER@HOST/DATABASE")
    }
    let sslmode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
    guard ["disable", "require", "verify-full"].contains(sslmode) else {
      throw StoreError(.unavailable, "database.url sslmode must be disable, require or verify-full, not \(sslmode)")
    }
    self.init(
      host: host, port: components.port ?? 5432, username: user, password: password, database: database,
      requireTLS: sslmode != "disable", poolSize: poolSize, operationTimeout: operationTimeout)
  }
}

/// The PostgreSQL implementation of ``RenewalStore``, for several okeyd replicas on one database.
/// Every change is one transaction that locks the request's row (`FOR UPDATE`) and the audit
/// chain's head row: versions, seats and the chain stay right whichever replica a call came
/// through. Nothing read is cached across calls: another replica may have changed it.
public final class PostgresRenewalStore: RenewalStore {
  let client: PostgresClient
  let runner: Task<Void, Never>
  let logger: Logger
  let auditKey: AuditKey?
  let timeout: Duration
  /// The channel a commit announces a request's id on (LISTEN/NOTIFY), for watchers on every replica.
  public static let changesChannel = "okey_renewal_changes"

  private init(configuration: PostgresStoreConfiguration, auditKey: AuditKey?, logger: Logger) {
    var tls = PostgresClient.Configuration.TLS.disable
    if configuration.requireTLS { tls = .require(.makeClientConfiguration()) }
    var settings = PostgresClient.Configuration(
      host: configuration.host, port: configuration.port, username: configuration.username,
      password: configuration.password, database: configuration.database, tls: tls)
    settings.options.maximumConnections = max(1, configuration.poolSize)
    settings.options.connectTimeout = min(configuration.operationTimeout, .seconds(5))
    let client = PostgresClient(configuration: settings, backgroundLogger: logger)
    self.client = client
    self.runner = Task { await client.run() }
    self.logger = logger
    self.auditKey = auditKey
    self.timeout = configuration.operationTimeout
  }

  /// Connects, applies the migrations this code knows (refusing a database a newer okeyd wrote) and,
  /// with `auditKey`, signs the chain's boundary.
  public static func open(
    _ configuration: PostgresStoreConfiguration, auditKey: AuditKey? = nil,
    logger: Logger = Logger(label: "okey.postgres")
  ) async throws -> PostgresRenewalStore {
    let store = PostgresRenewalStore(configuration: configuration, auditKey: auditKey, logger: logger)
    do {
      try await store.migrate()
      if let auditKey { try await store.sealBoundary(with: auditKey) }
      return store
    } catch {
      await store.close()
      throw error
    }
  }

  /// Closes the pool.
  public func close() async {
    runner.cancel()
    await runner.value
  }

  // MARK: Migrations

  func migrate() async throws {
    // Migrations may take longer than a call: their own deadline.
    try await transaction(within: .seconds(120)) { conn, logger in
      // One replica migrates at a time; the others wait, then find nothing to do.
      try await conn.query("SELECT pg_advisory_xact_lock(7026110401)", logger: logger).consume()
      try await conn.query(
        "CREATE TABLE IF NOT EXISTS okey_migrations (identifier text PRIMARY KEY, applied_at bigint NOT NULL)",
        logger: logger)
      let applied = Set(
        try await conn.query("SELECT identifier FROM okey_migrations", logger: logger).all(String.self))
      let unknown = applied.subtracting(PostgresSchema.identifiers)
      guard unknown.isEmpty else {
        throw StoreError(
          .schemaTooNew,
          "the database was written by a newer okeyd (schema \(unknown.sorted().joined(separator: ", "))); this okeyd knows the schema up to \(PostgresSchema.identifiers.last ?? "?")"
        )
      }
      for migration in PostgresSchema.migrations where !applied.contains(migration.identifier) {
        for statement in migration.statements {
          try await conn.query(PostgresQuery(unsafeSQL: statement), logger: logger)
        }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        try await conn.query(
          "INSERT INTO okey_migrations (identifier, applied_at) VALUES (\(migration.identifier), \(now))",
          logger: logger)
      }
    }
  }

  /// The migrations applied, in this code's order.
  public func appliedMigrations() async throws -> [String] {
    let applied = Set(
      try await read { conn, logger in
        try await conn.query("SELECT identifier FROM okey_migrations", logger: logger).all(String.self)
      })
    return PostgresSchema.identifiers.filter(applied.contains)
      + applied.subtracting(PostgresSchema.identifiers).sorted()
  }

  func sealBoundary(with key: AuditKey) async throws {
    try await transaction { conn, logger in
      guard
        let legacyUntil = try await conn.query(
          "SELECT legacy_until FROM audit_meta WHERE id = 1 AND seal IS NULL FOR UPDATE", logger: logger
        ).first(Int64.self)
      else { return }
      let seal = key.sign(AuditChainRules.boundaryText(legacyUntil))
      try await conn.query("UPDATE audit_meta SET seal = \(seal) WHERE id = 1 AND seal IS NULL", logger: logger)
    }
  }

  // MARK: Transactions and errors

  /// Runs `body` in one transaction (committed when it returns, rolled back when it throws), within
  /// the operation deadline; database failures become ``StoreError``s.
  func transaction<T: Sendable>(
    within deadline: Duration? = nil, _ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> T
  ) async throws -> T {
    let client = self.client
    let logger = self.logger
    return try await guarded(within: deadline) {
      try await client.withTransaction(logger: logger) { conn in try await body(conn, logger) }
    }
  }

  /// Runs `body` on a pooled connection outside any explicit transaction (reads).
  func read<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> T) async throws -> T {
    let client = self.client
    let logger = self.logger
    return try await guarded {
      try await client.withConnection { conn in try await body(conn, logger) }
    }
  }

  func guarded<T: Sendable>(within deadline: Duration? = nil, _ operation: @escaping @Sendable () async throws -> T)
    async throws -> T
  {
    let timeout = deadline ?? self.timeout
    do {
      return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
          try await Task.sleep(for: timeout)
          return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
          throw StoreError(
            .unavailable, "the database did not answer within \(timeout.components.seconds) s: try again later")
        }
        return value
      }
    } catch {
      throw Self.storeError(error)
    }
  }

  /// What a failure means to the caller: the domain's refusals and the store's own errors as they
  /// are, a taken unique value as a conflict, anything else from the database as unavailable.
  static func storeError(_ error: any Error) -> any Error {
    if let transaction = error as? PostgresTransactionError {
      if let inner = transaction.closureError ?? transaction.commitError ?? transaction.beginError {
        return storeError(inner)
      }
      return StoreError(.unavailable, "the database cannot be used now: the transaction failed")
    }
    if error is StoreError || error is RenewalRefusal { return error }
    if let psql = error as? PSQLError {
      if psql.code == .server {
        let state = psql.serverInfo?[.sqlState] ?? ""
        let constraint = psql.serverInfo?[.constraintName] ?? ""
        let message = psql.serverInfo?[.message] ?? state
        switch state {
        case "23505" where constraint == "renewals_one_open_per_agent":
          return StoreError(.openRequestExists, "the agent already has an open renewal request")
        case "23505":
          return StoreError(.conflict, "a value that must be unique is already taken: \(message)")
        case "23514" where constraint.hasPrefix("pickup_slots"):
          return StoreError(.slotFull, "the slot is full")
        case "40001", "40P01":
          return StoreError(.conflict, "the change met another one at the same time: try again")
        default:
          return StoreError(.unavailable, "the database cannot be used now: \(message) (\(state))")
        }
      }
      return StoreError(.unavailable, "the database cannot be reached now (\(psql.code)): try again later")
    }
    if error is CancellationError { return error }
    // The pool's and the network's failures; other errors are the decide closures' own (a call's
    // deadline) and pass through.
    let type = String(reflecting: Swift.type(of: error))
    guard ["_ConnectionPoolModule.", "NIO", "PostgresNIO."].contains(where: type.hasPrefix) else { return error }
    return StoreError(.unavailable, "the database cannot be reached now: try again later")
  }
}

// MARK: Row helpers

extension PostgresRowSequence {
  /// Reads every row (so that an error of the statement surfaces here) and drops them.
  func consume() async throws {
    for try await _ in self {}
  }

  /// The first column of every row.
  func all<T: PostgresDecodable & Sendable>(_ type: T.Type) async throws -> [T] {
    var values: [T] = []
    for try await row in self { values.append(try row.decode(T.self)) }
    return values
  }

  /// The first column of the first row, or nil (every row is read).
  func first<T: PostgresDecodable & Sendable>(_ type: T.Type) async throws -> T? {
    try await all(T.self).first
  }
}

extension PostgresQuery {
  /// `sql` (written here, never from outside) with `values` bound to $1, $2… in order.
  static func binding(_ sql: String, _ values: any PostgresDynamicTypeEncodable...) -> PostgresQuery {
    var binds = PostgresBindings()
    for value in values { binds.append(value) }
    return PostgresQuery(unsafeSQL: sql, binds: binds)
  }
}

/// A statement built piece by piece with its bindings ($1, $2… in order).
struct SQLBuilder {
  var text = ""
  var binds = PostgresBindings()

  /// Binds `value` and returns its placeholder.
  mutating func bind<T: PostgresDynamicTypeEncodable>(_ value: T) -> String {
    binds.append(value)
    return "$\(binds.count)"
  }

  /// Binds each value and returns the placeholders joined by commas.
  mutating func bindList<T: PostgresDynamicTypeEncodable>(_ values: [T]) -> String {
    values.map { bind($0) }.joined(separator: ", ")
  }

  var query: PostgresQuery { PostgresQuery(unsafeSQL: text, binds: binds) }
}
