import Crypto
import Foundation

/// Where the package and its built executables are, for tests that start okeyd, okey or slapd.
public enum TestPaths {
  /// The package's root folder.
  public static let packageRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
  }()

  /// The folder holding the built `okeyd` and `okey`: $OKEY_BIN_DIR, else the test binary's own
  /// folder, else `.build/debug`.
  public static let binDirectory: String = {
    if let dir = ProcessInfo.processInfo.environment["OKEY_BIN_DIR"], !dir.isEmpty { return dir }
    let own = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    for candidate in [own, own.deletingLastPathComponent()] {
      if FileManager.default.isExecutableFile(atPath: candidate.appendingPathComponent("okeyd").path) {
        return candidate.path
      }
    }
    return packageRoot + "/.build/debug"
  }()

  /// Full path of a built executable of the package.
  public static func executable(_ name: String) -> String {
    binDirectory + "/" + name
  }
}

/// The audit key file of every okeyd the tests start (one per test process, so that a restarted
/// okeyd keeps verifying what it signed before).
public enum TestAuditKey {
  /// Path of a file holding 32 random bytes in hex, as `openssl rand -hex 32` writes them (raw
  /// random bytes may end in a byte that reads as white space, which the key file trims).
  public static let file: String = {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
      "okey-test-audit-\(UInt64.random(in: 0...UInt64.max)).key"
    ).path
    var generator = SystemRandomNumberGenerator()
    let hex = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined() + "\n"
    FileManager.default.createFile(atPath: path, contents: Data(hex.utf8), attributes: [.posixPermissions: 0o600])
    return path
  }()
}

/// Creates a fresh temporary folder, runs `body` with its path, then removes it.
public func withTemporaryDirectory<Result>(_ body: (String) async throws -> Result) async throws -> Result {
  let path = FileManager.default.temporaryDirectory
    .appendingPathComponent("okey-test-\(UInt64.random(in: 0...UInt64.max))").path
  try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(atPath: path) }
  return try await body(path)
}

/// Lower-case hex SHA-256 of a text (for service-account keys in test configurations).
public func sha256Hex(_ text: String) -> String {
  SHA256.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined()
}
