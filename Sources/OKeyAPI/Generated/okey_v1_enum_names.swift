// DO NOT EDIT. Written by Tools/generate-protos from Protos/okey/v1: each enum value's name
// without its prefix (e.g. ErrorReason's STALE_VERSION, as google.rpc.ErrorInfo.reason carries it).

import SwiftProtobuf

/// An okey.v1 enum whose values are known by name: the mappings to other enums derive from it.
public protocol WireNamedEnum: SwiftProtobuf.Enum {
  /// The value's name without the enum's prefix, e.g. PENDING_APPROVAL.
  var wireName: String { get }
  /// The value named `wireName`; nil for a name this contract does not list.
  init?(wireName: String)
  /// The enum's prefix, e.g. RENEWAL_STATUS_.
  static var wirePrefix: String { get }
}

extension Okey_V1_ErrorReason: WireNamedEnum {
  public static let wirePrefix = "ERROR_REASON_"

  /// The value's name without ERROR_REASON_.
  public var wireName: String {
    switch rawValue {
    case 0: return "UNSPECIFIED"
    case 1: return "TOKEN_MISSING"
    case 2: return "TOKEN_INVALID"
    case 3: return "BAD_CREDENTIALS"
    case 4: return "LOGIN_THROTTLED"
    case 5: return "NOT_A_SESSION"
    case 6: return "CLIENT_CERTIFICATE"
    case 7: return "ON_BEHALF_OF_NOT_ALLOWED"
    case 8: return "ON_BEHALF_OF_REQUIRED"
    case 9: return "UNKNOWN_PERSON"
    case 10: return "PERSON_DISABLED"
    case 11: return "NOT_YOUR_REQUEST"
    case 12: return "NOT_AN_APPROVER"
    case 13: return "OWN_REQUEST"
    case 14: return "NOT_DSI"
    case 15: return "NOT_SUPPORT"
    case 16: return "SCOPE_NOT_GRANTED"
    case 17: return "VALIDATOR_NOT_ALLOWED"
    case 18: return "INVALID_FIELD"
    case 19: return "DOCUMENT_TYPE"
    case 20: return "VALIDATOR_INVALID"
    case 21: return "IDEMPOTENCY_KEY_REUSED"
    case 22: return "WRONG_STATE"
    case 23: return "STALE_VERSION"
    case 24: return "OPEN_REQUEST_EXISTS"
    case 25: return "CANCEL_TOO_LATE"
    case 26: return "WRONG_KEY_TYPE"
    case 27: return "PLATFORM_NOT_CHOSEN"
    case 28: return "CHARTER_CODE_WRONG"
    case 29: return "CHARTER_NOT_ACKNOWLEDGED"
    case 30: return "NO_CHARTER"
    case 31: return "SLOT_FULL"
    case 32: return "SLOT_ELSEWHERE"
    case 33: return "SLOT_PAST"
    case 34: return "SLOT_ALREADY_BOOKED"
    case 35: return "DOCUMENT_LIMIT"
    case 36: return "DOCUMENT_NOT_FOUND"
    case 37: return "NO_VALIDATOR"
    case 38: return "DIRECTORY_ENTRY"
    case 39: return "DOCUMENT_PURGED"
    case 40: return "CONFLICT"
    case 41: return "NOT_FOUND"
    case 42: return "DOCUMENT_ALTERED"
    case 43: return "REQUEST_TAMPERED"
    case 44: return "STORE_UNAVAILABLE"
    case 45: return "DIRECTORY_UNAVAILABLE"
    case 46: return "DIRECTORY_BUSY"
    case 47: return "WATCH_LIMIT"
    case 48: return "DEADLINE_EXCEEDED"
    case 49: return "CANCELLED"
    case 50: return "INTERNAL"
    case 51: return "TRANSPORT"
    case 52: return "HAS_ACTIVE_KEY"
    case 53: return "PHONE_CHANGE_TOO_SOON"
    case 54: return "NOT_ESTABLISHMENT_HEAD"
    case 55: return "ENROLMENT_CODE_UNAVAILABLE"
    default: return "UNRECOGNIZED_\(rawValue)"
    }
  }

