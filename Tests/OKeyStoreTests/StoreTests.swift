import Foundation
import OKeyDomain
import OKeyStore
import OKeyTestSupport
import Testing

@Suite("SQLite store: schema and durability")
struct SchemaTests {
  @Test(
    "a new file gets every migration, and the writer runs at the durability chosen",
    arguments: [Durability.full, .normal])
  func fromEmpty(durability: Durability) async throws {
    try await withStore(durability: durability) { store, _ in
      let migrations = try await store.appliedMigrations()
      #expect(migrations == SQLiteRenewalStore.knownMigrations)
      #expect(try await store.writerSynchronousLevel() == durability.pragmaValue)
      #expect(try await store.integrityCheck() == "ok")
    }
  }

  @Test(
    "a database at each earlier version upgrades to the latest and keeps its data",
    arguments: SQLiteRenewalStore.knownMigrations.dropLast())
  func upgrade(from version: String) async throws {
    try await withTemporaryDirectory { folder in
      let path = folder + "/old.sqlite"
      try SQLiteRenewalStore.migrate(path: path, upTo: version)
      let request = try RenewalWorkflow.start(
        id: "old-1", actor: Caller(uid: "olduser"), keyType: .software, motif: .lost, motifDetails: "",
        routing: routingFor("olduser"),
        openRequestID: nil, now: base
      ).get().renewal
      let json = String(decoding: try JSONEncoder().encode(request), as: UTF8.self).replacingOccurrences(
        of: "'", with: "''")
      _ = try await sqlite3(
        path,
        "INSERT INTO renewals (id, agent_uid, key_type, status, version, n1_uid, routed, created_at, updated_at, state_json) VALUES ('old-1', 'olduser', 'software', 'DRAFT', 1, 'boss', 0, \(base.millisecondsSinceEpoch), \(base.millisecondsSinceEpoch), '\(json)')"
      )
      let store = try SQLiteRenewalStore(path: path)
      #expect(try await store.appliedMigrations() == SQLiteRenewalStore.knownMigrations)
      #expect(try await store.renewal(id: "old-1") == request)
      // The newest tables work.
      try await store.saveSession(
        StoredSession(tokenHash: "h", uid: "olduser", createdAt: base, expiresAt: base.adding(seconds: 60)))
      #expect(try await store.session(tokenHash: "h", now: base)?.uid == "olduser")
      #expect(try await store.integrityCheck() == "ok")
    }
  }
}

@Suite("store contract: changes, on SQLite and on PostgreSQL")
struct ChangeTests {
  @Test("a change writes the new state, its audit events and its outbox rows together", arguments: StoreKind.allCases)
  func oneTransaction(kind: StoreKind) async throws {
    try await withStore(kind) { s in
      let store = s.store
      var r = try await start(store, "alice")
      r = try await apply(store, r, .addDocument(id: "d1", pdfDocument, sha256: "abc"), by: Caller(uid: "alice"))
      r = try await apply(store, r, .submit, by: Caller(uid: "alice"))
      #expect(r.status == .pendingApproval)
      #expect(r.version == 3)
      #expect(try await store.renewal(id: r.id) == r)
      #expect(try await store.history(renewalID: r.id).map(\.event.action) == ["start", "add-document", "submit"])
      #expect(try await store.documentContent(id: "d1") == pdfDocument.content)
      let outbox = try await store.outboxMessages(state: .pending, limit: 10)
      #expect(outbox.map(\.kind) == [.validatorRouted])
      #expect(outbox.first?.recipient?.uid == "boss")
      #expect(outbox.first?.messageID.hasSuffix("@okey>") == true)
      #expect(try await s.sql("SELECT COUNT(*) FROM routing_snapshots WHERE renewal_id = 'r-alice'") == "1\n")
    }
  }

