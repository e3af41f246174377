import ArgumentParser
import Foundation
import Logging
import OKeyServer
import OKeyStore

/// The okeyd command: serves (the default), or looks at the database's schema.
@main
struct OKeyd: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "okeyd",
    abstract: "The OKEY gRPC server: renewal of staff OTP keys (package okey.v1).",
    discussion: """
      Reads its configuration from a YAML file (see okeyd.example.yaml); the environment variables OKEY_LISTEN, OKEY_DATABASE_PATH, OKEY_LOG_LEVEL, OKEY_LDAP_URI, OKEY_LDAP_BIND_PASSWORD and OKEY_PLAINTEXT override it.

      Serves okey.v1, the gRPC health-checking protocol and server reflection. SIGTERM or SIGINT start a graceful shutdown.

      On a loopback address okeyd may listen without TLS (it logs that it does); on any other address it needs TLS settings, or plaintext: true to listen without TLS.

      okeyd --config FILE [--listen HOST:PORT] serves (okeyd serve --help lists the options, --check-config among them); okeyd migrate --check --config FILE reports the database's schema.
      """,
    subcommands: [Serve.self, Migrate.self],
    defaultSubcommand: Serve.self
  )
}

/// Reads the configuration, then serves until SIGTERM or SIGINT.
struct Serve: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Serve okey.v1 (the default: `okeyd --config FILE` is `okeyd serve --config FILE`)."
  )

  @Option(name: .long, help: "Configuration file (YAML). Without it, every default applies.")
  var config: String?

  @Option(name: .long, help: "Address to listen on, HOST:PORT (default 127.0.0.1:50051; port 0 picks a free port).")
  var listen: String?

  @Option(
    name: .customLong("check-config"),
    help:
      "Validate this configuration file (with the environment's overrides) and exit: 0 when okeyd would start with it, 64 with the reason otherwise."
  )
  var checkConfig: String?

  func run() async throws {
    unblockShutdownSignals()
    var configuration: OKeyConfiguration
    do {
      configuration =
        try (checkConfig ?? config).map { try OKeyConfiguration.load(file: $0, validate: false) } ?? OKeyConfiguration()
      try configuration.applyEnvironment(ProcessInfo.processInfo.environment)
      if let listen { configuration.listen = try ListenAddress(parsing: listen, field: "--listen") }
      try configuration.validate()
    } catch let error as ConfigurationError {
      throw ValidationError(error.message)
    }
    if let checkConfig {
      print(
        "\(checkConfig): valid (listen \(configuration.listen), database \(configuration.database.path), directory \(configuration.directory.uri), \(configuration.serviceAccounts.count) service account(s))"
      )
      return
    }
    let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
    LoggingSystem.bootstrap { label in
      var handler = StreamLogHandler.standardError(label: label)
      handler.logLevel = level
      return handler
    }
    let logger = Logger(label: "okeyd")
    let daemon: OKeyDaemon
    do {
      daemon = try OKeyDaemon(configuration: configuration, logger: logger)
    } catch let error as StoreError where error.code == .schemaTooNew {
      logger.critical("okeyd will not open this database", metadata: ["why": "\(error.message)"])
      throw ExitCode(65)
    }
    try await daemon.run()
    logger.notice("okeyd stopped")
  }
}

/// `okeyd migrate --check`: what opening the database would do to its schema, without doing it.
struct Migrate: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract:
      "Show the database's schema: the migrations applied, those okeyd would run at start, and any written by a newer okeyd.",
    discussion: """
      okeyd runs the pending migrations itself when it starts, each in its own transaction, in order. A database written by a newer okeyd (a migration this one does not know) is never opened: okeyd exits 65 naming both versions; so does this command.
      """
  )

  @Option(name: .long, help: "Configuration file (YAML): the database is database.path (or OKEY_DATABASE_PATH).")
  var config: String?

  @Flag(name: .long, help: "Only report; change nothing (the only mode: okeyd itself migrates at start).")
  var check = false

  func run() async throws {
    guard check else { throw ValidationError("give --check: okeyd applies the migrations itself when it starts") }
    var configuration = try config.map { try OKeyConfiguration.load(file: $0, validate: false) } ?? OKeyConfiguration()
    if let path = ProcessInfo.processInfo.environment["OKEY_DATABASE_PATH"], !path.isEmpty {
      configuration.database.path = path
    }
    let path = configuration.database.path
    guard let status = try SQLiteRenewalStore.migrationStatus(path: path) else {
      print(
        "\(path): no database yet; okeyd creates it with every migration (\(SQLiteRenewalStore.knownMigrations.joined(separator: ", ")))"
      )
      return
    }
    print(
      "\(path): applied \(status.applied.count) migration(s)\(status.applied.last.map { ", the last \($0)" } ?? "")")
    if !status.unknown.isEmpty {
      print(
        "written by a newer okeyd: \(status.unknown.joined(separator: ", ")); this okeyd knows up to \(SQLiteRenewalStore.knownMigrations.last ?? "?") and will not open it"
      )
      throw ExitCode(65)
    }
    print(status.pending.isEmpty ? "up to date" : "okeyd would run at start: \(status.pending.joined(separator: ", "))")
  }
}

/// A parent may start okeyd with SIGTERM and SIGINT blocked (Foundation's Process does); unblock them
/// so that graceful shutdown works whoever started us.
private func unblockShutdownSignals() {
  var signals = sigset_t()
  sigemptyset(&signals)
  sigaddset(&signals, SIGTERM)
  sigaddset(&signals, SIGINT)
  pthread_sigmask(SIG_UNBLOCK, &signals, nil)
}