  /// The value named `wireName` (without the prefix); nil for a name this contract does not list.
  public init?(wireName: String) {
    switch wireName {
    case "TOKEN_MISSING": self.init(rawValue: 1)
    case "TOKEN_INVALID": self.init(rawValue: 2)
    case "BAD_CREDENTIALS": self.init(rawValue: 3)
    case "LOGIN_THROTTLED": self.init(rawValue: 4)
    case "NOT_A_SESSION": self.init(rawValue: 5)
    case "CLIENT_CERTIFICATE": self.init(rawValue: 6)
    case "ON_BEHALF_OF_NOT_ALLOWED": self.init(rawValue: 7)
    case "ON_BEHALF_OF_REQUIRED": self.init(rawValue: 8)
    case "UNKNOWN_PERSON": self.init(rawValue: 9)
    case "PERSON_DISABLED": self.init(rawValue: 10)
    case "NOT_YOUR_REQUEST": self.init(rawValue: 11)
    case "NOT_AN_APPROVER": self.init(rawValue: 12)
    case "OWN_REQUEST": self.init(rawValue: 13)
    case "NOT_DSI": self.init(rawValue: 14)
    case "NOT_SUPPORT": self.init(rawValue: 15)
    case "SCOPE_NOT_GRANTED": self.init(rawValue: 16)
    case "VALIDATOR_NOT_ALLOWED": self.init(rawValue: 17)
    case "INVALID_FIELD": self.init(rawValue: 18)
    case "DOCUMENT_TYPE": self.init(rawValue: 19)
    case "VALIDATOR_INVALID": self.init(rawValue: 20)
    case "IDEMPOTENCY_KEY_REUSED": self.init(rawValue: 21)
    case "WRONG_STATE": self.init(rawValue: 22)
    case "STALE_VERSION": self.init(rawValue: 23)
    case "OPEN_REQUEST_EXISTS": self.init(rawValue: 24)
    case "CANCEL_TOO_LATE": self.init(rawValue: 25)
    case "WRONG_KEY_TYPE": self.init(rawValue: 26)
    case "PLATFORM_NOT_CHOSEN": self.init(rawValue: 27)
    case "CHARTER_CODE_WRONG": self.init(rawValue: 28)
    case "CHARTER_NOT_ACKNOWLEDGED": self.init(rawValue: 29)
    case "NO_CHARTER": self.init(rawValue: 30)
    case "SLOT_FULL": self.init(rawValue: 31)
    case "SLOT_ELSEWHERE": self.init(rawValue: 32)
    case "SLOT_PAST": self.init(rawValue: 33)
    case "SLOT_ALREADY_BOOKED": self.init(rawValue: 34)
    case "DOCUMENT_LIMIT": self.init(rawValue: 35)
    case "DOCUMENT_NOT_FOUND": self.init(rawValue: 36)
    case "NO_VALIDATOR": self.init(rawValue: 37)
    case "DIRECTORY_ENTRY": self.init(rawValue: 38)
    case "DOCUMENT_PURGED": self.init(rawValue: 39)
    case "CONFLICT": self.init(rawValue: 40)
    case "NOT_FOUND": self.init(rawValue: 41)
    case "DOCUMENT_ALTERED": self.init(rawValue: 42)
    case "REQUEST_TAMPERED": self.init(rawValue: 43)
    case "STORE_UNAVAILABLE": self.init(rawValue: 44)
    case "DIRECTORY_UNAVAILABLE": self.init(rawValue: 45)
    case "DIRECTORY_BUSY": self.init(rawValue: 46)
    case "WATCH_LIMIT": self.init(rawValue: 47)
    case "DEADLINE_EXCEEDED": self.init(rawValue: 48)
    case "CANCELLED": self.init(rawValue: 49)
    case "INTERNAL": self.init(rawValue: 50)
    case "TRANSPORT": self.init(rawValue: 51)
    case "HAS_ACTIVE_KEY": self.init(rawValue: 52)
    case "PHONE_CHANGE_TOO_SOON": self.init(rawValue: 53)
    case "NOT_ESTABLISHMENT_HEAD": self.init(rawValue: 54)
    case "ENROLMENT_CODE_UNAVAILABLE": self.init(rawValue: 55)
    default: return nil
    }
  }
}

extension Okey_V1_KeyImportOutcome: WireNamedEnum {
  public static let wirePrefix = "KEY_IMPORT_OUTCOME_"

  /// The value's name without KEY_IMPORT_OUTCOME_.
  public var wireName: String {
    switch rawValue {
    case 0: return "UNSPECIFIED"
    case 1: return "RECORDED"
    case 2: return "UNCHANGED"
    case 3: return "REFUSED"
    default: return "UNRECOGNIZED_\(rawValue)"
    }
  }