  @Test("a change that fails half-way writes nothing: no state, no event, no outbox row", arguments: StoreKind.allCases)
  func atomicFailure(kind: StoreKind) async throws {
    try await withStore(kind) { s in
      let store = s.store
      try await store.importKeys([
        KeyRecord(serial: "TAKEN", agentUID: "someone-else", keyType: .software, status: .active, activatedAt: base)
      ])
      var r = try await start(store, "bob", keyType: .software)
      r = try await apply(store, r, .addDocument(id: "d1", pdfDocument, sha256: "0"), by: Caller(uid: "bob"))
      r = try await apply(store, r, .submit, by: Caller(uid: "bob"))
      r = try await apply(store, r, .approve(comment: ""), by: Caller(uid: "boss"))
      r = try await apply(store, r, .choosePlatform(.ios), by: Caller(uid: "bob"))
      r = try await apply(store, r, .confirmEnrolment(comment: ""), by: dsiActor)
      r = try await apply(
        store, r, .signCharter(code: "4821", acknowledged: true, current: charter), by: Caller(uid: "bob"))
      let events = try await store.history(renewalID: r.id).count
      let outbox = try await s.sql("SELECT COUNT(*) FROM outbox")
      let error = await #expect(throws: StoreError.self) {
        try await apply(store, r, .finalize(serial: "TAKEN", place: nil), by: dsiActor)
      }
      #expect(error?.code == .conflict)
      #expect(try await store.renewal(id: r.id) == r)
      #expect(try await store.history(renewalID: r.id).count == events)
      #expect(try await s.sql("SELECT COUNT(*) FROM outbox") == outbox)
      #expect(try await store.keys(agentUID: "bob").isEmpty)
      #expect(try await store.verifyAuditTrail().intact)
      // The next change decides on the committed state, not on the one rolled back.
      let finalized = try await apply(
        store, r, .finalize(serial: "NEW-1", place: nil), by: dsiActor, version: r.version)
      #expect(finalized.version == r.version + 1)
      #expect(try await store.keys(agentUID: "bob").map(\.serial) == ["NEW-1"])
    }
  }

  @Test(
    "a change decides on the stored request when another writer changed it since this store last did",
    arguments: StoreKind.allCases)
  func anotherWriter(kind: StoreKind) async throws {
    try await withStore(kind) { s in
      let store = s.store
      var r = try await start(store, "dora", keyType: .software)
      r = try await apply(store, r, .addDocument(id: "d1", pdfDocument, sha256: "0"), by: Caller(uid: "dora"))
      // A second store on the same database (a restart, a repair tool, another replica) adds a document.
      let other = try await s.another()
      let changedElsewhere = try await apply(
        other, r, .addDocument(id: "d2", pdfDocument, sha256: "1"), by: Caller(uid: "dora"))
      // This store still knows the request at the version before: it must read the row again.
      let submitted = try await apply(store, r, .submit, by: Caller(uid: "dora"), version: changedElsewhere.version)
      #expect(submitted.version == changedElsewhere.version + 1)
      #expect(submitted.documents.map(\.id) == ["d1", "d2"])
      #expect(try await store.renewal(id: r.id) == submitted)
      #expect(try await store.verifyAuditTrail().intact)
    }
  }

  @Test("completion replaces the agent's old key and activates the new one", arguments: StoreKind.allCases)
  func keyInventory(kind: StoreKind) async throws {
    try await withStore(kind) { s in
      let store = s.store
      try await store.importKeys([
        KeyRecord(serial: "OLD-1", agentUID: "carol", keyType: .hardware, status: .active, activatedAt: base)
      ])
      try await store.publishCharter(charter)
      try await store.savePickupPlace(
        place,
        addingSlots: [
          PickupSlot(
            id: "s1", placeID: "rectorat", startsAt: base.adding(seconds: 86_400), endsAt: base.adding(seconds: 90_000),
            capacity: 1)
        ])
      var r = try await readyForPickup(store, "carol")
      r = try await apply(
        store, r, .bookPickup(try #require(try await store.pickupSlot(id: "s1"))), by: Caller(uid: "carol"))
      r = try await apply(store, r, .recordHandover(comment: ""), by: dsiActor)
      #expect(r.status == .completed)
      let keys = try await store.keys(agentUID: "carol")
      #expect(keys.first { $0.serial == "OLD-1" }?.status == .replaced)
      #expect(keys.first { $0.serial == "HW-carol" }?.status == .active)
      #expect(try await store.pickupSlot(id: "s1")?.booked == 1)
    }
  }

  @Test("one open request per agent, even for two starts at once", arguments: StoreKind.allCases)
  func oneOpenRequest(kind: StoreKind) async throws {
    try await withStore(kind) { s in
      let store = s.store
      let results = await withTaskGroup(of: Result<RenewalRequest, any Error>.self) { group in
        for index in 0..<2 {
          group.addTask {
            do { return .success(try await start(store, "dave", id: "dave-\(index)")) } catch { return .failure(error) }
          }
        }
        return await group.reduce(into: []) { $0.append($1) }
      }
      #expect(results.filter { (try? $0.get()) != nil }.count == 1)
      let refusal = results.compactMap { result -> RenewalRefusal? in
        if case .failure(let error) = result { return error as? RenewalRefusal }
        return nil
      }.first
      #expect(refusal?.code == .openRequestExists)
      let stored = try await store.search(RenewalQuery()).renewals
      #expect(stored.count == 1)
    }
  }

  @Test(
    "two concurrent changes from the same version: exactly one wins, the other is stale", arguments: StoreKind.allCases)
  func concurrentChanges(kind: StoreKind) async throws {
    try await withStore(kind) { s in
      let store = s.store
      var r = try await start(store, "erin")
      r = try await apply(store, r, .addDocument(id: "d", pdfDocument, sha256: "0"), by: Caller(uid: "erin"))
      r = try await apply(store, r, .submit, by: Caller(uid: "erin"))
      let seen = r
      let outcomes = await withTaskGroup(of: Result<RenewalRequest, any Error>.self) { group in
        group.addTask {
          do {
            return .success(
              try await apply(store, seen, .approve(comment: "n1"), by: Caller(uid: "boss"), version: seen.version))
          } catch {
            return .failure(error)
          }
        }
        group.addTask {
          do {
            return .success(
              try await apply(
                store, seen, .reject(reason: "n2 says no"), by: Caller(uid: "bigboss"), version: seen.version))
          } catch {
            return .failure(error)
          }
        }
        return await group.reduce(into: []) { $0.append($1) }
      }
      #expect(outcomes.filter { (try? $0.get()) != nil }.count == 1)
      let loser = outcomes.compactMap { outcome -> RenewalRefusal? in
        if case .failure(let error) = outcome { return error as? RenewalRefusal }
        return nil
      }
      #expect(loser.map(\.code) == [.staleVersion])
      let final = try #require(try await store.renewal(id: r.id))
      #expect(final.version == seen.version + 1)
      #expect(
        try await store.history(renewalID: r.id).filter { ["approve", "reject"].contains($0.event.action) }.count == 1)
    }
  }

  @Test("concurrent bookings never exceed a slot's capacity", arguments: StoreKind.allCases)
  func concurrentBookings(kind: StoreKind) async throws {
    try await withStore(kind, durability: .normal) { s in
      let store = s.store
      try await store.publishCharter(charter)
      try await store.savePickupPlace(
        place,
        addingSlots: [
          PickupSlot(
            id: "busy", placeID: "rectorat", startsAt: base.adding(seconds: 86_400),
            endsAt: base.adding(seconds: 90_000), capacity: 3)
        ])
      var ready: [RenewalRequest] = []
      for index in 0..<12 { ready.append(try await readyForPickup(store, "agent\(index)")) }
      let booked = await withTaskGroup(of: Bool.self) { group in
        for request in ready {
          group.addTask {
            let slot = PickupSlot(
              id: "busy", placeID: "rectorat", startsAt: base.adding(seconds: 86_400),
              endsAt: base.adding(seconds: 90_000), capacity: 3)
            return (try? await apply(store, request, .bookPickup(slot), by: Caller(uid: request.agentUID))) != nil
          }
        }
        return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
      }
      #expect(booked == 3)
      #expect(try await store.pickupSlot(id: "busy")?.booked == 3)
      #expect(
        try await store.search(
          {
            var q = RenewalQuery()
            q.statuses = [.pickupBooked]
            return q
          }()
        ).renewals.count == 3)
    }
  }

  @Test(
    "a retried start or submit with the same idempotency key returns the first result and writes once",
    arguments: StoreKind.allCases)
  func idempotency(kind: StoreKind) async throws {
    try await withStore(kind) { s in
      let store = s.store
      let first = try await start(store, "fay", id: "fay-1", key: "k-start")
      let retry = try await start(store, "fay", id: "fay-2", key: "k-start")
      #expect(retry == first)
      var r = try await apply(store, first, .addDocument(id: "d", pdfDocument, sha256: "0"), by: Caller(uid: "fay"))
      let submitted = try await apply(store, r, .submit, by: Caller(uid: "fay"), key: "k-submit")
      r = try await apply(store, r, .submit, by: Caller(uid: "fay"), version: r.version, key: "k-submit")
      #expect(r == submitted)
      #expect(try await store.history(renewalID: "fay-1").filter { $0.event.action == "submit" }.count == 1)
      #expect(try await store.outboxMessages(state: .pending, limit: 10).count == 1)
    }
  }

  @Test("an unknown request is NOT_FOUND", arguments: StoreKind.allCases)
  func unknown(kind: StoreKind) async throws {
    try await withStore(kind) { s in
      let store = s.store
      let error = await #expect(throws: StoreError.self) {
        try await store.change(renewalID: "nope", operation: "submit", idempotencyKey: nil) { _, _ in
          .failure(RenewalRefusal(.wrongState, "unreachable"))
        }
      }
      #expect(error?.code == .notFound)
    }
  }
}

