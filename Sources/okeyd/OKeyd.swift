import ArgumentParser
import Foundation
import Logging
import OKeyPostgresStore
import OKeyServer
import OKeyStore

/// The okeyd command: serves (the default), or looks at the database's schema.
@main
struct OKeyd: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "okeyd",
    abstract: "The OKEY gRPC server: renewal of staff OTP keys (package okey.v1).",
    discussion: """
      Reads its configuration from a YAML file (see okeyd.example.yaml); the environment variables OKEY_LISTEN, OKEY_DATABASE_PATH, OKEY_LOG_LEVEL, OKEY_LOG_FORMAT, OKEY_LDAP_URI, OKEY_LDAP_BIND_PASSWORD, OKEY_PLAINTEXT and OKEY_AUDIT_KEY_FILE override it.

      Serves okey.v1, the gRPC health-checking protocol and server reflection. SIGTERM or SIGINT start a graceful shutdown; SIGHUP reloads the configuration file (service accounts, TLS certificate and key, log level, mail settings; a file that does not validate is refused and the running configuration kept).

      On a loopback address okeyd may listen without TLS (it logs that it does); on any other address it needs TLS settings, or plaintext: true to listen without TLS.

      okeyd --config FILE [--listen HOST:PORT] serves (okeyd serve --help lists the options, --check-config among them); okeyd migrate --check --config FILE reports the database's schema; okeyd backup --config FILE --to PATH copies the database while okeyd serves; okeyd restore --config FILE --from PATH puts a backup back (okeyd stopped).
      """,
    subcommands: [Serve.self, Migrate.self, MigrateStore.self, Backup.self, Restore.self],
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

  /// The configuration from `file` (or the defaults), the environment's overrides and `--listen`,
  /// validated: what okeyd starts with, and what SIGHUP reads again.
  static func loadConfiguration(file: String?, listen: String?) throws -> OKeyConfiguration {
    var configuration = try file.map { try OKeyConfiguration.load(file: $0, validate: false) } ?? OKeyConfiguration()
    try configuration.applyEnvironment(ProcessInfo.processInfo.environment)
    if let listen { configuration.listen = try ListenAddress(parsing: listen, field: "--listen") }
    try configuration.validate()
    return configuration
  }

  func run() async throws {
    unblockShutdownSignals()
    // A SIGHUP before the reload service listens must not end okeyd (its default action).
    signal(SIGHUP, SIG_IGN)
    let configuration: OKeyConfiguration
    do {
      configuration = try Self.loadConfiguration(file: checkConfig ?? config, listen: listen)
    } catch let error as ConfigurationError {
      throw ValidationError(error.message)
    }
    if let checkConfig {
      print(
        "\(checkConfig): valid (listen \(configuration.listen), database \(configuration.database.path), directory \(configuration.directory.uri), \(configuration.serviceAccounts.count) service account(s))"
      )
      return
    }
    let level = LogLevelSwitch(Logger.Level(rawValue: configuration.logLevel) ?? .info)
    let format = OKeyLogHandler.Format(rawValue: configuration.logFormat) ?? .text
    LoggingSystem.bootstrap { label in OKeyLogHandler(label: label, format: format, level: level) }
    let logger = Logger(label: "okeyd")
    let daemon: OKeyDaemon
    let file = config
    let listen = self.listen
    do {
      daemon = try await OKeyDaemon.open(
        configuration: configuration, logger: logger, logLevel: level,
        configurationSource: { try Serve.loadConfiguration(file: file, listen: listen) })
    } catch let error as StoreError where error.code == .schemaTooNew {
      logger.critical("okeyd will not open this database", metadata: ["why": "\(error.message)"])
      throw ExitCode(65)
    } catch let error as StoreError where error.code == .inUse {
      logger.critical("okeyd will not open this database", metadata: ["why": "\(error.message)"])
      throw ExitCode(75)
    } catch let error as ConfigurationError {
      throw ValidationError(error.message)
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
    if let kind = ProcessInfo.processInfo.environment["OKEY_DATABASE_KIND"], !kind.isEmpty {
      configuration.database.kind = OKeyConfiguration.Database.Kind(rawValue: kind) ?? configuration.database.kind
    }
    guard configuration.database.kind == .sqlite else {
      print(
        "database.kind is postgresql: each okeyd applies the pending migrations at start, one replica at a time (an advisory lock), and refuses a database a newer okeyd wrote (exit 65)"
      )
      return
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

/// The database path and audit key of a configuration file, with the environment's overrides.
struct StoreSettings {
  var path: String
  var key: AuditKey?

  static func read(config: String?) throws -> StoreSettings {
    do {
      var configuration =
        try config.map { try OKeyConfiguration.load(file: $0, validate: false) } ?? OKeyConfiguration()
      try configuration.applyEnvironment(ProcessInfo.processInfo.environment)
      guard configuration.database.kind == .sqlite else {
        throw ValidationError(
          "database.kind is postgresql: okeyd backup and restore copy a SQLite file; for PostgreSQL use pg_dump and pg_restore (or a standby), see the README"
        )
      }
      let key = try configuration.audit.keyFile.map { AuditKey(bytes: try AuditKeyFile.read($0)) }
      if key == nil, !configuration.audit.allowUnkeyed {
        throw ValidationError(
          "audit.keyFile is not set: the audit chain's signatures cannot be checked (set it, or audit.allowUnkeyed for demos)"
        )
      }
      return StoreSettings(path: configuration.database.path, key: key)
    } catch let error as ConfigurationError {
      throw ValidationError(error.message)
    }
  }
}

/// `okeyd backup`: a consistent copy of the database while okeyd serves, checked.
struct Backup: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Copy the database while okeyd serves, check the copy's audit chain, and say what it holds.",
    discussion: """
      The copy is one consistent snapshot (SQLite's VACUUM INTO, in one read transaction: changes acknowledged before it began are in it) in a single file. It is then checked: SQLite's integrity check and the audit chain, signatures included, with audit.keyFile. A copy that fails is deleted; the command exits 65. It never overwrites a file. On PostgreSQL, pg_dump is the tool.
      """
  )

  @Option(name: .long, help: "Configuration file (YAML): database.path and audit.keyFile (or their OKEY_* variables).")
  var config: String?

  @Option(name: .long, help: "Where to write the copy (a new file).")
  var to: String

  func run() throws {
    let settings = try StoreSettings.read(config: config)
    do {
      let summary = try StoreBackup.backup(from: settings.path, to: to, key: settings.key)
      for line in summary.description { print(line) }
    } catch let error as StoreError {
      FileHandle.standardError.write(Data("okeyd backup: \(error.message)\n".utf8))
      throw ExitCode(error.code == .tampered || error.code == .schemaTooNew ? 65 : 74)
    }
  }
}

/// `okeyd restore`: a checked backup in place of the database, okeyd stopped.
struct Restore: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Put a backup in place of the database (okeyd stopped), once its audit chain verifies.",
    discussion: """
      Refused while an okeyd serves the database (exit 75: stop it first), and for a backup that is damaged, whose audit chain does not verify with audit.keyFile, or written by a newer okeyd (exit 65). The database it replaces is kept beside it as PATH.before-restore-TIME. okeyd applies any newer migration when it starts on the restored file.
      """
  )

  @Option(name: .long, help: "Configuration file (YAML): database.path and audit.keyFile (or their OKEY_* variables).")
  var config: String?

  @Option(name: .long, help: "The backup to restore (a file okeyd backup wrote).")
  var from: String

  func run() throws {
    let settings = try StoreSettings.read(config: config)
    do {
      let lock = try DatabaseLock(database: settings.path)
      let restored = try StoreBackup.restore(from: from, to: settings.path, key: settings.key)
      withExtendedLifetime(lock) {}
      for line in restored.summary.description { print(line) }
      print(
        "restored into \(settings.path)" + (restored.keptAs.map { "; the database it replaced is kept as \($0)" } ?? "")
      )
    } catch let error as StoreError {
      FileHandle.standardError.write(Data("okeyd restore: \(error.message)\n".utf8))
      switch error.code {
      case .inUse: throw ExitCode(75)
      case .tampered, .schemaTooNew: throw ExitCode(65)
      default: throw ExitCode(74)
      }
    }
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

/// `okeyd migrate-store`: a SQLite store copied into PostgreSQL, checked on arrival.
struct MigrateStore: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "migrate-store",
    abstract:
      "Copy a SQLite store into an empty PostgreSQL database (okeyd stopped), checking its audit chain on arrival.",
    discussion: """
      Everything moves in one PostgreSQL transaction: requests, documents, routing snapshots, decisions, appointments, enrolment codes, keys, charters, idempotency keys, the outbox, sessions and the audit chain with its head, byte for byte. Before the commit the chain is verified with the target's audit.keyFile (the same key as the source's) and against the source's head: a copy that does not verify is not kept (exit 65). A database already holding requests, events, charters or keys is refused (exit 65): a second run never duplicates anything. Refused while an okeyd serves the SQLite file (exit 75).
      """
  )

  @Option(name: .long, help: "Configuration of the SQLite store to copy (database.kind sqlite).")
  var from: String

  @Option(
    name: .long,
    help: "Configuration of the PostgreSQL store to fill (database.kind postgresql; OKEY_DATABASE_PASSWORD).")
  var to: String

  func run() async throws {
    let environment = ProcessInfo.processInfo.environment
    func load(_ file: String) throws -> OKeyConfiguration {
      do {
        var configuration = try OKeyConfiguration.load(file: file, validate: false)
        if let password = environment["OKEY_DATABASE_PASSWORD"], !password.isEmpty {
          configuration.database.password = password
        }
        try configuration.database.validate()
        return configuration
      } catch let error as ConfigurationError {
        throw ValidationError("\(file): \(error.message)")
      }
    }
    let source = try load(from)
    let target = try load(to)
    guard source.database.kind == .sqlite else {
      throw ValidationError("--from must name a SQLite store (database.kind sqlite)")
    }
    guard target.database.kind == .postgresql else {
      throw ValidationError("--to must name a PostgreSQL store (database.kind postgresql)")
    }
    func key(_ configuration: OKeyConfiguration) throws -> AuditKey? {
      try configuration.audit.keyFile.map { AuditKey(bytes: try AuditKeyFile.read($0)) }
    }
    do {
      let lock = try DatabaseLock(database: source.database.path)
      let sqlite = try SQLiteRenewalStore(path: source.database.path, auditKey: try key(source))
      let sourceHead = try await sqlite.auditHead()
      let counts = try await sqlite.rowCounts()
      let postgres = try await PostgresRenewalStore.open(try target.database.postgres(), auditKey: try key(target))
      let report: PostgresRenewalStore.MoveReport
      do {
        report = try await postgres.importStore(expectedHead: sourceHead) { table, offset, limit in
          try await sqlite.rowPage(of: table, offset: offset, limit: limit)
        }
        await postgres.close()
      } catch {
        await postgres.close()
        throw error
      }
      withExtendedLifetime(lock) {}
      for table in StoreMove.tables {
        print("\(table): \(report.copied[table] ?? 0) of \(counts[table] ?? 0) row(s)")
      }
      print(
        "audit chain verified on arrival: \(report.verification.eventsChecked) events, \(report.verification.requestsChecked) requests, head \(sourceHead.sequence) \(sourceHead.hash)"
      )
    } catch let error as StoreError {
      FileHandle.standardError.write(Data("okeyd migrate-store: \(error.message)\n".utf8))
      throw ExitCode(error.code == .inUse ? 75 : error.code == .unavailable ? 69 : 65)
    }
  }
}
