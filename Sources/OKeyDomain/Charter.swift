/// A version of the user charter, with the code printed at its bottom that agents type to sign.
public struct Charter: Sendable, Hashable, Codable {
  /// Version label.
  public var version: String
  /// The text.
  public var text: String
  /// The code printed at the bottom.
  public var code: String
  /// When it was published.
  public var publishedAt: Instant

  /// Creates a charter.
  public init(version: String, text: String, code: String, publishedAt: Instant) {
    self.version = version
    self.text = text
    self.code = code
    self.publishedAt = publishedAt
  }

  /// The line printed under the text.
  public var footer: String { "Charter \(version) — code to type when signing: \(code)" }

  /// Refuses a charter that cannot be published: empty version or text, or a code that is not 4 to
  /// 12 letters or digits.
  public static func validate(version: String, text: String, code: String) -> RenewalRefusal? {
    if version.trimmingSpaces.isEmpty || version.count > 40 {
      return .init(.invalidField, "version: give a label of 1 to 40 characters, e.g. 2026-09")
    }
    if text.trimmingSpaces.isEmpty { return .init(.invalidField, "text: the charter's text is empty") }
    if !(4...12).contains(code.count) || !code.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) {
      return .init(.invalidField, "code: use 4 to 12 letters or digits")
    }
    return nil
  }

  /// Checks a signature: the box ticked and the code of this version (spaces and case ignored).
  public func checkSignature(code typed: String, acknowledged: Bool) -> RenewalRefusal? {
    guard acknowledged else {
      return .init(.charterNotAcknowledged, "tick \"I have read the charter\" to sign it")
    }
    guard typed.trimmingSpaces.uppercased() == code.uppercased() else {
      return .init(
        .charterCodeWrong,
        "the code does not match the one printed at the bottom of charter \(version): type the number printed there")
    }
    return nil
  }
}

/// A place where hardware keys are collected.
public struct PickupPlace: Sendable, Hashable, Codable {
  /// Identifier chosen by the DSI.
  public var id: String
  /// Name for people.
  public var name: String
  /// Address and directions.
  public var address: String

  /// Creates a place.
  public init(id: String, name: String, address: String) {
    self.id = id
    self.name = name
    self.address = address
  }
}

/// An appointment slot at a pickup place.
public struct PickupSlot: Sendable, Hashable, Codable {
  /// Identifier.
  public var id: String
  /// The place.
  public var placeID: String
  /// Start.
  public var startsAt: Instant
  /// End.
  public var endsAt: Instant
  /// Agents the slot can receive.
  public var capacity: Int
  /// Appointments booked.
  public var booked: Int

  /// Creates a slot.
  public init(id: String, placeID: String, startsAt: Instant, endsAt: Instant, capacity: Int, booked: Int = 0) {
    self.id = id
    self.placeID = placeID
    self.startsAt = startsAt
    self.endsAt = endsAt
    self.capacity = capacity
    self.booked = booked
  }

  /// True while someone else can still book it.
  public var hasRoom: Bool { booked < capacity }
}

/// A key of an agent's inventory.
public struct KeyRecord: Sendable, Hashable, Codable {
  /// Whether a key is in use.
  public enum Status: String, Sendable, Hashable, Codable {
    case active = "ACTIVE"
    case replaced = "REPLACED"
  }

  /// Serial number.
  public var serial: String
  /// The owner.
  public var agentUID: String
  /// Hardware or software.
  public var keyType: KeyType
  /// Active or replaced.
  public var status: Status
  /// When it became active.
  public var activatedAt: Instant
  /// When it was replaced.
  public var replacedAt: Instant?
  /// The renewal that issued it.
  public var renewalID: String?

  /// Creates a key record.
  public init(
    serial: String, agentUID: String, keyType: KeyType, status: Status, activatedAt: Instant,
    replacedAt: Instant? = nil, renewalID: String? = nil
  ) {
    self.serial = serial
    self.agentUID = agentUID
    self.keyType = keyType
    self.status = status
    self.activatedAt = activatedAt
    self.replacedAt = replacedAt
    self.renewalID = renewalID
  }
}

/// What completing a renewal does to the agent's keys.
public enum KeyInventory {
  /// The agent's keys after `newKey` is issued: the key `replacing` names, or else every active key of
  /// the same type, replaced (at `newKey`'s activation time); the new one active. Keys of another
  /// type (a token and a phone) and of other agents are left as they are.
  public static func issue(_ newKey: KeyRecord, replacing: String? = nil, to keys: [KeyRecord]) -> [KeyRecord] {
    var result = keys.map { key -> KeyRecord in
      guard key.agentUID == newKey.agentUID, key.status == .active, key.serial != newKey.serial else { return key }
      if let replacing {
        guard key.serial == replacing else { return key }
      } else {
        guard key.keyType == newKey.keyType else { return key }
      }
      var replaced = key
      replaced.status = .replaced
      replaced.replacedAt = newKey.activatedAt
      return replaced
    }
    result.removeAll { $0.serial == newKey.serial }
    result.append(newKey)
    return result
  }

  /// True when `serial` is an acceptable key serial: 1 to 64 letters, digits, '-' or '_'.
  public static func isValidSerial(_ serial: String) -> Bool {
    (1...64).contains(serial.count)
      && serial.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
  }
}
