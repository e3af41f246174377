import Foundation
import OKeyDirectory
import OKeyDomain
import OKeyPostgresStore
import OKeyStore
import Yams

/// Everything okeyd needs to run, built once at start from the configuration file and the
/// environment, then passed down. Every field has a documented default; `okeyd.example.yaml`
/// shows them all. Keys left out of the file keep their defaults.
public struct OKeyConfiguration: Sendable, Equatable, Codable {
  /// Where okeyd listens. Default 127.0.0.1:50051.
  public var listen = ListenAddress(host: "127.0.0.1", port: 50051)
  /// TLS on the gRPC listener; nil for none (allowed on a loopback address, elsewhere only with
  /// `plaintext`).
  public var tls: TLSSettings?
  /// Listen without TLS on a non-loopback address: only when set explicitly (file, or
  /// OKEY_PLAINTEXT=true). A loopback address needs no TLS and no flag. Default false.
  public var plaintext = false

  /// The listener's certificate and, for internal systems, client-certificate verification.
  public struct TLSSettings: Sendable, Equatable, Codable {
    /// PEM certificate chain of okeyd.
    public var certificateFile: String
    /// PEM private key of that certificate.
    public var privateKeyFile: String
    /// PEM CA certificates of internal systems: when set, every client must present a certificate
    /// they sign (mutual TLS).
    public var clientCAFile: String?

    /// Creates TLS settings.
    public init(certificateFile: String, privateKeyFile: String, clientCAFile: String? = nil) {
      self.certificateFile = certificateFile
      self.privateKeyFile = privateKeyFile
      self.clientCAFile = clientCAFile
    }
  }
  /// Transport, payload and document limits.
  public var limits = Limits()
  /// The SQLite database.
  public var database = Database()
  /// Log level: trace, debug, info, notice, warning, error or critical. Default info.
  public var logLevel = "info"
  /// Log lines as text (default, for people) or json (one object a line, for log shippers), with
  /// the same fields.
  public var logFormat = "text"
  /// Longest time a graceful shutdown waits for in-flight RPCs before cancelling them. Default 10 s.
  public var shutdownGraceSeconds = 10
  /// How to reach the directory.
  public var directory = DirectoryConfiguration()
  /// How routing reads the directory.
  public var routing = RoutingConfiguration()
  /// Login sessions.
  public var sessions = Sessions()
  /// Internal systems (the portal, DSI tools) and the SHA-256 of their keys.
  public var serviceAccounts: [ServiceAccount] = []
  /// The academy's time zone (an IANA name): delegation windows, business days, escalation and the
  /// dates written in mails count in it. Default Indian/Reunion (UTC+4).
  public var timeZone = "Indian/Reunion"
  /// Public holidays (YYYY-MM-DD): not business days. Default: France's public holidays of 2026 and
  /// 2027 and 20 December (abolition of slavery in Réunion); keep the list current.
  public var holidays: [String] = OKeyConfiguration.defaultHolidays
  /// The DSI mailbox, where agents send enrolment elements and the DSI hears of work.
  public var dsiMailbox = "dsi@ac-test.fr"
  /// Notification mail.
  public var mail = Mail()
  /// Where Prometheus scrapes `GET /metrics` (HOST:PORT); nil for no metrics listener.
  public var metricsListen: ListenAddress?
  /// The audit trail's key and head export.
  public var audit = Audit()
  /// How long personal data and replay keys are kept.
  public var retention = Retention()
  /// When waiting requests remind the person who must act.
  public var reminders = Reminders()

  /// The reasons catalogue: what each motif needs before a request is routed.
  public var reasons = Reasons()
  /// The enrolment of software keys: the instructions agents read, and where the elements go.
  public var enrolment = Enrolment()
  /// The phone change of a software key (motif PHONE_CHANGED).
  public var phoneChange = PhoneChange()
  /// Where hardware keys are handed over.
  public var handover = Handover()

  /// Where hardware keys are handed over: agents of the establishment types listed collect theirs
  /// from the head of their establishment (the OKEY book's second degree), without an appointment;
  /// the others at the place the DSI gives at finalisation.
  public struct Handover: Sendable, Equatable, Codable {
    /// Establishment type codes (FrEduRne's type, e.g. CLG) handed over at the establishment; empty
    /// sends every key to a DSI place. Default the second-degree types CLG, LYC, LP, EREA, ERPD.
    public var establishmentTypes = ["CLG", "LYC", "LP", "EREA", "ERPD"]
    /// The defaults.
    public init() {}

    /// The domain's policy.
    public var policy: HandoverPolicy { HandoverPolicy(establishmentTypes: Set(establishmentTypes)) }
  }

  /// The phone change of the OKEY book: a new phone for a software key.
  public struct PhoneChange: Sendable, Equatable, Codable {
    /// False (default, as the book describes): validated at submission without a manager; true
    /// keeps the N+1's approval.
    public var requiresApproval = false
    /// Days after a completed phone change before the agent may ask another; 0 for no limit.
    /// Default 7.
    public var minDays = 7
    /// The defaults.
    public init() {}

    /// The domain's policy.
    public var policy: PhoneChangePolicy { PhoneChangePolicy(requiresApproval: requiresApproval, minDays: minDays) }
  }

