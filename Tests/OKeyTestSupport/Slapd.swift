import Foundation
import OKeyDirectory

/// A throwaway slapd on 127.0.0.1 and a free port, loaded with the sample academy (or another
/// LDIF), started by `Tools/slapd-fixture`.
public final class SlapdFixture: Sendable {
  /// The folder holding its configuration and data.
  public let folder: String
  /// The port it listens on.
  public let port: Int

  /// `ldap://127.0.0.1:PORT`.
  public var uri: String { "ldap://127.0.0.1:\(port)" }

  /// The DN and password of OKEY's service account in the fixture.
  public static let serviceDN = "cn=okey,ou=services,dc=ac-test,dc=fr"
  public static let servicePassword = "okey-service-secret"
  /// Every person's password in the sample academy.
  public static let personPassword = "password1"

  init(folder: String, port: Int) {
    self.folder = folder
    self.port = port
  }

  static let script = TestPaths.packageRoot + "/Tools/slapd-fixture"

  /// The ldaps:// port when started with TLS.
  public var ldapsPort: Int? {
    (try? String(contentsOfFile: folder + "/ldaps-port", encoding: .utf8)).flatMap {
      Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
    }
  }

  /// Starts a new slapd (loading `ldif`, the sample academy by default); with `tlsFolder` (ca.pem,
  /// server.pem, server.key) it offers StartTLS and ldaps:// too.
  public static func start(ldif: String? = nil, tlsFolder: String? = nil) async throws -> SlapdFixture {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "okey-slapd-\(UInt64.random(in: 0...UInt64.max))"
    ).path
    var arguments = ["start", folder, "0"]
    if let ldif { arguments.append(ldif) }
    let result = try await ChildProcess.run(
      script, arguments, environment: tlsFolder.map { ["OKEY_SLAPD_TLS": $0] } ?? [:], timeout: .seconds(120))
    guard result.status == 0, let port = Int(result.output.trimmingCharacters(in: .whitespacesAndNewlines)) else {
      throw ChildProcessError("slapd did not start: \(result.error)")
    }
    return SlapdFixture(folder: folder, port: port)
  }

  /// Stops it abruptly (SIGKILL), as an outage would.
  public func stop() async throws {
    _ = try await ChildProcess.run(Self.script, ["stop", folder])
  }

  /// Starts it again on the same port with the same data.
  public func restart() async throws {
    let result = try await ChildProcess.run(Self.script, ["restart", folder], timeout: .seconds(60))
    guard result.status == 0 else { throw ChildProcessError("slapd did not restart: \(result.error)") }
  }

  /// Stops it and removes its folder.
  public func destroy() async {
    try? await stop()
    try? FileManager.default.removeItem(atPath: folder)
  }

  /// Directory settings for OKEY against this slapd.
  public func directoryConfiguration(cacheTTLSeconds: Double = 0) -> DirectoryConfiguration {
    var configuration = DirectoryConfiguration()
    configuration.uri = uri
    configuration.bindDN = Self.serviceDN
    configuration.bindPassword = Self.servicePassword
    configuration.networkTimeoutSeconds = 2
    configuration.operationTimeoutSeconds = 3
    configuration.poolSize = 2
    configuration.cacheTTLSeconds = cacheTTLSeconds
    return configuration
  }
}

/// Runs `body` with a fresh slapd, then destroys it.
public func withSlapd<Result>(
  ldif: String? = nil, tlsFolder: String? = nil, _ body: (SlapdFixture) async throws -> Result
) async throws -> Result {
  let slapd = try await SlapdFixture.start(ldif: ldif, tlsFolder: tlsFolder)
  do {
    let result = try await body(slapd)
    await slapd.destroy()
    return result
  } catch {
    await slapd.destroy()
    throw error
  }
}

/// Runs `body` with an ``LDAPDirectory`` connected to `slapd`, then shuts it down.
public func withLDAPDirectory<Result>(
  _ slapd: SlapdFixture,
  configure: (inout DirectoryConfiguration) -> Void = { _ in },
  _ body: (LDAPDirectory) async throws -> Result
) async throws -> Result {
  var configuration = slapd.directoryConfiguration()
  configure(&configuration)
  let directory = LDAPDirectory(configuration: configuration)
  do {
    let result = try await body(directory)
    await directory.shutdown()
    return result
  } catch {
    await directory.shutdown()
    throw error
  }
}

extension SlapdFixture {
  /// Changes the directory as its administrator would: `ldif` is an `ldapmodify` change record
  /// (dn, changetype, ...).
  public func modify(_ ldif: String) async throws {
    let result = try await ChildProcess.run(
      "/usr/bin/ldapmodify", ["-x", "-H", uri, "-D", "cn=admin,dc=ac-test,dc=fr", "-w", "admin-secret"], input: ldif)
    guard result.status == 0 else { throw ChildProcessError("ldapmodify failed (\(result.status)): \(result.error)") }
  }

  /// Marks `uid`'s account disabled (accountStatus: disabled), or active again.
  public func setDisabled(_ uid: String, _ disabled: Bool = true) async throws {
    try await modify(
      """
      dn: uid=\(uid),ou=people,dc=ac-test,dc=fr
      changetype: modify
      replace: accountStatus
      accountStatus: \(disabled ? "disabled" : "active")

      """)
  }

  /// The pid of the running slapd, from its pid file.
  public var pid: Int32? {
    (try? String(contentsOfFile: folder + "/slapd.pid", encoding: .utf8)).flatMap {
      Int32($0.trimmingCharacters(in: .whitespacesAndNewlines))
    }
  }

  /// Freezes slapd (SIGSTOP): connections stay open, nothing answers.
  public func pause() {
    if let pid { kill(pid, SIGSTOP) }
  }

  /// Lets a paused slapd go on (SIGCONT).
  public func resume() {
    if let pid { kill(pid, SIGCONT) }
  }
}

/// Writes the configuration of an okeyd started by a test and returns its path: the database in
/// `folder`, the directory `slapd`, mail off (or `mail`, YAML lines under `mail:`), a `portal`
/// service account when `portalKey` is given, and any `extra` top-level YAML.
public func writeOKeydConfig(
  folder: String, slapd: SlapdFixture, portalKey: String? = nil, mail: String = "enabled: false",
  directory: String = "",
  extra: String = ""
) throws -> String {
  let path = folder + "/okeyd-\(UInt32.random(in: 0...UInt32.max)).yaml"
  func indented(_ text: String) -> String {
    text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : "  " + $0 }.joined(
      separator: "\n")
  }
  var yaml = """
    database:
      path: \(folder)/okey.sqlite
    directory:
      uri: \(slapd.uri)
      bindPassword: \(SlapdFixture.servicePassword)
    \(indented(directory))
    mail:
    \(indented(mail))

    """
  if let portalKey {
    yaml += "serviceAccounts:\n  - name: portal\n    keySHA256: \(sha256Hex(portalKey))\n"
  }
  yaml += extra
  try yaml.write(toFile: path, atomically: true, encoding: .utf8)
  return path
}
