import Foundation
import OKeyAPI
import SwiftProtobuf

/// Key types, in the API's words without prefixes.
public enum KeyType: String, Sendable, Codable, CaseIterable {
  case software = "SOFTWARE"
  case hardware = "HARDWARE"
}

/// Reasons for a renewal.
public enum Motif: String, Sendable, Codable, CaseIterable {
  case expired = "EXPIRED"
  case lost = "LOST"
  case stolen = "STOLEN"
  case broken = "BROKEN"
  case phoneChanged = "PHONE_CHANGED"
  case typeChange = "TYPE_CHANGE"
  case other = "OTHER"
  case firstKey = "FIRST_KEY"
}

/// Phone platforms.
public enum MobilePlatform: String, Sendable, Codable, CaseIterable {
  case android = "ANDROID"
  case ios = "IOS"
}

/// Where a request stands.
public enum RenewalStatus: String, Sendable, Codable, CaseIterable {
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
  case unknown = "UNKNOWN"
}

/// A person as the server shows them.
public struct Person: Sendable, Codable, Equatable {
  public var uid: String
  public var displayName: String
  public var mail: String
  public var active: Bool
}

/// A routing: who validates whom, and the directory problems found.
public struct RoutingInfo: Sendable, Codable, Equatable {
  public var requester: Person
  public var n1: Person?
  public var n1FoundBy: String
  public var n2: Person?
  public var n2FoundBy: String
  public var effectiveValidator: Person?
  public var firstDegree: Bool
  public var schoolDirector: Bool
  public var ondeDelegation: Bool
  public var autoValidated: Bool
  public var autoValidationReason: String
  public var problems: [Problem]

  /// A problem in the directory data.
  public struct Problem: Sendable, Codable, Equatable {
    public var code: String
    public var message: String
  }
}

/// A supporting document's metadata.
public struct DocumentInfo: Sendable, Codable, Equatable {
  public var id: String
  public var filename: String
  public var mediaType: String
  public var kind: String
  public var sizeBytes: Int64
  public var sha256: String
}

/// A pickup place.
public struct PickupPlace: Sendable, Codable, Equatable {
  public var id: String
  public var name: String
  public var address: String

  /// Creates a place.
  public init(id: String, name: String, address: String) {
    self.id = id
    self.name = name
    self.address = address
  }
}

/// A pickup slot.
public struct PickupSlot: Sendable, Codable, Equatable {
  public var id: String
  public var placeID: String
  public var startsAt: Date
  public var endsAt: Date
  public var capacity: Int
  public var booked: Int
}

/// One entry of a request's history.
public struct HistoryEntry: Sendable, Codable, Equatable {
  public var sequence: Int64
  public var at: Date
  public var actor: String
  public var onBehalfOf: String
  public var action: String
  public var from: RenewalStatus?
  public var to: RenewalStatus
  public var details: String
}

/// A renewal request.
public struct Renewal: Sendable, Codable, Equatable {
  public var id: String
  public var agentUID: String
  public var keyType: KeyType
  public var motif: Motif?
  public var motifDetails: String
  public var status: RenewalStatus
  public var version: Int64
  public var documents: [DocumentInfo]
  public var missingDocumentKinds: [String]
  public var routing: RoutingInfo
  public var routed: Bool
  public var platform: MobilePlatform?
  public var charterVersion: String
  public var newKeySerial: String
  public var pickupPlace: PickupPlace?
  public var appointment: PickupSlot?
  public var decidedBy: String
  public var decisionComment: String
  public var createdAt: Date
  public var updatedAt: Date
  /// Software keys: when the agent said the enrolment elements were sent.
  public var elementsSentAt: Date?
  /// When the request entered its current status.
  public var statusSince: Date
  public var history: [HistoryEntry]
  /// Hardware keys handed over at the agent's establishment: its UAI (empty for a DSI place).
  public var handoverEstablishment: String = ""
  /// Software keys whose token comes by QR code: until when the attached code may be read (nil when
  /// none waits).
  public var enrolmentCodeExpiresAt: Date? = nil
  /// When the agent read the enrolment code.
  public var enrolmentCodeReadAt: Date? = nil
  /// On a completed phone change: when the DSI let the agent change phone again early.
  public var earlyPhoneChangeAllowedAt: Date? = nil
}

