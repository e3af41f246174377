/// A person of the directory as the renewal procedure sees them.
public struct DirectoryPerson: Sendable, Hashable, Codable {
  /// Login.
  public var uid: String
  /// Distinguished name of the entry.
  public var dn: String
  /// Name for people.
  public var displayName: String
  /// Mail address; empty when the entry has none.
  public var mail: String
  /// False when the directory marks the account disabled.
  public var active: Bool

  /// Creates a person.
  public init(uid: String, dn: String = "", displayName: String = "", mail: String = "", active: Bool = true) {
    self.uid = uid
    self.dn = dn
    self.displayName = displayName
    self.mail = mail
    self.active = active
  }
}

/// An approver and how the resolver found them.
public struct RoutedApprover: Sendable, Hashable, Codable {
  /// The person.
  public var person: DirectoryPerson
  /// How they were found, for support staff (e.g. "manager attribute").
  public var foundBy: String

  /// Creates a routed approver.
  public init(person: DirectoryPerson, foundBy: String) {
    self.person = person
    self.foundBy = foundBy
  }
}

/// A problem the routing resolver met in the directory data.
public struct RoutingProblem: Sendable, Hashable, Codable {
  /// Stable code, e.g. MANAGER_LOOP.
  public var code: String
  /// What was found, for people.
  public var message: String

  /// Creates a problem.
  public init(code: String, message: String) {
    self.code = code
    self.message = message
  }
}

/// Who validates a request and why: proposed by the directory, possibly corrected by the agent,
/// snapshotted on the request at submission.
public struct Routing: Sendable, Hashable, Codable {
  /// The agent.
  public var requester: DirectoryPerson
  /// The N+1 (proposed or corrected).
  public var n1: RoutedApprover?
  /// The N+2: N+1's own manager.
  public var n2: RoutedApprover?
  /// First-degree staff.
  public var firstDegree: Bool
  /// Holds a first-degree school director post.
  public var schoolDirector: Bool
  /// Holds a current ONDE delegation.
  public var ondeDelegation: Bool
  /// Problems found in the directory.
  public var problems: [RoutingProblem]
  /// The N+1 the directory proposed, kept when the agent corrected it.
  public var proposedN1: RoutedApprover?
  /// When it was resolved.
  public var resolvedAt: Instant
  /// The agent's establishment (UAI of their first assignment), for reports; nil when the directory
  /// gives none (or for routings older than this field).
  public var establishment: String?
  /// The type code of that establishment (e.g. CLG), for the hand-over policy; nil when unknown.
  public var establishmentType: String?
  /// Other heads of a second-degree agent's establishment who may decide as the N+1 does (the
  /// deputies when the N+1 is the principal, with `routing.secondDegreeValidators: headOrDeputy`); the
  /// first decision wins. Nil for none (and in routings older than this field).
  public var coValidators: [RoutedApprover]?

  /// Creates a routing.
  public init(
    requester: DirectoryPerson,
    n1: RoutedApprover? = nil,
    n2: RoutedApprover? = nil,
    firstDegree: Bool = false,
    schoolDirector: Bool = false,
    ondeDelegation: Bool = false,
    problems: [RoutingProblem] = [],
    proposedN1: RoutedApprover? = nil,
    resolvedAt: Instant,
    establishment: String? = nil,
    establishmentType: String? = nil,
    coValidators: [RoutedApprover]? = nil
  ) {
    self.establishment = establishment
    self.establishmentType = establishmentType
    self.coValidators = coValidators?.isEmpty == true ? nil : coValidators
    self.requester = requester
    self.n1 = n1
    self.n2 = n2
    self.firstDegree = firstDegree
    self.schoolDirector = schoolDirector
    self.ondeDelegation = ondeDelegation
    self.problems = problems
    self.proposedN1 = proposedN1
    self.resolvedAt = resolvedAt
  }

  /// The automatic-validation decision for this routing.
  public var autoValidation: AutoValidationPolicy.Decision {
    AutoValidationPolicy.decide(for: self)
  }

  /// The person expected to approve: the N+1 when active (else an active co-validator), else the N+2
  /// when active; nil when nobody can.
  public var effectiveValidator: DirectoryPerson? {
    if let first = n1Level.first(where: { $0.person.active }) { return first.person }
    if let n2, n2.person.active { return n2.person }
    return nil
  }

  /// Who is asked to decide: every active person of the N+1 level, else the active N+2.
  public var askedValidators: [DirectoryPerson] {
    let level = n1Level.filter(\.person.active).map(\.person)
    if !level.isEmpty { return level }
    return n2.flatMap { $0.person.active ? [$0.person] : nil } ?? []
  }

  /// True when `uid` is the N+1, one of the co-validators, or the N+2.
  public func namesApprover(_ uid: String) -> Bool {
    n1?.person.uid == uid || n2?.person.uid == uid || (coValidators ?? []).contains { $0.person.uid == uid }
  }

  /// Everyone who may decide at the N+1 level: the N+1 and the co-validators.
  public var n1Level: [RoutedApprover] {
    (n1.map { [$0] } ?? []) + (coValidators ?? [])
  }

  /// The co-validators' uids, sorted (the store indexes them).
  public var coValidatorUIDs: [String] {
    (coValidators ?? []).map(\.person.uid).sorted()
  }
}

