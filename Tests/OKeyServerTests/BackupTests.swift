import Foundation
import GRPCCore
import OKeyAPI
import OKeyServer
import OKeyStore
import OKeyTestSupport
import Synchronization
import Testing

/// The versions of a request acknowledged to the client so far.
final class Acknowledged: Sendable {
  private let versions = Mutex<[Int64]>([])
  func add(_ version: Int64) { versions.withLock { $0.append(version) } }
  var all: [Int64] { versions.withLock { $0 } }
}

@Suite("backups and restores", .serialized)
struct BackupTests {
  static func auditKey() throws -> AuditKey { AuditKey(bytes: try AuditKeyFile.read(TestAuditKey.file)) }

  /// Runs `body` on a thread of its own (the backup blocks while it copies).
  static func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
      DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
  }

  @Test(
    "a backup taken while changes go on holds every change acknowledged before it began; restored, its audit chain verifies"
  )
  func underConcurrentChanges() async throws {
    try await withTemporaryDirectory { folder in
      try await withAcademy { daemon, client in
        let agent = TestCaller.portal(client, for: "ens1a")
        let started = try await agent.renewals.startRenewal(
          .with {
            $0.keyType = .hardware
            $0.motif = .expired
          }, metadata: agent.metadata
        ).renewal
        let id = started.requestID
        let acknowledged = Acknowledged()
        let stop = Mutex(false)
        // Changes without pause: a document added, then removed, each acknowledged with its version.
        let writer = Task {
          var version = started.version
          while !stop.withLock({ $0 }) {
            let added = try await agent.renewals.addDocument(
              .with {
                $0.requestID = id
                $0.filename = "justificatif.pdf"
                $0.mediaType = "application/pdf"
                $0.kind = "supporting-document"
                $0.content = pdfBytes
                $0.expectedVersion = version
              }, metadata: agent.metadata)
            acknowledged.add(added.renewal.version)
            let removed = try await agent.renewals.removeDocument(
              .with {
                $0.requestID = id
                $0.documentID = added.document.documentID
                $0.expectedVersion = added.renewal.version
              }, metadata: agent.metadata)
            acknowledged.add(removed.renewal.version)
            version = removed.renewal.version
          }
        }
        while acknowledged.all.count < 20 { try await Task.sleep(for: .milliseconds(5)) }
        let key = try Self.auditKey()
        let source = daemon.configuration.database.path
        let copy = folder + "/backup.sqlite"
        // Everything acknowledged before the backup begins must be in it.
        let before = acknowledged.all.max() ?? 0
        let summary = try await Self.offThePool { try StoreBackup.backup(from: source, to: copy, key: key) }
        let during = acknowledged.all.count
        while acknowledged.all.count < during + 10 { try await Task.sleep(for: .milliseconds(5)) }
        stop.withLock { $0 = true }
        try await writer.value
        #expect(summary.verification.intact && summary.verification.keyed)

        let restoredPath = folder + "/restored/okey.sqlite"
        let restored = try StoreBackup.restore(from: copy, to: restoredPath, key: key)
        #expect(restored.keptAs == nil)
        let store = try SQLiteRenewalStore(path: restoredPath, auditKey: key)
        let renewal = try #require(try await store.renewal(id: id))
        #expect(renewal.version >= before, "acknowledged \(before) before the backup, restored \(renewal.version)")
        #expect(renewal.version < (acknowledged.all.max() ?? 0), "the writes after the backup are not in it")
        let verification = try await store.verifyAuditTrail()
        #expect(verification.intact, "\(verification.problems)")
        #expect(verification.eventsChecked >= renewal.version)
      }
    }
  }

  @Test(
    "okeyd backup while okeyd serves, then okeyd restore: refused while okeyd runs, done once stopped (the replaced file kept), and okeyd serves the restored state; a tampered backup is refused"
  )
  func commands() async throws {
    try await withTemporaryDirectory { folder in
      try await withSlapd { slapd in
        let portalKey = "portal-key-backup"
        let config = try writeOKeydConfig(folder: folder, slapd: slapd, portalKey: portalKey)
        let environment = ["OKEY_AUDIT_KEY_FILE": TestAuditKey.file]
        let okeydPath = TestPaths.executable("okeyd")
        var okeyd = try await OKeydProcess(arguments: ["--config", config])
        var address = try ListenAddress(parsing: okeyd.address, field: "address")
        let id = try await withClient(address) { client in
          let agent = TestCaller.portal(client, for: "ens1a", key: portalKey)
          return try await agent.renewals.startRenewal(
            .with {
              $0.keyType = .software
              $0.motif = .expired
            }, metadata: agent.metadata
          ).renewal.requestID
        }
        let backup = try await ChildProcess.run(
          okeydPath, ["backup", "--config", config, "--to", folder + "/b1.sqlite"], environment: environment)
        #expect(backup.status == 0, "\(backup.error)")
        #expect(backup.output.contains("requests: 1"), "\(backup.output)")
        #expect(backup.output.contains("audit chain verified"), "\(backup.output)")
        #expect(backup.output.contains("signatures checked with the audit key"), "\(backup.output)")
        let again = try await ChildProcess.run(
          okeydPath, ["backup", "--config", config, "--to", folder + "/b1.sqlite"], environment: environment)
        #expect(again.status != 0 && again.error.contains("never overwrites"), "\(again.error)")

        // A change after the backup: the restore takes it back.
        try await withClient(address) { client in
          let agent = TestCaller.portal(client, for: "ens1a", key: portalKey)
          _ = try await agent.renewals.cancelRenewal(
            .with {
              $0.requestID = id
              $0.expectedVersion = 1
            }, metadata: agent.metadata)
        }
        let whileRunning = try await ChildProcess.run(
          okeydPath, ["restore", "--config", config, "--from", folder + "/b1.sqlite"], environment: environment)
        #expect(whileRunning.status == 75)
        #expect(whileRunning.error.contains("in use by another okeyd"), "\(whileRunning.error)")
        // A second okeyd on the same database is refused the same way.
        let second = try await ChildProcess.run(
          okeydPath, ["--config", config, "--listen", "127.0.0.1:0"], environment: environment)
        #expect(second.status == 75, "\(second.error)")

        // A backup whose audit trail was edited is refused.
        try FileManager.default.copyItem(atPath: folder + "/b1.sqlite", toPath: folder + "/b2.sqlite")
        _ = try await sqlite3(folder + "/b2.sqlite", "UPDATE audit_events SET actor = 'someone-else';")
        #expect(try await okeyd.terminate() == 0)
        let tampered = try await ChildProcess.run(
          okeydPath, ["restore", "--config", config, "--from", folder + "/b2.sqlite"], environment: environment)
        #expect(tampered.status == 65)
        #expect(tampered.error.contains("does not verify"), "\(tampered.error)")

        let restore = try await ChildProcess.run(
          okeydPath, ["restore", "--config", config, "--from", folder + "/b1.sqlite"], environment: environment)
        #expect(restore.status == 0, "\(restore.error)")
        #expect(restore.output.contains("kept as \(folder)/okey.sqlite.before-restore-"), "\(restore.output)")

        okeyd = try await OKeydProcess(arguments: ["--config", config])
        address = try ListenAddress(parsing: okeyd.address, field: "address")
        let status = try await withClient(address) { client in
          let agent = TestCaller.portal(client, for: "ens1a", key: portalKey)
          return try await agent.renewals.getRenewal(.with { $0.requestID = id }, metadata: agent.metadata).renewal
            .status
        }
        #expect(status == .draft)
        #expect(try await okeyd.terminate() == 0)
      }
    }
  }
}
