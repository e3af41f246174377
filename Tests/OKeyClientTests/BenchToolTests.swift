import Foundation
import OKeyTestSupport
import Testing

@Suite("okey-bench against a real okeyd", .serialized)
struct BenchToolTests {
  @Test("every RPC scenario runs its count of calls without an error, with okeyd's CPU per call")
  func rpcScenarios() async throws {
    try await withTemporaryDirectory { folder in
      // A generated academy of 100 agents (agent-N managed by mgr-(N mod 2)), as Tools/bench uses.
      let generated = try await ChildProcess.run(
        "/usr/bin/python3", [TestPaths.packageRoot + "/Tools/directory/generate-academy.py", "100"])
      #expect(generated.status == 0, "\(generated.error)")
      let ldif = folder + "/academy.ldif"
      try generated.output.write(toFile: ldif, atomically: true, encoding: .utf8)
      try await withSlapd(ldif: ldif) { slapd in
        let config = try writeOKeydConfig(folder: folder, slapd: slapd, portalKey: "bench-test-key")
        let okeyd = try await OKeydProcess(arguments: ["--config", config])
        let bench = try await ChildProcess.run(
          TestPaths.executable("okey-bench"),
          [
            "rpc", "--server", okeyd.address, "--portal-key", "bench-test-key", "--workers", "4", "--count", "24",
            "--managers", "2", "--first-agent", "10", "--server-pid", "\(okeyd.child.pid)", "--json",
          ],
          timeout: .seconds(120))
        #expect(try await okeyd.terminate() == 0)
        #expect(bench.status == 0, "\(bench.error)")
        let scenarios = try #require(
          try JSONSerialization.jsonObject(with: Data(bench.output.utf8)) as? [[String: Any]])
        #expect(
          scenarios.compactMap { $0["scenario"] as? String }.map { String($0.prefix(while: { $0 != " " })) }
            == ["health", "get", "search", "search-full", "routing", "lifecycle"])
        for scenario in scenarios {
          #expect(scenario["calls"] as? Int == 24, "\(scenario)")
          #expect(scenario["errors"] as? Int == 0, "\(scenario)")
          #expect(scenario["serverCPUMillisecondsPerCall"] is Double, "\(scenario)")
        }
      }
    }
  }
}