/// Validation is automatic for first-degree school directors and holders of a current ONDE
/// delegation (acting directors).
public enum AutoValidationPolicy {
  /// The decision and its reason.
  public enum Decision: Sendable, Hashable {
    /// An approver must decide.
    case needsApproval
    /// Validated automatically, for the reason given.
    case automatic(reason: String)

    /// True for automatic validation.
    public var isAutomatic: Bool {
      if case .automatic = self { return true }
      return false
    }
  }

  /// Decides from the directory facts of a routing.
  public static func decide(for routing: Routing) -> Decision {
    guard routing.firstDegree else { return .needsApproval }
    if routing.schoolDirector { return .automatic(reason: "first-degree school director") }
    if routing.ondeDelegation { return .automatic(reason: "holder of a current ONDE delegation") }
    return .needsApproval
  }
}

/// Who the agent may name as validator instead of the directory's proposal (`routing.validatorChoice`).
public enum ValidatorChoice: String, Sendable, Hashable, Codable, CaseIterable {
  /// The proposed N+1 or N+2, or a person holding a management position in the directory. Default.
  case managers
  /// Nobody but the directory's proposal: the agent asks the DSI to re-route.
  case directory
  /// Any active person other than the agent.
  case anyone
}

/// What the directory says of a person the agent wants to name as validator.
public struct ValidatorStanding: Sendable, Hashable {
  /// The management position that qualifies them (e.g. "head of establishment (DIR/D0010)"), or nil.
  public var managementPosition: String?

  /// Creates a standing.
  public init(managementPosition: String?) {
    self.managementPosition = managementPosition
  }
}

/// The agent may name another validator than the proposed N+1 (DESIGN §4, step 4), within the
/// academy's ``ValidatorChoice``.
public enum ValidatorCorrection {
  /// The routing with `candidate` as N+1 and the candidate's own manager as N+2, the directory's
  /// proposal kept beside it; or why the candidate is refused.
  /// - Parameters:
  ///   - routing: the request's routing (the requester is read from it).
  ///   - proposal: the directory's proposal for the agent, resolved now.
  ///   - candidate: the directory entry of the uid the agent typed; nil when there is none.
  ///   - candidateManager: the candidate's own N+1, which becomes the N+2; nil when none is found.
  ///   - choice: the policy in force.
  ///   - standing: what the directory says of the candidate.
  public static func correct(
    _ routing: Routing,
    proposal: Routing,
    candidateUID: String,
    candidate: DirectoryPerson?,
    candidateManager: RoutedApprover?,
    choice: ValidatorChoice,
    standing: ValidatorStanding
  ) -> Result<Routing, RenewalRefusal> {
    guard let candidate else {
      return .failure(
        .init(.validatorInvalid, "no person '\(candidateUID)' in the directory: check the uid of the validator"))
    }
    guard candidate.uid != routing.requester.uid else {
      return .failure(.init(.validatorInvalid, "an agent cannot validate their own request: name your line manager"))
    }
    guard candidate.active else {
      return .failure(
        .init(.validatorInvalid, "'\(candidate.uid)' is disabled in the directory: name an active person"))
    }
    let proposedN1 = proposal.n1
    if candidate.uid == proposedN1?.person.uid {
      // Back to the directory's proposal: no correction left.
      var restored = routing
      restored.n1 = proposal.n1
      restored.n2 = proposal.n2
      restored.coValidators = proposal.coValidators
      restored.proposedN1 = nil
      return .success(restored)
    }
    let isProposedN2 = candidate.uid == proposal.n2?.person.uid
    var qualification: String?
    switch choice {
    case .directory:
      return .failure(
        .init(
          .validatorNotAllowed,
          "the academy lets only the directory name the validator (routing.validatorChoice = directory): if \(proposedN1?.person.uid ?? "the proposal") is wrong, ask the DSI to re-route the request"
        ))
    case .managers:
      if isProposedN2 {
        qualification = "the proposed N+2"
      } else if let position = standing.managementPosition {
        qualification = position
      } else {
        return .failure(
          .init(
            .validatorNotAllowed,
            "'\(candidate.uid)' holds no management position in the directory (routing.validatorChoice = managers): name your N+1, your N+2, a head of establishment, an inspector or a school director"
          ))
      }
    case .anyone:
      qualification = isProposedN2 ? "the proposed N+2" : standing.managementPosition
    }
    var corrected = routing
    corrected.proposedN1 = proposedN1
    let instead = "named by the agent instead of \(proposedN1?.person.uid ?? "nobody")"
    corrected.n1 = RoutedApprover(person: candidate, foundBy: qualification.map { "\(instead) (\($0))" } ?? instead)
    if let candidateManager, candidateManager.person.uid != routing.requester.uid,
      candidateManager.person.uid != candidate.uid
    {
      corrected.n2 = candidateManager
    } else {
      corrected.n2 = nil
    }
    // A head of the same establishment named instead of another keeps the others beside them;
    // anyone else decides alone.
    let level = proposal.n1Level
    if level.contains(where: { $0.person.uid == candidate.uid }) {
      let others = level.filter { $0.person.uid != candidate.uid }
      corrected.coValidators = others.isEmpty ? nil : others
    } else {
      corrected.coValidators = nil
    }
    return .success(corrected)
  }
}
