import Foundation
import OKeyServer
import OKeyTestSupport
import Testing

/// Lets a configuration start without an audit key (as demos may).
let unkeyed = "audit:\n  allowUnkeyed: true\n"

/// Runs `body` with a temporary file holding `contents`.
func withTemporaryFile(contents: Data, _ body: (String) throws -> Void) throws {
  let path = FileManager.default.temporaryDirectory.appendingPathComponent("okey-file-\(UInt64.random(in: 0...UInt64.max))").path
  _ = FileManager.default.createFile(atPath: path, contents: contents)
  defer { try? FileManager.default.removeItem(atPath: path) }
  try body(path)
}

@Suite("configuration")
struct ConfigurationTests {
  @Test("an empty file is refused for want of an audit key; with an unkeyed trail allowed every other default stays")
  func defaults() throws {
    let error = #expect(throws: ConfigurationError.self) { try OKeyConfiguration.parse(yaml: "") }
    #expect(error?.message.contains("audit.keyFile") == true)
    let configuration = try OKeyConfiguration.parse(yaml: unkeyed)
    var expected = OKeyConfiguration()
    expected.audit.allowUnkeyed = true
    #expect(configuration == expected)
    #expect(configuration.listen.description == "127.0.0.1:50051")
    #expect(configuration.limits.maxMessageBytes == 8 * 1024 * 1024)
    expected.plaintext = true
    let plaintext = try OKeyConfiguration.parse(yaml: unkeyed + "plaintext: true")
    #expect(plaintext == expected)
  }

  @Test("an audit key file must hold at least 32 bytes")
  func auditKeyFile() throws {
    try withTemporaryFile(contents: Data(repeating: 7, count: 16)) { short in
      let error = #expect(throws: ConfigurationError.self) { try OKeyConfiguration.parse(yaml: "audit:\n  keyFile: \(short)") }
      #expect(error?.message.contains("at least 32") == true)
    }
    try withTemporaryFile(contents: Data(repeating: 7, count: 32)) { good in
      let configuration = try OKeyConfiguration.parse(yaml: "audit:\n  keyFile: \(good)")
      #expect(configuration.audit.keyFile == good)
    }
  }

  @Test("without TLS, a non-loopback address needs plaintext: true; loopback addresses need nothing", arguments: [
    ("127.0.0.1:0", true), ("127.1.2.3:6000", true), ("localhost:6000", true), ("::1:6000", true),
    ("0.0.0.0:6000", false), ("10.0.0.1:6000", false), ("127.evil.example:6000", false), ("1270.0.0.1:6000", false),
  ])
  func plaintextOutsideLoopback(listen: String, allowed: Bool) throws {
    if allowed {
      _ = try OKeyConfiguration.parse(yaml: unkeyed + "listen: \"\(listen)\"")
    } else {
      let error = #expect(throws: ConfigurationError.self) { try OKeyConfiguration.parse(yaml: unkeyed + "listen: \"\(listen)\"") }
      #expect(error?.message.contains("plaintext: true") == true)
      #expect(error?.message.contains("not a loopback address") == true)
      _ = try OKeyConfiguration.parse(yaml: unkeyed + "listen: \"\(listen)\"\nplaintext: true")
    }
  }

  @Test("values in the file replace the defaults, the others stay")
  func partialFile() throws {
    let configuration = try OKeyConfiguration.parse(
      yaml: unkeyed + """
        plaintext: true
        listen: 0.0.0.0:6000
        limits:
          maxConcurrentStreamsPerConnection: 7
        database:
          path: /srv/okey/okey.sqlite
        """
    )
    #expect(configuration.listen == ListenAddress(host: "0.0.0.0", port: 6000))
    #expect(configuration.limits.maxConcurrentStreamsPerConnection == 7)
    #expect(configuration.limits.maxMessageBytes == OKeyConfiguration().limits.maxMessageBytes)
    #expect(configuration.database.path == "/srv/okey/okey.sqlite")
    #expect(!configuration.listen.isLoopback)
  }

  @Test("service accounts: a key hash made only of digits stays text, and actsForPeople defaults to true")
  func serviceAccounts() throws {
    let digits = String(repeating: "1", count: 64)
    let configuration = try OKeyConfiguration.parse(
      yaml: unkeyed + """
        plaintext: true
        serviceAccounts:
          - name: portal
            keySHA256: \(digits)
          - name: tools
            keySHA256: \(String(repeating: "a", count: 64))
            actsForPeople: false
        routing:
          fallbacks:
            "975": dasen975
        """)
    #expect(configuration.serviceAccounts.map(\.keySHA256) == [digits, String(repeating: "a", count: 64)])
    #expect(configuration.serviceAccounts.map(\.actsForPeople) == [true, false])
    #expect(configuration.routing.fallbacks["975"] == "dasen975")
    #expect(configuration.routing.strategies == [.managerAttribute, .establishment])
  }

  @Test("the environment overrides the file")
  func environment() throws {
    var configuration = try OKeyConfiguration.parse(yaml: unkeyed + "listen: 127.0.0.1:6000\nplaintext: true")
    try configuration.applyEnvironment(["OKEY_LISTEN": "127.0.0.1:7000", "OKEY_LOG_LEVEL": "debug"])
    try configuration.validate()
    #expect(configuration.listen.port == 7000)
    #expect(configuration.logLevel == "debug")
  }

  @Test(
    "a wrong value is refused with a message naming the setting",
    arguments: [
      ("listen: nowhere", "listen"),
      ("listen: 127.0.0.1:70000", "listen"),
      ("limits:\n  maxMessageBytes: 10", "limits.maxMessageBytes"),
      ("limits:\n  maxMessageBytes: lots", "maxMessageBytes"),
      ("logLevel: loud", "logLevel"),
    ]
  )
  func refused(yaml: String, setting: String) throws {
    let error = #expect(throws: ConfigurationError.self) { try OKeyConfiguration.parse(yaml: unkeyed + "plaintext: true\n" + yaml) }
    #expect(error?.message.contains(setting) == true, "\(error?.message ?? "")")
  }

  @Test("the example configuration in the repository parses")
  func exampleFile() throws {
    let configuration = try OKeyConfiguration.load(file: TestPathsForServer.example)
    #expect(configuration.listen.isLoopback)
  }
}

enum TestPathsForServer {
  static let example = TestPaths.packageRoot + "/okeyd.example.yaml"
}
