import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import OKeyAPI
import OKeyServer
import OKeyTestSupport
import Testing

/// Two okeyd processes on one PostgreSQL (issue 16): the procedure crosses them, watchers and
/// sessions see through them, and one of them dying loses nothing it acknowledged.
@Suite("okeyd replicas on one PostgreSQL", .serialized)
struct ReplicaTests {
  /// Runs `body` with slapd, a PostgreSQL cluster and two okeyd processes on it (A and B), each
  /// with a client; kills whatever is left at the end.
  func withReplicas(
    _ body: (PostgresFixture, [OKeydProcess], [GRPCClient<HTTP2ClientTransport.Posix>]) async throws -> Void
  ) async throws {
    try await withSlapd { slapd in
      try await withPostgres { postgres in
        try await withTemporaryDirectory { folder in
          let config = try writeOKeydConfig(
            folder: folder, slapd: slapd, portalKey: portalKey)
          let environment = [
            "OKEY_DATABASE_KIND": "postgresql", "OKEY_DATABASE_URL": postgres.url,
            "OKEY_DATABASE_PASSWORD": PostgresFixture.password,
          ]
          let a = try await OKeydProcess(arguments: ["--config", config], environment: environment)
          defer { a.child.send(SIGKILL) }
          let b = try await OKeydProcess(arguments: ["--config", config], environment: environment)
          defer { b.child.send(SIGKILL) }
          try await withClient(try ListenAddress(parsing: a.address, field: "A")) { clientA in
            try await withClient(try ListenAddress(parsing: b.address, field: "B")) { clientB in
              try await body(postgres, [a, b], [clientA, clientB])
            }
          }
        }
      }
    }
  }

  @Test(
    "a request started through A is approved and finalised through B while A's WatchRenewal stream follows every step; the trail is one chain",
    .timeLimit(.minutes(3)))
  func procedureAcrossReplicas() async throws {
    try await withReplicas { _, _, clients in
      let (a, b) = (clients[0], clients[1])
      let agentOnA = TestCaller.portal(a, for: "ens1a")
      let dsiOnB = try await TestCaller.session(b, "dsi-op1")
      let n1OnB = try await TestCaller.session(b, "ien1")
      try await dsiOnB.publishCharter(version: "2026-12", code: "2468")
      let submitted = try await agentOnA.startAndSubmit(.software)
      #expect(submitted.status == .pendingApproval)

      let watcher = Task {
        try await agentOnA.renewals.watchRenewal(
          .with { $0.requestID = submitted.requestID }, metadata: agentOnA.metadata
        ) { response in
          var seen: [Okey_V1_RenewalStatus] = []
          for try await message in response.messages where seen.last != message.renewal.status {
            seen.append(message.renewal.status)
          }
          return seen
        }
      }
      // The stream is open once its first message came: give it that moment.
      try await Task.sleep(for: .milliseconds(500))
      let approved = try await n1OnB.approvals.approve(
        .with {
          $0.requestID = submitted.requestID
          $0.expectedVersion = submitted.version
        }, metadata: n1OnB.metadata
      ).renewal
      #expect(approved.status == .awaitingEnrolment)
      let (_, completed) = try await completeSoftwareKey(
        approved, agent: agentOnA, dsi: dsiOnB, charterCode: "2468", serial: "SW-REPLICA-1")
      #expect(completed.status == .completed)
      let seen = try await withTimeLimit(.seconds(10), "A's watcher reaching COMPLETED") { try await watcher.value }
      #expect(seen.first == .pendingApproval && seen.last == .completed, "\(seen)")
      #expect(seen.contains(.awaitingEnrolment) && seen.contains(.awaitingDsi), "\(seen)")

      let support = try await TestCaller.session(a, "helpdesk1")
      let verification = try await support.support.verifyAuditTrail(.init(), metadata: support.metadata)
      #expect(verification.intact, "\(verification.problems)")
      let history = try await support.support.getRenewal(
        .with { $0.requestID = submitted.requestID }, metadata: support.metadata
      ).renewal.history
      #expect(history.map(\.action).contains("approve") && history.last?.action == "finalize")
    }
  }

  @Test("a session opened through A works through B; after logout through A, B refuses it on the next call")
  func sharedSessions() async throws {
    try await withReplicas { _, _, clients in
      let (a, b) = (clients[0], clients[1])
      let onA = try await TestCaller.session(a, "ens1a")
      let onB = TestCaller(b, name: "ens1a on B", metadata: onA.metadata)
      #expect(try await onB.auth.whoAmI(.init(), metadata: onB.metadata).principal.uid == "ens1a")
      _ = try await onA.auth.logout(.init(), metadata: onA.metadata)
      let refused = await failure { _ = try await onB.auth.whoAmI(.init(), metadata: onB.metadata) }
      #expect(refused?.code == .unauthenticated)
    }
  }

