import Foundation
import Logging
import OKeyDomain
import OKeyStorePort
import PostgresNIO

// The charter, pickup places and slots, and the key inventory.
extension PostgresRenewalStore {
  public func publishCharter(_ charter: Charter) async throws {
    _ = try await publishCharter(charter, idempotency: nil)
  }

  public func publishCharter(_ charter: Charter, idempotency: KeyedResult?) async throws -> String? {
    try await transaction { conn, logger in
      try await Self.lock("charters", conn, logger)
      if let idempotency,
        let prior = try await Self.idempotentResult(
          conn, logger, agentUID: idempotency.ownerUID, operation: idempotency.operation, key: idempotency.key)
      {
        return prior
      }
      if try await conn.query("SELECT 1::int8 FROM charters WHERE version = \(charter.version)", logger: logger).first(
        Int64.self) != nil
      {
        throw StoreError(.conflict, "charter version \(charter.version) already exists: publish under a new version")
      }
      try await conn.query(
        """
        INSERT INTO charters (version, text, code, published_at)
        VALUES (\(charter.version), \(charter.text), \(charter.code), \(charter.publishedAt.millisecondsSinceEpoch))
        """, logger: logger)
      if let idempotency {
        try await Self.rememberResult(
          conn, logger, agentUID: idempotency.ownerUID, operation: idempotency.operation, key: idempotency.key,
          renewalID: "", result: idempotency.result, at: idempotency.at)
      }
      return idempotency?.result
    }
  }

  public func currentCharter() async throws -> Charter? {
    try await read { conn, logger in try await Self.currentCharter(conn, logger) }
  }

  static func currentCharter(_ conn: PostgresConnection, _ logger: Logger) async throws -> Charter? {
    var charter: Charter?
    for try await row in try await conn.query(
      "SELECT version, text, code, published_at FROM charters ORDER BY seq DESC LIMIT 1", logger: logger)
    {
      let (version, text, code, at) = try row.decode((String, String, String, Int64).self)
      charter = Charter(version: version, text: text, code: code, publishedAt: Instant(millisecondsSinceEpoch: at))
    }
    return charter
  }

  public func savePickupPlace(_ place: PickupPlace, addingSlots slots: [PickupSlot]) async throws {
    _ = try await savePickupPlace(place, addingSlots: slots, idempotency: nil)
  }

  public func savePickupPlace(_ place: PickupPlace, addingSlots slots: [PickupSlot], idempotency: KeyedResult?)
    async throws -> String?
  {
    try await transaction { conn, logger in
      if let idempotency {
        try await Self.lock(idempotency.ownerUID, conn, logger)
        if let prior = try await Self.idempotentResult(
          conn, logger, agentUID: idempotency.ownerUID, operation: idempotency.operation, key: idempotency.key)
        {
          return prior
        }
      }
      try await conn.query(
        """
        INSERT INTO pickup_places (id, name, address) VALUES (\(place.id), \(place.name), \(place.address))
        ON CONFLICT (id) DO UPDATE SET name = excluded.name, address = excluded.address
        """, logger: logger)
      for slot in slots {
        try await conn.query(
          """
          INSERT INTO pickup_slots (id, place_id, starts_at, ends_at, capacity, booked)
          VALUES (\(slot.id), \(place.id), \(slot.startsAt.millisecondsSinceEpoch), \(slot.endsAt.millisecondsSinceEpoch),
            \(Int64(slot.capacity)), 0)
          """, logger: logger)
      }
      if let idempotency {
        try await Self.rememberResult(
          conn, logger, agentUID: idempotency.ownerUID, operation: idempotency.operation, key: idempotency.key,
          renewalID: "", result: idempotency.result, at: idempotency.at)
      }
      return idempotency?.result
    }
  }

  public func pickupPlace(id: String) async throws -> PickupPlace? {
    try await read { conn, logger in try await Self.pickupPlace(conn, logger, id: id) }
  }

  static func pickupPlace(_ conn: PostgresConnection, _ logger: Logger, id: String) async throws -> PickupPlace? {
    var place: PickupPlace?
    for try await row in try await conn.query(
      "SELECT id, name, address FROM pickup_places WHERE id = \(id)", logger: logger)
    {
      let (id, name, address) = try row.decode((String, String, String).self)
      place = PickupPlace(id: id, name: name, address: address)
    }
    return place
  }

  public func pickupSlots(placeID: String, startingAfter after: Instant, withRoomOnly: Bool) async throws
    -> [PickupSlot]
  {
    try await read { conn, logger in
      var slots: [PickupSlot] = []
      let rows = try await conn.query(
        .binding(
          "SELECT \(Self.slotColumns) FROM pickup_slots WHERE place_id = $1 AND starts_at > $2"
            + (withRoomOnly ? " AND booked < capacity" : "") + " ORDER BY starts_at, id", placeID,
          after.millisecondsSinceEpoch), logger: logger)
      for try await row in rows { slots.append(try Self.slot(row)) }
      return slots
    }
  }

