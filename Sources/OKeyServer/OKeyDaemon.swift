import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import OKeyAPI
import OKeyDirectory
import OKeyDomain
import OKeyPostgresStore
import OKeyStore
import ServiceLifecycle
import Synchronization

/// okeyd: the gRPC server of OKEY with its services, run as a service group with graceful shutdown.
public final class OKeyDaemon: Sendable {
  /// The configuration it was built with.
  public let configuration: OKeyConfiguration
  /// The serving status reported by the health service.
  public let health: ServingStatusBoard

  private let server: GRPCServer<HTTP2ServerTransport.Posix>
  private let group: ServiceGroup
  private let logger: Logger
  private let directory: LDAPDirectory
  let application: RenewalApplication
  let authentication: Authentication
  let notifications: NotificationDelivery
  let metrics: OKeyMetrics
  /// Applies a new configuration without a restart (SIGHUP, or ``reload(_:)``).
  let reloading: ConfigurationReload
  /// The database file's lock, held from start until ``run()`` returns (SQLite).
  private let databaseLock: Mutex<DatabaseLock?>
  /// The PostgreSQL store (`database.kind: postgresql`), closed when ``run()`` returns.
  private let postgres: PostgresRenewalStore?

  /// Open WatchRenewal subscriptions (for leak tests).
  public var watchSubscriptionCount: Int { application.changes.subscriptionCount }

  /// Full names of the okey.v1 services of the API contract.
  public static let apiServiceNames = [
    "okey.v1.AuthService", "okey.v1.RenewalService", "okey.v1.ApprovalService",
    "okey.v1.OperationsService", "okey.v1.SupportService",
  ]

  /// Builds the server from `configuration`. With `handleSignals`, SIGTERM and SIGINT start a
  /// graceful shutdown (in-flight RPCs finish, health turns NOT_SERVING first), and SIGHUP reloads
  /// the configuration from `configurationSource` when one is given. `logLevel` is the switch the
  /// process's log handlers read: a reload sets it.
  /// Opens the database the configuration names (PostgreSQL is reached, and migrated, before the
  /// server is built), then builds the server as ``init(configuration:logger:handleSignals:logLevel:configurationSource:postgres:)``.
  public static func open(
    configuration: OKeyConfiguration, logger: Logger, handleSignals: Bool = true, logLevel: LogLevelSwitch? = nil,
    configurationSource: (@Sendable () throws -> OKeyConfiguration)? = nil
  ) async throws -> OKeyDaemon {
    try configuration.validate()
    guard configuration.database.kind == .postgresql else {
      return try OKeyDaemon(
        configuration: configuration, logger: logger, handleSignals: handleSignals, logLevel: logLevel,
        configurationSource: configurationSource)
    }
    let store = try await PostgresRenewalStore.open(
      try configuration.database.postgres(), auditKey: try auditKey(configuration), logger: logger)
    do {
      return try OKeyDaemon(
        configuration: configuration, logger: logger, handleSignals: handleSignals, logLevel: logLevel,
        configurationSource: configurationSource, postgres: store)
    } catch {
      await store.close()
      throw error
    }
  }

  /// The audit key the configuration names, or nil (demos).
  static func auditKey(_ configuration: OKeyConfiguration) throws -> AuditKey? {
    try configuration.audit.keyFile.map { AuditKey(bytes: try AuditKeyFile.read($0)) }
  }

