import Foundation
import OKeyDomain
import OKeyPostgresStore
import OKeyStore
import OKeyTestSupport
import Testing

/// What two stores on one database must agree on: for SQLite a restart or a repair tool on the
/// same file, for PostgreSQL two okeyd replicas.
@Suite("store contract: two stores on one database (outbox, sessions, one chain)")
struct SharedStoreTests {
  @Test(
    "due messages claimed by two stores at once are each claimed once; sent, retried, then dead after the last try",
    arguments: StoreKind.allCases)
  func outboxClaims(kind: StoreKind) async throws {
    try await withStore(kind) { s in
      let store = s.store
      let other = try await s.another()
      // Twelve requests routed: twelve mails to the N+1.
      for index in 0..<12 {
        var r = try await start(store, "agent\(index)")
        r = try await apply(
          store, r, .addDocument(id: "d\(index)", pdfDocument, sha256: "0"), by: Caller(uid: r.agentUID))
        try await apply(store, r, .submit, by: Caller(uid: r.agentUID))
      }
      #expect(try await store.outboxCount(state: .pending) == 12)
      let now = base.adding(seconds: 3_600)
      let claims = try await withThrowingTaskGroup(of: [OutboxMessage].self) { group in
        for claimer in [store, other, store, other] {
          group.addTask { try await claimer.claimDueOutboxMessages(now: now, limit: 5) }
        }
        return try await group.reduce(into: []) { $0.append($1) }
      }
      let claimed = claims.flatMap { $0 }.map(\.id)
      #expect(claimed.count == 12, "\(claims.map { $0.map(\.id) })")
      #expect(Set(claimed).count == 12, "a message claimed twice: \(claimed.sorted())")
      #expect(try await other.claimDueOutboxMessages(now: now, limit: 5).isEmpty)
      #expect(try await store.outboxCount(state: .sending) == 12)

      let first = try #require(claimed.min())
      try await store.markOutboxMessageSent(id: first, at: now)
      let second = try #require(claimed.sorted().dropFirst().first)
      try await other.markOutboxMessageFailed(id: second, error: "relay down", retryAt: now.adding(seconds: 60))
      #expect(try await store.outboxCount(state: .sent) == 1)
      // Not due yet, then due: claimed again, and dead after its last try.
      #expect(try await store.claimDueOutboxMessages(now: now, limit: 5).isEmpty)
      let retried = try await store.claimDueOutboxMessages(now: now.adding(seconds: 61), limit: 5)
      #expect(retried.map(\.id) == [second])
      try await store.markOutboxMessageFailed(id: second, error: "relay down", retryAt: nil)
      let dead = try await other.outboxMessages(state: .dead, limit: 10)
      #expect(dead.map(\.id) == [second] && dead.first?.attempts == 2 && dead.first?.lastError == "relay down")
      // A claim whose sender never came back is taken again once stale.
      let stale = try await other.claimDueOutboxMessages(
        now: now.adding(seconds: 7_200), limit: 20, reclaimingBefore: now.adding(seconds: 3_600))
      #expect(stale.count == 10)
    }
  }

  @Test(
    "a session saved through one store is found through the other; a logout through one is seen by the other at once",
    arguments: StoreKind.allCases)
  func sharedSessions(kind: StoreKind) async throws {
    try await withStore(kind) { s in
      let store = s.store
      let other = try await s.another()
      try await store.saveSession(
        StoredSession(
          tokenHash: "h1", uid: "gus", createdAt: base, expiresAt: base.adding(seconds: 3_600), dn: "uid=gus",
          displayName: "Gus", mail: "gus@ac.test", groups: [.dsi]))
      let found = try await other.session(tokenHash: "h1", now: base.adding(seconds: 1))
      #expect(found?.uid == "gus" && found?.groups == [.dsi] && found?.mail == "gus@ac.test")
      #expect(try await other.deleteSession(tokenHash: "h1"))
      #expect(try await store.session(tokenHash: "h1", now: base.adding(seconds: 2)) == nil)
      #expect(try await store.deleteSession(tokenHash: "h1") == false)
    }
  }

  @Test(
    "changes appended through two stores at once make one chain that verifies, with no sequence taken twice",
    arguments: StoreKind.allCases)
  func oneChain(kind: StoreKind) async throws {
    try await withStore(kind) { s in
      let store = s.store
      let other = try await s.another()
      try await withThrowingTaskGroup(of: Void.self) { group in
        for index in 0..<8 {
          let through = index.isMultiple(of: 2) ? store : other
          group.addTask {
            var r = try await start(through, "writer\(index)")
            r = try await apply(
              through, r, .addDocument(id: "w\(index)", pdfDocument, sha256: "0"), by: Caller(uid: r.agentUID))
            try await apply(through, r, .submit, by: Caller(uid: r.agentUID))
          }
        }
        try await group.waitForAll()
      }
      let verification = try await other.verifyAuditTrail()
      #expect(verification.intact, "\(verification.problems)")
      #expect(verification.eventsChecked == 24 && verification.requestsChecked == 8)
      #expect(try await store.auditHead().sequence == 24)
    }
  }