  /// The value named `wireName` (without the prefix); nil for a name this contract does not list.
  public init?(wireName: String) {
    switch wireName {
    case "RECORDED": self.init(rawValue: 1)
    case "UNCHANGED": self.init(rawValue: 2)
    case "REFUSED": self.init(rawValue: 3)
    default: return nil
    }
  }
}

extension Okey_V1_WaitingParty: WireNamedEnum {
  public static let wirePrefix = "WAITING_PARTY_"

  /// The value's name without WAITING_PARTY_.
  public var wireName: String {
    switch rawValue {
    case 0: return "UNSPECIFIED"
    case 1: return "AGENT"
    case 2: return "APPROVER"
    case 3: return "DSI"
    case 4: return "NOBODY"
    default: return "UNRECOGNIZED_\(rawValue)"
    }
  }

  /// The value named `wireName` (without the prefix); nil for a name this contract does not list.
  public init?(wireName: String) {
    switch wireName {
    case "AGENT": self.init(rawValue: 1)
    case "APPROVER": self.init(rawValue: 2)
    case "DSI": self.init(rawValue: 3)
    case "NOBODY": self.init(rawValue: 4)
    default: return nil
    }
  }
}

extension Okey_V1_RenewalView: WireNamedEnum {
  public static let wirePrefix = "RENEWAL_VIEW_"

  /// The value's name without RENEWAL_VIEW_.
  public var wireName: String {
    switch rawValue {
    case 0: return "UNSPECIFIED"
    case 1: return "BASIC"
    case 2: return "FULL"
    default: return "UNRECOGNIZED_\(rawValue)"
    }
  }

  /// The value named `wireName` (without the prefix); nil for a name this contract does not list.
  public init?(wireName: String) {
    switch wireName {
    case "BASIC": self.init(rawValue: 1)
    case "FULL": self.init(rawValue: 2)
    default: return nil
    }
  }
}

extension Okey_V1_AuditProblemKind: WireNamedEnum {
  public static let wirePrefix = "AUDIT_PROBLEM_KIND_"

  /// The value's name without AUDIT_PROBLEM_KIND_.
  public var wireName: String {
    switch rawValue {
    case 0: return "UNSPECIFIED"
    case 1: return "ALTERED"
    case 2: return "INSERTED"
    case 3: return "REMOVED"
    case 4: return "TRUNCATED"
    case 5: return "EMPTIED"
    case 6: return "STATE_MISMATCH"
    default: return "UNRECOGNIZED_\(rawValue)"
    }
  }

  /// The value named `wireName` (without the prefix); nil for a name this contract does not list.
  public init?(wireName: String) {
    switch wireName {
    case "ALTERED": self.init(rawValue: 1)
    case "INSERTED": self.init(rawValue: 2)
    case "REMOVED": self.init(rawValue: 3)
    case "TRUNCATED": self.init(rawValue: 4)
    case "EMPTIED": self.init(rawValue: 5)
    case "STATE_MISMATCH": self.init(rawValue: 6)
    default: return nil
    }
  }
}

extension Okey_V1_OutboxState: WireNamedEnum {
  public static let wirePrefix = "OUTBOX_STATE_"

  /// The value's name without OUTBOX_STATE_.
  public var wireName: String {
    switch rawValue {
    case 0: return "UNSPECIFIED"
    case 1: return "PENDING"
    case 2: return "SENDING"
    case 3: return "SENT"
    case 4: return "DEAD"
    default: return "UNRECOGNIZED_\(rawValue)"
    }
  }

  /// The value named `wireName` (without the prefix); nil for a name this contract does not list.
  public init?(wireName: String) {
    switch wireName {
    case "PENDING": self.init(rawValue: 1)
    case "SENDING": self.init(rawValue: 2)
    case "SENT": self.init(rawValue: 3)
    case "DEAD": self.init(rawValue: 4)
    default: return nil
    }
  }
}

extension Okey_V1_KeyType: WireNamedEnum {
  public static let wirePrefix = "KEY_TYPE_"

  /// The value's name without KEY_TYPE_.
  public var wireName: String {
    switch rawValue {
    case 0: return "UNSPECIFIED"
    case 1: return "SOFTWARE"
    case 2: return "HARDWARE"
    default: return "UNRECOGNIZED_\(rawValue)"
    }
  }

