import Foundation
import GRDB
import OKeyDomain

// The charter and the pickup places and slots.
extension SQLiteRenewalStore {

  public func publishCharter(_ charter: Charter) async throws {
    _ = try await publishCharter(charter, idempotency: nil)
  }

  public func publishCharter(_ charter: Charter, idempotency: KeyedResult?) async throws -> String? {
    try await guarded {
      try await pool.write { db in
        if let idempotency,
          let prior = try Self.idempotentResult(
            db, agentUID: idempotency.ownerUID, operation: idempotency.operation, key: idempotency.key)
        {
          return prior
        }
        if try db.value(Bool.self, "SELECT 1 FROM charters WHERE version = ?", [charter.version]) == true {
          throw StoreError(.conflict, "charter version \(charter.version) already exists: publish under a new version")
        }
        try db.run(
          "INSERT INTO charters (version, text, code, published_at) VALUES (?, ?, ?, ?)",
          [charter.version, charter.text, charter.code, charter.publishedAt.millisecondsSinceEpoch]
        )
        if let idempotency {
          try Self.rememberResult(
            db, agentUID: idempotency.ownerUID, operation: idempotency.operation, key: idempotency.key, renewalID: "",
            result: idempotency.result,
            at: idempotency.at)
        }
        return idempotency?.result
      }
    }
  }

  public func currentCharter() async throws -> Charter? {
    try await guarded { try await pool.read { db in try Reader(db: db).currentCharter() } }
  }

  public func savePickupPlace(_ place: PickupPlace, addingSlots slots: [PickupSlot]) async throws {
    _ = try await savePickupPlace(place, addingSlots: slots, idempotency: nil)
  }

  public func savePickupPlace(_ place: PickupPlace, addingSlots slots: [PickupSlot], idempotency: KeyedResult?)
    async throws -> String?
  {
    try await guarded {
      try await pool.write { db in
        if let idempotency,
          let prior = try Self.idempotentResult(
            db, agentUID: idempotency.ownerUID, operation: idempotency.operation, key: idempotency.key)
        {
          return prior
        }
        try db.run(
          "INSERT INTO pickup_places (id, name, address) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name, address = excluded.address",
          [place.id, place.name, place.address]
        )
        for slot in slots {
          try db.run(
            "INSERT INTO pickup_slots (id, place_id, starts_at, ends_at, capacity, booked) VALUES (?, ?, ?, ?, ?, 0)",
            [
              slot.id, place.id, slot.startsAt.millisecondsSinceEpoch, slot.endsAt.millisecondsSinceEpoch,
              slot.capacity,
            ]
          )
        }
        if let idempotency {
          try Self.rememberResult(
            db, agentUID: idempotency.ownerUID, operation: idempotency.operation, key: idempotency.key, renewalID: "",
            result: idempotency.result,
            at: idempotency.at)
        }
        return idempotency?.result
      }
    }
  }

  public func pickupPlace(id: String) async throws -> PickupPlace? {
    try await guarded { try await pool.read { db in try Reader(db: db).pickupPlace(id: id) } }
  }

  public func pickupSlots(placeID: String, startingAfter after: Instant, withRoomOnly: Bool) async throws
    -> [PickupSlot]
  {
    try await guarded {
      try await pool.read { db in
        try PickupSlotRow.fetchAll(
          db,
          sql: "SELECT * FROM pickup_slots WHERE place_id = ? AND starts_at > ?"
            + (withRoomOnly ? " AND booked < capacity" : "")
            + " ORDER BY starts_at, id",
          arguments: [placeID, after.millisecondsSinceEpoch]
        ).map(\.slot)
      }
    }
  }

  public func pickupSlot(id: String) async throws -> PickupSlot? {
    try await guarded { try await pool.read { db in try Reader(db: db).pickupSlot(id: id) } }
  }
}