/// An enrolment code, as the agent reads it once.
public struct EnrolmentCode: Sendable, Equatable {
  /// The token's provisioning payload (the QR code's text).
  public var payload: String
  /// A PNG image of its QR code.
  public var qrCodePNG: [UInt8]
  /// The request after the reading.
  public var renewal: Renewal
}

/// A key of a person's inventory.
public struct KeyInfo: Sendable, Codable, Equatable {
  public var serial: String
  public var keyType: KeyType
  public var active: Bool
  public var activatedAt: Date
  public var replacedAt: Date?
  public var requestID: String
}

/// The charter.
public struct CharterInfo: Sendable, Codable, Equatable {
  public var version: String
  public var text: String
  public var footer: String
  public var publishedAt: Date
}

/// Who is calling.
public struct PrincipalInfo: Sendable, Codable, Equatable {
  public var uid: String
  public var displayName: String
  public var roles: [String]
  public var serviceAccount: String
  public var expiresAt: Date?
  /// The establishments (UAI) the person heads now, whose keys they hand over.
  public var headedEstablishments: [String] = []
}

/// A login's result.
public struct LoginResult: Sendable, Codable, Equatable {
  public var token: String
  public var expiresAt: Date
  public var principal: PrincipalInfo
}

/// How much of each request a search returns.
public enum SearchView: String, Sendable, Codable, CaseIterable {
  /// A list's columns: id, agent, key type, status, version, routed, times, N+1 and N+2 uids.
  case basic = "BASIC"
  /// Everything but the history.
  case full = "FULL"
}

/// One page of requests.
public struct RenewalPage: Sendable, Codable, Equatable {
  public var renewals: [Renewal]
  public var nextPageToken: String
}

/// What to do to enrol a software key.
public struct EnrolmentInstructions: Sendable, Codable, Equatable {
  public var platform: MobilePlatform?
  public var steps: [String]
  /// Where the agent sends the enrolment elements.
  public var dsiMailbox: String
  /// The academy's documentation of the procedure; empty when none is configured.
  public var documentationURL: String = ""
  /// The language of `steps`: fr or en.
  public var language: String = ""
}

/// What one motif needs before its request is routed.
public struct MotifRequirements: Sendable, Codable, Equatable {
  /// The motif.
  public var motif: Motif
  /// Document kinds that must each be given by at least one document.
  public var requiredDocumentKinds: [String]
  /// True when the motif must be explained (`--details`).
  public var detailsRequired: Bool
}

/// The reasons catalogue okeyd runs with.
public struct ReasonsCatalogue: Sendable, Codable, Equatable {
  /// One entry per motif.
  public var motifs: [MotifRequirements]
  /// Every document kind an upload may declare, sorted.
  public var documentKinds: [String]
}

/// The audit trail's state.
public struct AuditReport: Sendable, Codable, Equatable {
  public var intact: Bool
  public var eventsChecked: Int64
  public var problems: [String]
  /// True when the events' signatures (HMAC under okeyd's audit key) were checked.
  public var keyed: Bool = false
  /// Requests whose stored state was compared with their last event.
  public var requestsChecked: Int64 = 0
}

/// The head of the audit chain, to keep outside OKEY and give back to a later verification.
public struct AuditHeadInfo: Sendable, Codable, Equatable {
  /// Sequence number of the last event.
  public var sequence: Int64
  /// Its hash (lower-case hex).
  public var hash: String
  /// When it was written.
  public var at: Date?

  /// Creates a head, e.g. from what `okey audit head` printed.
  public init(sequence: Int64, hash: String, at: Date? = nil) {
    self.sequence = sequence
    self.hash = hash
    self.at = at
  }
}

