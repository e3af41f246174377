import Foundation
import OKeyAPI
import SwiftProtobuf

/// The one place where the client's values meet the wire's: enums by name (derived), messages field
/// by field.
enum FromWire {
  /// The client's value of a wire enum: the case whose raw value is the wire value's name.
  static func value<Value: RawRepresentable<String>>(_ value: some WireNamedEnum) -> Value? {
    Value(rawValue: value.wireName)
  }

  /// The wire value of a client value, by name; the zero value for one the contract lacks.
  static func wire<Wire: WireNamedEnum>(_ value: some RawRepresentable<String>) -> Wire {
    Wire(wireName: value.rawValue) ?? Wire()
  }

  static func keyType(_ value: Okey_V1_KeyType) -> KeyType { Self.value(value) ?? .hardware }
  static func motif(_ value: Okey_V1_Motif) -> Motif? { Self.value(value) }
  static func status(_ value: Okey_V1_RenewalStatus) -> RenewalStatus { Self.value(value) ?? .unknown }

  static func outboxEntry(_ value: Okey_V1_OutboxMessage) -> OutboxEntry {
    OutboxEntry(
      id: value.id, requestID: value.requestID, kind: value.kind, recipientUID: value.recipientUid,
      recipientMail: value.recipientMail, state: value.state, attempts: Int(value.attempts), lastError: value.lastError,
      messageID: value.messageID, createdAt: Date(value.createdAt))
  }

  static func person(_ value: Okey_V1_Person) -> Person {
    Person(uid: value.uid, displayName: value.displayName, mail: value.mail, active: value.active)
  }

  static func routing(_ value: Okey_V1_Routing) -> RoutingInfo {
    RoutingInfo(
      requester: person(value.requester),
      n1: value.hasN1 && value.n1.hasPerson ? person(value.n1.person) : nil, n1FoundBy: value.n1.foundBy,
      n2: value.hasN2 && value.n2.hasPerson ? person(value.n2.person) : nil, n2FoundBy: value.n2.foundBy,
      effectiveValidator: value.hasEffectiveValidator ? person(value.effectiveValidator) : nil,
      firstDegree: value.firstDegree, schoolDirector: value.schoolDirector, ondeDelegation: value.ondeDelegation,
      autoValidated: value.autoValidated, autoValidationReason: value.autoValidationReason,
      problems: value.problems.map { RoutingInfo.Problem(code: $0.code, message: $0.message) })
  }

  static func place(_ value: Okey_V1_PickupPlace) -> PickupPlace {
    PickupPlace(id: value.placeID, name: value.name, address: value.address)
  }

  static func slot(_ value: Okey_V1_PickupSlot) -> PickupSlot {
    PickupSlot(
      id: value.slotID, placeID: value.place.placeID, startsAt: Date(value.startsAt), endsAt: Date(value.endsAt),
      capacity: Int(value.capacity), booked: Int(value.booked))
  }

  static func renewal(_ value: Okey_V1_Renewal) -> Renewal {
    Renewal(
      id: value.requestID, agentUID: value.agentUid, keyType: keyType(value.keyType), motif: motif(value.motif),
      motifDetails: value.motifDetails, status: status(value.status), version: value.version,
      documents: value.documents.map {
        DocumentInfo(
          id: $0.documentID, filename: $0.filename, mediaType: $0.mediaType, kind: $0.kind, sizeBytes: $0.sizeBytes,
          sha256: $0.sha256)
      },
      missingDocumentKinds: value.missingDocumentKinds, routing: routing(value.routing), routed: value.routed,
      platform: Self.value(value.platform),
      charterVersion: value.charterVersion, newKeySerial: value.newKeySerial,
      pickupPlace: value.hasPickupPlace ? place(value.pickupPlace) : nil,
      appointment: value.hasAppointment ? slot(value.appointment.slot) : nil,
      decidedBy: value.decidedBy, decisionComment: value.decisionComment,
      createdAt: Date(value.createdAt), updatedAt: Date(value.updatedAt),
      elementsSentAt: value.hasElementsSentAt ? Date(value.elementsSentAt) : nil,
      statusSince: value.hasStatusSince ? Date(value.statusSince) : Date(value.updatedAt),
      history: value.history.map {
        HistoryEntry(
          sequence: $0.sequence, at: Date($0.at), actor: $0.actor, onBehalfOf: $0.onBehalfOf, action: $0.action,
          from: $0.fromStatus == .unspecified ? nil : status($0.fromStatus), to: status($0.toStatus),
          details: $0.details)
      }, handoverEstablishment: value.handoverEstablishment,
      enrolmentCodeExpiresAt: value.hasEnrolmentCodeExpiresAt ? Date(value.enrolmentCodeExpiresAt) : nil,
      enrolmentCodeReadAt: value.hasEnrolmentCodeReadAt ? Date(value.enrolmentCodeReadAt) : nil,
      earlyPhoneChangeAllowedAt: value.hasEarlyPhoneChangeAllowedAt ? Date(value.earlyPhoneChangeAllowedAt) : nil)
  }

  static func principal(_ value: Okey_V1_Principal) -> PrincipalInfo {
    PrincipalInfo(
      uid: value.uid, displayName: value.displayName,
      roles: value.roles.map { role in Okey_V1_Role(wireName: role.wireName) == nil ? "UNKNOWN" : role.wireName },
      serviceAccount: value.serviceAccount, expiresAt: value.hasExpiresAt ? Date(value.expiresAt) : nil,
      headedEstablishments: value.headedEstablishments)
  }
}
