import OKeyDomain

/// How to reach the directory. Every field has a default suited to the test and demo directory.
public struct DirectoryConfiguration: Sendable, Hashable, Codable {
  /// `ldap://HOST:PORT` or `ldaps://HOST:PORT`. Default ldap://127.0.0.1:389.
  public var uri = "ldap://127.0.0.1:389"
  /// Upgrade the connection with StartTLS (for ldap:// URIs). Default false.
  public var startTLS = false
  /// CA certificates file for LDAPS/StartTLS; nil uses the system's.
  public var caCertificateFile: String?
  /// Verify the directory's certificate. Default true; turn off only for tests.
  public var requireCertificate = true
  /// The service account's DN (read access to people and groups).
  public var bindDN = "cn=okey,ou=services,dc=ac-test,dc=fr"
  /// The service account's password. Prefer the environment variable OKEY_LDAP_BIND_PASSWORD.
  public var bindPassword = ""
  /// Where people are searched (subtree). Default dc=ac-test,dc=fr.
  public var peopleBase = "dc=ac-test,dc=fr"
  /// Where groups are searched.
  public var groupsBase = "ou=groups,dc=ac-test,dc=fr"
  /// Connections (and threads) for the service's own lookups (routing, people acted for, groups).
  /// Default 4.
  public var poolSize = 4
  /// Lookups that may wait for a thread before new ones are refused at once (DIRECTORY_BUSY).
  /// Default 1,024.
  public var lookupQueueLength = 1024
  /// Threads for logins (the login's lookup and its password bind), apart from the lookups so that
  /// a flood of logins cannot starve the service. Default 2.
  public var loginPoolSize = 2
  /// Logins that may wait for a login thread before new ones are refused at once
  /// (RESOURCE_EXHAUSTED). Default 64.
  public var loginQueueLength = 64
  /// Longest wait to connect, in seconds. Default 3.
  public var networkTimeoutSeconds = 3.0
  /// Longest wait for one operation, in seconds. Default 5.
  public var operationTimeoutSeconds = 5.0
  /// How long resolutions and entries stay cached, in seconds; 0 turns the cache off. Default 60.
  public var cacheTTLSeconds = 60.0
  /// Most cached items. Default 50,000.
  public var cacheCapacity = 50_000

  /// The defaults.
  public init() {}
}

/// How routing reads the directory: attribute names, codes, strategies and fallbacks (DESIGN §4).
public struct RoutingConfiguration: Sendable, Hashable, Codable {
  /// Where to look for N+1 and N+2, tried in order.
  public enum Strategy: String, Sendable, Hashable, Codable, CaseIterable {
    /// N+1 is the entry named by the manager attribute.
    case managerAttribute = "manager"
    /// N+1 is the person responsible for the agent's establishment.
    case establishment
  }

  /// Strategies in order. Default: manager attribute, then establishment.
  public var strategies: [Strategy] = [.managerAttribute, .establishment]

  /// Attribute names.
  public var uidAttribute = "uid"
  public var managerAttribute = "manager"
  public var assignmentAttribute = "FrEduRne"
  public var responsibilityAttribute = "FrEduRneResp"
  public var functionAttribute = "FrEduFonctAdm"
  public var delegationAttribute = "FrEduResDel"
  public var disciplineAttribute = "discipline"
  public var displayNameAttribute = "cn"
  public var mailAttribute = "mail"
  /// The attribute that marks a disabled account, and the values that mean disabled.
  public var accountStatusAttribute = "accountStatus"
  public var disabledValues: [String] = ["disabled", "inactive", "locked"]

  /// Codes.
  public var schoolDirectorFunction = "DEC"
  public var headFunction = "DIR"
  public var inspectorFunction = "IEN1D"
  public var principalDiscipline = "D0010"
  public var deputyDiscipline = "D0011"
  /// Establishment type codes (or tiers) of first-degree schools.
  public var firstDegreeTypes: [String] = ["1ORD", "APPL", "SPEC", "T1"]
  /// Type codes of second-degree establishments.
  public var secondDegreeTypes: [String] = ["CLG", "LYC", "LP", "EREA", "ERPD", "T3"]
  /// Type code of a circonscription.
  public var circonscriptionType = "IEN"
  /// The application name of ONDE delegations in the delegation attribute.
  public var ondeApplication = "ONDE"

  /// Fallback N+1 uid by department code (first three characters of a UAI); "*" for the whole
  /// academy. Used when the person is the head of their own establishment or circonscription.
  public var fallbacks: [String: String] = ["974": "dasen974", "*": "recteur"]

  /// Who decides for second-degree staff: `head` (the N+1 alone) or `headOrDeputy` (the principal
  /// and the deputies of the agent's establishment, each of them; the first decision wins). Default
  /// headOrDeputy.
  public var secondDegreeValidators = SecondDegreeValidators.headOrDeputy

  /// Who decides for second-degree staff.
  public enum SecondDegreeValidators: String, Sendable, Hashable, Codable, CaseIterable {
    /// The N+1 alone.
    case head
    /// The principal and the deputies of the agent's establishment.
    case headOrDeputy
  }

  /// Who the agent may name as validator instead of the proposal. Default managers.
  public var validatorChoice = ValidatorChoice.managers
  /// With `managers`: members of this group may be named too. Default none.
  public var validatorsGroupDN: String?

  /// DNs of the groups that give roles.
  public var dsiGroupDN = "cn=dsi,ou=groups,dc=ac-test,dc=fr"
  public var supportGroupDN = "cn=support,ou=groups,dc=ac-test,dc=fr"

  /// The defaults.
  public init() {}

  /// The attributes a person entry is read with.
  var personAttributes: [String] {
    [
      uidAttribute, managerAttribute, assignmentAttribute, responsibilityAttribute, functionAttribute,
      delegationAttribute,
      disciplineAttribute, displayNameAttribute, mailAttribute, accountStatusAttribute, "givenName", "sn", "title",
    ]
  }
}
