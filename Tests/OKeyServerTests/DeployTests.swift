import Foundation
import OKeyServer
import OKeyTestSupport
import Testing

@Suite("deployment: the systemd unit, the site configuration, completions and manual pages")
struct DeployTests {
  static let analyze = "/usr/bin/systemd-analyze"

  /// deploy/okeyd.service with its okeyd path pointing at the built one (verify checks the command).
  static func unitForThisBuild(in folder: String) throws -> String {
    let unit = try String(contentsOfFile: TestPaths.packageRoot + "/deploy/okeyd.service", encoding: .utf8)
      .replacingOccurrences(of: "/usr/local/bin/okeyd", with: TestPaths.executable("okeyd"))
    let path = folder + "/okeyd.service"
    try unit.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  @Test(
    "deploy/okeyd.service passes systemd-analyze verify without a warning, and its exposure is at most 2.0 (systemd-analyze security); skipped where systemd is not installed"
  )
  func serviceUnit() async throws {
    guard FileManager.default.isExecutableFile(atPath: Self.analyze) else {
      print("skipped: \(Self.analyze) is missing (Debian package systemd); the unit is not checked")
      return
    }
    try await withTemporaryDirectory { folder in
      let unit = try Self.unitForThisBuild(in: folder)
      let verify = try await ChildProcess.run(Self.analyze, ["verify", "--man=no", unit])
      #expect(verify.status == 0, "\(verify.error)")
      #expect(verify.error.isEmpty && verify.output.isEmpty, "\(verify.error)\(verify.output)")
      let security = try await ChildProcess.run(Self.analyze, ["security", "--offline=yes", "--no-pager", unit])
      let line = security.output.split(separator: "\n").last { $0.contains("Overall exposure level") } ?? ""
      let score = line.split(separator: " ").compactMap { Double($0) }.first
      #expect(score != nil && (score ?? 10) <= 2.0, "\(line)")
      print("systemd-analyze security: \(line)")
      // The hardening a reviewer looks for is there.
      let text = try String(contentsOfFile: unit, encoding: .utf8)
      for setting in [
        "User=okey", "StateDirectory=okey", "ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes",
        "CapabilityBoundingSet=\n", "Restart=on-failure", "KillSignal=SIGTERM", "ExecReload=/bin/kill -HUP $MAINPID",
      ] {
        #expect(text.contains(setting), "missing: \(setting)")
      }
    }
  }

  @Test(
    "deploy/okeyd.yaml is a configuration okeyd accepts (okeyd serve --check-config), with its files (TLS pair, CAs, audit key) where a test can make them"
  )
  func siteConfiguration() async throws {
    try await withTemporaryDirectory { folder in
      let pki = try await TestPKI.make(in: folder)
      let site = try String(contentsOfFile: TestPaths.packageRoot + "/deploy/okeyd.yaml", encoding: .utf8)
      let here = [
        ("/etc/okey/tls/okeyd.pem", pki.serverCertificate), ("/etc/okey/tls/okeyd.key", pki.serverKey),
        ("/etc/okey/tls/internal-systems-ca.pem", pki.ca), ("/etc/ssl/certs/ca-certificates.crt", pki.ca),
        ("/etc/okey/audit.key", TestAuditKey.file), ("/var/lib/okey/", folder + "/"),
      ].reduce(site) { $0.replacingOccurrences(of: $1.0, with: $1.1) }
      let path = folder + "/okeyd.yaml"
      try here.write(toFile: path, atomically: true, encoding: .utf8)
      let result = try await ChildProcess.run(TestPaths.executable("okeyd"), ["serve", "--check-config", path])
      #expect(result.status == 0, "\(result.error)")
      #expect(result.output.contains("valid (listen 0.0.0.0:50051"), "\(result.output)")
    }
  }

  @Test("okey and okeyd print bash, zsh and fish completions, and their manual pages come from the same parser")
  func completionsAndManuals() async throws {
    for tool in ["okey", "okeyd"] {
      for shell in ["bash", "zsh", "fish"] {
        let script = try await ChildProcess.run(
          TestPaths.executable(tool), ["--generate-completion-script", shell])
        #expect(script.status == 0, "\(tool) \(shell): \(script.error)")
        #expect(script.output.contains(tool) && script.output.count > 500, "\(tool) \(shell)")
      }
    }
    let bash = try await ChildProcess.run(TestPaths.executable("okey"), ["--generate-completion-script", "bash"])
    #expect(bash.output.contains("requests"), "the subcommands are completed")
    let dump = try await ChildProcess.run(TestPaths.executable("okeyd"), ["--experimental-dump-help"])
    #expect(dump.output.contains("\"backup\"") && dump.output.contains("\"restore\""), "\(dump.output.prefix(300))")
  }
}

@Suite("log lines: text for people, JSON for log shippers, the same fields")
struct LogFormatTests {
  @Test(
    "with logFormat json every line okeyd writes is one JSON object with time, level, label, message, source and the metadata; the text line of the same event carries the same fields"
  )
  func jsonLines() async throws {
    let json = try await OKeydProcess(environment: ["OKEY_LOG_FORMAT": "json"])
    #expect(try await json.terminate() == 0)
    let lines = json.child.standardError.split(separator: "\n")
    #expect(lines.count >= 3)
    var listening: [String: String]?
    for line in lines {
      let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
      #expect(object != nil, "not a JSON object of strings: \(line)")
      for field in ["time", "level", "label", "message", "source"] {
        #expect(object?[field] != nil, "no \(field): \(line)")
      }
      if object?["message"] == "okeyd listening" { listening = object }
    }
    let event = try #require(listening)
    #expect(event["level"] == "notice" && event["label"] == "okeyd" && event["source"] == "OKeyServer")
    #expect(event["address"] == json.address)

    let text = try await OKeydProcess()
    #expect(try await text.terminate() == 0)
    let line = try #require(text.child.standardError.split(separator: "\n").first { $0.hasSuffix("okeyd listening") })
    // time level label : metadata [source] message
    #expect(line.contains(" notice okeyd : address=\(text.address) [OKeyServer] okeyd listening"), "\(line)")
    #expect(
      ISO8601DateFormatter().date(
        from: String(line.prefix { $0 != " " }).replacingOccurrences(
          of: #"\.\d+"#, with: "", options: .regularExpression)) != nil, "\(line)")
  }
}
