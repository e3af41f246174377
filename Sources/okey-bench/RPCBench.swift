import ArgumentParser
import Foundation
import OKeyClient
import OKeyDomain
import OKeyStore

/// RPC scenarios through OKeyClient against a running okeyd, each next to the health-check baseline.
struct RPCBench: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "rpc",
    abstract: "Throughput and latency of okeyd's main RPCs, with its health check as the baseline in the same run.",
    discussion: """
      Scenarios: health (the transport baseline), get (GetRenewal), search (SearchRenewals, basic view, 20 a
      page), search-full (the same, full view), routing
      (ResolveRouting, warm cache) and lifecycle (the whole software-key procedure per worker, one
      agent per worker: start, document, submit, approve, platform, enrolment, charter, finalize).
      Needs a directory whose agents agent-N are managed by mgr-(N mod M) (Tools/directory/generate-academy.py),
      helpdesk1 (support) and dsi-op1 (DSI), all with the password given.
      """)

  @Option(help: "okeyd address.") var server = "127.0.0.1:50051"
  @Option(help: "A second okeyd on the same database: the health and lifecycle workers alternate between the two.")
  var secondServer: String?
  @Option(help: "The portal's service-account key (acts for the agents).") var portalKey: String
  @Option(help: "The password of helpdesk1, dsi-op1 and the managers.") var password = "password1"
  @Option(help: "Scenarios, comma-separated.") var scenarios = "health,get,search,search-full,routing,lifecycle"
  @Option(help: "Concurrent workers.") var workers = 32
  @Option(help: "Seconds per scenario (default 5; 3600 when --count is given).") var seconds: Int?
  @Option(help: "Calls per scenario, all workers together: the scenario ends at this count (or after --seconds).")
  var count: Int?
  @Option(help: "Managers in the directory (agent-N is managed by mgr-(N mod managers)).") var managers = 200
  @Option(help: "First agent index used by the lifecycle workers.") var firstAgent = 1000
  @Option(help: "okeyd's process ids on this machine (comma-separated): adds their CPU time per call to each scenario.")
  var serverPid: String?
  @Option(help: "The disk's durable commit rate (okey-bench disk), to set the lifecycle's changes beside it.")
  var commitRate: Double?
  @Flag(help: "Print JSON instead of a table.") var json = false

  func run() async throws {
    let base = try OKeyClientSettings(server: server, timeout: .seconds(30))
    let serverPIDs = (serverPid ?? "").split(separator: ",").map(String.init)
    let second = try secondServer.map { try OKeyClientSettings(server: $0, timeout: .seconds(30)) }
    /// Measures a scenario with the CPU both processes spent on it.
    func measure(
      _ scenario: String, workers: Int, duration: Duration,
      operation: @escaping @Sendable (Int, Int) async throws -> Void
    ) async -> Measurement {
      await ProcessCPU.accounting(serverPIDs: serverPIDs) {
        await okey_bench.measure(scenario, workers: workers, duration: duration, count: count, operation: operation)
      }
    }
    let (supportToken, dsiToken) = try await OKeyClient.with(base) { okey in
      (
        try await okey.login(uid: "helpdesk1", password: password).token,
        try await okey.login(uid: "dsi-op1", password: password).token
      )
    }
    var supportSettings = base
    supportSettings.token = supportToken
    var dsiSettings = base
    dsiSettings.token = dsiToken
    var portal = base
    portal.token = portalKey
    let duration = Duration.seconds(seconds ?? (count == nil ? 5 : 3600))
    let count = self.count
    let wanted = Set(scenarios.split(separator: ",").map(String.init))
    var results: [Measurement] = []

    // One request to read, owned by agent-0 (started once, reused by later runs).
    var reader = portal
    reader.onBehalfOf = "agent-0"
    let requestID: String = try await OKeyClient.with(reader) { okey in
      if let open = try await okey.myRenewals(pageSize: 1).renewals.first { return open.id }
      return try await okey.startRenewal(keyType: .hardware, motif: .expired).id
    }
    _ = try? await OKeyClient.with(dsiSettings) {
      try await $0.publishCharter(
        version: "bench-\(Int(Date().timeIntervalSince1970))", text: "Bench charter", code: "4821")
    }

    // A second of health checks first, so that the baseline does not pay the warm-up (threads,
    // connection windows, caches) that the scenarios after it would not.
    _ = try await OKeyClient.with(base) { okey in
      await okey_bench.measure("warm-up", workers: workers, duration: .seconds(1)) { _, _ in
        _ = try await okey.servingStatus()
      }
    }
    if wanted.contains("health") {
      results.append(
        try await Self.withServers(base, second) { servers in
          await measure("health (baseline)", workers: workers, duration: duration) { worker, _ in
            _ = try await servers[worker % servers.count].servingStatus()
          }
        })
    }
    if wanted.contains("get") {
      results.append(
        try await OKeyClient.with(reader) { okey in
          await measure("get (GetRenewal)", workers: workers, duration: duration) { _, _ in
            _ = try await okey.renewal(requestID)
          }
        })
    }
    if wanted.contains("search") {
      results.append(
        try await OKeyClient.with(supportSettings) { okey in
          await measure("search (SearchRenewals, basic view)", workers: workers, duration: duration) { _, _ in
            _ = try await okey.searchRenewals(pageSize: 20, view: .basic)
          }
        })
    }
    if wanted.contains("search-full") {
      results.append(
        try await OKeyClient.with(supportSettings) { okey in
          await measure("search-full (SearchRenewals, full view)", workers: workers, duration: duration) { _, _ in
            _ = try await okey.searchRenewals(pageSize: 20, view: .full)
          }
        })
    }
    if wanted.contains("routing") {
      results.append(
        try await OKeyClient.with(supportSettings) { okey in
          for index in 0..<100 { _ = try await okey.routing(uid: "agent-\(index)") }
          return await measure("routing (ResolveRouting, warm)", workers: workers, duration: duration) { worker, i in
            _ = try await okey.routing(uid: "agent-\((worker * 7 + i) % 100)")
          }
        })
    }
    if wanted.contains("lifecycle") {
      let managerTokens = try await OKeyClient.with(base) { okey in
        var tokens: [String] = []
        for worker in 0..<workers {
          tokens.append(
            try await okey.login(uid: "mgr-\((self.firstAgent + worker) % managers)", password: password).token)
        }
        return tokens
      }
      let portalKey = self.portalKey
      let first = self.firstAgent
      results.append(
        try await Self.withServers(base, second) { servers in
          await measure("lifecycle (software key, 8 changes)", workers: workers, duration: duration) { worker, _ in
            let okey = servers[worker % servers.count]
            let agent = try Self.client(okey, token: portalKey, onBehalfOf: "agent-\(first + worker)")
            let approver = try Self.client(okey, token: managerTokens[worker])
            let dsi = try Self.client(okey, token: dsiToken)
            try await Self.lifecycle(agent: agent, approver: approver, dsi: dsi)
          }
        })
    }
    if json {
      try printJSON(results)
    } else {
      printTable(results, baseline: "health (baseline)")
      if let lifecycle = results.first(where: { $0.scenario.hasPrefix("lifecycle") }) {
        let changes = lifecycle.perSecond * Double(Self.changesPerLifecycle)
        let disk =
          commitRate.map {
            String(format: " = %.2f × the %.0f commits/s the disk takes at this durability", changes / $0, $0)
          } ?? ""
        print(String(format: "lifecycle: %.0f committed changes/s", changes) + disk)
        if let perLifecycle = lifecycle.serverCPUMillisecondsPerCall,
          let health = results.first(where: { $0.scenario.hasPrefix("health") })?.serverCPUMillisecondsPerCall,
          health > 0
        {
          let perChange = perLifecycle / Double(Self.changesPerLifecycle)
          print(
            String(
              format: "okeyd CPU per change: %.3f ms = %.1f health checks (%.3f ms each)", perChange,
              perChange / health,
              health))
        }
      }
    }
  }

  /// Runs `body` with a client of `base`'s server, and of `second`'s when given.
  static func withServers<T: Sendable>(
    _ base: OKeyClientSettings, _ second: OKeyClientSettings?, _ body: ([OKeyClient]) async throws -> T
  ) async throws -> T {
    try await OKeyClient.with(base) { first in
      guard let second else { return try await body([first]) }
      var settings = second
      settings.token = base.token
      return try await OKeyClient.with(settings) { other in try await body([first, other]) }
    }
  }

  /// The same connection with other credentials.
  static func client(_ okey: OKeyClient, token: String?, onBehalfOf: String? = nil) throws -> OKeyClient {
    var settings = okey.settings
    settings.token = token
    settings.onBehalfOf = onBehalfOf
    return okey.with(settings)
  }

  /// The changes (each one committed transaction) of one lifecycle.
  static let changesPerLifecycle = 8

  static func lifecycle(agent: OKeyClient, approver: OKeyClient, dsi: OKeyClient) async throws {
    var r = try await agent.startRenewal(keyType: .software, motif: .expired)
    r = try await agent.addDocument(
      requestID: r.id, filename: "proof.pdf", kind: "supporting-document",
      content: Data("%PDF-1.4 bench\n%%EOF\n".utf8), expectedVersion: r.version)
    r = try await agent.submit(requestID: r.id, expectedVersion: r.version)
    r = try await approver.approve(requestID: r.id, expectedVersion: r.version)
    r = try await agent.choosePlatform(requestID: r.id, platform: .android, expectedVersion: r.version).0
    r = try await dsi.confirmEnrolmentElements(requestID: r.id, expectedVersion: r.version)
    r = try await agent.signCharter(requestID: r.id, code: "4821", acknowledged: true, expectedVersion: r.version)
    r = try await dsi.finalize(requestID: r.id, serial: "B-\(r.id.prefix(12))", expectedVersion: r.version)
  }
}