/// A supporting document with its content (empty for support staff, who see metadata only).
public struct DocumentContent: Sendable, Equatable {
  /// The metadata.
  public var document: DocumentInfo
  /// The bytes, as uploaded.
  public var content: Data
  /// False when only the metadata was given (support staff).
  public var contentIncluded: Bool
}

/// Figures for support.
public struct ServiceStats: Sendable, Codable, Equatable {
  public var renewalsByStatus: [String: Int64]
  public var directoryCacheHits: Int64
  public var directoryCacheMisses: Int64
  public var outboxPending: Int64
  public var outboxDead: Int64
  /// Rows and bytes of each table of the store.
  public var tables: [TableStats] = []
  /// The database file and its write-ahead log, in bytes.
  public var databaseBytes: Int64 = 0
  public var walBytes: Int64 = 0
}

/// Rows and bytes (indexes included) of one table of the store.
public struct TableStats: Sendable, Codable, Equatable {
  public var name: String
  public var rows: Int64
  public var bytes: Int64
}

// MARK: Conversions from the wire

extension Date {
  init(_ timestamp: Google_Protobuf_Timestamp) {
    self = timestamp.date
  }
}

/// A notification in the outbox.
public struct OutboxEntry: Sendable, Codable, Equatable {
  public var id: Int64
  public var requestID: String
  public var kind: String
  public var recipientUID: String
  public var recipientMail: String
  public var state: String
  public var attempts: Int
  public var lastError: String
  public var messageID: String
  public var createdAt: Date
}

/// A key that exists outside OKEY, to record in the inventory (``OKeyClient/importKeys(_:)``).
public struct ExistingKey: Sendable, Codable, Equatable {
  public var serial: String
  /// Nil for a type the caller could not read (the server refuses that key).
  public var keyType: KeyType?
  public var uid: String
  /// Nil for a date the caller could not read (the server refuses that key).
  public var activatedAt: Date?

  /// A key to record.
  public init(serial: String, keyType: KeyType?, uid: String, activatedAt: Date?) {
    self.serial = serial
    self.keyType = keyType
    self.uid = uid
    self.activatedAt = activatedAt
  }
}

/// What became of one key of ``OKeyClient/importKeys(_:)``.
public struct KeyImportInfo: Sendable, Codable, Equatable {
  /// Its position in the call (from 0).
  public var index: Int
  public var serial: String
  /// RECORDED, UNCHANGED or REFUSED.
  public var outcome: String
  /// Why it was refused; empty otherwise.
  public var reason: String
}

/// What a request waits for (``OKeyClient/explain(requestID:)``).
public struct RenewalExplanation: Sendable, Codable, Equatable {
  /// The request.
  public var renewal: Renewal
  /// Its step, in words.
  public var step: String
  /// AGENT, APPROVER, DSI or NOBODY.
  public var waitingFor: String
  /// The people who must act, by name (empty for the DSI and for nobody).
  public var people: [Person]
  /// Since when it waits.
  public var since: Date
  /// Its last three events, oldest first.
  public var lastEvents: [HistoryEntry]
  /// The last message the agent was sent about it.
  public var lastMessageToAgent: OutboxEntry?
}

/// The figures of a period (``OKeyClient/report(from:to:lateAfterBusinessDays:)``).
public struct ReportInfo: Sendable, Codable, Equatable {
  /// One step's duration over the requests that went through it.
  public struct StepTime: Sendable, Codable, Equatable {
    public var step: String
    public var count: Int
    public var medianSeconds: Int64
    public var p90Seconds: Int64
  }

  /// An open request waiting longer than the threshold.
  public struct Late: Sendable, Codable, Equatable {
    public var requestID: String
    public var agentUID: String
    public var status: RenewalStatus
    public var since: Date
    public var businessDays: Int
    public var waitingFor: String
    public var people: [String]
  }

  public var requests: Int
  public var byStatus: [String: Int]
  public var byMotif: [String: Int]
  public var byKeyType: [String: Int]
  public var byEstablishment: [String: Int]
  public var stepTimes: [StepTime]
  public var late: [Late]
}
