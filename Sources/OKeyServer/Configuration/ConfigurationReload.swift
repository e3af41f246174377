import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Applies a new configuration without a restart (SIGHUP): the service accounts (added, removed,
/// keys rotated), the TLS certificate and key (read again from their files), the log level, and the
/// mail settings. A file that does not load, does not validate, or names a TLS pair that cannot be
/// used changes nothing: the running configuration stays, and the log says why. Settings that need
/// a restart (listen, database, directory, ...) are reported and left as they are.
final class ConfigurationReload: Sendable {
  private let running: Mutex<OKeyConfiguration>
  let authentication: Authentication
  let notifications: NotificationDelivery
  let tls: TLSCertificateReloader?
  let logLevel: LogLevelSwitch?
  let logger: Logger

  init(
    configuration: OKeyConfiguration, authentication: Authentication, notifications: NotificationDelivery,
    tls: TLSCertificateReloader?, logLevel: LogLevelSwitch?, logger: Logger
  ) {
    self.running = Mutex(configuration)
    self.authentication = authentication
    self.notifications = notifications
    self.tls = tls
    self.logLevel = logLevel
    self.logger = logger
  }

  /// The configuration in force (the last one applied).
  var current: OKeyConfiguration { running.withLock { $0 } }

  /// What a reload applied, and what it left for a restart.
  struct Outcome: Sendable, Equatable {
    /// The reloadable settings that changed (or were read again: the TLS files).
    var applied: [String]
    /// Settings that changed in the file but need a restart.
    var needRestart: [String]
  }

  /// Applies `new` (already validated); throws, changing nothing, when its TLS pair cannot be used.
  @discardableResult
  func apply(_ new: OKeyConfiguration) throws -> Outcome {
    try new.validate()
    let old = current
    var needRestart = Self.restartOnlyChanges(from: old, to: new)
    var applied: [String] = []
    // Everything that can fail first: nothing is applied unless all of it can be.
    if let tls, let settings = new.tls, old.tls?.clientCAFile == settings.clientCAFile {
      try tls.reload(settings)
      applied.append("tls")
    }
    if new.serviceAccounts != old.serviceAccounts {
      authentication.replaceServiceAccounts(new.serviceAccounts)
      applied.append("serviceAccounts")
    }
    if new.logLevel != old.logLevel, let level = Logger.Level(rawValue: new.logLevel) {
      if let logLevel {
        logLevel.level = level
        applied.append("logLevel")
      } else {
        needRestart.append("logLevel")
      }
    }
    if new.mail != old.mail || new.dsiMailbox != old.dsiMailbox {
      notifications.update(mail: new.mail, dsiMailbox: new.dsiMailbox)
      applied.append("mail")
    }
    running.withLock { running in
      // Settings that need a restart stay as they run.
      var kept = running
      kept.serviceAccounts = new.serviceAccounts
      kept.logLevel = logLevel == nil ? running.logLevel : new.logLevel
      kept.mail = new.mail
      kept.dsiMailbox = new.dsiMailbox
      if let settings = new.tls, kept.tls?.clientCAFile == settings.clientCAFile, kept.tls != nil {
        kept.tls = settings
      }
      running = kept
    }
    return Outcome(applied: applied, needRestart: needRestart)
  }

  /// Loads the configuration with `source` and applies it, logging the outcome; never throws.
  func reload(from source: @Sendable () throws -> OKeyConfiguration) {
    do {
      let outcome = try apply(try source())
      logger.notice(
        "configuration reloaded",
        metadata: ["applied": "\(outcome.applied.joined(separator: ","))"])
      if !outcome.needRestart.isEmpty {
        logger.warning(
          "configuration changes that need a restart were not applied",
          metadata: ["settings": "\(outcome.needRestart.joined(separator: ","))"])
      }
    } catch {
      let why = (error as? ConfigurationError)?.message ?? "\(error)"
      logger.error("configuration not reloaded: the running configuration is kept", metadata: ["why": "\(why)"])
    }
  }

  /// The settings, by name, that differ between `old` and `new` and only a restart applies.
  static func restartOnlyChanges(from old: OKeyConfiguration, to new: OKeyConfiguration) -> [String] {
    var names: [String] = []
    func check<T: Equatable>(_ name: String, _ path: KeyPath<OKeyConfiguration, T>) {
      if old[keyPath: path] != new[keyPath: path] { names.append(name) }
    }
    check("listen", \.listen)
    check("plaintext", \.plaintext)
    check("limits", \.limits)
    check("database", \.database)
    check("logFormat", \.logFormat)
    check("shutdownGraceSeconds", \.shutdownGraceSeconds)
    check("directory", \.directory)
    check("routing", \.routing)
    check("sessions", \.sessions)
    check("metricsListen", \.metricsListen)
    check("audit", \.audit)
    check("retention", \.retention)
    check("reminders", \.reminders)
    check("timeZone", \.timeZone)
    check("holidays", \.holidays)
    check("reasons", \.reasons)
    check("enrolment", \.enrolment)
    check("phoneChange", \.phoneChange)
    check("handover", \.handover)
    if (old.tls == nil) != (new.tls == nil) || old.tls?.clientCAFile != new.tls?.clientCAFile {
      names.append("tls")
    }
    return names
  }
}

/// Reloads the configuration file on SIGHUP, for as long as okeyd serves.
struct HangupReload: Service {
  let reload: ConfigurationReload
  let source: @Sendable () throws -> OKeyConfiguration
  let logger: Logger

  func run() async throws {
    let signals = await UnixSignalsSequence(trapping: .sighup)
    logger.notice("okeyd reloads its configuration on SIGHUP")
    await cancelWhenGracefulShutdown {
      for await _ in signals {
        reload.reload(from: source)
      }
    }
  }
}