  @Test("failed logins through A lock the person out through B too; another person is not held")
  func sharedLockout() async throws {
    try await withReplicas { _, _, clients in
      let (a, b) = (clients[0], clients[1])
      for _ in 0..<5 {
        let wrong = await failure {
          _ = try await Okey_V1_AuthService.Client(wrapping: a).login(
            .with {
              $0.uid = "ens1b"
              $0.password = "not-the-password"
            })
        }
        #expect(wrong?.code == .unauthenticated)
      }
      let held = await failure {
        _ = try await Okey_V1_AuthService.Client(wrapping: b).login(
          .with {
            $0.uid = "ens1b"
            $0.password = SlapdFixture.personPassword
          })
      }
      #expect(held?.code == .resourceExhausted && held?.reason == "LOGIN_THROTTLED", "\(String(describing: held))")
      let other = try await TestCaller.session(b, "ens1a")
      #expect(other.name == "ens1a")
    }
  }

  @Test(
    "PostgreSQL stopped: calls fail UNAVAILABLE within the database deadline; restarted: the same okeyd serves again",
    .timeLimit(.minutes(3)))
  func databaseOutage() async throws {
    try await withReplicas { postgres, _, clients in
      let agent = TestCaller.portal(clients[0], for: "ens1a")
      let draft = try await agent.renewals.startRenewal(
        .with {
          $0.keyType = .software
          $0.motif = .expired
        }, metadata: agent.metadata
      ).renewal
      try await postgres.stop()
      let clock = ContinuousClock()
      let began = clock.now
      let down = await failure {
        _ = try await agent.renewals.getRenewal(.with { $0.requestID = draft.requestID }, metadata: agent.metadata)
      }
      #expect(down?.code == .unavailable && down?.reason == "STORE_UNAVAILABLE", "\(String(describing: down))")
      #expect(clock.now - began < .seconds(15), "within database.timeoutSeconds (5 s) and the call's own work")
      try await postgres.restart()
      var back: Okey_V1_Renewal?
      for _ in 0..<40 where back == nil {
        back = try? await agent.renewals.getRenewal(
          .with { $0.requestID = draft.requestID }, metadata: agent.metadata
        ).renewal
        if back == nil { try await Task.sleep(for: .milliseconds(250)) }
      }
      #expect(back?.version == draft.version)
      // Changes go through again, on both replicas.
      let other = TestCaller.portal(clients[1], for: "ens1a")
      let cancelled = try await other.renewals.cancelRenewal(
        .with {
          $0.requestID = draft.requestID
          $0.expectedVersion = draft.version
        }, metadata: other.metadata
      ).renewal
      #expect(cancelled.status == .cancelled)
    }
  }

  @Test(
    "SIGKILL of one replica under load: every acknowledged change is there, the chain verifies, the other keeps serving",
    .timeLimit(.minutes(3)))
  func replicaKilled() async throws {
    try await withReplicas { _, processes, clients in
      let (a, b) = (clients[0], clients[1])
      let agents = ["ens1a", "ens1b", "ens-clg", "ens2a"]
      // Each agent starts and cancels requests through A, as fast as A answers, until A dies.
      let acknowledged = AcknowledgedVersions()
      let load = Task {
        await withTaskGroup(of: Void.self) { group in
          for uid in agents {
            group.addTask {
              let agent = TestCaller.portal(a, for: uid)
              while !Task.isCancelled {
                guard
                  let draft = try? await agent.renewals.startRenewal(
                    .with {
                      $0.keyType = .software
                      $0.motif = .expired
                    }, metadata: agent.metadata
                  ).renewal
                else { return }
                await acknowledged.add(draft.requestID, version: draft.version)
                guard
                  let cancelled = try? await agent.renewals.cancelRenewal(
                    .with {
                      $0.requestID = draft.requestID
                      $0.expectedVersion = draft.version
                    }, metadata: agent.metadata
                  ).renewal
                else { return }
                await acknowledged.add(cancelled.requestID, version: cancelled.version)
              }
            }
          }
        }
      }
      try await Task.sleep(for: .seconds(2))
      processes[0].child.send(SIGKILL)
      _ = try await processes[0].child.waitForExit(timeout: .seconds(10))
      load.cancel()
      await load.value
      let seen = await acknowledged.versions
      #expect(seen.count > 4, "the load ran (\(seen.count) requests)")

      let support = try await TestCaller.session(b, "helpdesk1")
      var missing: [String] = []
      for (id, version) in seen {
        let stored = try await support.support.getRenewal(.with { $0.requestID = id }, metadata: support.metadata)
          .renewal
        if stored.version < version { missing.append("\(id) at \(stored.version), acknowledged \(version)") }
      }
      #expect(missing.isEmpty, "\(missing)")
      let verification = try await support.support.verifyAuditTrail(.init(), metadata: support.metadata)
      #expect(verification.intact, "\(verification.problems)")
      // B keeps serving: a request goes through it from start to submission.
      let agentOnB = TestCaller.portal(b, for: "ens1b")
      for open in try await agentOnB.renewals.listMyRenewals(.init(), metadata: agentOnB.metadata).renewals
      where open.status == .draft {
        _ = try await agentOnB.renewals.cancelRenewal(
          .with {
            $0.requestID = open.requestID
            $0.expectedVersion = open.version
          }, metadata: agentOnB.metadata)
      }
      #expect(try await agentOnB.startAndSubmit(.software).status == .pendingApproval)
    }
  }
}

/// The changes the load saw acknowledged: the highest version of each request.
actor AcknowledgedVersions {
  private(set) var versions: [String: Int64] = [:]

  func add(_ id: String, version: Int64) { versions[id] = max(versions[id] ?? 0, version) }
}