  /// The value named `wireName` (without the prefix); nil for a name this contract does not list.
  public init?(wireName: String) {
    switch wireName {
    case "SOFTWARE": self.init(rawValue: 1)
    case "HARDWARE": self.init(rawValue: 2)
    default: return nil
    }
  }
}

extension Okey_V1_RenewalStatus: WireNamedEnum {
  public static let wirePrefix = "RENEWAL_STATUS_"

  /// The value's name without RENEWAL_STATUS_.
  public var wireName: String {
    switch rawValue {
    case 0: return "UNSPECIFIED"
    case 1: return "DRAFT"
    case 2: return "AWAITING_DOCUMENTS"
    case 3: return "PENDING_APPROVAL"
    case 4: return "AWAITING_ENROLMENT"
    case 5: return "AWAITING_CHARTER"
    case 6: return "AWAITING_DSI"
    case 7: return "READY_FOR_PICKUP"
    case 8: return "PICKUP_BOOKED"
    case 9: return "COMPLETED"
    case 10: return "REJECTED"
    case 11: return "CANCELLED"
    default: return "UNRECOGNIZED_\(rawValue)"
    }
  }

  /// The value named `wireName` (without the prefix); nil for a name this contract does not list.
  public init?(wireName: String) {
    switch wireName {
    case "DRAFT": self.init(rawValue: 1)
    case "AWAITING_DOCUMENTS": self.init(rawValue: 2)
    case "PENDING_APPROVAL": self.init(rawValue: 3)
    case "AWAITING_ENROLMENT": self.init(rawValue: 4)
    case "AWAITING_CHARTER": self.init(rawValue: 5)
    case "AWAITING_DSI": self.init(rawValue: 6)
    case "READY_FOR_PICKUP": self.init(rawValue: 7)
    case "PICKUP_BOOKED": self.init(rawValue: 8)
    case "COMPLETED": self.init(rawValue: 9)
    case "REJECTED": self.init(rawValue: 10)
    case "CANCELLED": self.init(rawValue: 11)
    default: return nil
    }
  }
}

extension Okey_V1_MobilePlatform: WireNamedEnum {
  public static let wirePrefix = "MOBILE_PLATFORM_"

  /// The value's name without MOBILE_PLATFORM_.
  public var wireName: String {
    switch rawValue {
    case 0: return "UNSPECIFIED"
    case 1: return "ANDROID"
    case 2: return "IOS"
    default: return "UNRECOGNIZED_\(rawValue)"
    }
  }

  /// The value named `wireName` (without the prefix); nil for a name this contract does not list.
  public init?(wireName: String) {
    switch wireName {
    case "ANDROID": self.init(rawValue: 1)
    case "IOS": self.init(rawValue: 2)
    default: return nil
    }
  }
}

extension Okey_V1_Motif: WireNamedEnum {
  public static let wirePrefix = "MOTIF_"

  /// The value's name without MOTIF_.
  public var wireName: String {
    switch rawValue {
    case 0: return "UNSPECIFIED"
    case 1: return "EXPIRED"
    case 2: return "LOST"
    case 3: return "STOLEN"
    case 4: return "BROKEN"
    case 5: return "PHONE_CHANGED"
    case 6: return "TYPE_CHANGE"
    case 7: return "OTHER"
    case 8: return "FIRST_KEY"
    default: return "UNRECOGNIZED_\(rawValue)"
    }
  }

  /// The value named `wireName` (without the prefix); nil for a name this contract does not list.
  public init?(wireName: String) {
    switch wireName {
    case "EXPIRED": self.init(rawValue: 1)
    case "LOST": self.init(rawValue: 2)
    case "STOLEN": self.init(rawValue: 3)
    case "BROKEN": self.init(rawValue: 4)
    case "PHONE_CHANGED": self.init(rawValue: 5)
    case "TYPE_CHANGE": self.init(rawValue: 6)
    case "OTHER": self.init(rawValue: 7)
    case "FIRST_KEY": self.init(rawValue: 8)
    default: return nil
    }
  }
}

extension Okey_V1_Role: WireNamedEnum {
  public static let wirePrefix = "ROLE_"