  public func pickupSlot(id: String) async throws -> PickupSlot? {
    try await read { conn, logger in try await Self.pickupSlot(conn, logger, id: id) }
  }

  static let slotColumns = "id, place_id, starts_at, ends_at, capacity, booked"

  static func slot(_ row: PostgresRow) throws -> PickupSlot {
    let (id, place, starts, ends, capacity, booked) = try row.decode((String, String, Int64, Int64, Int64, Int64).self)
    return PickupSlot(
      id: id, placeID: place, startsAt: Instant(millisecondsSinceEpoch: starts),
      endsAt: Instant(millisecondsSinceEpoch: ends), capacity: Int(capacity), booked: Int(booked))
  }

  static func pickupSlot(_ conn: PostgresConnection, _ logger: Logger, id: String) async throws -> PickupSlot? {
    var slot: PickupSlot?
    let rows = try await conn.query(
      .binding("SELECT \(slotColumns) FROM pickup_slots WHERE id = $1", id), logger: logger)
    for try await row in rows { slot = try Self.slot(row) }
    return slot
  }

  // MARK: Keys

  public func keys(agentUID: String) async throws -> [KeyRecord] {
    try await read { conn, logger in
      try await Self.loadKeys(conn, logger, agentUID: agentUID).sorted { $0.activatedAt > $1.activatedAt }
    }
  }

  public func importKeys(_ keys: [KeyRecord]) async throws {
    try await transaction { conn, logger in
      for key in keys { try await Self.saveKey(conn, logger, key) }
    }
  }

  public func recordExistingKeys(_ keys: [KeyRecord]) async throws -> [ExistingKeyOutcome] {
    try await transaction { conn, logger in
      try await Self.lock("keys", conn, logger)
      var outcomes: [ExistingKeyOutcome] = []
      for key in keys {
        let known = try await Self.keys(
          conn, logger, where: "serial = $1", key.serial)
        if let known = known.first {
          if known.agentUID != key.agentUID {
            outcomes.append(.refused("the serial is recorded for another person"))
          } else if known.keyType != key.keyType {
            outcomes.append(.refused("the serial is recorded as a \(known.keyType.rawValue) key"))
          } else {
            outcomes.append(.unchanged)
          }
          continue
        }
        try await Self.saveKey(conn, logger, key)
        outcomes.append(.recorded)
      }
      return outcomes
    }
  }

  static func keys(_ conn: PostgresConnection, _ logger: Logger, where clause: String, _ value: String) async throws
    -> [KeyRecord]
  {
    var keys: [KeyRecord] = []
    var binds = PostgresBindings()
    binds.append(value)
    let rows = try await conn.query(
      PostgresQuery(
        unsafeSQL:
          "SELECT serial, agent_uid, key_type, status, activated_at, replaced_at, renewal_id FROM keys WHERE \(clause)",
        binds: binds), logger: logger)
    for try await row in rows {
      let (serial, agent, type, status, activated, replaced, renewal) = try row.decode(
        (String, String, String, String, Int64, Int64?, String?).self)
      guard let keyType = KeyType(rawValue: type), let keyStatus = KeyRecord.Status(rawValue: status) else {
        throw StoreError(.tampered, "key \(serial) has a type or status OKEY never writes (changed outside OKEY?)")
      }
      keys.append(
        KeyRecord(
          serial: serial, agentUID: agent, keyType: keyType, status: keyStatus,
          activatedAt: Instant(millisecondsSinceEpoch: activated),
          replacedAt: replaced.map(Instant.init(millisecondsSinceEpoch:)), renewalID: renewal))
    }
    return keys
  }

  static func loadKeys(_ conn: PostgresConnection, _ logger: Logger, agentUID: String) async throws -> [KeyRecord] {
    try await keys(conn, logger, where: "agent_uid = $1", agentUID)
  }

  static func saveKey(_ conn: PostgresConnection, _ logger: Logger, _ key: KeyRecord) async throws {
    try await conn.query(
      """
      INSERT INTO keys (serial, agent_uid, key_type, status, activated_at, replaced_at, renewal_id)
      VALUES (\(key.serial), \(key.agentUID), \(key.keyType.rawValue), \(key.status.rawValue),
        \(key.activatedAt.millisecondsSinceEpoch), \(key.replacedAt?.millisecondsSinceEpoch), \(key.renewalID))
      ON CONFLICT (serial) DO UPDATE SET status = excluded.status, replaced_at = excluded.replaced_at
      """, logger: logger)
  }
}
