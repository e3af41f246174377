import Foundation
import GRPCCore
import OKeyAPI
import OKeyServer
import OKeyTestSupport
import Testing

@Suite("reload without restart: SIGHUP", .serialized)
struct ReloadTests {
  static let oldKey = "portal-key-before-rotation"
  static let newKey = "portal-key-after-rotation"

  /// WhoAmI as the portal acting for ens1a with `key`: nil when it succeeds, else the failure.
  static func whoAmI(_ address: ListenAddress, key: String) async throws -> (code: RPCError.Code, reason: String)? {
    try await withClient(address) { client in
      let portal = TestCaller.portal(client, for: "ens1a", key: key)
      return await failure { _ = try await portal.auth.whoAmI(.init(), metadata: portal.metadata) }
    }
  }

  /// Sends SIGHUP and waits for the `count`-th reload line (applied or refused).
  static func hangUp(_ okeyd: OKeydProcess, reloads count: Int) async throws -> String {
    okeyd.child.send(SIGHUP)
    return try await okeyd.child.waitForError { log in
      log.components(separatedBy: "configuration reloaded").count - 1
        + log.components(separatedBy: "configuration not reloaded").count - 1 >= count
    }
  }

  @Test(
    "a rotated service-account key: after SIGHUP the old key is refused and the new one accepted, by the same process; the log level changes too"
  )
  func rotatedKey() async throws {
    try await withTemporaryDirectory { folder in
      try await withSlapd { slapd in
        let config = try writeOKeydConfig(folder: folder, slapd: slapd, portalKey: Self.oldKey)
        let okeyd = try await OKeydProcess(arguments: ["--config", config])
        _ = try await okeyd.child.waitForError { $0.contains("okeyd reloads its configuration on SIGHUP") }
        let address = try ListenAddress(parsing: okeyd.address, field: "address")
        #expect(try await Self.whoAmI(address, key: Self.oldKey) == nil)
        #expect(try await Self.whoAmI(address, key: Self.newKey)?.reason == "TOKEN_INVALID")
        #expect(!okeyd.child.standardError.contains("rpc"))

        let rotated = try writeOKeydConfig(
          folder: folder, slapd: slapd, portalKey: Self.newKey, extra: "logLevel: debug\n")
        try FileManager.default.removeItem(atPath: config)
        try FileManager.default.moveItem(atPath: rotated, toPath: config)
        let log = try await Self.hangUp(okeyd, reloads: 1)
        #expect(log.contains("applied=serviceAccounts,logLevel"), "\(log)")
        #expect(okeyd.child.isRunning)
        let refused = try await Self.whoAmI(address, key: Self.oldKey)
        #expect(refused?.code == .unauthenticated && refused?.reason == "TOKEN_INVALID")
        #expect(try await Self.whoAmI(address, key: Self.newKey) == nil)
        // Debug lines now: one per call.
        _ = try await okeyd.child.waitForError { $0.contains("method=okey.v1.AuthService/WhoAmI") }
        #expect(try await okeyd.terminate() == 0)
      }
    }
  }

  @Test(
    "a broken file (not YAML, a misspelt setting, a bad value) is refused on SIGHUP with a log line saying why; the running configuration stays"
  )
  func brokenFile() async throws {
    try await withTemporaryDirectory { folder in
      try await withSlapd { slapd in
        let config = try writeOKeydConfig(folder: folder, slapd: slapd, portalKey: Self.oldKey)
        let okeyd = try await OKeydProcess(arguments: ["--config", config])
        _ = try await okeyd.child.waitForError { $0.contains("okeyd reloads its configuration on SIGHUP") }
        let address = try ListenAddress(parsing: okeyd.address, field: "address")
        let good = try String(contentsOfFile: config, encoding: .utf8)
        let broken = [
          ("serviceAccounts: [\n", "is not valid YAML"),
          (good.replacingOccurrences(of: "serviceAccounts:", with: "serviceAcounts:"), "did you mean serviceAccounts?"),
          (good + "logLevel: loud\n", "unknown value 'loud' for logLevel"),
        ]
        for (index, (text, why)) in broken.enumerated() {
          try text.write(toFile: config, atomically: true, encoding: .utf8)
          let log = try await Self.hangUp(okeyd, reloads: index + 1)
          #expect(log.contains("configuration not reloaded: the running configuration is kept"), "\(log)")
          #expect(log.contains(why), "\(log)")
          #expect(try await Self.whoAmI(address, key: Self.oldKey) == nil)
        }
        #expect(!okeyd.child.standardError.contains("configuration reloaded"))
        #expect(try await okeyd.terminate() == 0)
      }
    }
  }

  @Test(
    "a setting that needs a restart (database.path) is reported and left as it runs, while the reloadable ones apply"
  )
  func restartOnlySetting() async throws {
    try await withTemporaryDirectory { folder in
      try await withOKeyDaemon { daemon, _ in
        var changed = daemon.configuration
        changed.database.path = folder + "/elsewhere.sqlite"
        changed.serviceAccounts = [.init(name: "portal", keySHA256: sha256Hex(Self.newKey))]
        let outcome = try daemon.reload(changed)
        #expect(outcome.applied == ["serviceAccounts"])
        #expect(outcome.needRestart == ["database"])
        #expect(!FileManager.default.fileExists(atPath: folder + "/elsewhere.sqlite"))
        var invalid = daemon.configuration
        invalid.sessions.ttlSeconds = 1
        #expect(throws: ConfigurationError.self) { _ = try daemon.reload(invalid) }
      }
    }
  }
}
