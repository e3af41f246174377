import Foundation
import OKeyClient
import OKeyTestSupport
import Synchronization
import Testing

/// What the clients saw succeed: request id and the version returned.
final class Acknowledged: Sendable {
  let entries = Mutex<(versions: [String: Int64], changes: Int)>(([:], 0))
  func record(_ renewal: Renewal) {
    entries.withLock {
      $0.versions[renewal.id] = max($0.versions[renewal.id] ?? 0, renewal.version)
      $0.changes += 1
    }
    lastSeen.withLock { $0 = ContinuousClock.now }
  }
  /// The highest version seen per request.
  var all: [String: Int64] { entries.withLock { $0.versions } }
  /// Changes seen to succeed.
  var changes: Int { entries.withLock { $0.changes } }

  /// When the last change was seen.
  let lastSeen = Mutex<ContinuousClock.Instant?>(nil)
  /// Workers still playing the procedure.
  let running = Mutex(0)
  /// Errors the workers met, with when.
  let errors = Mutex<[(at: ContinuousClock.Instant, error: String)]>([])
  func failed(_ error: any Error) { errors.withLock { $0.append((ContinuousClock.now, "\(error)")) } }
  /// Errors met before `instant`.
  func errors(before instant: ContinuousClock.Instant) -> [String] {
    errors.withLock { $0.filter { $0.at < instant }.map(\.error) }
  }

  let serials = Mutex<[String: String]>([:])
  /// Records a completion seen, with the serial of the key it issued.
  func completed(_ id: String, serial: String) { serials.withLock { $0[id] = serial } }
  /// Completions seen: request id to key serial.
  var completions: [String: String] { serials.withLock { $0 } }
}

/// okeyd's configuration for fault tests: the slapd, a portal account, a database file.
func faultConfig(folder: String, slapd: SlapdFixture, cacheTTL: Double = 60) throws -> String {
  try writeOKeydConfig(
    folder: folder, slapd: slapd, portalKey: "portal-fault-key",
    directory: "cacheTTLSeconds: \(cacheTTL)\nnetworkTimeoutSeconds: 1\noperationTimeoutSeconds: 2")
}

@Suite("fault proofs", .serialized)
struct FaultTests {
  @Test(
    "okeyd killed with SIGKILL under lifecycle load loses no change a client saw succeed, and the audit chain verifies")
  func sigkillUnderLoad() async throws {
    try await withSlapd { slapd in
      try await withTemporaryDirectory { folder in
        let config = try faultConfig(folder: folder, slapd: slapd)
        let okeyd = try await OKeydProcess(arguments: ["--config", config])
        let acknowledged = Acknowledged()
        // Agents and their N+1 in the sample academy; the DSI operator finishes each request.
        let agents = [
          "ens1a": "ien1", "ens1b": "ien1", "ens-clg": "principal1", "ens-lyc": "adjoint2", "rect-agent": "dsi-head",
        ]
        let base = try OKeyClientSettings(server: okeyd.address, timeout: .seconds(5))
        let tokens = try await OKeyClient.with(base) { okey in
          var tokens: [String: String] = [:]
          for uid in Set(agents.values).union(["dsi-op1"]) {
            tokens[uid] = try await okey.login(uid: uid, password: SlapdFixture.personPassword).token
          }
          return tokens
        }
        let charterCode = "7391"
        var dsiOperator = base
        dsiOperator.token = tokens["dsi-op1"]
        let dsiSettings = dsiOperator
        _ = try await OKeyClient.with(dsiSettings) {
          try await $0.publishCharter(version: "fault-1", text: "Charter", code: charterCode)
        }
        let load = Task {
          await withTaskGroup(of: Void.self) { group in
            for (agent, approverUID) in agents {
              group.addTask {
                var agentSettings = base
                agentSettings.token = "portal-fault-key"
                agentSettings.onBehalfOf = agent
                var approverSettings = base
                approverSettings.token = tokens[approverUID]
                acknowledged.running.withLock { $0 += 1 }
                defer { acknowledged.running.withLock { $0 -= 1 } }
                do {
                  try await OKeyClient.with(agentSettings) { okey in
                    let approver = okey.with(approverSettings)
                    let dsi = okey.with(dsiSettings)
                    for round in 0..<10_000 {
                      do {
                        var r = try await okey.startRenewal(keyType: .software, motif: .expired)
                        acknowledged.record(r)
                        r = try await okey.addDocument(
                          requestID: r.id, filename: "p.pdf", kind: "supporting-document",
                          content: Data("%PDF-1.4 x\n%%EOF\n".utf8), expectedVersion: r.version)
                        acknowledged.record(r)
                        r = try await okey.submit(requestID: r.id, expectedVersion: r.version)
                        acknowledged.record(r)
                        r = try await approver.approve(requestID: r.id, expectedVersion: r.version)
                        acknowledged.record(r)
                        r = try await okey.choosePlatform(
                          requestID: r.id, platform: .android, expectedVersion: r.version
                        ).0
                        acknowledged.record(r)
                        r = try await dsi.confirmEnrolmentElements(requestID: r.id, expectedVersion: r.version)
                        acknowledged.record(r)
                        r = try await okey.signCharter(
                          requestID: r.id, code: charterCode, acknowledged: true, expectedVersion: r.version)
                        acknowledged.record(r)
                        let serial = "SW-\(agent)-\(round)"
                        r = try await dsi.finalize(requestID: r.id, serial: serial, expectedVersion: r.version)
                        acknowledged.record(r)
                        if r.status == .completed { acknowledged.completed(r.id, serial: serial) }
                      } catch {
                        // Counted, never swallowed: before the kill any error fails the test.
                        acknowledged.failed(error)
                        return
                      }
                    }
                  }
                } catch {
                  acknowledged.failed(error)
                }
              }
            }
          }
        }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        while acknowledged.changes < 60 || acknowledged.completions.isEmpty, clock.now < deadline {
          try await Task.sleep(for: .milliseconds(20))
        }
        // The load is running at the kill: every worker still playing, a change seen just before.
        #expect(acknowledged.running.withLock { $0 } == agents.count, "a worker stopped before the kill")
        let quietFor = acknowledged.lastSeen.withLock { $0 }.map { clock.now - $0 }
        #expect(quietFor.map { $0 < .seconds(2) } == true, "no change acknowledged in the 2 s before the kill")
        let killedAt = clock.now
        okeyd.child.send(SIGKILL)
        _ = try await okeyd.child.waitForExit(timeout: .seconds(10))
        await load.value
        #expect(acknowledged.errors(before: killedAt).isEmpty, "\(acknowledged.errors(before: killedAt))")
        let seen = acknowledged.all
        #expect(acknowledged.changes >= 60)
        let done = acknowledged.completions
        #expect(!done.isEmpty, "no lifecycle completed before the kill")

        let restarted = try await OKeydProcess(arguments: ["--config", config])
        defer { restarted.child.send(SIGKILL) }
        let helpdesk = try await OKeyClient.with(try OKeyClientSettings(server: restarted.address)) {
          try await $0.login(uid: "helpdesk1", password: SlapdFixture.personPassword).token
        }
        try await OKeyClient.with(try OKeyClientSettings(server: restarted.address, token: helpdesk)) { support in
          for (id, version) in seen {
            let stored = try await support.supportRenewal(id)
            #expect(stored.version >= version, "\(id): acknowledged version \(version), stored \(stored.version)")
            #expect(stored.history.count == Int(stored.version), "\(id): one audit event per version")
          }
          // Every completion seen left its key in the inventory, and each agent has one active key
          // (a later completion replaces the key of an earlier one).
          var agentsDone: Set<String> = []
          for (id, serial) in done {
            let stored = try await support.supportRenewal(id)
            #expect(stored.status == .completed, "\(id)")
            let keys = try await support.keys(uid: stored.agentUID)
            #expect(keys.contains { $0.serial == serial && $0.requestID == id }, "\(id): key \(serial) missing")
            agentsDone.insert(stored.agentUID)
          }
          for agent in agentsDone {
            #expect(try await support.keys(uid: agent).filter(\.active).count == 1, "\(agent): one active key")
          }
          let audit = try await support.verifyAuditTrail()
          #expect(audit.intact, "\(audit.problems)")
        }
      }
    }
  }