  @Test(
    "a sweep runs on one store at a time: while one holds the job, the other's turn is skipped; free again after")
  func oneSweepAtATime() async throws {
    try await withStore(.postgresql) { s in
      let store = s.store
      let other = try await s.another()
      let (entered, enter) = AsyncStream.makeStream(of: Void.self)
      let (leave, allowLeaving) = AsyncStream.makeStream(of: Void.self)
      let holder = Task {
        try await store.exclusively("okey-retention-sweep") {
          enter.yield()
          for await _ in leave { break }
          return "held"
        }
      }
      for await _ in entered { break }
      #expect(try await other.exclusively("okey-retention-sweep") { "ran" } == nil)
      #expect(try await other.exclusively("okey-escalation-and-reminders") { "ran" } == "ran")
      allowLeaving.yield()
      #expect(try await holder.value == "held")
      #expect(try await other.exclusively("okey-retention-sweep") { "ran" } == "ran")
    }
    // One okeyd per SQLite file: the job always runs.
    try await withStore(.sqlite) { s in
      let ran = try await s.store.exclusively("okey-retention-sweep") { "ran" }
      #expect(ran == "ran")
    }
  }

  @Test("a request changed with the engine's own client is refused, not signed over", arguments: StoreKind.allCases)
  func tamperedRow(kind: StoreKind) async throws {
    try await withStore(kind) { s in
      let store = s.store
      var r = try await start(store, "hal")
      r = try await apply(store, r, .addDocument(id: "d", pdfDocument, sha256: "0"), by: Caller(uid: "hal"))
      _ = try await s.sql("UPDATE renewals SET state_json = replace(state_json, 'hal@ac.test', 'evil@ac.test')")
      let error = await #expect(throws: StoreError.self) {
        try await apply(store, r, .submit, by: Caller(uid: "hal"))
      }
      #expect(error?.code == .tampered)
      let problems = try await store.verifyAuditTrail().problems
      #expect(problems.contains { $0.kind == .stateMismatch && $0.renewalID == r.id }, "\(problems)")
    }
  }
}

@Suite("PostgreSQL store: schema and configuration")
struct PostgresSchemaTests {
  @Test(
    "a new database gets every migration, a second store finds nothing to do, and a database a newer okeyd wrote is refused"
  )
  func migrations() async throws {
    try await withStore(.postgresql) { s in
      let store = try #require(s.store as? PostgresRenewalStore)
      let applied = try await store.appliedMigrations()
      #expect(!applied.isEmpty)
      let second = try #require(try await s.another() as? PostgresRenewalStore)
      #expect(try await second.appliedMigrations() == applied)
      _ = try await s.sql("INSERT INTO okey_migrations (identifier, applied_at) VALUES ('pg999', 0)")
      let error = await #expect(throws: StoreError.self) { _ = try await s.another() }
      #expect(error?.code == .schemaTooNew)
    }
  }

  @Test("database.url: the role, host, port, database and TLS are read; a password in it is refused")
  func url() throws {
    let parsed = try PostgresStoreConfiguration(
      url: "postgres://okey@db.ac-test.fr:5433/okey_prod?sslmode=require", password: "secret")
    #expect(parsed.host == "db.ac-test.fr" && parsed.port == 5433 && parsed.username == "okey")
    #expect(parsed.database == "okey_prod" && parsed.requireTLS && parsed.password == "secret")
    #expect(try PostgresStoreConfiguration(url: "postgresql://okey@db/okey", password: nil).requireTLS == false)
    for bad in [
      "postgres://okey:secret@db/okey", "mysql://okey@db/okey", "postgres://db/okey", "postgres://okey@db/",
      "postgres://okey@db/okey?sslmode=allow",
    ] {
      #expect(throws: StoreError.self, "\(bad)") { try PostgresStoreConfiguration(url: bad, password: nil) }
    }
  }

  @Test("a stopped server fails calls UNAVAILABLE within the deadline; once restarted, the same store works again")
  func outage() async throws {
    try await withPostgres { postgres in
      let store = try await PostgresRenewalStore.open(
        try PostgresStoreConfiguration(
          url: postgres.url, password: PostgresFixture.password, poolSize: 2, operationTimeout: .seconds(3)))
      try await start(store, "ivy")
      try await postgres.stop()
      let clock = ContinuousClock()
      let began = clock.now
      let error = await #expect(throws: StoreError.self) { _ = try await store.renewal(id: "r-ivy") }
      #expect(error?.code == .unavailable)
      #expect(clock.now - began < .seconds(10), "the failure came within the deadline")
      try await postgres.restart()
      var back: RenewalRequest?
      for _ in 0..<20 where back == nil {
        back = try? await store.renewal(id: "r-ivy")
        if back == nil { try await Task.sleep(for: .milliseconds(250)) }
      }
      #expect(back?.agentUID == "ivy")
      await store.close()
    }
  }
}