  /// Builds the server from `configuration`; with `database.kind: postgresql`, `postgres` is the
  /// store ``open(configuration:logger:handleSignals:logLevel:configurationSource:)`` opened.
  public init(
    configuration: OKeyConfiguration, logger: Logger, handleSignals: Bool = true, logLevel: LogLevelSwitch? = nil,
    configurationSource: (@Sendable () throws -> OKeyConfiguration)? = nil, postgres: PostgresRenewalStore? = nil
  ) throws {
    try configuration.validate()
    self.configuration = configuration
    self.logger = logger
    let descriptors = try DescriptorIndex.okey()
    let board = ServingStatusBoard(
      services: Self.apiServiceNames + [
        "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection",
      ]
    )
    self.health = board

    let auditKey = try Self.auditKey(configuration)
    if auditKey == nil {
      logger.warning("audit trail not signed: audit.allowUnkeyed is for demos; set audit.keyFile in production")
    }
    let metrics = OKeyMetrics()
    self.metrics = metrics
    let store: any RenewalStore
    let sqlite: SQLiteRenewalStore?
    switch configuration.database.kind {
    case .sqlite:
      // One okeyd per database file: a second one, or a restore, waits for this one to stop.
      self.databaseLock = Mutex(try DatabaseLock(database: configuration.database.path))
      let file = try SQLiteRenewalStore(
        path: configuration.database.path, durability: configuration.database.durability, auditKey: auditKey,
        observeCommit: { metrics.recordCommit($0) })
      sqlite = file
      store = file
    case .postgresql:
      guard let postgres else {
        throw ConfigurationError("database.kind postgresql: okeyd opens the database with OKeyDaemon.open")
      }
      self.databaseLock = Mutex(nil)
      sqlite = nil
      store = postgres
    }
    self.postgres = postgres
    let directory = LDAPDirectory(
      configuration: configuration.directory, routing: configuration.routing, logger: logger,
      observe: { metrics.recordDirectoryCall(operation: $0, duration: $1, failed: $2) })
    self.directory = directory
    let ttl = Duration.milliseconds(Int64(configuration.directory.cacheTTLSeconds * 1000))
    let cached = CachingDirectory(directory, ttl: ttl, capacity: configuration.directory.cacheCapacity)
    let resolver = RoutingResolver(
      directory: cached, configuration: configuration.routing, cacheTTL: ttl,
      cacheCapacity: configuration.directory.cacheCapacity, calendar: configuration.academyCalendar(),
      now: RenewalApplication.systemClock)
    let enrolmentSeal =
      try configuration.enrolment.byCode
      ? configuration.enrolment.codeKeyFile.map { try EnrolmentCodeSeal(keyFile: $0) } : nil
    let application = RenewalApplication(
      configuration: configuration, store: store, directory: cached, resolver: resolver, logger: logger,
      enrolmentSeal: enrolmentSeal)
    self.application = application
    let authentication = Authentication(
      configuration: configuration, store: store, directory: cached, resolver: resolver, logger: logger,
      tokenKey: auditKey, clock: application.clock)
    self.authentication = authentication

    let services: [any RegistrableRPCService] = [
      HealthService(board: board, streams: application.streams),
      ReflectionService(index: descriptors),
      ReflectionServiceV1Alpha(index: descriptors),
      AuthRPCService(authentication: authentication),
      RenewalRPCService(application: application, authentication: authentication),
      ApprovalRPCService(application: application, authentication: authentication),
      OperationsRPCService(application: application),
      SupportRPCService(application: application),
    ]
    let interceptors: [any ServerInterceptor] = [
      MetricsInterceptor(metrics: metrics, logger: logger),
      ErrorMappingInterceptor(logger: logger),
      AuthenticationInterceptor(authentication: authentication, logger: logger),
    ]
    let tlsReloader = try configuration.tls.map { try TLSCertificateReloader($0) }
    let transport = HTTP2ServerTransport.Posix(
      address: Self.socketAddress(configuration.listen),
      transportSecurity: try Self.transportSecurity(configuration, reloader: tlsReloader),
      config: .defaults { config in
        config.rpc.maxRequestPayloadSize = configuration.limits.maxMessageBytes
        config.http2.maxConcurrentStreams = configuration.limits.maxConcurrentStreamsPerConnection
        let limits = configuration.limits
        config.connection.maxIdleTime =
          limits.connectionMaxIdleSeconds > 0 ? .seconds(limits.connectionMaxIdleSeconds) : nil
        config.connection.maxAge = limits.connectionMaxAgeSeconds > 0 ? .seconds(limits.connectionMaxAgeSeconds) : nil
        config.connection.maxGraceTime =
          limits.connectionMaxAgeSeconds > 0 ? .seconds(limits.connectionMaxGraceSeconds) : nil
      }
    )
    let server = GRPCServer(transport: transport, services: services, interceptors: interceptors)
    self.server = server

    // The delivery loop gets the outbox and one change, the escalation, made through the domain.
    let notifications = NotificationDelivery(
      store: application.store, clock: application.clock, mail: configuration.mail,
      dsiMailbox: configuration.dsiMailbox, elementsMailbox: configuration.enrolment.elementsMailbox,
      logger: application.logger, calendar: application.calendar,
      timeZone: TimeZone(identifier: configuration.timeZone) ?? .gmt,
      reminderPeriods: configuration.reminders.periods,
      remindRequest: { renewal, now, periods, appointment in
        _ = try await application.change(
          renewal.id, expectedVersion: renewal.version, actor: Caller(uid: "okey"), now: now
        ) { _, _ in
          .remind(periods, appointmentStartsAt: appointment)
        }
      },
      observe: { metrics.recordDelivery($0) }
    ) { renewal, now, delay in
      _ = try await application.change(
        renewal.id, expectedVersion: renewal.version, actor: Caller(uid: "okey"), now: now
      ) { _, _ in
        .escalate(delayBusinessDays: delay)
      }
    }
    self.notifications = notifications
    var lifecycleServices: [ServiceGroupConfiguration.ServiceConfiguration] = [
      .init(service: GRPCServerService(server: server, board: board, changes: application.changes, logger: logger))
    ]
    // Always running: with mail.enabled false it delivers nothing until a reload turns it on.
    lifecycleServices.append(.init(service: notifications))
    let reloading = ConfigurationReload(
      configuration: configuration, authentication: authentication, notifications: notifications, tls: tlsReloader,
      logLevel: logLevel, logger: logger)
    self.reloading = reloading
    if handleSignals, let configurationSource {
      lifecycleServices.append(
        .init(service: HangupReload(reload: reloading, source: configurationSource, logger: logger)))
    }
    lifecycleServices.append(
      .init(
        service: RetentionSweep(
          store: application.store, retention: configuration.retention, clock: application.clock,
          logger: application.logger)))
    if configuration.audit.headLogMinutes > 0 {
      lifecycleServices.append(
        .init(
          service: AuditHeadLog(store: store, every: .seconds(configuration.audit.headLogMinutes * 60), logger: logger))
      )
    }
    if let metricsAddress = configuration.metricsListen {
      lifecycleServices.append(
        .init(
          service: MetricsEndpoint(
            address: metricsAddress,
            render: {
              await metrics.exposition(
                .init(
                  application: application, authentication: authentication, health: board, directory: directory,
                  sqlite: sqlite))
            },
            logger: logger)))
    }
    if let postgres {
      // Changes committed through other replicas reach this one's WatchRenewal streams.
      lifecycleServices.append(
        .init(service: ReplicaChangeFeed(store: postgres, application: application, logger: logger)))
    }
    var groupConfiguration = ServiceGroupConfiguration(services: lifecycleServices, logger: logger)
    if handleSignals { groupConfiguration.gracefulShutdownSignals = [.sigterm, .sigint] }
    groupConfiguration.maximumGracefulShutdownDuration = .seconds(configuration.shutdownGraceSeconds)
    self.group = ServiceGroup(configuration: groupConfiguration)
  }