  /// The reasons catalogue. Each motif (EXPIRED, LOST, STOLEN, BROKEN, PHONE_CHANGED, TYPE_CHANGE,
  /// OTHER) names the document kinds that must each be given before the request is routed, and
  /// whether `motif_details` must explain it. A file that sets one motif keeps the others' defaults.
  public struct Reasons: Sendable, Equatable, Codable {
    /// What one motif needs.
    public struct MotifRule: Sendable, Equatable, Codable {
      /// Document kinds (lower-case words joined by '-'), each needed at least once; at least one.
      public var documents: [String]
      /// True when the agent must explain the motif in `motif_details`. Default false.
      public var detailsRequired = false
      /// Creates a rule.
      public init(documents: [String], detailsRequired: Bool = false) {
        self.documents = documents
        self.detailsRequired = detailsRequired
      }
    }
    /// Rules by motif. Default: today's catalogue (a loss declaration for LOST, a theft report for
    /// STOLEN, a supporting document otherwise, details for OTHER).
    public var motifs: [String: MotifRule] = Dictionary(
      uniqueKeysWithValues: ReasonCatalogue.standard.entries.map {
        (
          $0.key.rawValue,
          MotifRule(documents: $0.value.requiredDocumentKinds, detailsRequired: $0.value.requiresDetails)
        )
      })
    /// Kinds an upload may also declare without any motif requiring them. Default supporting-document.
    public var extraDocumentKinds = ["supporting-document"]
    /// The defaults.
    public init() {}

    /// The domain's catalogue (of a validated configuration).
    public var catalogue: ReasonCatalogue {
      var entries: [Motif: ReasonCatalogue.Entry] = [:]
      for (name, rule) in motifs {
        guard let motif = Motif(rawValue: name) else { continue }
        entries[motif] = .init(requiredDocumentKinds: rule.documents, requiresDetails: rule.detailsRequired)
      }
      return ReasonCatalogue(entries: entries, extraKinds: Set(extraDocumentKinds))
    }

    /// Throws a ``ConfigurationError`` naming the first wrong setting.
    func validate() throws {
      for motif in Motif.allCases where motifs[motif.rawValue] == nil {
        throw ConfigurationError("reasons.motifs.\(motif.rawValue) is missing: every motif needs its rule")
      }
      for (name, rule) in motifs.sorted(by: { $0.key < $1.key }) {
        guard Motif(rawValue: name) != nil else {
          throw ConfigurationError(
            "reasons.motifs.\(name) is not a motif; the motifs are \(Motif.allCases.map(\.rawValue).joined(separator: ", "))"
          )
        }
        guard !rule.documents.isEmpty else {
          throw ConfigurationError(
            "reasons.motifs.\(name).documents is empty: a request is routed only with its documents, name at least one kind"
          )
        }
        for kind in rule.documents { try Self.check(kind: kind, setting: "reasons.motifs.\(name).documents") }
        guard Set(rule.documents).count == rule.documents.count else {
          throw ConfigurationError("reasons.motifs.\(name).documents names a kind twice")
        }
      }
      for kind in extraDocumentKinds { try Self.check(kind: kind, setting: "reasons.extraDocumentKinds") }
    }

    private static func check(kind: String, setting: String) throws {
      let allowed = kind.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
      guard allowed, (1...40).contains(kind.count), kind.first != "-", kind.last != "-" else {
        throw ConfigurationError(
          "\(setting): '\(kind)' is not a document kind: 1 to 40 lower-case letters, digits and '-' (e.g. theft-report)"
        )
      }
    }
  }

  /// The enrolment of software keys.
  public struct Enrolment: Sendable, Equatable, Codable {
    /// Where agents send the enrolment elements; empty for `dsiMailbox`. Default empty.
    public var elementsMailbox = ""
    /// The academy's documentation of the procedure (https), offered with the instructions and usable
    /// in them as `{documentationURL}`; empty for none. Default empty.
    public var documentationURL = ""
    /// The steps by platform (ANDROID, IOS) and language (fr, en); placeholders `{mailbox}`,
    /// `{requestId}`, `{documentationURL}`, `{pin}` (the old key's PIN stays, or a first key's is
    /// defined with the OTP system). Default: today's four steps. A file that sets one
    /// platform's language keeps the others' defaults.
    public var instructions: [String: [String: [String]]] = Dictionary(
      uniqueKeysWithValues: EnrolmentGuide.standardSteps.map { ($0.key.rawValue, $0.value) })
    /// How the new software token reaches the phone: `mailbox` (default: the agent sends its elements
    /// to the elements mailbox, the DSI confirms them) or `qr` (the DSI, or a tool of the OTP system,
    /// attaches the token's provisioning payload; the agent reads it once as a QR code and scans it).
    public var mode = "mailbox"
    /// `qr`: hours an attached code may wait unread before it is wiped. Default 24.
    public var codeHours = 24
    /// `qr`: the file holding the key that seals the codes in the database (at least 32 bytes, e.g.
    /// `openssl rand -hex 32`), kept outside the database and its backups like `audit.keyFile`.
    public var codeKeyFile: String?
    /// `qr`: the steps by platform and language, as `instructions`. Default: install the
    /// authenticator, read the code in OKEY once and scan it, say so, sign the charter.
    public var qrInstructions: [String: [String: [String]]] = Dictionary(
      uniqueKeysWithValues: EnrolmentGuide.qrCodeSteps.map { ($0.key.rawValue, $0.value) })
    /// The defaults.
    public init() {}

    /// True when the token comes by QR code.
    public var byCode: Bool { mode == "qr" }

