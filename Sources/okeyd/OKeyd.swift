import ArgumentParser
import Foundation
import Logging
import OKeyServer

/// The okeyd command: reads the configuration, then serves until SIGTERM or SIGINT.
@main
struct OKeyd: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "okeyd",
    abstract: "The OKEY gRPC server: renewal of staff OTP keys (package okey.v1).",
    discussion: """
      Reads its configuration from a YAML file (see okeyd.example.yaml); the environment variables OKEY_LISTEN, OKEY_DATABASE_PATH, OKEY_LOG_LEVEL, OKEY_LDAP_URI, OKEY_LDAP_BIND_PASSWORD and OKEY_PLAINTEXT override it.

      Serves okey.v1, the gRPC health-checking protocol and server reflection. SIGTERM or SIGINT start a graceful shutdown.

      On a loopback address okeyd may listen without TLS (it logs that it does); on any other address it needs TLS settings, or plaintext: true to listen without TLS.
      """
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
    let daemon = try OKeyDaemon(configuration: configuration, logger: logger)
    try await daemon.run()
    logger.notice("okeyd stopped")
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