  /// The value's name without ROLE_.
  public var wireName: String {
    switch rawValue {
    case 0: return "UNSPECIFIED"
    case 1: return "AGENT"
    case 2: return "APPROVER"
    case 3: return "DSI"
    case 4: return "SUPPORT"
    case 5: return "SERVICE_ACCOUNT"
    case 6: return "ESTABLISHMENT_HEAD"
    default: return "UNRECOGNIZED_\(rawValue)"
    }
  }

  /// The value named `wireName` (without the prefix); nil for a name this contract does not list.
  public init?(wireName: String) {
    switch wireName {
    case "AGENT": self.init(rawValue: 1)
    case "APPROVER": self.init(rawValue: 2)
    case "DSI": self.init(rawValue: 3)
    case "SUPPORT": self.init(rawValue: 4)
    case "SERVICE_ACCOUNT": self.init(rawValue: 5)
    case "ESTABLISHMENT_HEAD": self.init(rawValue: 6)
    default: return nil
    }
  }
}

extension Okey_V1_KeyStatus: WireNamedEnum {
  public static let wirePrefix = "KEY_STATUS_"

  /// The value's name without KEY_STATUS_.
  public var wireName: String {
    switch rawValue {
    case 0: return "UNSPECIFIED"
    case 1: return "ACTIVE"
    case 2: return "REPLACED"
    default: return "UNRECOGNIZED_\(rawValue)"
    }
  }

  /// The value named `wireName` (without the prefix); nil for a name this contract does not list.
  public init?(wireName: String) {
    switch wireName {
    case "ACTIVE": self.init(rawValue: 1)
    case "REPLACED": self.init(rawValue: 2)
    default: return nil
    }
  }
}

extension Okey_V1_RoutingProblemKind: WireNamedEnum {
  public static let wirePrefix = "ROUTING_PROBLEM_KIND_"

  /// The value's name without ROUTING_PROBLEM_KIND_.
  public var wireName: String {
    switch rawValue {
    case 0: return "UNSPECIFIED"
    case 1: return "NO_ENTRY"
    case 2: return "SEVERAL_ENTRIES"
    case 3: return "MANAGER_MISSING"
    case 4: return "MANAGER_DANGLING"
    case 5: return "MANAGER_IS_SELF"
    case 6: return "MANAGER_LOOP"
    case 7: return "NO_RESPONSIBLE"
    case 8: return "SEVERAL_CANDIDATES"
    case 9: return "DELEGATION_EXPIRED"
    case 10: return "VALIDATOR_DISABLED"
    case 11: return "NO_N2"
    case 12: return "MALFORMED_VALUE"
    case 13: return "NO_N1"
    default: return "UNRECOGNIZED_\(rawValue)"
    }
  }

  /// The value named `wireName` (without the prefix); nil for a name this contract does not list.
  public init?(wireName: String) {
    switch wireName {
    case "NO_ENTRY": self.init(rawValue: 1)
    case "SEVERAL_ENTRIES": self.init(rawValue: 2)
    case "MANAGER_MISSING": self.init(rawValue: 3)
    case "MANAGER_DANGLING": self.init(rawValue: 4)
    case "MANAGER_IS_SELF": self.init(rawValue: 5)
    case "MANAGER_LOOP": self.init(rawValue: 6)
    case "NO_RESPONSIBLE": self.init(rawValue: 7)
    case "SEVERAL_CANDIDATES": self.init(rawValue: 8)
    case "DELEGATION_EXPIRED": self.init(rawValue: 9)
    case "VALIDATOR_DISABLED": self.init(rawValue: 10)
    case "NO_N2": self.init(rawValue: 11)
    case "MALFORMED_VALUE": self.init(rawValue: 12)
    case "NO_N1": self.init(rawValue: 13)
    default: return nil
    }
  }
}

extension Okey_V1_DecisionKind: WireNamedEnum {
  public static let wirePrefix = "DECISION_KIND_"

  /// The value's name without DECISION_KIND_.
  public var wireName: String {
    switch rawValue {
    case 0: return "UNSPECIFIED"
    case 1: return "APPROVER"
    case 2: return "AUTOMATIC"
    default: return "UNRECOGNIZED_\(rawValue)"
    }
  }

  /// The value named `wireName` (without the prefix); nil for a name this contract does not list.
  public init?(wireName: String) {
    switch wireName {
    case "APPROVER": self.init(rawValue: 1)
    case "AUTOMATIC": self.init(rawValue: 2)
    default: return nil
    }
  }
}