    /// The domain's guide (of a validated configuration), with `dsiMailbox` when no elements mailbox is set.
    public func guide(dsiMailbox: String) -> EnrolmentGuide {
      var steps: [MobilePlatform: [String: [String]]] = [:]
      for (name, byLanguage) in byCode ? qrInstructions : instructions {
        guard let platform = MobilePlatform(rawValue: name) else { continue }
        steps[platform] = byLanguage
      }
      return EnrolmentGuide(
        steps: steps, mailbox: elementsMailbox.isEmpty ? dsiMailbox : elementsMailbox,
        documentationURL: documentationURL)
    }

    /// Throws a ``ConfigurationError`` naming the first wrong setting.
    func validate() throws {
      if !elementsMailbox.isEmpty, !OKeyConfiguration.looksLikeMailAddress(elementsMailbox) {
        throw ConfigurationError(
          "enrolment.elementsMailbox: '\(elementsMailbox)' is not a mail address (name@domain), or leave it empty for dsiMailbox"
        )
      }
      if !documentationURL.isEmpty {
        let rest = documentationURL.hasPrefix("https://") ? documentationURL.dropFirst(8) : ""
        let host = rest.split(separator: "/", maxSplits: 1).first ?? ""
        guard !host.isEmpty, !documentationURL.contains(where: { $0.isWhitespace || $0.isNewline }) else {
          throw ConfigurationError(
            "enrolment.documentationURL: '\(documentationURL)' is not an https:// address (e.g. https://www.ac-test.fr/okey)"
          )
        }
      }
      guard (1...168).contains(codeHours) else {
        throw ConfigurationError("enrolment.codeHours must be between 1 and 168 (a week)")
      }
      if byCode {
        guard let codeKeyFile else {
          throw ConfigurationError(
            "enrolment.codeKeyFile is not set: enrolment.mode qr needs a key file outside the database (openssl rand -hex 32 > enrolment.key)"
          )
        }
        _ = try AuditKeyFile.read(codeKeyFile, setting: "enrolment.codeKeyFile")
      }
      try Self.validate(instructions, setting: "enrolment.instructions", documentationURL: documentationURL)
      try Self.validate(qrInstructions, setting: "enrolment.qrInstructions", documentationURL: documentationURL)
    }

    /// Throws a ``ConfigurationError`` naming the first wrong step of `instructions`.
    static func validate(_ instructions: [String: [String: [String]]], setting prefix: String, documentationURL: String)
      throws
    {
      for platform in MobilePlatform.allCases {
        for language in OKeyConfiguration.mailLanguages {
          let setting = "\(prefix).\(platform.rawValue).\(language)"
          guard let steps = instructions[platform.rawValue]?[language], !steps.isEmpty else {
            throw ConfigurationError("\(setting) is missing or empty: give the agent at least one step")
          }
          for (index, step) in steps.enumerated() {
            guard !step.trimmingSpaces.isEmpty, step.count <= 500 else {
              throw ConfigurationError("\(setting)[\(index)]: a step is 1 to 500 characters")
            }
            if let unknown = EnrolmentGuide.unknownPlaceholders(in: step).first {
              throw ConfigurationError(
                "\(setting)[\(index)]: \(unknown) is not a placeholder; use \(EnrolmentGuide.placeholders.joined(separator: ", "))"
              )
            }
            if step.contains("{documentationURL}"), documentationURL.isEmpty {
              throw ConfigurationError(
                "\(setting)[\(index)] uses {documentationURL} but enrolment.documentationURL is empty: set it")
            }
          }
        }
      }
      for (name, byLanguage) in instructions {
        guard MobilePlatform(rawValue: name) != nil else {
          throw ConfigurationError("\(prefix).\(name) is not a platform; use ANDROID or IOS")
        }
        if let language = byLanguage.keys.sorted().first(where: { !OKeyConfiguration.mailLanguages.contains($0) }) {
          throw ConfigurationError("\(prefix).\(name).\(language) is not a language; use fr or en")
        }
      }
    }
  }

