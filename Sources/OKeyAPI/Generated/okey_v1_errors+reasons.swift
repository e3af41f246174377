// DO NOT EDIT. Written by Tools/generate-protos from Protos/okey/v1/errors.proto.

extension Okey_V1_ErrorReason {
  /// The reason as google.rpc.ErrorInfo.reason carries it: the value's name without ERROR_REASON_.
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
    default: return "UNRECOGNIZED_\(rawValue)"
    }
  }

  /// The reason whose ErrorInfo.reason is `wireName`; nil for a reason this contract does not list.
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
    default: return nil
    }
  }
}
