import Foundation
import OKeyClient
import OKeyTestSupport
import Synchronization
import Testing

/// What the clients saw succeed: request id and the version returned.
final class Acknowledged: Sendable {
  let entries = Mutex<[String: Int64]>([:])
  func record(_ renewal: Renewal) { entries.withLock { $0[renewal.id] = max($0[renewal.id] ?? 0, renewal.version) } }
  var all: [String: Int64] { entries.withLock { $0 } }
}

/// okeyd's configuration for fault tests: the slapd, a portal account, a database file.
func faultConfig(folder: String, slapd: SlapdFixture, cacheTTL: Double = 60) throws -> String {
  let path = folder + "/okeyd.yaml"
  try """
    plaintext: true
    database:
      path: \(folder)/okey.sqlite
    directory:
      uri: \(slapd.uri)
      bindPassword: \(SlapdFixture.servicePassword)
      cacheTTLSeconds: \(cacheTTL)
      networkTimeoutSeconds: 1
      operationTimeoutSeconds: 2
    mail:
      enabled: false
    serviceAccounts:
      - name: portal
        keySHA256: \(sha256Hex("portal-fault-key"))
    """.write(toFile: path, atomically: true, encoding: .utf8)
  return path
}

@Suite("fault proofs", .serialized)
struct FaultTests {
  @Test("okeyd killed with SIGKILL under load loses no change a client saw succeed, and the audit chain verifies")
  func sigkillUnderLoad() async throws {
    try await withSlapd { slapd in
      try await withTemporaryDirectory { folder in
        let config = try faultConfig(folder: folder, slapd: slapd)
        let okeyd = try await OKeydProcess(arguments: ["--config", config])
        let acknowledged = Acknowledged()
        let agents = ["ens1a", "ens1b", "ens-clg", "ens-lyc", "ens2b", "rect-agent"]
        let settings = try OKeyClientSettings(server: okeyd.address, token: "portal-fault-key", timeout: .seconds(5))
        let load = Task {
          await withTaskGroup(of: Void.self) { group in
            for agent in agents {
              group.addTask {
                var client = settings
                client.onBehalfOf = agent
                try? await OKeyClient.with(client) { okey in
                  for _ in 0..<10_000 {
                    do {
                      var r = try await okey.startRenewal(keyType: .hardware, motif: .expired)
                      acknowledged.record(r)
                      r = try await okey.addDocument(requestID: r.id, filename: "p.pdf", kind: "supporting-document", content: Data("%PDF-1.4 x".utf8), expectedVersion: r.version)
                      acknowledged.record(r)
                      r = try await okey.cancel(requestID: r.id, expectedVersion: r.version)
                      acknowledged.record(r)
                    } catch {
                      return
                    }
                  }
                }
              }
            }
          }
        }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        while acknowledged.all.count < 30, clock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        okeyd.child.send(SIGKILL)
        _ = try await okeyd.child.waitForExit(timeout: .seconds(10))
        await load.value
        let seen = acknowledged.all
        #expect(seen.count >= 30)

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
          let audit = try await support.verifyAuditTrail()
          #expect(audit.intact, "\(audit.problems)")
        }
      }
    }
  }

  @Test("with slapd stopped, calls that need the directory fail UNAVAILABLE within their deadline, the others keep working, and all recover")
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
        let request = try await OKeyClient.with(agent) { try await $0.startRenewal(keyType: .software, motif: .expired) }

        try await slapd.stop()
        let clock = ContinuousClock()
        try await OKeyClient.with(agent) { okey in
          // Reading and changing a request need no directory: they keep working.
          let read = try await okey.renewal(request.id)
          #expect(read.id == request.id)
          let changed = try await okey.addDocument(requestID: request.id, filename: "a.pdf", kind: "supporting-document", content: Data("%PDF-1.4".utf8), expectedVersion: read.version)
          #expect(changed.documents.count == 1)
          // Starting needs the routing: UNAVAILABLE, well within the deadline.
          let start = clock.now
          let cancelled = try await okey.cancel(requestID: request.id, expectedVersion: changed.version)
          #expect(cancelled.status == .cancelled)
          do {
            _ = try await okey.startRenewal(keyType: .software, motif: .expired)
            Issue.record("a start succeeded without the directory")
          } catch let error as OKeyClientError {
            guard case .unavailable(let message) = error else {
              Issue.record("expected UNAVAILABLE, got \(error)")
              return
            }
            #expect(message.contains("directory"))
          }
          #expect(clock.now - start < .seconds(8))
        }
        let portal = try OKeyClientSettings(server: okeyd.address, token: "portal-fault-key", onBehalfOf: "ens1b", timeout: .seconds(8))
        await #expect(throws: OKeyClientError.self) { _ = try await OKeyClient.with(portal) { try await $0.myRenewals() } }

        try await slapd.restart()
        let again = try await OKeyClient.with(agent) { try await $0.startRenewal(keyType: .hardware, motif: .expired) }
        #expect(again.status == .draft)
        let recovered = try await OKeyClient.with(portal) { try await $0.myRenewals() }
        #expect(recovered.renewals.isEmpty)
      }
    }
  }
}
