import Foundation
import OKeyClient
import OKeyTestSupport
import Testing

@Suite("okeyd and okey end to end", .serialized)
struct EndToEndTests {
  @Test(
    "okeyd started on a free loopback port answers SERVING to OKeyClient and to okey health, and stops cleanly on SIGTERM"
  )
  func healthEndToEnd() async throws {
    let okeyd = try await OKeydProcess()
    // A first call to a process just started, while the whole suite shares two cores: a roomy deadline.
    let settings = try OKeyClientSettings(server: okeyd.address, timeout: .seconds(60))
    let status = try await OKeyClient.with(settings) { try await $0.servingStatus() }
    #expect(status == .serving)

    let cli = try await ChildProcess.run(TestPaths.executable("okey"), ["health", "--server", okeyd.address])
    #expect(cli.status == 0, "\(cli.error)")
    #expect(cli.output == "SERVING\n")

    let service = try await ChildProcess.run(
      TestPaths.executable("okey"), ["health", "--server", okeyd.address, "--service", "okey.v1.Unknown"])
    #expect(service.status == 66)
    #expect(service.error.hasPrefix("okey: unknown service"))

    let exit = try await okeyd.terminate()
    #expect(exit == 0)
    #expect(okeyd.child.standardError.contains("okeyd stopped"))
  }

  @Test("okeyd reads its configuration file, and refuses a bad one with a message naming the setting")
  func configurationFile() async throws {
    try await withTemporaryDirectory { folder in
      let good = folder + "/good.yaml"
      try "listen: 127.0.0.1:0\nlogLevel: debug\n".write(toFile: good, atomically: true, encoding: .utf8)
      let okeyd = try await OKeydProcess(arguments: ["--config", good, "--listen", "127.0.0.1:0"])
      let status = try await OKeyClient.with(try OKeyClientSettings(server: okeyd.address)) {
        try await $0.servingStatus()
      }
      #expect(status == .serving)
      let exit = try await okeyd.terminate()
      #expect(exit == 0)

      let bad = folder + "/bad.yaml"
      try "plaintext: true\nlimits:\n  maxMessageBytes: 3\n".write(toFile: bad, atomically: true, encoding: .utf8)
      let refused = try await ChildProcess.run(TestPaths.executable("okeyd"), ["--config", bad])
      #expect(refused.status == 64)
      #expect(refused.error.contains("limits.maxMessageBytes"))
    }
  }

  @Test("okey health against an unreachable server prints one line and exits 69")
  func unreachable() async throws {
    let cli = try await ChildProcess.run(
      TestPaths.executable("okey"), ["health", "--server", "127.0.0.1:1", "--timeout", "3"])
    #expect(cli.status == 69)
    #expect(cli.error.split(separator: "\n").count == 1, "\(cli.error)")
    #expect(cli.error.hasPrefix("okey: "))
  }

  @Test("okey --help and okey health --help describe the command")
  func help() async throws {
    let root = try await ChildProcess.run(TestPaths.executable("okey"), ["--help"])
    #expect(root.status == 0)
    #expect(root.output.contains("health"))
    #expect(root.output.contains("Exit codes"))
    let health = try await ChildProcess.run(TestPaths.executable("okey"), ["health", "--help"])
    #expect(health.output.contains("--server"))
    let daemon = try await ChildProcess.run(TestPaths.executable("okeyd"), ["--help"])
    #expect(daemon.output.contains("--config"))
    #expect(daemon.output.contains("--listen"))
    // ArgumentParser wraps the overview: no line of a paragraph is cut short in mid-sentence (a
    // hard break in the source shows as a short line followed by more of the same sentence).
    let overview = daemon.output.components(separatedBy: "USAGE:").first ?? ""
    let lines = overview.components(separatedBy: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
    for (line, next) in zip(lines, lines.dropFirst()) where !line.isEmpty && !next.isEmpty {
      #expect(line.count + 1 + (next.split(separator: " ").first?.count ?? 0) > 72, "a hard break after: \(line)")
    }
    #expect(overview.contains("OKEY_LDAP_BIND_PASSWORD"))
  }

  @Test("a malformed --server is a usage error")
  func badServer() async throws {
    let cli = try await ChildProcess.run(TestPaths.executable("okey"), ["health", "--server", "nowhere"])
    #expect(cli.status == 64)
    #expect(cli.error.contains("HOST:PORT"))
  }
}