  /// Runs until shut down; throws when the address cannot be bound.
  public func run() async throws {
    if configuration.tls == nil {
      if configuration.listen.isLoopback {
        logger.notice(
          "okeyd listens in plaintext (no TLS) on a loopback address", metadata: ["listen": "\(configuration.listen)"])
      } else {
        logger.warning(
          "okeyd listens in plaintext on a non-loopback address: anyone on the network can read tokens",
          metadata: ["listen": "\(configuration.listen)"]
        )
      }
    }
    do {
      try await directory.checkServiceAccount()
    } catch let error as DirectoryError {
      logger.error(
        "directory check failed at start; routing calls will fail until it is fixed", metadata: ["cause": "\(error)"])
    }
    do {
      try await group.run()
    } catch {
      await directory.shutdown()
      databaseLock.withLock { $0 = nil }
      await postgres?.close()
      throw error
    }
    await directory.shutdown()
    databaseLock.withLock { $0 = nil }
    await postgres?.close()
  }

  /// Starts a graceful shutdown: health turns NOT_SERVING, new calls are refused, in-flight calls finish.
  public func shutDown() async {
    await group.triggerGracefulShutdown()
  }

  /// The address actually bound (the chosen port when the configuration asks for port 0).
  public var listeningAddress: ListenAddress {
    get async throws {
      let address = try await server.transport.listeningAddress
      if let ipv4 = address.ipv4 { return ListenAddress(host: ipv4.host, port: ipv4.port) }
      if let ipv6 = address.ipv6 { return ListenAddress(host: ipv6.host, port: ipv6.port) }
      throw ConfigurationError("okeyd is not listening on an IP address")
    }
  }