  /// True for `name@domain` without spaces, angle brackets or line breaks.
  static func looksLikeMailAddress(_ text: String) -> Bool {
    let parts = text.split(separator: "@", omittingEmptySubsequences: false)
    return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".")
      && !text.contains(where: { $0.isWhitespace || $0.isNewline || "<>,;\"".contains($0) })
  }

  /// Reminders, in business days of the academy (0 turns one off); each is sent once per period
  /// while the request waits.
  public struct Reminders: Sendable, Equatable, Codable {
    /// The agent, in AWAITING_DOCUMENTS. Default 5.
    public var documentsBusinessDays = 5
    /// The agent, in AWAITING_ENROLMENT without the elements said sent. Default 3.
    public var elementsBusinessDays = 3
    /// The agent, in READY_FOR_PICKUP without an appointment. Default 5.
    public var pickupBusinessDays = 5
    /// The N+1, in PENDING_APPROVAL; below mail.escalationBusinessDays. Default 2.
    public var approverBusinessDays = 2
    /// The agent, the business day before their appointment. Default true.
    public var appointmentDayBefore = true
    /// The defaults.
    public init() {}

    /// The domain's periods.
    public var periods: ReminderPeriods {
      ReminderPeriods(
        documents: documentsBusinessDays, elements: elementsBusinessDays, pickup: pickupBusinessDays,
        approver: approverBusinessDays, appointmentDayBefore: appointmentDayBefore)
    }
  }

  /// How long personal data and replay keys are kept, and how often they are swept.
  public struct Retention: Sendable, Equatable, Codable {
    /// Days after a request ends (completed or rejected) before its documents' content is deleted;
    /// a cancelled request's is deleted at once. Name, size and SHA-256 stay. Default 90.
    public var documentDays = 90
    /// Days an idempotency key answers a retry with the first result. Default 7.
    public var idempotencyKeyDays = 7
    /// How often the sweep runs (documents, expired sessions, idempotency keys), in minutes. Default 60.
    public var sweepMinutes = 60
    /// The defaults.
    public init() {}
  }

  /// Notification mail: how messages leave the outbox.
  public struct Mail: Sendable, Equatable, Codable {
    /// Deliver the outbox at all. Default true.
    public var enabled = true
    /// A sendmail-compatible command reading the message on standard input. Default
    /// `/usr/sbin/sendmail -t -i`.
    public var command = "/usr/sbin/sendmail -t -i"
    /// The From address.
    public var from = "OKEY <okey-noreply@ac-test.fr>"
    /// Language of the messages: fr or en. Default fr.
    public var language = "fr"
    /// Attempts before a message is given up (dead letter). Default 8.
    public var maxAttempts = 8
    /// First retry delay, doubled at each attempt up to `maxBackoffSeconds`. Default 30 s.
    public var initialBackoffSeconds = 30
    /// Longest retry delay. Default 1 hour.
    public var maxBackoffSeconds = 3600
    /// How often the outbox is read, in seconds. Default 2.
    public var pollSeconds = 2.0
    /// A message claimed for sending whose attempt never recorded its end (a store error after
    /// sending, say) is tried again after this long, in seconds. Default 300.
    public var claimTimeoutSeconds = 300
    /// Business days a routed request waits before its N+2 is told (once). Default 3.
    public var escalationBusinessDays = 3
    /// How often waiting requests are checked for escalation, in seconds. Default 600.
    public var escalationScanSeconds = 600.0
    /// The defaults.
    public init() {}
  }

  /// Transport, payload and document limits.
  public struct Limits: Sendable, Equatable, Codable {
    /// Largest request message accepted, in bytes. Default 8 MiB (documents are at most 5 MiB).
    public var maxMessageBytes = 8 * 1024 * 1024
    /// Most concurrent RPC streams on one HTTP/2 connection. Default 100.
    public var maxConcurrentStreamsPerConnection = 100
    /// Largest supporting document, in bytes. Default 5 MiB.
    public var maxDocumentBytes = 5 * 1024 * 1024
    /// Most documents on one request. Default 10.
    public var maxDocumentsPerRequest = 10
    /// Most open Watch streams (WatchRenewal and Health.Watch) on one connection. Default 16.
    public var maxWatchStreamsPerConnection = 16
    /// Most open Watch streams in all. Default 2,000.
    public var maxWatchStreams = 2000
    /// A connection with no call for this long is closed, in seconds; 0 for never. Default 600.
    public var connectionMaxIdleSeconds = 600
    /// A connection older than this is asked to go away (its calls may finish within
    /// `connectionMaxGraceSeconds`), in seconds; 0 for never. Default 3,600: clients reconnect.
    public var connectionMaxAgeSeconds = 3600
    /// How long calls may go on after a connection reached its maximum age, in seconds. Default 60.
    public var connectionMaxGraceSeconds = 60
    /// The defaults.
    public init() {}
  }

  /// The database: one SQLite file (the default), or a PostgreSQL database shared by several okeyd
  /// replicas.
  public struct Database: Sendable, Equatable, Codable {
    /// The engines okeyd can run on.
    public enum Kind: String, Sendable, Equatable, Codable, CaseIterable {
      /// One file, one okeyd.
      case sqlite
      /// A PostgreSQL database, any number of okeyd replicas.
      case postgresql
    }

    /// `sqlite` (default) or `postgresql`.
    public var kind = Kind.sqlite
    /// SQLite: the file (created with its folder when missing). Default var/okey.sqlite.
    public var path = "var/okey.sqlite"
    /// SQLite: FULL (default: nothing acknowledged is lost, even on power loss) or NORMAL (faster; a
    /// power loss can lose the last commits). See ``Durability``.
    public var durability = Durability.full
    /// PostgreSQL: `postgres://ROLE@HOST:PORT/DATABASE`, with `?sslmode=require` (or `verify-full`) for
    /// TLS to the server, certificate checked against the system's roots. The password is never here:
    /// okeyd reads it from OKEY_DATABASE_PASSWORD.
    public var url = ""
    /// PostgreSQL: connections of this okeyd's pool (each replica has its own), 3 to 200: one listens
    /// for the other replicas' changes, one may hold a sweep's lock. Default 10.
    public var poolSize = 10
    /// PostgreSQL: how long a call waits for the database before failing UNAVAILABLE, in seconds.
    /// Default 5.
    public var timeoutSeconds = 5
    /// PostgreSQL: the role's password, from OKEY_DATABASE_PASSWORD only (not a setting of the file).
    public var password: String?

    enum CodingKeys: String, CodingKey {
      case kind, path, durability, url, poolSize, timeoutSeconds
    }

    /// The defaults.
    public init() {}

    /// Where and how to reach PostgreSQL (`kind: postgresql`).
    public func postgres() throws -> PostgresStoreConfiguration {
      do {
        return try PostgresStoreConfiguration(
          url: url, password: password, poolSize: poolSize, operationTimeout: .seconds(timeoutSeconds))
      } catch let error as StoreError {
        throw ConfigurationError(error.message)
      }
    }

    /// Refuses database settings that cannot work, naming the setting.
    public func validate() throws {
      guard kind == .postgresql else { return }
      guard !url.isEmpty else {
        throw ConfigurationError(
          "database.url is not set: database.kind postgresql needs postgres://ROLE@HOST:PORT/DATABASE (the password in OKEY_DATABASE_PASSWORD)"
        )
      }
      _ = try postgres()
      // One connection listens for the other replicas' changes, one may hold a sweep's lock.
      guard (3...200).contains(poolSize) else {
        throw ConfigurationError(
          "database.poolSize must be between 3 and 200 (one connection listens for the other replicas' changes, one may hold a sweep's lock)"
        )
      }
      guard (1...300).contains(timeoutSeconds) else {
        throw ConfigurationError("database.timeoutSeconds must be between 1 and 300")
      }
    }
  }

  /// Login sessions.
  public struct Sessions: Sendable, Equatable, Codable {
    /// How long a session token works, in seconds. Default 8 hours.
    public var ttlSeconds = 8 * 3600
    /// Failed logins for one person (or one unknown uid) within `lockoutSeconds` before logins for
    /// it pause. Default 5.
    public var maxFailedLogins = 5
    /// Failed logins from one peer address within `lockoutSeconds` before logins from it pause.
    /// Default 100 (a school behind one address has many people).
    public var maxFailedLoginsPerPeer = 100
    /// How long logins for a uid pause after too many failures, in seconds. Default 300.
    public var lockoutSeconds = 300
    /// Longest time a session's person and groups are trusted without reading them again from the
    /// directory, in seconds: a person disabled or removed from a group loses those rights within it.
    /// Default 300.
    public var recheckSeconds = 300
    /// The defaults.
    public init() {}
  }

  /// An internal system allowed to call the API with a key, possibly for people.
  public struct ServiceAccount: Sendable, Equatable, Codable {
    /// What a service account may do for the person it acts for.
    public enum Role: String, Sendable, Hashable, Codable, CaseIterable {
      /// The person's own requests, through RenewalService.
      case agent
      /// Decisions as N+1 or N+2 (ApprovalService, and reading the requests to decide).
      case approver
      /// The DSI's operations, when the person is a DSI operator.
      case dsi
      /// Support's read-only queries, when the person is support staff.
      case support
    }

    /// Its name, as the audit trail shows it (e.g. "portal").
    public var name: String
    /// Lower-case hex SHA-256 of its key (the key itself is never in the file).
    public var keySHA256: String
    /// True when it may act for a person with `x-okey-on-behalf-of`. Default true.
    public var actsForPeople = true
    /// The roles it may exercise for a person, never more than the person holds. Default [agent].
    public var roles: [Role] = [.agent]
    /// When set, the key is accepted only from a mutual-TLS client whose certificate subject is this
    /// (RFC 4514 text, e.g. `CN=portal,O=ac-test`; compared without case). Default none.
    public var clientCertificateSubject: String?

    /// Creates a service account.
    public init(
      name: String, keySHA256: String, actsForPeople: Bool = true, roles: [Role] = [.agent],
      clientCertificateSubject: String? = nil
    ) {
      self.name = name
      self.keySHA256 = keySHA256
      self.actsForPeople = actsForPeople
      self.roles = roles
      self.clientCertificateSubject = clientCertificateSubject
    }

    public init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      name = try container.decode(String.self, forKey: .name)
      keySHA256 = try container.decode(String.self, forKey: .keySHA256)
      actsForPeople = try container.decodeIfPresent(Bool.self, forKey: .actsForPeople) ?? true
      roles = try container.decodeIfPresent([Role].self, forKey: .roles) ?? [.agent]
      clientCertificateSubject = try container.decodeIfPresent(String.self, forKey: .clientCertificateSubject)
    }
  }

  /// The audit trail's protection.
  public struct Audit: Sendable, Equatable, Codable {
    /// A file holding the HMAC key of the audit trail (at least 32 bytes; e.g.
    /// `openssl rand -hex 32 > audit.key`), kept outside the database and its backups. Required
    /// unless `allowUnkeyed`.
    public var keyFile: String?
    /// Start without an audit key (demos only): events are chained but not signed. Default false.
    public var allowUnkeyed = false
    /// How often okeyd logs the chain's head (sequence, hash, time) at notice level, in minutes, for
    /// operators to keep outside; 0 turns it off. Default 60.
    public var headLogMinutes = 60
    /// The defaults.
    public init() {}
  }

  /// The configuration with every default.
  public init() {}

  /// The values `logLevel` accepts.
  public static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
  /// France's public holidays of 2026 and 2027, and Réunion's 20 December.
  public static let defaultHolidays = [
    "2026-01-01", "2026-04-06", "2026-05-01", "2026-05-08", "2026-05-14", "2026-05-25", "2026-07-14", "2026-08-15",
    "2026-11-01", "2026-11-11", "2026-12-20", "2026-12-25",
    "2027-01-01", "2027-03-29", "2027-05-01", "2027-05-06", "2027-05-08", "2027-05-17", "2027-07-14", "2027-08-15",
    "2027-11-01", "2027-11-11", "2027-12-20", "2027-12-25",
  ]

  /// The day number of a YYYY-MM-DD date; nil when it is not one.
  static func holidayDay(_ text: String) -> Int64? {
    let parts = text.split(separator: "-", omittingEmptySubsequences: false)
    guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
      parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
      let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2])
    else { return nil }
    return AcademyCalendar.dayNumber(year: year, month: month, day: day)
  }

  /// The academy's calendar: local days in `timeZone`, with `holidays` (a validated configuration).
  public func academyCalendar() -> AcademyCalendar {
    let zone = TimeZone(identifier: timeZone) ?? TimeZone(secondsFromGMT: 4 * 3600) ?? .gmt
    return AcademyCalendar(
      localDay: { instant in
        let date = Date(timeIntervalSince1970: Double(instant.millisecondsSinceEpoch) / 1000)
        return instant.adding(seconds: Int64(zone.secondsFromGMT(for: date))).daysSinceEpoch
      },
      holidays: Set(holidays.compactMap(Self.holidayDay)))
  }

  /// The values `logFormat` accepts.
  public static let logFormats = ["text", "json"]
  /// The languages mails are written in.
  public static let mailLanguages = ["fr", "en"]

  /// Reads a YAML configuration file; keys it leaves out keep their defaults. With `validate`
  /// false, the caller validates after applying the environment.
  public static func load(file path: String, validate: Bool = true) throws -> OKeyConfiguration {
    let text: String
    do {
      text = try String(contentsOfFile: path, encoding: .utf8)
    } catch {
      throw ConfigurationError("cannot read configuration file \(path): \(error.localizedDescription)")
    }
    return try parse(yaml: text, source: path, validate: validate)
  }

  /// Parses YAML configuration text over the defaults; `source` names it in error messages.
  public static func parse(yaml text: String, source: String = "configuration", validate: Bool = true) throws
    -> OKeyConfiguration
  {
    // Merged as YAML nodes and decoded by type, so that a key of digits stays a string.
    let file: Node?
    do {
      file = try Yams.compose(yaml: text)
    } catch {
      throw ConfigurationError("\(source) is not valid YAML: \(error)")
    }
    var merged = try Yams.compose(yaml: YAMLEncoder().encode(OKeyConfiguration())) ?? Node.mapping([:])
    if let file {
      guard file.mapping != nil else {
        throw ConfigurationError("\(source): expected a mapping of settings at the top")
      }
      try SettingsCheck.check(file, source: source)
      merged = overlay(file, on: merged)
    }
    let configuration: OKeyConfiguration
    do {
      configuration = try YAMLDecoder().decode(OKeyConfiguration.self, from: merged)
    } catch let error as DecodingError {
      throw ConfigurationError("\(source): \(describe(error))")
    } catch let error as ConfigurationError {
      throw ConfigurationError("\(source): \(error.message)")
    }
    if validate { try configuration.validate() }
    return configuration
  }

  /// The file's settings over the defaults; a map whose keys are data (``SettingsCheck/freeKeyed``)
  /// given in the file replaces the default map instead of adding to it.
  private static func overlay(_ file: Node, on defaults: Node, path: String = "") -> Node {
    guard let fileMapping = file.mapping else { return file }
    if SettingsCheck.freeKeyed.contains(path) {
      return .mapping(Node.Mapping(fileMapping.map { (Node($0.key.string ?? ""), $0.value) }))
    }
    guard let defaultMapping = defaults.mapping else { return file }
    var pairs: [(Node, Node)] = []
    var seen: Set<String> = []
    for (key, value) in defaultMapping {
      let name = key.string ?? ""
      seen.insert(name)
      pairs.append(
        (key, fileMapping[name].map { overlay($0, on: value, path: path.isEmpty ? name : "\(path).\(name)") } ?? value))
    }
    // Keys are rebuilt as plain scalars: the decoder looks them up that way ("975" quoted would not match).
    for (key, value) in fileMapping where !seen.contains(key.string ?? "") {
      pairs.append((Node(key.string ?? ""), value))
    }
    return .mapping(Node.Mapping(pairs))
  }

  /// Applies the environment overrides: OKEY_LISTEN, OKEY_DATABASE_PATH, OKEY_DATABASE_KIND,
  /// OKEY_DATABASE_URL, OKEY_DATABASE_PASSWORD, OKEY_LOG_LEVEL,
  /// OKEY_LOG_FORMAT, OKEY_LDAP_URI, OKEY_LDAP_BIND_PASSWORD, OKEY_PLAINTEXT, OKEY_AUDIT_KEY_FILE.
  public mutating func applyEnvironment(_ environment: [String: String]) throws {
    func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
    if let listen = value("OKEY_LISTEN") { self.listen = try ListenAddress(parsing: listen, field: "OKEY_LISTEN") }
    if let path = value("OKEY_DATABASE_PATH") { database.path = path }
    if let kind = value("OKEY_DATABASE_KIND") {
      guard let known = Database.Kind(rawValue: kind) else {
        throw ConfigurationError("OKEY_DATABASE_KIND must be sqlite or postgresql, not \(kind)")
      }
      database.kind = known
    }
    if let url = value("OKEY_DATABASE_URL") { database.url = url }
    if let password = value("OKEY_DATABASE_PASSWORD") { database.password = password }
    if let level = value("OKEY_LOG_LEVEL") { logLevel = level }
    if let format = value("OKEY_LOG_FORMAT") { logFormat = format }
    if let uri = value("OKEY_LDAP_URI") { directory.uri = uri }
    if let plain = value("OKEY_PLAINTEXT") { plaintext = ["1", "true", "yes"].contains(plain.lowercased()) }
    if let password = value("OKEY_LDAP_BIND_PASSWORD") { directory.bindPassword = password }
    if let keyFile = value("OKEY_AUDIT_KEY_FILE") { audit.keyFile = keyFile }
    try validate()
  }

  /// Refuses values that cannot work, naming the setting.
  public func validate() throws {
    try database.validate()
    if tls == nil, !plaintext, !listen.isLoopback {
      throw ConfigurationError(
        "no TLS on \(listen), which is not a loopback address: set tls.certificateFile and tls.privateKeyFile, or plaintext: true (OKEY_PLAINTEXT=true) to listen without TLS"
      )
    }
    if let tls {
      for (name, path) in [("tls.certificateFile", tls.certificateFile), ("tls.privateKeyFile", tls.privateKeyFile)]
        + (tls.clientCAFile.map { [("tls.clientCAFile", $0)] } ?? [])
      {
        guard FileManager.default.isReadableFile(atPath: path) else {
          throw ConfigurationError("\(name): cannot read \(path)")
        }
      }
    }
    guard limits.maxMessageBytes >= 1024, limits.maxMessageBytes <= 64 * 1024 * 1024 else {
      throw ConfigurationError(
        "limits.maxMessageBytes must be between 1024 and 67108864, not \(limits.maxMessageBytes)")
    }
    guard limits.maxConcurrentStreamsPerConnection >= 1 else {
      throw ConfigurationError("limits.maxConcurrentStreamsPerConnection must be at least 1")
    }
    guard limits.maxDocumentBytes >= 1, limits.maxDocumentBytes < limits.maxMessageBytes else {
      throw ConfigurationError("limits.maxDocumentBytes must be positive and below limits.maxMessageBytes")
    }
    guard limits.maxDocumentsPerRequest >= 1 else {
      throw ConfigurationError("limits.maxDocumentsPerRequest must be at least 1")
    }
    guard limits.maxWatchStreamsPerConnection >= 1, limits.maxWatchStreams >= limits.maxWatchStreamsPerConnection else {
      throw ConfigurationError(
        "limits.maxWatchStreamsPerConnection must be at least 1 and limits.maxWatchStreams at least as large")
    }
    guard limits.connectionMaxIdleSeconds >= 0, limits.connectionMaxAgeSeconds >= 0,
      limits.connectionMaxGraceSeconds >= 0
    else {
      throw ConfigurationError(
        "limits.connectionMaxIdleSeconds, connectionMaxAgeSeconds and connectionMaxGraceSeconds must not be negative")
    }
    guard Self.logLevels.contains(logLevel) else {
      throw ConfigurationError("logLevel must be one of \(Self.logLevels.joined(separator: ", ")); not '\(logLevel)'")
    }
    guard
      [
        reminders.documentsBusinessDays, reminders.elementsBusinessDays, reminders.pickupBusinessDays,
        reminders.approverBusinessDays,
      ].allSatisfy({ (0...60).contains($0) })
    else {
      throw ConfigurationError("reminders: each delay is 0 (off) to 60 business days")
    }
    if reminders.approverBusinessDays > 0, reminders.approverBusinessDays >= mail.escalationBusinessDays {
      throw ConfigurationError(
        "reminders.approverBusinessDays (\(reminders.approverBusinessDays)) must be below mail.escalationBusinessDays (\(mail.escalationBusinessDays)): the N+1 is reminded before the N+2 is told"
      )
    }
    guard TimeZone(identifier: timeZone) != nil else {
      throw ConfigurationError("timeZone: '\(timeZone)' is not a time zone name (e.g. Indian/Reunion, Europe/Paris)")
    }
    if let bad = holidays.first(where: { Self.holidayDay($0) == nil }) {
      throw ConfigurationError("holidays: '\(bad)' is not a date written YYYY-MM-DD")
    }
    guard Self.logFormats.contains(logFormat) else {
      throw ConfigurationError("logFormat must be text or json; not '\(logFormat)'")
    }
    guard (0...365).contains(phoneChange.minDays) else {
      throw ConfigurationError("phoneChange.minDays must be between 0 (no limit) and 365")
    }
    if let bad = handover.establishmentTypes.first(where: {
      !(1...10).contains($0.count) || !$0.allSatisfy { $0.isASCII && ($0.isUppercase || $0.isNumber) }
    }) {
      throw ConfigurationError(
        "handover.establishmentTypes: '\(bad)' is not an establishment type code (1 to 10 capital letters or digits, e.g. CLG)"
      )
    }
    try reasons.validate()
    try enrolment.validate()
    if !Self.looksLikeMailAddress(dsiMailbox) {
      throw ConfigurationError("dsiMailbox: '\(dsiMailbox)' is not a mail address (name@domain)")
    }
    guard shutdownGraceSeconds >= 0 else { throw ConfigurationError("shutdownGraceSeconds must not be negative") }
    guard sessions.ttlSeconds >= 60 else { throw ConfigurationError("sessions.ttlSeconds must be at least 60") }
    guard sessions.recheckSeconds >= 0, sessions.recheckSeconds <= 3600 else {
      throw ConfigurationError("sessions.recheckSeconds must be between 0 and 3600")
    }
    if audit.keyFile == nil, !audit.allowUnkeyed {
      throw ConfigurationError(
        "audit.keyFile is not set: give a file holding the audit trail's HMAC key (openssl rand -hex 32 > audit.key), or audit.allowUnkeyed: true for a demo"
      )
    }
    if let keyFile = audit.keyFile {
      _ = try AuditKeyFile.read(keyFile)
    }
    guard retention.documentDays >= 0, retention.documentDays <= 3650, retention.idempotencyKeyDays >= 1,
      retention.sweepMinutes >= 1
    else {
      throw ConfigurationError(
        "retention.documentDays must be 0 to 3650, retention.idempotencyKeyDays and retention.sweepMinutes at least 1")
    }
    guard audit.headLogMinutes >= 0 else { throw ConfigurationError("audit.headLogMinutes must not be negative") }
    guard directory.poolSize >= 1, directory.poolSize <= 64 else {
      throw ConfigurationError("directory.poolSize must be between 1 and 64")
    }
    guard directory.loginPoolSize >= 1, directory.loginPoolSize <= 64 else {
      throw ConfigurationError("directory.loginPoolSize must be between 1 and 64")
    }
    guard directory.loginQueueLength >= 0, directory.lookupQueueLength >= 0 else {
      throw ConfigurationError("directory.loginQueueLength and directory.lookupQueueLength must not be negative")
    }
    guard Self.mailLanguages.contains(mail.language) else {
      throw ConfigurationError("mail.language must be fr or en, not '\(mail.language)'")
    }
    guard mail.maxAttempts >= 1, mail.initialBackoffSeconds >= 1, mail.maxBackoffSeconds >= mail.initialBackoffSeconds
    else {
      throw ConfigurationError(
        "mail.maxAttempts and mail.initialBackoffSeconds must be at least 1, and mail.maxBackoffSeconds at least the initial backoff"
      )
    }
    guard mail.claimTimeoutSeconds >= 30 else {
      throw ConfigurationError("mail.claimTimeoutSeconds must be at least 30 (longer than the sendmail timeout)")
    }
    guard !mail.command.trimmingCharacters(in: .whitespaces).isEmpty else {
      throw ConfigurationError("mail.command must name a sendmail-compatible command")
    }
    for account in serviceAccounts {
      guard (1...64).contains(account.name.count),
        account.name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) })
      else {
        throw ConfigurationError(
          "serviceAccounts: '\(account.name)' is not a name: 1 to 64 letters, digits, '.', '_' or '-'")
      }
      guard account.keySHA256.count == 64, account.keySHA256.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
        throw ConfigurationError(
          "serviceAccounts[\(account.name)].keySHA256 must be the lower-case hex SHA-256 of the key (64 characters)")
      }
      if account.clientCertificateSubject != nil, tls?.clientCAFile == nil {
        throw ConfigurationError(
          "serviceAccounts[\(account.name)].clientCertificateSubject needs mutual TLS: set tls.clientCAFile")
      }
    }
  }

  private static func describe(_ error: DecodingError) -> String {
    switch error {
    case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
      let path = context.codingPath.map(\.stringValue).joined(separator: ".")
      return "\(path.isEmpty ? "file" : path): \(context.debugDescription)"
    case .keyNotFound(let key, let context):
      let path = (context.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: ".")
      return "missing setting \(path)"
    @unknown default:
      return "\(error)"
    }
  }
}

