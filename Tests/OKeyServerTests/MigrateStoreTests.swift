import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import OKeyAPI
import OKeyServer
import OKeyTestSupport
import Testing

/// `okeyd migrate-store` (issue 16, point 6): a SQLite store moves into PostgreSQL once, whole, its
/// chain verified on arrival; okeyd goes on from there.
@Suite("okeyd migrate-store: SQLite into PostgreSQL", .serialized)
struct MigrateStoreTests {
  @Test(
    "requests, documents, keys and the audit chain arrive whole; okeyd on PostgreSQL carries on with them; a second run is refused and copies nothing",
    .timeLimit(.minutes(3)))
  func moveOnce() async throws {
    try await withSlapd { slapd in
      try await withPostgres { postgres in
        try await withTemporaryDirectory { folder in
          let keyFile = "audit:\n  keyFile: \(TestAuditKey.file)\n"
          let sqliteConfig = try writeOKeydConfig(folder: folder, slapd: slapd, portalKey: portalKey, extra: keyFile)
          // The same settings, the database aside.
          let postgresConfig = folder + "/okeyd-postgresql.yaml"
          try String(contentsOfFile: sqliteConfig, encoding: .utf8).replacingOccurrences(
            of: "database:\n  path: \(folder)/okey.sqlite\n",
            with: "database:\n  kind: postgresql\n  url: \(postgres.url)\n"
          ).write(toFile: postgresConfig, atomically: true, encoding: .utf8)
          // The SQLite okeyd of yesterday: a completed key, a request waiting for its N+1, a charter.
          let before = try await OKeydProcess(arguments: ["--config", sqliteConfig])
          var pending = Okey_V1_Renewal()
          var completed = Okey_V1_Renewal()
          try await withClient(try ListenAddress(parsing: before.address, field: "before")) { client in
            let dsi = try await TestCaller.session(client, "dsi-op1")
            try await dsi.publishCharter(version: "2026-11", code: "1357")
            let first = try await TestCaller.portal(client, for: "ens1a").startAndSubmit(.software)
            let n1 = try await TestCaller.session(client, "ien1")
            let approved = try await n1.approvals.approve(
              .with {
                $0.requestID = first.requestID
                $0.expectedVersion = first.version
              }, metadata: n1.metadata
            ).renewal
            completed = try await completeSoftwareKey(
              approved, agent: TestCaller.portal(client, for: "ens1a"), dsi: dsi, charterCode: "1357",
              serial: "SW-MOVED-1"
            ).renewal
            pending = try await TestCaller.portal(client, for: "ens1b").startAndSubmit(.hardware)
          }
          #expect(try await before.terminate() == 0)

          let environment = ["OKEY_DATABASE_PASSWORD": PostgresFixture.password]
          // A source whose chain was edited outside okeyd is not kept: nothing arrives.
          let file = folder + "/okey.sqlite"
          _ = try await sqlite3(file, "UPDATE audit_events SET details = details || ' (forged)' WHERE sequence = 2")
          let forged = try await ChildProcess.run(
            TestPaths.executable("okeyd"), ["migrate-store", "--from", sqliteConfig, "--to", postgresConfig],
            environment: environment, timeout: .seconds(120))
          #expect(forged.status == 65, "\(forged.output)\n\(forged.error)")
          #expect(forged.error.contains("does not verify on arrival"), "\(forged.error)")
          #expect(try await postgres.psql("SELECT COUNT(*) FROM renewals") == "0\n")
          _ = try await sqlite3(
            file, "UPDATE audit_events SET details = substr(details, 1, length(details) - 9) WHERE sequence = 2")

          let moved = try await ChildProcess.run(
            TestPaths.executable("okeyd"), ["migrate-store", "--from", sqliteConfig, "--to", postgresConfig],
            environment: environment, timeout: .seconds(120))
          #expect(moved.status == 0, "\(moved.output)\n\(moved.error)")
          #expect(moved.output.contains("renewals: 2 of 2 row(s)"), "\(moved.output)")
          #expect(moved.output.contains("audit chain verified on arrival"), "\(moved.output)")

          let again = try await ChildProcess.run(
            TestPaths.executable("okeyd"), ["migrate-store", "--from", sqliteConfig, "--to", postgresConfig],
            environment: environment, timeout: .seconds(120))
          #expect(again.status == 65, "\(again.output)\n\(again.error)")
          #expect(again.error.contains("a store is moved once"), "\(again.error)")
          #expect(try await postgres.psql("SELECT COUNT(*) FROM renewals") == "2\n")

          let after = try await OKeydProcess(arguments: ["--config", postgresConfig], environment: environment)
          defer { after.child.send(SIGKILL) }
          try await withClient(try ListenAddress(parsing: after.address, field: "after")) { client in
            let support = try await TestCaller.session(client, "helpdesk1")
            let verification = try await support.support.verifyAuditTrail(.init(), metadata: support.metadata)
            #expect(verification.intact, "\(verification.problems)")
            let done = try await support.support.getRenewal(
              .with { $0.requestID = completed.requestID }, metadata: support.metadata
            ).renewal
            #expect(done.status == .completed && done.version == completed.version)
            #expect(done.history.last?.action == "finalize")
            let keys = try await support.support.listKeys(.with { $0.uid = "ens1a" }, metadata: support.metadata)
            #expect(keys.keys.map(\.serial).contains("SW-MOVED-1"))
            // The N+1 opens the evidence moved with the request, and decides on it.
            let n1 = try await TestCaller.session(client, "ien1")
            let evidence = try await n1.renewals.getDocument(
              .with {
                $0.requestID = pending.requestID
                $0.documentID = pending.documents.first?.documentID ?? ""
              }, metadata: n1.metadata)
            #expect(evidence.content == pdfBytes)
            let current = try await support.support.getRenewal(
              .with { $0.requestID = pending.requestID }, metadata: support.metadata
            ).renewal
            let approved = try await n1.approvals.approve(
              .with {
                $0.requestID = pending.requestID
                $0.expectedVersion = current.version
              }, metadata: n1.metadata
            ).renewal
            #expect(approved.status == .awaitingCharter)
            let still = try await support.support.verifyAuditTrail(.init(), metadata: support.metadata)
            #expect(still.intact, "\(still.problems)")
          }
        }
      }
    }
  }
}
