import Foundation
import OKeyAPI
import OKeyDomain
import OKeyStore
import SwiftProtobuf

// Every conversion between okey.v1 messages and domain values lives here.

extension Google_Protobuf_Timestamp {
  init(_ instant: Instant) {
    let seconds =
      instant.millisecondsSinceEpoch >= 0
      ? instant.millisecondsSinceEpoch / 1000 : (instant.millisecondsSinceEpoch - 999) / 1000
    self.init(seconds: seconds, nanos: Int32((instant.millisecondsSinceEpoch - seconds * 1000) * 1_000_000))
  }

  /// Seconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the range RFC 3339 and protobuf's
  /// Timestamp allow.
  static let secondsRange: ClosedRange<Int64> = -62_135_596_800...253_402_300_799

  /// The instant a client sent, or INVALID_ARGUMENT naming `field` when seconds or nanos are out of
  /// protobuf's range (no arithmetic on a client value can trap).
  func instant(field: String) throws -> Instant {
    guard Self.secondsRange.contains(seconds) else {
      throw APIError.invalidArgument(
        "\(field).seconds",
        "must be between 0001-01-01 and 9999-12-31 (\(Self.secondsRange.lowerBound) to \(Self.secondsRange.upperBound)), not \(seconds)"
      )
    }
    guard (0...999_999_999).contains(nanos) else {
      throw APIError.invalidArgument("\(field).nanos", "must be between 0 and 999,999,999, not \(nanos)")
    }
    // In range, seconds × 1000 stays far within Int64.
    return Instant(millisecondsSinceEpoch: seconds * 1000 + Int64(nanos / 1_000_000))
  }
}

/// How much of each request SearchRenewals returns (okey.v1.RenewalView).
enum SearchView: String, CaseIterable, Sendable {
  /// The indexed columns only.
  case basic
  /// Everything but the history.
  case full
}

enum Wire {
  // MARK: Enums in

  /// The domain value of a wire enum: the case whose raw value, upper-cased, is the wire value's
  /// name. Unset and unknown numbers are INVALID_ARGUMENT naming `field` and the accepted values.
  static func domain<Value: RawRepresentable<String> & CaseIterable, Wire: WireNamedEnum>(_ value: Wire, field: String)
    throws -> Value
  {
    if let found = Value.allCases.first(where: { $0.rawValue.uppercased() == value.wireName }) { return found }
    let accepted = Value.allCases.map { Wire.wirePrefix + $0.rawValue.uppercased() }.joined(separator: ", ")
    if value.rawValue == 0 { throw APIError.invalidArgument(field, "required: one of \(accepted)") }
    throw APIError.invalidArgument(field, "unknown value \(value.rawValue): use one of \(accepted)")
  }

  /// The wire value of a domain value, by name; the zero (unspecified) value for a domain case the
  /// contract does not show (a test checks there is none where it matters).
  static func wire<Wire: WireNamedEnum>(_ value: some RawRepresentable<String>) -> Wire {
    Wire(wireName: value.rawValue.uppercased()) ?? Wire()
  }

  static func keyType(_ value: Okey_V1_KeyType, field: String = "key_type") throws -> KeyType {
    try domain(value, field: field)
  }
  static func motif(_ value: Okey_V1_Motif) throws -> Motif { try domain(value, field: "motif") }
  static func platform(_ value: Okey_V1_MobilePlatform) throws -> MobilePlatform {
    try domain(value, field: "platform")
  }
  static func status(_ value: Okey_V1_RenewalStatus, field: String = "statuses") throws -> RenewalStatus {
    try domain(value, field: field)
  }

  /// A language asked for on the wire: `fr` or `en`; empty for `fallback`.
  static func language(_ value: String, default fallback: String) throws -> String {
    if value.isEmpty { return fallback }
    guard OKeyConfiguration.mailLanguages.contains(value) else {
      throw APIError.invalidArgument("language", "use fr or en, or leave it empty for the academy's language")
    }
    return value
  }

