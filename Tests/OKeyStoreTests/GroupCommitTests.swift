import Foundation
import OKeyDomain
import OKeyStore
import OKeyTestSupport
import Testing

@Suite("SQLite store: group commit")
struct GroupCommitTests {
  @Test(
    "changes arriving together share transactions; a booking refused in a group (the slot full after the request was updated) rolls back alone"
  )
  func failuresRollBackAlone() async throws {
    try await withStore(durability: .full) { store, _ in
      try await store.publishCharter(charter)
      let slot = PickupSlot(
        id: "one-seat", placeID: "rectorat", startsAt: base.adding(seconds: 86_400),
        endsAt: base.adding(seconds: 90_000), capacity: 1)
      try await store.savePickupPlace(place, addingSlots: [slot])
      var ready: [RenewalRequest] = []
      for index in 0..<24 { ready.append(try await readyForPickup(store, "agent\(index)")) }
      let eventsBefore = try await store.verifyAuditTrail().eventsChecked
      let before = store.committedGroups
      // Every request books the one seat at once: the first in the writer's order gets it; each
      // other booking has updated its request's row before the slot refuses it, in the same group.
      let booked = await withTaskGroup(of: String?.self) { group in
        for request in ready {
          group.addTask {
            // The slot as read before anyone booked: the domain accepts, and the database refuses
            // once the request's row is already updated.
            let change = try? await store.change(renewalID: request.id, operation: "book", idempotencyKey: nil) {
              current, _ in
              RenewalWorkflow.decide(
                .bookPickup(slot), on: current, by: Caller(uid: request.agentUID),
                context: DecisionContext(now: base.adding(seconds: 120), expectedVersion: current.version))
            }
            return change?.id
          }
        }
        return await group.reduce(into: [String]()) { if let id = $1 { $0.append(id) } }
      }
      let after = store.committedGroups
      #expect(booked.count == 1)
      #expect(after.changes - before.changes == ready.count)
      #expect(after.transactions - before.transactions < ready.count, "no two changes shared a transaction")
      // The refused ones are exactly as they were: status, version, trail.
      for request in ready where !booked.contains(request.id) {
        let now = try #require(try await store.renewal(id: request.id))
        #expect(now.status == .readyForPickup && now.version == request.version, "\(request.id)")
      }
      let trail = try await store.verifyAuditTrail()
      #expect(trail.intact)
      #expect(trail.eventsChecked == eventsBefore + 1)
      #expect(try await store.pickupSlot(id: "one-seat")?.booked == 1)
    }
  }

  @Test("a group of starts and changes at FULL durability is acknowledged only once written: a new store sees each")
  func acknowledgedMeansStored() async throws {
    try await withStore(durability: .full) { store, path in
      let acknowledged = try await withThrowingTaskGroup(of: RenewalRequest.self) { group in
        for index in 0..<48 {
          group.addTask {
            let started = try await start(store, "grouped\(index)")
            return try await apply(
              store, started, .addDocument(id: "doc-\(index)", pdfDocument, sha256: "00"),
              by: Caller(uid: started.agentUID))
          }
        }
        return try await group.reduce(into: [RenewalRequest]()) { $0.append($1) }
      }
      let reopened = try SQLiteRenewalStore(path: path)
      for request in acknowledged {
        #expect(try await reopened.renewal(id: request.id) == request)
      }
      #expect(try await reopened.verifyAuditTrail().intact)
    }
  }
}
