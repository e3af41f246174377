/// Why the domain refuses a command: a stable code that integrators branch on, and a message for
/// people that says what to do. Two refusals are equal when their codes are.
public struct RenewalRefusal: Error, Sendable, Hashable, CustomStringConvertible {
  /// Stable reasons, UPPER_SNAKE_CASE on the wire.
  public enum Code: String, Sendable, Hashable, CaseIterable {
    /// A field is missing or malformed (the message names it).
    case invalidField = "INVALID_FIELD"
    /// The request belongs to another agent.
    case notYourRequest = "NOT_YOUR_REQUEST"
    /// The caller is not the N+1 or N+2 of the request's routing snapshot.
    case notAnApprover = "NOT_AN_APPROVER"
    /// An approver cannot decide on their own request.
    case ownRequest = "OWN_REQUEST"
    /// The operation is for DSI operators.
    case notDSI = "NOT_DSI"
    /// The query is for support staff.
    case notSupport = "NOT_SUPPORT"
    /// The request is not in a status that allows this.
    case wrongState = "WRONG_STATE"
    /// The request changed since the caller read it.
    case staleVersion = "STALE_VERSION"
    /// The agent already has an open request.
    case openRequestExists = "OPEN_REQUEST_EXISTS"
    /// The request is past the point where the agent can cancel it.
    case cancelTooLate = "CANCEL_TOO_LATE"
    /// The operation does not apply to this key type.
    case wrongKeyType = "WRONG_KEY_TYPE"
    /// The DSI cannot confirm enrolment before the agent chose a platform.
    case platformNotChosen = "PLATFORM_NOT_CHOSEN"
    /// The charter code typed is not the one printed on the current charter.
    case charterCodeWrong = "CHARTER_CODE_WRONG"
    /// The "I have read the charter" box is not ticked.
    case charterNotAcknowledged = "CHARTER_NOT_ACKNOWLEDGED"
    /// No charter has been published yet.
    case noCharter = "NO_CHARTER"
    /// The pickup slot has no room left.
    case slotFull = "SLOT_FULL"
    /// The slot is at another place than the one the DSI indicated.
    case slotElsewhere = "SLOT_ELSEWHERE"
    /// The slot has already started.
    case slotPast = "SLOT_PAST"
    /// The request is already booked in this slot.
    case slotAlreadyBooked = "SLOT_ALREADY_BOOKED"
    /// The document's content is not an accepted type, or lies about its type.
    case documentType = "DOCUMENT_TYPE"
    /// The document is too large, empty, or one too many.
    case documentLimit = "DOCUMENT_LIMIT"
    /// No document with that id on the request.
    case documentNotFound = "DOCUMENT_NOT_FOUND"
    /// Nobody can validate the request: the directory proposes no one.
    case noValidator = "NO_VALIDATOR"
    /// The validator named by the agent is not acceptable (unknown, the agent, disabled).
    case validatorInvalid = "VALIDATOR_INVALID"
    /// The validator named by the agent exists but the academy's validator-choice policy does not
    /// allow them.
    case validatorNotAllowed = "VALIDATOR_NOT_ALLOWED"
    /// The person is disabled in the directory: they cannot approve, be named or be acted for.
    case personDisabled = "PERSON_DISABLED"
    /// The caller (an internal system) is not configured for this kind of action.
    case scopeNotGranted = "SCOPE_NOT_GRANTED"
    /// A first key for someone who holds an active key of that type.
    case hasActiveKey = "HAS_ACTIVE_KEY"
    /// A phone change within `phoneChange.minDays` of the last one.
    case phoneChangeTooSoon = "PHONE_CHANGE_TOO_SOON"
    /// The caller is not the head or a deputy of the establishment where the key waits.
    case notEstablishmentHead = "NOT_ESTABLISHMENT_HEAD"
    /// No enrolment code can be read: none attached yet, already read, or expired.
    case enrolmentCodeUnavailable = "ENROLMENT_CODE_UNAVAILABLE"
  }

  /// The stable reason.
  public var code: Code
  /// For people: what is wrong and what to do.
  public var message: String
  /// For programs: the values a client needs to act on the refusal (e.g. "request_id" of the open
  /// request, "current_version" of a stale one).
  public var metadata: [String: String]

  /// Creates a refusal.
  public init(_ code: Code, _ message: String, metadata: [String: String] = [:]) {
    self.code = code
    self.message = message
    self.metadata = metadata
  }

  /// The field an ``Code/invalidField`` refusal names: its message starts with the field's path and
  /// a colon ("motif_details: ...").
  public var field: String? {
    guard code == .invalidField, let colon = message.firstIndex(of: ":") else { return nil }
    let path = message[..<colon]
    guard !path.isEmpty, path.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || "_.[]".contains($0)) })
    else { return nil }
    return String(path)
  }

  public static func == (lhs: RenewalRefusal, rhs: RenewalRefusal) -> Bool { lhs.code == rhs.code }
  public func hash(into hasher: inout Hasher) { hasher.combine(code) }
  public var description: String { "\(code.rawValue): \(message)" }
}
