import Foundation
import OKeyServer
import OKeyTestSupport
import Testing
import Yams

/// Lets a configuration start without an audit key (as demos may).
let unkeyed = "audit:\n  allowUnkeyed: true\n"

/// Runs `body` with a temporary file holding `contents`.
func withTemporaryFile(contents: Data, _ body: (String) throws -> Void) throws {
  let path = FileManager.default.temporaryDirectory.appendingPathComponent(
    "okey-file-\(UInt64.random(in: 0...UInt64.max))"
  ).path
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
      let error = #expect(throws: ConfigurationError.self) {
        try OKeyConfiguration.parse(yaml: "audit:\n  keyFile: \(short)")
      }
      #expect(error?.message.contains("at least 32") == true)
    }
    try withTemporaryFile(contents: Data(repeating: 7, count: 32)) { good in
      let configuration = try OKeyConfiguration.parse(yaml: "audit:\n  keyFile: \(good)")
      #expect(configuration.audit.keyFile == good)
    }
  }

  @Test("enrolment.mode qr reads its code key file from the file: a short one is refused, a good one kept")
  func enrolmentCodeKeyFile() throws {
    try withTemporaryFile(contents: Data(repeating: 7, count: 16)) { short in
      let error = #expect(throws: ConfigurationError.self) {
        try OKeyConfiguration.parse(yaml: unkeyed + "enrolment:\n  mode: qr\n  codeKeyFile: \(short)")
      }
      #expect(error?.message.hasPrefix("enrolment.codeKeyFile") == true, "\(error?.message ?? "")")
    }
    try withTemporaryFile(contents: Data(repeating: 7, count: 32)) { good in
      let configuration = try OKeyConfiguration.parse(
        yaml: unkeyed + "enrolment:\n  mode: qr\n  codeKeyFile: \(good)\n  codeHours: 2")
      #expect(configuration.enrolment.byCode && configuration.enrolment.codeKeyFile == good)
      #expect(configuration.enrolment.codeHours == 2)
    }
  }

  @Test(
    "without TLS, a non-loopback address needs plaintext: true; loopback addresses need nothing",
    arguments: [
      ("127.0.0.1:0", true), ("127.1.2.3:6000", true), ("localhost:6000", true), ("::1:6000", true),
      ("0.0.0.0:6000", false), ("10.0.0.1:6000", false), ("127.evil.example:6000", false), ("1270.0.0.1:6000", false),
    ])
  func plaintextOutsideLoopback(listen: String, allowed: Bool) throws {
    if allowed {
      _ = try OKeyConfiguration.parse(yaml: unkeyed + "listen: \"\(listen)\"")
    } else {
      let error = #expect(throws: ConfigurationError.self) {
        try OKeyConfiguration.parse(yaml: unkeyed + "listen: \"\(listen)\"")
      }
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
      ("timeZone: Indian/Atlantis", "timeZone"),
      ("holidays: [2026-02-30]", "holidays"),
      ("holidays: [20/12/2026]", "holidays"),
      ("logFormat: xml", "logFormat"),
      ("handover:\n  establishmentTypes: [clg]", "handover.establishmentTypes"),
      ("enrolment:\n  mode: qr", "enrolment.codeKeyFile"),
      ("enrolment:\n  codeHours: 0", "enrolment.codeHours"),
      ("enrolment:\n  mode: qr\n  codeKeyFile: /nonexistent/enrolment.key", "enrolment.codeKeyFile"),
      ("handover:\n  establishmentTypes: [\"\"]", "handover.establishmentTypes"),
      ("database:\n  kind: postgres", "database.kind"),
      ("database:\n  kind: postgresql", "database.url"),
      ("database:\n  kind: postgresql\n  url: postgres://okey:secret@db/okey", "OKEY_DATABASE_PASSWORD"),
      ("database:\n  kind: postgresql\n  url: postgres://okey@db/okey\n  poolSize: 2", "database.poolSize"),
      ("database:\n  kind: postgresql\n  url: postgres://okey@db/okey\n  timeoutSeconds: 0", "database.timeoutSeconds"),
    ]
  )
  func refused(yaml: String, setting: String) throws {
    let error = #expect(throws: ConfigurationError.self) {
      try OKeyConfiguration.parse(yaml: unkeyed + "plaintext: true\n" + yaml)
    }
    #expect(error?.message.contains(setting) == true, "\(error?.message ?? "")")
  }

  @Test(
    "a setting okeyd does not have, or a value outside an enumerated setting's list, is refused with its path and the closest known name",
    arguments: [
      ("databse:\n  path: /tmp/x.sqlite\n", "unknown setting databse: did you mean database?"),
      ("logLevl: debug\n", "unknown setting logLevl: did you mean logLevel?"),
      ("database:\n  durabilty: FULL\n", "unknown setting database.durabilty: did you mean durability?"),
      ("mail:\n  comand: /bin/true\n", "unknown setting mail.comand: did you mean command?"),
      (
        "tls:\n  certificatFile: a\n  privateKeyFile: b\n",
        "unknown setting tls.certificatFile: did you mean certificateFile?"
      ),
      (
        "serviceAccounts:\n  - name: a\n    keySHA256: x\n    role: [agent]\n",
        "unknown setting serviceAccounts[0].role: did you mean roles?"
      ),
      ("database:\n  durability: FUL\n", "unknown value 'FUL' for database.durability: did you mean FULL?"),
      ("logLevel: verbose\n", "unknown value 'verbose' for logLevel"),
      (
        "routing:\n  validatorChoice: manager\n",
        "unknown value 'manager' for routing.validatorChoice: did you mean managers?"
      ),
      (
        "routing:\n  strategies: [manager, etablissement]\n",
        "unknown value 'etablissement' for routing.strategies[1]: did you mean establishment?"
      ),
      (
        "serviceAccounts:\n  - name: a\n    keySHA256: x\n    roles: [agent, dsj]\n",
        "unknown value 'dsj' for serviceAccounts[0].roles[1]: did you mean dsi?"
      ),
      ("zzz: 1\n", "unknown setting zzz: the settings here are audit, database, directory,"),
    ])
  func unknownSetting(yaml: String, message: String) throws {
    let error = #expect(throws: ConfigurationError.self) {
      try OKeyConfiguration.parse(yaml: unkeyed + yaml, source: "okeyd.yaml")
    }
    #expect(error?.message.hasPrefix("okeyd.yaml: " + message) == true, "\(error?.message ?? "")")
  }

  @Test("every setting okeyd has is accepted back, and the routing fallbacks' keys are data (any department code)")
  func knownSettingsAccepted() throws {
    var full = OKeyConfiguration()
    full.tls = .init(certificateFile: "/c", privateKeyFile: "/k", clientCAFile: "/ca")
    full.metricsListen = full.listen
    full.serviceAccounts = [
      .init(
        name: "portal", keySHA256: String(repeating: "a", count: 64), roles: [.agent, .dsi],
        clientCertificateSubject: "CN=x")
    ]
    full.audit.keyFile = "/key"
    full.directory.caCertificateFile = "/ca"
    full.routing.validatorsGroupDN = "cn=v"
    full.routing.fallbacks = ["976": "dasen976", "*": "recteur"]
    let yaml = try YAMLEncoder().encode(full)
    let parsed = try OKeyConfiguration.parse(yaml: yaml, validate: false)
    #expect(parsed == full)
  }

  @Test(
    "okeyd --check-config: exit 0 with a summary for a valid file, 64 with the setting's path for a typo, and okeyd itself refuses to start on it"
  )
  func checkConfigCommand() async throws {
    let good = FileManager.default.temporaryDirectory.appendingPathComponent(
      "okey-good-\(UInt32.random(in: 0...UInt32.max)).yaml"
    ).path
    let typo = FileManager.default.temporaryDirectory.appendingPathComponent(
      "okey-typo-\(UInt32.random(in: 0...UInt32.max)).yaml"
    ).path
    defer {
      try? FileManager.default.removeItem(atPath: good)
      try? FileManager.default.removeItem(atPath: typo)
    }
    try (unkeyed + "database:\n  path: /tmp/never.sqlite\n").write(toFile: good, atomically: true, encoding: .utf8)
    try (unkeyed + "databse:\n  path: /tmp/never.sqlite\nlogLevl: debug\n").write(
      toFile: typo, atomically: true, encoding: .utf8)
    let okeyd = TestPaths.executable("okeyd")
    let valid = try await ChildProcess.run(okeyd, ["--check-config", good])
    #expect(valid.status == 0, "\(valid.error)")
    #expect(valid.output.contains("valid (listen 127.0.0.1:50051, database /tmp/never.sqlite"), "\(valid.output)")
    let refused = try await ChildProcess.run(okeyd, ["--check-config", typo])
    #expect(refused.status == 64)
    #expect(refused.error.contains("unknown setting databse: did you mean database?"), "\(refused.error)")
    let started = try await ChildProcess.run(okeyd, ["--config", typo, "--listen", "127.0.0.1:0"])
    #expect(started.status == 64, "okeyd must not start with every default")
    #expect(started.error.contains("unknown setting databse"), "\(started.error)")
    #expect(!FileManager.default.fileExists(atPath: "/tmp/never.sqlite"))
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