@Suite("store contract: queries, charter, sessions, on SQLite and on PostgreSQL")
struct QueryTests {
  @Test("search pages through every request once, newest first, with filters", arguments: StoreKind.allCases)
  func pagination(kind: StoreKind) async throws {
    try await withStore(kind, durability: .normal) { s in
      let store = s.store
      for index in 0..<25 { try await start(store, "user\(index)", at: Int64(index)) }
      var seen: [String] = []
      var query = RenewalQuery()
      query.limit = 10
      var pages = 0
      repeat {
        let page = try await store.search(query)
        seen += page.renewals.map(\.id)
        query.after = page.next
        pages += 1
      } while query.after != nil
      #expect(pages == 3)
      #expect(seen.count == 25)
      #expect(Set(seen).count == 25)
      #expect(seen.first == "r-user24")
      var byApprover = RenewalQuery()
      byApprover.approverUID = "bigboss"
      byApprover.agentUID = "user3"
      #expect(try await store.search(byApprover).renewals.map(\.id) == ["r-user3"])
      #expect(try await store.countByStatus() == [.draft: 25])
    }
  }

  @Test("charter versions are never overwritten; the last published is current", arguments: StoreKind.allCases)
  func charters(kind: StoreKind) async throws {
    try await withStore(kind) { s in
      let store = s.store
      #expect(try await store.currentCharter() == nil)
      try await store.publishCharter(charter)
      let next = Charter(version: "2027-01", text: "New text", code: "777777", publishedAt: base.adding(seconds: 10))
      try await store.publishCharter(next)
      #expect(try await store.currentCharter() == next)
      let error = await #expect(throws: StoreError.self) { try await store.publishCharter(charter) }
      #expect(error?.code == .conflict)
    }
  }