  /// How much of each request a search returns; unset is the full view.
  static func view(_ value: Okey_V1_RenewalView) throws -> SearchView {
    value == .unspecified ? .full : try domain(value, field: "view")
  }

  static func keyType(_ value: KeyType) -> Okey_V1_KeyType { wire(value) }
  static func status(_ value: RenewalStatus) -> Okey_V1_RenewalStatus { wire(value) }
  static func motif(_ value: Motif) -> Okey_V1_Motif { wire(value) }
  static func platform(_ value: MobilePlatform?) -> Okey_V1_MobilePlatform { value.map(wire) ?? .unspecified }
  /// The system's own events (escalation) have no role on the wire: unspecified.
  static func role(_ value: ActingRole) -> Okey_V1_Role { wire(value) }

  // MARK: Messages out

  /// A request as a list shows it (``SearchView/basic``): the summary's fields, every other unset.
  static func renewal(_ summary: RenewalSummary) -> Okey_V1_Renewal {
    .with {
      $0.requestID = summary.id
      $0.agentUid = summary.agentUID
      $0.keyType = keyType(summary.keyType)
      $0.status = status(summary.status)
      $0.version = summary.version
      $0.routed = summary.routed
      $0.createdAt = Google_Protobuf_Timestamp(summary.createdAt)
      $0.updatedAt = Google_Protobuf_Timestamp(summary.updatedAt)
      if let n1 = summary.n1UID { $0.routing.n1.person.uid = n1 }
      if let n2 = summary.n2UID { $0.routing.n2.person.uid = n2 }
    }
  }

  static func person(_ person: DirectoryPerson) -> Okey_V1_Person {
    .with {
      $0.uid = person.uid
      $0.dn = person.dn
      $0.displayName = person.displayName
      $0.mail = person.mail
      $0.active = person.active
    }
  }

  static func approver(_ approver: RoutedApprover?) -> Okey_V1_RoutedApprover? {
    approver.map { approver in
      .with {
        $0.person = person(approver.person)
        $0.foundBy = approver.foundBy
      }
    }
  }

  static func routing(_ routing: Routing) -> Okey_V1_Routing {
    var message = Okey_V1_Routing()
    message.requester = person(routing.requester)
    if let n1 = approver(routing.n1) { message.n1 = n1 }
    if let n2 = approver(routing.n2) { message.n2 = n2 }
    if let proposed = routing.proposedN1 { message.proposedN1 = person(proposed.person) }
    message.coValidators = (routing.coValidators ?? []).compactMap { approver($0) }
    message.firstDegree = routing.firstDegree
    message.schoolDirector = routing.schoolDirector
    message.ondeDelegation = routing.ondeDelegation
    if case .automatic(let reason) = routing.autoValidation {
      message.autoValidated = true
      message.autoValidationReason = reason
    }
    if let validator = routing.effectiveValidator { message.effectiveValidator = person(validator) }
    message.problems = routing.problems.map { problem in
      .with {
        $0.code = problem.code
        $0.kind = Okey_V1_RoutingProblemKind(wireName: problem.code) ?? .unspecified
        $0.message = problem.message
      }
    }
    message.resolvedAt = .init(routing.resolvedAt)
    return message
  }

  static func document(_ document: DocumentSummary) -> Okey_V1_Document {
    .with {
      $0.documentID = document.id
      $0.filename = document.filename
      $0.mediaType = document.mediaType.rawValue
      $0.kind = document.kind
      $0.sizeBytes = Int64(document.sizeBytes)
      $0.sha256 = document.sha256
      $0.addedAt = .init(document.addedAt)
    }
  }

  static func place(_ place: PickupPlace) -> Okey_V1_PickupPlace {
    .with {
      $0.placeID = place.id
      $0.name = place.name
      $0.address = place.address
    }
  }

