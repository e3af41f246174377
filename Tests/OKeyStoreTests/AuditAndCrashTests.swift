import Foundation
import OKeyDomain
import OKeyStore
import OKeyTestSupport
import Testing

@Suite("store contract: audit chain, on SQLite and on PostgreSQL")
struct AuditChainTests {
  /// A store with a few requests and events (start, document, submit for three agents: 9 events).
  func withHistory(_ kind: StoreKind, _ body: (StoreUnderTest) async throws -> Void) async throws {
    try await withStore(kind) { s in
      let store = s.store
      for uid in ["ann", "ben", "cid"] {
        var r = try await start(store, uid)
        r = try await apply(store, r, .addDocument(id: "d-\(uid)", pdfDocument, sha256: "0"), by: Caller(uid: uid))
        try await apply(store, r, .submit, by: Caller(uid: uid))
      }
      let clean = try await store.verifyAuditTrail()
      #expect(clean.intact)
      #expect(clean.eventsChecked == 9)
      try await body(s)
    }
  }

  @Test("an event altered with the engine's own client is found", arguments: StoreKind.allCases)
  func altered(kind: StoreKind) async throws {
    try await withHistory(kind) { s in
      let store = s.store
      _ = try await s.sql("UPDATE audit_events SET details = 'nothing to see' WHERE sequence = 5")
      let result = try await store.verifyAuditTrail()
      #expect(!result.intact)
      #expect(result.problems.contains { $0.kind == .altered && $0.sequence == 5 })
    }
  }

  @Test(
    "a value of the wrong type written with the sqlite3 CLI (a time that is text) is read without a crash and found altered (PostgreSQL's typed columns refuse it)"
  )
  func wrongType() async throws {
    try await withHistory(.sqlite) { s in
      let store = s.store
      _ = try await s.sql("UPDATE audit_events SET at = 'yesterday' WHERE sequence = 2")
      #expect(try await store.history(renewalID: "r-ann").count == 3)
      #expect(try await store.verifyAuditTrail().problems.map(\.kind) == [.altered])
    }
  }

  @Test("an actor rewritten with the engine's own client is found", arguments: StoreKind.allCases)
  func alteredActor(kind: StoreKind) async throws {
    try await withHistory(kind) { s in
      let store = s.store
      _ = try await s.sql("UPDATE audit_events SET actor = 'boss' WHERE sequence = 2")
      #expect(try await store.verifyAuditTrail().problems.map(\.kind) == [.altered])
    }
  }

  @Test("an event removed from the middle or from the end is found", arguments: StoreKind.allCases)
  func removed(kind: StoreKind) async throws {
    try await withHistory(kind) { s in
      let store = s.store
      _ = try await s.sql("DELETE FROM audit_events WHERE sequence = 4")
      #expect(try await store.verifyAuditTrail().problems.contains { $0.kind == .removed && $0.sequence == 4 })
    }
    try await withHistory(kind) { s in
      let store = s.store
      _ = try await s.sql("DELETE FROM audit_events WHERE sequence = 9")
      #expect(try await store.verifyAuditTrail().problems.contains { $0.kind == .removed })
    }
  }

  @Test("an event inserted with a forged link is found", arguments: StoreKind.allCases)
  func inserted(kind: StoreKind) async throws {
    try await withHistory(kind) { s in
      let store = s.store
      let last = try await s.sql("SELECT hash FROM audit_events WHERE sequence = 9").trimmingCharacters(
        in: .whitespacesAndNewlines)
      _ = try await s.sql(
        "INSERT INTO audit_events (sequence, renewal_id, at, actor, role, action, to_status, details, prev_hash, hash) VALUES (10, 'r-ann', 0, 'mallory', 'APPROVER', 'approve', 'AWAITING_CHARTER', '', '\(last)', 'ffff')"
      )
      let problems = try await store.verifyAuditTrail().problems
      #expect(problems.contains { $0.kind == .inserted || $0.kind == .altered })
      #expect(problems.contains { $0.sequence == 10 })
    }
  }
}

@Suite("crash safety")
struct CrashTests {
  @Test("a writer killed with SIGKILL mid-burst leaves a sound database holding every write it acknowledged")
  func sigkill() async throws {
    try await withTemporaryDirectory { folder in
      let path = folder + "/crash.sqlite"
      _ = try SQLiteRenewalStore(path: path)
      let writer = try ChildProcess(TestPaths.executable("okey-store-writer"), [path, "100000"])
      let clock = ContinuousClock()
      let deadline = clock.now + .seconds(60)
      while writer.standardOutput.split(separator: "\n").count < 300, clock.now < deadline, writer.isRunning {
        try await Task.sleep(for: .milliseconds(10))
      }
      writer.send(SIGKILL)
      _ = try await writer.waitForExit(timeout: .seconds(10))
      // Only complete lines count as acknowledged.
      let output = writer.standardOutput
      let lines = output.hasSuffix("\n") ? output.split(separator: "\n") : output.split(separator: "\n").dropLast()
      let acknowledged = lines.compactMap { line -> String? in
        let parts = line.split(separator: " ")
        return parts.count == 3 && parts[0] == "ack" ? String(parts[1]) : nil
      }
      #expect(acknowledged.count >= 300, "the writer acknowledged only \(acknowledged.count) writes before the kill")

      let store = try SQLiteRenewalStore(path: path)
      #expect(try await store.integrityCheck() == "ok")
      for id in acknowledged {
        #expect(try await store.renewal(id: id) != nil, "acknowledged \(id) is lost")
      }
      #expect(try await store.verifyAuditTrail().intact)
      #expect(try await store.countByStatus()[.draft, default: 0] >= acknowledged.count)
    }
  }
}
