/// A point in time, in milliseconds since 1970-01-01T00:00:00Z. The domain keeps its own type so
/// that it needs no clock and no Foundation: callers pass `now` in.
public struct Instant: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
  /// Milliseconds since the Unix epoch.
  public var millisecondsSinceEpoch: Int64

  /// Creates an instant from milliseconds since the Unix epoch.
  public init(millisecondsSinceEpoch: Int64) {
    self.millisecondsSinceEpoch = millisecondsSinceEpoch
  }

  /// Creates an instant from whole seconds since the Unix epoch.
  public init(secondsSinceEpoch: Int64) {
    self.millisecondsSinceEpoch = secondsSinceEpoch * 1000
  }

  /// This instant moved by `seconds` (negative to go back).
  public func adding(seconds: Int64) -> Instant {
    Instant(millisecondsSinceEpoch: millisecondsSinceEpoch + seconds * 1000)
  }

  /// Days since the epoch (UTC), the day this instant falls on.
  public var daysSinceEpoch: Int64 {
    millisecondsSinceEpoch >= 0
      ? millisecondsSinceEpoch / 86_400_000 : (millisecondsSinceEpoch - 86_399_999) / 86_400_000
  }

  public static func < (lhs: Instant, rhs: Instant) -> Bool {
    lhs.millisecondsSinceEpoch < rhs.millisecondsSinceEpoch
  }

  public var description: String { "\(millisecondsSinceEpoch)ms" }
}

/// The kind of OTP key.
public enum KeyType: String, Sendable, Hashable, Codable, CaseIterable {
  /// An authenticator on the agent's phone.
  case software
  /// A physical token collected at a pickup place.
  case hardware
}

/// Where a renewal request stands (DESIGN §3).
public enum RenewalStatus: String, Sendable, Hashable, Codable, CaseIterable {
  case draft = "DRAFT"
  case awaitingDocuments = "AWAITING_DOCUMENTS"
  case pendingApproval = "PENDING_APPROVAL"
  case awaitingEnrolment = "AWAITING_ENROLMENT"
  case awaitingCharter = "AWAITING_CHARTER"
  case awaitingDSI = "AWAITING_DSI"
  case readyForPickup = "READY_FOR_PICKUP"
  case pickupBooked = "PICKUP_BOOKED"
  case completed = "COMPLETED"
  case rejected = "REJECTED"
  case cancelled = "CANCELLED"

  /// True for COMPLETED, REJECTED and CANCELLED: nothing changes any more.
  public var isTerminal: Bool {
    self == .completed || self == .rejected || self == .cancelled
  }

  /// True while the agent may still cancel: every status before AWAITING_DSI.
  public var isCancellable: Bool {
    switch self {
    case .draft, .awaitingDocuments, .pendingApproval, .awaitingEnrolment, .awaitingCharter: return true
    default: return false
    }
  }

  /// The statuses that are not terminal (an agent has at most one request in them).
  public static let open: [RenewalStatus] = allCases.filter { !$0.isTerminal }
}

/// Why the agent needs a new key.
public enum Motif: String, Sendable, Hashable, Codable, CaseIterable {
  case expired = "EXPIRED"
  case lost = "LOST"
  case stolen = "STOLEN"
  case broken = "BROKEN"
  case phoneChanged = "PHONE_CHANGED"
  case typeChange = "TYPE_CHANGE"
  case other = "OTHER"
  case firstKey = "FIRST_KEY"
}

/// The phone platform of a software key.
public enum MobilePlatform: String, Sendable, Hashable, Codable, CaseIterable {
  case android = "ANDROID"
  case ios = "IOS"
}

/// Who acts: a person (possibly through an internal system acting for them) with the roles the
/// directory gives them.
public struct Caller: Sendable, Hashable, Codable {
  /// Group roles a person can hold besides being an agent.
  public enum GroupRole: String, Sendable, Hashable, Codable {
    case dsi = "DSI"
    case support = "SUPPORT"
  }

  /// What a caller may do for the person besides their group roles: act on the person's own
  /// requests (agent) and decide as a validator (approver). A person's own session has both; an
  /// internal system only those its configuration lists.
  public enum Capacity: String, Sendable, Hashable, Codable, CaseIterable {
    case agent = "AGENT"
    case approver = "APPROVER"
  }

  /// The person's uid (for an internal system acting for a person: that person's uid).
  public var uid: String
  /// DSI and support membership, limited to what the caller may exercise.
  public var groups: Set<GroupRole>
  /// The internal system's name when one acts for the person; nil for the person's own session.
  public var serviceAccount: String?
  /// Agent and approver capacities the caller may exercise. Default both.
  public var capacities: Set<Capacity>

  /// Creates an actor.
  public init(
    uid: String, groups: Set<GroupRole> = [], serviceAccount: String? = nil,
    capacities: Set<Capacity> = [.agent, .approver]
  ) {
    self.uid = uid
    self.groups = groups
    self.serviceAccount = serviceAccount
    self.capacities = capacities
  }

  /// True for a DSI operator.
  public var isDSI: Bool { groups.contains(.dsi) }

  // The rules on who the caller is, one place for each, used by the workflow and by the RPC
  // services that change no request (lists, publications, support queries).

  /// Refused (NOT_DSI) unless the caller is in the DSI group.
  public func requireDSIGroup() throws(RenewalRefusal) {
    guard isDSI else { throw RenewalRefusal(.notDSI, "this operation is for DSI operators") }
  }

  /// Refused (NOT_SUPPORT) unless the caller is in the support group.
  public func requireSupportGroup() throws(RenewalRefusal) {
    guard groups.contains(.support) else { throw RenewalRefusal(.notSupport, "this query is for support staff") }
  }

  /// Refused (SCOPE_NOT_GRANTED) unless the caller may act with `capacity`: a person's own session
  /// may; an internal system only when its roles list it.
  public func requireCapacity(_ capacity: Capacity) throws(RenewalRefusal) {
    guard capacities.contains(capacity) else {
      throw RenewalRefusal(
        .scopeNotGranted,
        "\(serviceAccount ?? "this caller") may not act as \(capacity == .agent ? "the agent" : "a validator") for people: its roles do not list \(capacity.rawValue.lowercased())"
      )
    }
  }
}

/// The role under which an action was taken, as the audit trail records it.
public enum ActingRole: String, Sendable, Hashable, Codable {
  case agent = "AGENT"
  case approver = "APPROVER"
  case dsi = "DSI"
  case support = "SUPPORT"
  /// The head or a deputy of a second-degree establishment handing a key over there.
  case establishmentHead = "ESTABLISHMENT_HEAD"
  /// The service itself (automatic validation).
  case system = "SYSTEM"
}