  /// Applies a new configuration without a restart: what SIGHUP does with the configuration file.
  /// Throws, changing nothing, when `configuration` is not valid or its TLS pair cannot be used.
  public func reload(_ configuration: OKeyConfiguration) throws -> (applied: [String], needRestart: [String]) {
    let outcome = try reloading.apply(configuration)
    return (outcome.applied, outcome.needRestart)
  }

  static func transportSecurity(_ configuration: OKeyConfiguration, reloader: TLSCertificateReloader?) throws
    -> HTTP2ServerTransport.Posix.TransportSecurity
  {
    guard let tls = configuration.tls, let reloader else { return .plaintext }
    guard let clientCA = tls.clientCAFile else { return try .tls(certificateReloader: reloader) }
    return try .mTLS(certificateReloader: reloader) { config in
      config.trustRoots = .certificates([.file(path: clientCA, format: .pem)])
      config.clientCertificateVerification = .noHostnameVerification
    }
  }

  static func socketAddress(_ listen: ListenAddress) -> GRPCNIOTransportCore.SocketAddress {
    if listen.host.contains(":") { return .ipv6(host: listen.host, port: listen.port) }
    return .ipv4(host: listen.host == "localhost" ? "127.0.0.1" : listen.host, port: listen.port)
  }
}

/// The gRPC server as a lifecycle service: announces its address, and on graceful shutdown turns
/// health NOT_SERVING before it stops accepting calls.
struct GRPCServerService: Service {
  let server: GRPCServer<HTTP2ServerTransport.Posix>
  let board: ServingStatusBoard
  let changes: RenewalChangeHub
  let logger: Logger

  func run() async throws {
    try await withGracefulShutdownHandler {
      try await withThrowingDiscardingTaskGroup { tasks in
        tasks.addTask { try await server.serve() }
        tasks.addTask {
          if let address = try? await server.transport.listeningAddress {
            logger.notice("okeyd listening", metadata: ["address": "\(Self.describe(address))"])
          }
        }
      }
    } onGracefulShutdown: {
      logger.notice("okeyd shutting down: health NOT_SERVING, finishing in-flight calls")
      board.enterShutdown()
      changes.finishAll()
      server.beginGracefulShutdown()
    }
  }

  static func describe(_ address: GRPCNIOTransportCore.SocketAddress) -> String {
    if let ipv4 = address.ipv4 { return "\(ipv4.host):\(ipv4.port)" }
    if let ipv6 = address.ipv6 { return "[\(ipv6.host)]:\(ipv6.port)" }
    return "\(address)"
  }
}

/// Logs the audit chain's head at notice level at start and then periodically, so that operators
/// (or their log shipper) keep it outside the database: `okey audit verify --head` then detects a
/// chain cut after it.
struct AuditHeadLog: Service {
  let store: any RenewalStore
  let every: Duration
  let logger: Logger

  func run() async throws {
    try? await cancelWhenGracefulShutdown {
      while !Task.isCancelled {
        do {
          let head = try await store.auditHead()
          let at =
            head.at.map { Date(timeIntervalSince1970: Double($0.millisecondsSinceEpoch) / 1000).ISO8601Format() } ?? "-"
          logger.notice(
            "audit head", metadata: ["sequence": "\(head.sequence)", "hash": "\(head.hash)", "at": "\(at)"])
        } catch {
          logger.warning("audit head not read", metadata: ["cause": "\(error)"])
        }
        try await Task.sleep(for: every)
      }
    }
  }
}

/// Publishes to this replica's WatchRenewal streams the changes committed through any replica
/// (PostgreSQL's LISTEN/NOTIFY): a watched request is read again when its id is announced.
struct ReplicaChangeFeed: Service {
  let store: PostgresRenewalStore
  let application: RenewalApplication
  let logger: Logger

  func run() async throws {
    let application = self.application
    let logger = self.logger
    await cancelWhenGracefulShutdown {
      await store.followChanges(
        { id in
          guard application.changes.isWatched(id), let renewal = try? await application.store.renewal(id: id) else {
            return
          }
          application.changes.publish(renewal)
        },
        onFailure: { error in
          logger.warning("change feed from the other replicas lost; opening it again", metadata: ["cause": "\(error)"])
        })
    }
  }
}