  @Test("a session is found by its token hash until it expires", arguments: StoreKind.allCases)
  func sessions(kind: StoreKind) async throws {
    try await withStore(kind) { s in
      let store = s.store
      try await store.saveSession(
        StoredSession(tokenHash: "abc", uid: "gus", createdAt: base, expiresAt: base.adding(seconds: 3600)))
      #expect(try await store.session(tokenHash: "abc", now: base.adding(seconds: 10))?.uid == "gus")
      #expect(try await store.session(tokenHash: "abc", now: base.adding(seconds: 3600)) == nil)
      #expect(try await store.session(tokenHash: "other", now: base) == nil)
      #expect(try await store.deleteExpiredSessions(now: base.adding(seconds: 4000)) == 1)
    }
  }
}

@Suite("the store's SQL follows the domain")
struct StoreSchemaTests {
  @Test(
    "the database's one-open-request index names exactly the domain's terminal statuses (migrations are history, so this checks them)"
  )
  func openRequestIndexMatchesTheDomain() async throws {
    try await withStore { _, path in
      let sql = try await sqlite3(path, "SELECT sql FROM sqlite_master WHERE name = 'renewals_one_open_per_agent';")
      let listed = Set(sql.matches(of: /'([A-Z_]+)'/).map { String($0.output.1) })
      #expect(listed == Set(RenewalStatus.allCases.filter(\.isTerminal).map(\.rawValue)), "\(sql)")
    }
  }
}
