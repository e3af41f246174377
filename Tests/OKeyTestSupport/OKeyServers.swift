import Foundation
import Logging
import OKeyServer

/// Runs an in-process okeyd on 127.0.0.1 and a free port, calls `body` with it and its address, then
/// shuts it down gracefully and waits for it to stop.
public func withOKeyDaemon<Result: Sendable>(
  configure: (inout OKeyConfiguration) -> Void = { _ in },
  _ body: (OKeyDaemon, ListenAddress) async throws -> Result
) async throws -> Result {
  let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
    "okeyd-test-\(UInt64.random(in: 0...UInt64.max))"
  ).path
  defer { try? FileManager.default.removeItem(atPath: folder) }
  var configuration = OKeyConfiguration()
  configuration.listen = ListenAddress(host: "127.0.0.1", port: 0)
  configuration.shutdownGraceSeconds = 5
  configuration.database.path = folder + "/okey.sqlite"
  configuration.directory.uri = "ldap://127.0.0.1:1"
  configuration.directory.networkTimeoutSeconds = 1
  configuration.mail.enabled = false
  configuration.plaintext = true
  configuration.audit.keyFile = TestAuditKey.file
  configure(&configuration)
  var logger = Logger(label: "okeyd-test")
  logger.logLevel = .warning
  let daemon = try OKeyDaemon(configuration: configuration, logger: logger, handleSignals: false)
  return try await withThrowingTaskGroup(of: Void.self) { group in
    group.addTask { try await daemon.run() }
    do {
      let address = try await daemon.listeningAddress
      let result = try await body(daemon, address)
      await daemon.shutDown()
      try await group.waitForAll()
      return result
    } catch {
      await daemon.shutDown()
      try? await group.waitForAll()
      throw error
    }
  }
}

/// An okeyd executable started by a test on 127.0.0.1 and a free port.
public final class OKeydProcess: Sendable {
  /// The process.
  public let child: ChildProcess
  /// The address it listens on.
  public let address: String

  /// Starts the built okeyd with `arguments` (a `--listen 127.0.0.1:0` is added unless given) and
  /// waits until it announces its address.
  public init(arguments: [String] = [], environment: [String: String] = [:]) async throws {
    var arguments = arguments
    if !arguments.contains("--listen") { arguments += ["--listen", "127.0.0.1:0"] }
    var environment = environment
    // Without a configuration file: a private database and no directory. With one: what it says.
    if !arguments.contains("--config"), environment["OKEY_DATABASE_PATH"] == nil {
      let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
        "okeyd-proc-\(UInt64.random(in: 0...UInt64.max))"
      ).path
      environment["OKEY_DATABASE_PATH"] = folder + "/okey.sqlite"
    }
    if !arguments.contains("--config"), environment["OKEY_LDAP_URI"] == nil {
      environment["OKEY_LDAP_URI"] = "ldap://127.0.0.1:1"
    }
    if environment["OKEY_PLAINTEXT"] == nil { environment["OKEY_PLAINTEXT"] = "true" }
    if environment["OKEY_AUDIT_KEY_FILE"] == nil { environment["OKEY_AUDIT_KEY_FILE"] = TestAuditKey.file }
    child = try ChildProcess(TestPaths.executable("okeyd"), arguments, environment: environment)
    let log = try await child.waitForError { $0.contains("okeyd listening") }
    // Text (address=HOST:PORT) or JSON ("address":"HOST:PORT") log lines.
    guard let range = log.range(of: #"address(=|":")[0-9.]+:[0-9]+"#, options: .regularExpression) else {
      throw ChildProcessError("okeyd announced no address:\n\(log)")
    }
    address = String(log[range].drop { !$0.isNumber })
  }

  /// Sends SIGTERM and waits for the exit status.
  public func terminate(timeout: Duration = .seconds(30)) async throws -> Int32 {
    child.send(SIGTERM)
    return try await child.waitForExit(timeout: timeout)
  }
}