/// Fills a database with requests, for memory figures with a realistic store.
struct Seed: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Store N draft requests of distinct agents in a database file (NORMAL durability, for speed).")
  @Option(help: "The SQLite file.") var database: String
  @Option(help: "How many requests.") var count = 100_000
  @Option(help: "Index of the first request (seed-N): to grow a seeded store.") var first = 0
  @Option(help: "The audit key file okeyd will run with: the seeded events are signed with it, so the trail verifies.")
  var auditKeyFile: String?

  func run() async throws {
    let key = try auditKeyFile.map { path -> AuditKey in
      guard var bytes = FileManager.default.contents(atPath: path).map({ [UInt8]($0) }) else {
        throw ValidationError("cannot read \(path)")
      }
      while let last = bytes.last, [0x0A, 0x0D, 0x20, 0x09].contains(last) { bytes.removeLast() }
      return AuditKey(bytes: bytes)
    }
    let store = try SQLiteRenewalStore(path: database, durability: .normal, auditKey: key)
    let now = Instant(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1000))
    let clock = ContinuousClock()
    let start = clock.now
    // Thirty-two writers at once: their starts share group commits.
    let writers = 32
    let first = self.first
    let end = first + count
    try await withThrowingTaskGroup(of: Void.self) { group in
      for writer in 0..<writers {
        group.addTask {
          for index in stride(from: first + writer, to: end, by: writers) {
            let uid = "seed-\(index)"
            let routing = Routing(
              requester: DirectoryPerson(uid: uid),
              n1: RoutedApprover(person: DirectoryPerson(uid: "mgr-0"), foundBy: "seed"), resolvedAt: now)
            _ = try await store.start(agentUID: uid, idempotencyKey: nil) { open in
              RenewalWorkflow.start(
                id: "seed-\(index)", actor: Caller(uid: uid), keyType: .hardware, motif: .expired, motifDetails: "",
                routing: routing, openRequestID: open, now: now)
            }
          }
        }
      }
      try await group.waitForAll()
    }
    print("stored \(count) requests in \(String(format: "%.1f", seconds(clock.now - start))) s")
  }
}

/// The durable commit rate of the disk, as okeyd's store commits (one row per transaction).
struct DiskBench: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "disk", abstract: "SQLite commits per second on a folder's disk, at FULL and NORMAL durability.")
  @Option(help: "A folder on the disk to measure.") var folder: String
  @Option(help: "Seconds per durability level.") var seconds = 3
  @Flag(help: "Print JSON instead of a table.") var json = false

  func run() async throws {
    var results: [Measurement] = []
    for durability in [Durability.full, .normal] {
      let path = folder + "/disk-\(durability.rawValue).sqlite"
      let store = try SQLiteRenewalStore(path: path, durability: durability)
      let base = Instant(millisecondsSinceEpoch: 0)
      results.append(
        await measure("SQLite commit, \(durability.rawValue)", workers: 1, duration: .seconds(seconds)) { _, i in
          try await store.saveSession(
            StoredSession(
              tokenHash: "\(durability.rawValue)-\(i)-\(UInt64.random(in: 0...UInt64.max))", uid: "u", createdAt: base,
              expiresAt: base))
        })
      for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }
    if json { try printJSON(results) } else { printTable(results, baseline: nil) }
  }
}