  static func slot(_ slot: PickupSlot, place: PickupPlace?) -> Okey_V1_PickupSlot {
    .with {
      $0.slotID = slot.id
      if let place { $0.place = Wire.place(place) } else { $0.place = .with { $0.placeID = slot.placeID } }
      $0.startsAt = .init(slot.startsAt)
      $0.endsAt = .init(slot.endsAt)
      $0.capacity = Int32(slot.capacity)
      $0.booked = Int32(slot.booked)
    }
  }

  /// An outbox message as support sees it (the DSI mailbox stands for its own messages' recipient).
  static func outboxMessage(_ message: OutboxMessage, dsiMailbox: String) -> Okey_V1_OutboxMessage {
    .with {
      $0.id = message.id
      $0.requestID = message.renewalID
      $0.kind = message.kind.rawValue
      $0.recipientUid = message.recipient?.uid ?? ""
      $0.recipientMail = message.recipient?.mail ?? dsiMailbox
      $0.state = message.state.rawValue
      $0.deliveryState = Okey_V1_OutboxState(wireName: message.state.rawValue) ?? .unspecified
      $0.attempts = Int32(message.attempts)
      $0.lastError = message.lastError ?? ""
      $0.messageID = message.messageID
      $0.createdAt = .init(message.createdAt)
    }
  }

  static func event(_ stored: AuditEvent) -> Okey_V1_HistoryEvent {
    .with {
      $0.sequence = stored.sequence
      $0.at = .init(stored.event.at)
      $0.actor = stored.event.actor
      $0.onBehalfOf = stored.event.onBehalfOf ?? ""
      $0.role = role(stored.event.role)
      $0.action = stored.event.action
      if let from = stored.event.from { $0.fromStatus = status(from) }
      $0.toStatus = status(stored.event.to)
      $0.details = stored.event.details
    }
  }

  static func renewal(
    _ renewal: RenewalRequest,
    catalogue: ReasonCatalogue,
    history: [AuditEvent] = [],
    place: PickupPlace? = nil,
    slot: PickupSlot? = nil
  ) -> Okey_V1_Renewal {
    var message = Okey_V1_Renewal()
    message.requestID = renewal.id
    message.agentUid = renewal.agentUID
    message.keyType = keyType(renewal.keyType)
    message.motif = motif(renewal.motif)
    message.motifDetails = renewal.motifDetails
    message.status = status(renewal.status)
    message.version = renewal.version
    message.documents = renewal.documents.map(document)
    if renewal.status == .draft || renewal.status == .awaitingDocuments {
      message.missingDocumentKinds = catalogue.missingKinds(for: renewal.motif, documents: renewal.documents)
    }
    message.routing = routing(renewal.routing)
    message.routed = renewal.routed
    message.platform = platform(renewal.platform)
    message.charterVersion = renewal.charterVersion ?? ""
    if let signed = renewal.charterSignedAt { message.charterSignedAt = .init(signed) }
    message.newKeySerial = renewal.newKeySerial ?? ""
    if let place {
      message.pickupPlace = Wire.place(place)
    } else if let id = renewal.pickupPlaceID {
      message.pickupPlace = .with { $0.placeID = id }
    }
    if let slot, let bookedAt = renewal.appointmentBookedAt {
      message.appointment = .with {
        $0.slot = Wire.slot(slot, place: place)
        $0.bookedAt = .init(bookedAt)
      }
    }
    message.decidedBy = renewal.decidedBy ?? ""
    message.decisionKind =
      renewal.decidedBy.map { $0 == RenewalRequest.automaticDecision ? .automatic : .approver } ?? .unspecified
    message.decisionComment = renewal.decisionComment ?? ""
    message.createdAt = .init(renewal.createdAt)
    message.updatedAt = .init(renewal.updatedAt)
    if let sent = renewal.elementsSentAt { message.elementsSentAt = .init(sent) }
    message.statusSince = .init(renewal.statusSince ?? renewal.updatedAt)
    message.handoverEstablishment = renewal.handoverEstablishment ?? ""
    message.enrolmentByCode = renewal.enrolmentByCode == true
    if let at = renewal.enrolmentCodeExpiresAt { message.enrolmentCodeExpiresAt = .init(at) }
    if let at = renewal.enrolmentCodeReadAt { message.enrolmentCodeReadAt = .init(at) }
    if let at = renewal.earlyPhoneChangeAllowedAt { message.earlyPhoneChangeAllowedAt = .init(at) }
    message.history = history.map(event)
    return message
  }