  @Test(
    "with slapd stopped, calls that need the directory fail UNAVAILABLE within their deadline, the others keep working, and all recover"
  )
  func directoryOutage() async throws {
    try await withSlapd { slapd in
      try await withTemporaryDirectory { folder in
        let config = try faultConfig(folder: folder, slapd: slapd, cacheTTL: 0)
        let okeyd = try await OKeydProcess(arguments: ["--config", config])
        defer { okeyd.child.send(SIGKILL) }
        let token = try await OKeyClient.with(try OKeyClientSettings(server: okeyd.address)) {
          try await $0.login(uid: "ens1a", password: SlapdFixture.personPassword).token
        }
        let agent = try OKeyClientSettings(server: okeyd.address, token: token, timeout: .seconds(8))
        let request = try await OKeyClient.with(agent) {
          try await $0.startRenewal(keyType: .software, motif: .expired)
        }

        try await slapd.stop()
        let clock = ContinuousClock()
        try await OKeyClient.with(agent) { okey in
          // Reading and changing a request need no directory: they keep working.
          let read = try await okey.renewal(request.id)
          #expect(read.id == request.id)
          let changed = try await okey.addDocument(
            requestID: request.id, filename: "a.pdf", kind: "supporting-document",
            content: Data("%PDF-1.4\n%%EOF\n".utf8), expectedVersion: read.version)
          #expect(changed.documents.count == 1)
          // Starting needs the routing: UNAVAILABLE, well within the deadline.
          let start = clock.now
          let cancelled = try await okey.cancel(requestID: request.id, expectedVersion: changed.version)
          #expect(cancelled.status == .cancelled)
          do {
            _ = try await okey.startRenewal(keyType: .software, motif: .expired)
            Issue.record("a start succeeded without the directory")
          } catch let error as OKeyClientError {
            guard error.kind == .unavailable else {
              Issue.record("expected UNAVAILABLE, got \(error)")
              return
            }
            #expect(error.message.contains("directory"))
            #expect(error.reason == .directoryUnavailable)
          }
          #expect(clock.now - start < .seconds(8))
        }
        let portal = try OKeyClientSettings(
          server: okeyd.address, token: "portal-fault-key", onBehalfOf: "ens1b", timeout: .seconds(8))
        // Acting for a person needs the directory: UNAVAILABLE, not a refusal.
        await #expect {
          _ = try await OKeyClient.with(portal) { try await $0.myRenewals() }
        } throws: { error in
          if (error as? OKeyClientError)?.kind == .unavailable { return true }
          return false
        }

        try await slapd.restart()
        let again = try await OKeyClient.with(agent) { try await $0.startRenewal(keyType: .hardware, motif: .expired) }
        #expect(again.status == .draft)
        let recovered = try await OKeyClient.with(portal) { try await $0.myRenewals() }
        #expect(recovered.renewals.isEmpty)
      }
    }
  }
}