/// A host and TCP port to listen on, written `HOST:PORT`.
public struct ListenAddress: Sendable, Equatable, Codable, CustomStringConvertible {
  /// IPv4 address or host name, e.g. 127.0.0.1.
  public var host: String
  /// TCP port; 0 lets the system choose a free one.
  public var port: Int

  /// Creates an address.
  public init(host: String, port: Int) {
    self.host = host
    self.port = port
  }

  /// Parses `HOST:PORT`; `field` names the setting in the error.
  public init(parsing text: String, field: String) throws {
    guard let colon = text.lastIndex(of: ":"),
      let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port),
      colon != text.startIndex
    else {
      throw ConfigurationError("\(field) must be HOST:PORT (e.g. 127.0.0.1:50051), not '\(text)'")
    }
    self.host = String(text[..<colon])
    self.port = port
  }

  public init(from decoder: any Decoder) throws {
    let text = try decoder.singleValueContainer().decode(String.self)
    try self.init(parsing: text, field: "listen")
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }

  /// True for 127.0.0.0/8 (written as four decimal numbers), ::1 and localhost.
  public var isLoopback: Bool {
    if host == "localhost" || host == "::1" || host == "[::1]" { return true }
    let parts = host.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 4, parts[0] == "127" else { return false }
    return parts.allSatisfy { part in
      (1...3).contains(part.count) && part.allSatisfy(\.isASCII) && part.allSatisfy(\.isNumber)
        && (Int(part) ?? 256) <= 255
    }
  }

  public var description: String { "\(host):\(port)" }
}

/// A configuration value that cannot work; the message names the setting and what to do.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
  /// For people.
  public var message: String
  /// Creates an error.
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

/// The audit trail's HMAC key, read from the file `audit.keyFile` names.
public enum AuditKeyFile {
  /// The key's bytes (surrounding white space trimmed); refuses a missing, unreadable or short file,
  /// naming `setting` (the same kind of file keeps the enrolment codes' key).
  public static func read(_ path: String, setting: String = "audit.keyFile") throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw ConfigurationError("\(setting): cannot read \(path)")
    }
    var bytes = [UInt8](data)
    while let last = bytes.last, last == 0x0A || last == 0x0D || last == 0x20 || last == 0x09 { bytes.removeLast() }
    guard bytes.count >= 32 else {
      throw ConfigurationError(
        "\(setting): \(path) holds \(bytes.count) bytes; the key needs at least 32 (openssl rand -hex 32 > \(path))")
    }
    return bytes
  }
}
