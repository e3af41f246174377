import OKeyServer
import OKeyTestSupport
import Testing

@Suite("configuration")
struct ConfigurationTests {
  @Test("a file that only allows plaintext keeps every other default; without TLS or plaintext okeyd refuses to start")
  func defaults() throws {
    var expected = OKeyConfiguration()
    expected.plaintext = true
    let configuration = try OKeyConfiguration.parse(yaml: "plaintext: true")
    #expect(configuration == expected)
    let error = #expect(throws: ConfigurationError.self) { try OKeyConfiguration.parse(yaml: "") }
    #expect(error?.message.contains("plaintext: true") == true)
    #expect(configuration.listen.description == "127.0.0.1:50051")
    #expect(configuration.limits.maxMessageBytes == 8 * 1024 * 1024)
  }

  @Test("values in the file replace the defaults, the others stay")
  func partialFile() throws {
    let configuration = try OKeyConfiguration.parse(
      yaml: """
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
      yaml: """
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
    var configuration = try OKeyConfiguration.parse(yaml: "listen: 127.0.0.1:6000\nplaintext: true")
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
    let error = #expect(throws: ConfigurationError.self) { try OKeyConfiguration.parse(yaml: "plaintext: true\n" + yaml) }
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
