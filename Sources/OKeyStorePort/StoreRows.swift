/// One stored value as it moves between database engines (`okeyd migrate-store`).
public enum StoreValue: Sendable, Hashable {
  /// No value.
  case null
  /// A whole number (SQLite's integers, booleans as 0 and 1).
  case integer(Int64)
  /// A floating-point number.
  case real(Double)
  /// Text.
  case text(String)
  /// Bytes.
  case blob([UInt8])
}

/// A page of one table's rows, columns named.
public struct StoreRowPage: Sendable {
  /// The columns, in the order of each row's values.
  public var columns: [String]
  /// The rows.
  public var rows: [[StoreValue]]

  /// Creates a page.
  public init(columns: [String], rows: [[StoreValue]]) {
    self.columns = columns
    self.rows = rows
  }
}

/// What moves when a store changes engine, in an order that keeps every reference valid.
public enum StoreMove {
  /// The tables copied, parents before the rows that refer to them; the chain's head and boundary
  /// rows (`audit_head`, `audit_meta`) last.
  public static let tables = [
    "renewals", "pickup_places", "pickup_slots", "documents", "routing_snapshots", "approvals", "renewal_validators",
    "appointments", "enrolment_codes", "keys", "charters", "idempotency_keys", "outbox", "sessions", "audit_events",
    "audit_head", "audit_meta",
  ]
}