  static func key(_ key: KeyRecord) -> Okey_V1_Key {
    .with {
      $0.serial = key.serial
      $0.keyType = keyType(key.keyType)
      $0.status = key.status == .active ? .active : .replaced
      $0.activatedAt = .init(key.activatedAt)
      if let replaced = key.replacedAt { $0.replacedAt = .init(replaced) }
      $0.requestID = key.renewalID ?? ""
    }
  }

  static func charter(_ charter: Charter) -> Okey_V1_Charter {
    .with {
      $0.version = charter.version
      $0.text = charter.text
      $0.footer = charter.footer
      $0.publishedAt = .init(charter.publishedAt)
    }
  }

  // MARK: Page tokens

  /// An opaque page token for a cursor (base64 of "millis:id").
  static func pageToken(_ cursor: RenewalCursor?) -> String {
    guard let cursor else { return "" }
    return Data("\(cursor.createdAt.millisecondsSinceEpoch):\(cursor.id)".utf8).base64EncodedString()
  }

  static func cursor(_ token: String) throws -> RenewalCursor? {
    guard !token.isEmpty else { return nil }
    guard token.count <= 400, let data = Data(base64Encoded: token), let text = String(data: data, encoding: .utf8),
      let colon = text.firstIndex(of: ":"), let millis = Int64(text[..<colon]),
      (Google_Protobuf_Timestamp.secondsRange.lowerBound * 1000...Google_Protobuf_Timestamp.secondsRange.upperBound
        * 1000).contains(millis)
    else {
      throw APIError.invalidArgument(
        "page_token", "not a token this server gave: pass next_page_token unchanged, or empty for the first page")
    }
    return RenewalCursor(
      createdAt: Instant(millisecondsSinceEpoch: millis), id: String(text[text.index(after: colon)...]))
  }

  /// The token of a page that starts after `offset` items (lists read whole, handed out in pages).
  static func offsetToken(_ offset: Int) -> String { numberToken("o", Int64(offset)) }

  /// The offset a page token carries; 0 for an empty token.
  static func offset(_ token: String) throws -> Int { Int(try tokenNumber("o", token)) }

  /// The token of a page that starts after row `id`.
  static func rowIDToken(_ id: Int64) -> String { numberToken("r", id) }

  /// The row id a page token carries; 0 for an empty token.
  static func rowID(_ token: String) throws -> Int64 { try tokenNumber("r", token) }

  /// A page token holding a kind letter and a number.
  private static func numberToken(_ kind: String, _ number: Int64) -> String {
    Data("\(kind):\(number)".utf8).base64EncodedString()
  }

  /// The number a page token of `kind` holds; 0 for an empty token; INVALID_ARGUMENT for anything
  /// this server did not give.
  private static func tokenNumber(_ kind: String, _ token: String) throws -> Int64 {
    guard !token.isEmpty else { return 0 }
    guard token.count <= 40, let data = Data(base64Encoded: token), let text = String(data: data, encoding: .utf8),
      text.hasPrefix(kind + ":"), let number = Int64(text.dropFirst(kind.count + 1)), number >= 0
    else {
      throw APIError.invalidArgument(
        "page_token", "not a token this server gave: pass next_page_token unchanged, or empty for the first page")
    }
    return number
  }

  static func pageSize(_ requested: Int32) throws -> Int {
    guard requested >= 0 else { throw APIError.invalidArgument("page_size", "must not be negative") }
    return requested == 0 ? 20 : min(Int(requested), 100)
  }
}
