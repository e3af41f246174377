import OKeyDomain

/// Resolves who validates a person's request from the directory (DESIGN §4): N+1 and N+2 by the
/// configured strategies, first-degree, director and ONDE facts, auto-validation, and every problem
/// met. Broken data gives a problem, never a wrong approver; a directory outage throws
/// ``DirectoryError`` (unavailable), never a partial answer.
public struct RoutingResolver: Sendable {
  let directory: any Directory
  let configuration: RoutingConfiguration
  let now: @Sendable () -> Instant
  /// The academy's days: delegation windows are local dates.
  let calendar: AcademyCalendar
  let resolutions: TTLCache<String, Routing>

  /// Creates a resolver over `directory`. Resolutions are cached for `cacheTTL` (zero: no cache).
  public init(
    directory: any Directory,
    configuration: RoutingConfiguration = RoutingConfiguration(),
    cacheTTL: Duration = .seconds(60),
    cacheCapacity: Int = 50_000,
    cacheClock: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now },
    calendar: AcademyCalendar = .utc,
    now: @escaping @Sendable () -> Instant
  ) {
    self.calendar = calendar
    self.directory = directory
    self.configuration = configuration
    self.now = now
    self.resolutions = TTLCache(ttl: cacheTTL, capacity: cacheCapacity, now: cacheClock)
  }

  /// Hits and misses of the resolution cache.
  public var cacheCounters: (hits: Int, misses: Int) { resolutions.counters }

  /// Drops the cached resolution of `uid` and the directory's cached entries of `uid`.
  public func forget(uid: String) {
    resolutions.remove(uid)
    directory.forget(uid: uid)
  }

  /// The routing of `uid` read from the directory itself, every lookup (the agent, the N+1, the
  /// N+2, establishments, groups) past the caches, which are then refreshed for `uid`: what a
  /// re-route after a directory fix must see.
  public func resolveFresh(uid: String) async throws -> Routing {
    let fresh = RoutingResolver(
      directory: directory.uncached, configuration: configuration, cacheTTL: .zero, calendar: calendar, now: now)
    let routing = try await fresh.resolveUncached(uid: uid)
    forget(uid: uid)
    for person in (routing.n1Level + [routing.n2].compactMap { $0 }).map(\.person) {
      directory.forget(uid: person.uid)
    }
    return routing
  }

  /// The routing of `uid`.
  public func resolve(uid: String) async throws -> Routing {
    try await resolutions.value(for: uid) { try await resolveUncached(uid: uid) }
  }

  /// The person logging in as `uid`, read on the directory's login lane (never from a cache), when
  /// exactly one entry has it.
  public func loginPerson(uid: String) async throws -> DirectoryPerson? {
    let entries = try await directory.loginEntries(withUID: uid)
    guard entries.count == 1, let entry = entries.first else { return nil }
    return person(from: entry)
  }

  /// The person with `uid` and their directory DN, when exactly one active-or-not entry has it.
  /// With `fresh`, read from the directory itself, not from a cache.
  public func person(uid: String, fresh: Bool = false) async throws -> DirectoryPerson? {
    if fresh { directory.forget(uid: uid) }
    let entries = try await directory.people(withUID: uid)
    guard entries.count == 1, let entry = entries.first else { return nil }
    return person(from: entry)
  }

  /// The group roles of a person (DSI, support) from the configured groups.
  public func groupRoles(of person: DirectoryPerson) async throws -> Set<Caller.GroupRole> {
    guard !person.dn.isEmpty else { return [] }
    let groups = Set(try await directory.groups(withMember: person.dn).compactMap(LDAPText.normalizeDN))
    var roles: Set<Caller.GroupRole> = []
    if let dsi = LDAPText.normalizeDN(configuration.dsiGroupDN), groups.contains(dsi) { roles.insert(.dsi) }
    if let support = LDAPText.normalizeDN(configuration.supportGroupDN), groups.contains(support) {
      roles.insert(.support)
    }
    return roles
  }

  /// The routing with `candidateUID` as N+1 instead of the directory's proposal, under the
  /// configured ``ValidatorChoice``: the candidate must be one existing, active person other than
  /// the agent, allowed by the policy; the N+2 follows the candidate.
  /// - Parameter proposal: the directory's routing for the agent now (resolved when nil).
  public func correctValidator(of routing: Routing, proposal proposalOverride: Routing? = nil, to candidateUID: String)
    async throws -> Result<Routing, RenewalRefusal>
  {
    let proposal: Routing
    if let given = proposalOverride {
      proposal = given
    } else {
      proposal = try await resolve(uid: routing.requester.uid)
    }
    let entries = try await directory.people(withUID: candidateUID)
    guard entries.count <= 1 else {
      return .failure(
        .init(
          .validatorInvalid,
          "several directory entries have the uid '\(candidateUID)': ask support to fix the directory, or name someone else"
        ))
    }
    var candidate: DirectoryPerson?
    var candidateManager: RoutedApprover?
    var standing = ValidatorStanding(managementPosition: nil)
    if let entry = entries.first {
      candidate = person(from: entry)
      var ignored: [RoutingProblem] = []
      let facts = facts(of: entry, problems: &ignored)
      var excluded: Set<String> = [normalized(entry.dn)]
      if !routing.requester.dn.isEmpty { excluded.insert(normalized(routing.requester.dn)) }
      candidateManager = try await findManager(
        of: facts, excluding: excluded, requesterDN: routing.requester.dn, problems: &ignored, level: "N+2")?.approver
      if configuration.validatorChoice == .managers || configuration.validatorChoice == .anyone {
        standing = try await self.standing(of: entry)
      }
    }
    return ValidatorCorrection.correct(
      routing, proposal: proposal, candidateUID: candidateUID, candidate: candidate, candidateManager: candidateManager,
      choice: configuration.validatorChoice, standing: standing)
  }

  /// The management position that lets a person be named validator under `managers`: head of a
  /// second-degree establishment (principal or deputy), first-degree inspector, school director,
  /// the manager of at least one entry, or a member of the optional validators group.
  public func standing(of entry: DirectoryEntry) async throws -> ValidatorStanding {
    let function = entry.first(configuration.functionAttribute)?.uppercased()
    let disciplines = entry.values(configuration.disciplineAttribute)
    if function == configuration.headFunction.uppercased() {
      if disciplines.contains(configuration.principalDiscipline) {
        return ValidatorStanding(
          managementPosition:
            "head of establishment (\(configuration.headFunction)/\(configuration.principalDiscipline))")
      }
      if disciplines.contains(configuration.deputyDiscipline) {
        return ValidatorStanding(
          managementPosition:
            "deputy head of establishment (\(configuration.headFunction)/\(configuration.deputyDiscipline))")
      }
    }
    if function == configuration.inspectorFunction.uppercased() {
      return ValidatorStanding(managementPosition: "first-degree inspector (\(configuration.inspectorFunction))")
    }
    if function == configuration.schoolDirectorFunction.uppercased() {
      return ValidatorStanding(managementPosition: "school director (\(configuration.schoolDirectorFunction))")
    }
    if try await directory.managesSomeone(dn: entry.dn) {
      return ValidatorStanding(managementPosition: "manager of people in the directory")
    }
    if let group = configuration.validatorsGroupDN.flatMap(LDAPText.normalizeDN) {
      let groups = try await directory.groups(withMember: entry.dn).compactMap(LDAPText.normalizeDN)
      if groups.contains(group) { return ValidatorStanding(managementPosition: "member of the validators group") }
    }
    return ValidatorStanding(managementPosition: nil)
  }

  /// The routing of a request as of its submission: resolved again from the directory (not from any
  /// cache), the agent's correction kept when the policy still allows it, and what changed since
  /// `current` in words for the audit trail.
  public func routingAtSubmission(of current: Routing) async throws -> (routing: Routing, changes: [String]) {
    let uid = current.requester.uid
    forget(uid: uid)
    directory.forget(uid: uid)
    let fresh = try await resolveUncached(uid: uid)
    var routing = fresh
    var changes: [String] = []
    if current.proposedN1 != nil, let chosen = current.n1 {
      directory.forget(uid: chosen.person.uid)
      switch try await correctValidator(of: fresh, proposal: fresh, to: chosen.person.uid) {
      case .success(let corrected):
        routing = corrected
      case .failure(let refusal):
        changes.append(
          "the validator \(chosen.person.uid) named by the agent is no longer accepted (\(refusal.message)): the directory's proposal applies"
        )
      }
    }
    let before = (current.n1?.person.uid, current.n2?.person.uid)
    let after = (routing.n1?.person.uid, routing.n2?.person.uid)
    if before.0 != after.0 { changes.append("N+1 \(before.0 ?? "none") -> \(after.0 ?? "none")") }
    if before.1 != after.1 { changes.append("N+2 \(before.1 ?? "none") -> \(after.1 ?? "none")") }
    if current.coValidatorUIDs != routing.coValidatorUIDs {
      let list = { (uids: [String]) in uids.isEmpty ? "none" : uids.joined(separator: ", ") }
      changes.append("co-validators \(list(current.coValidatorUIDs)) -> \(list(routing.coValidatorUIDs))")
    }
    if before.0 == after.0, let n1 = routing.n1, current.n1?.person.active != n1.person.active {
      changes.append("N+1 \(n1.person.uid) is \(n1.person.active ? "active again" : "disabled now")")
    }
    if current.ondeDelegation != routing.ondeDelegation {
      changes.append(
        routing.ondeDelegation ? "an ONDE delegation is current now" : "the ONDE delegation is no longer current")
    }
    if current.schoolDirector != routing.schoolDirector {
      changes.append(
        routing.schoolDirector ? "holds a school director post now" : "no longer holds a school director post")
    }
    if current.autoValidation.isAutomatic != routing.autoValidation.isAutomatic {
      changes.append(
        routing.autoValidation.isAutomatic ? "validated automatically now" : "no longer validated automatically")
    }
    return (routing, changes)
  }

  // MARK: Resolution

  func resolveUncached(uid: String) async throws -> Routing {
    let resolvedAt = now()
    let entries = try await directory.people(withUID: uid)
    guard let entry = entries.first else {
      return Routing(
        requester: DirectoryPerson(uid: uid, active: false),
        problems: [RoutingProblem(code: "NO_ENTRY", message: "no directory entry has the uid '\(uid)'")],
        resolvedAt: resolvedAt)
    }
    guard entries.count == 1 else {
      return Routing(
        requester: DirectoryPerson(uid: uid, active: false),
        problems: [
          RoutingProblem(
            code: "SEVERAL_ENTRIES",
            message:
              "\(entries.count) directory entries have the uid '\(uid)' (\(entries.map(\.dn).joined(separator: "; "))): nobody is routed until the directory is fixed"
          )
        ],
        resolvedAt: resolvedAt)
    }
    var problems: [RoutingProblem] = []
    let requesterFacts = facts(of: entry, problems: &problems)
    let requester = requesterFacts.person
    let firstDegree = requesterFacts.assignments.contains { isFirstDegree($0) }
    let director =
      firstDegree && requesterFacts.function?.uppercased() == configuration.schoolDirectorFunction.uppercased()
    let today = CivilDate(day: calendar.localDay(resolvedAt))
    let onde = requesterFacts.delegations.filter {
      $0.application.uppercased() == configuration.ondeApplication.uppercased()
    }
    let currentONDE = onde.contains { $0.isCurrent(on: today) }
    if !currentONDE, let expired = onde.first(where: { $0.end < today }) {
      problems.append(
        RoutingProblem(
          code: "DELEGATION_EXPIRED",
          message:
            "the ONDE delegation from \(expired.delegatorUID) ended on \(expired.end.day)/\(expired.end.month)/\(expired.end.year): not validated automatically"
        ))
    }

    let requesterDN = normalized(entry.dn)
    let foundN1 = try await findManager(
      of: requesterFacts, excluding: [requesterDN], requesterDN: entry.dn, problems: &problems, level: "N+1")
    let n1 = foundN1?.approver
    var n2: RoutedApprover?
    if let n1, let n1Entry = foundN1?.entry {
      var n2Problems: [RoutingProblem] = []
      // The N+1's entry as the lookup that found it read it: no second search for it.
      var ignored: [RoutingProblem] = []
      let n1Facts = facts(of: n1Entry, problems: &ignored)
      n2 = try await findManager(
        of: n1Facts, excluding: [requesterDN, normalized(n1.person.dn)], requesterDN: entry.dn, problems: &n2Problems,
        level: "N+2")?.approver
      problems += n2Problems.filter { $0.code != "MANAGER_MISSING" && $0.code != "NO_RESPONSIBLE" }
      if n2 == nil {
        problems.append(
          RoutingProblem(code: "NO_N2", message: "no N+2 found above \(n1.person.uid): only the N+1 can approve"))
      }
      if !n1.person.active {
        if let n2, n2.person.active {
          problems.append(
            RoutingProblem(
              code: "VALIDATOR_DISABLED",
              message: "the N+1 \(n1.person.uid) is disabled in the directory: the N+2 \(n2.person.uid) validates"))
        } else {
          problems.append(
            RoutingProblem(
              code: "VALIDATOR_DISABLED",
              message: "the N+1 \(n1.person.uid) is disabled in the directory and no active N+2 was found"))
        }
      }
    } else if !problems.contains(where: {
      [
        "MANAGER_DANGLING", "MANAGER_IS_SELF", "MANAGER_LOOP", "NO_RESPONSIBLE", "SEVERAL_CANDIDATES",
        "MANAGER_MISSING",
      ].contains($0.code)
    }) {
      problems.append(RoutingProblem(code: "NO_N1", message: "no N+1 found for \(uid)"))
    }
    let coValidators = try await coValidators(of: requesterFacts, n1: n1)
    return Routing(
      requester: requester, n1: n1, n2: n2, firstDegree: firstDegree, schoolDirector: director,
      ondeDelegation: currentONDE,
      problems: problems, resolvedAt: resolvedAt, establishment: requesterFacts.assignments.first?.uai,
      establishmentType: requesterFacts.assignments.first?.typeCode, coValidators: coValidators)
  }

  /// The establishments `uid` heads now: those whose responsibility values the person holds with the
  /// head function and the principal or deputy discipline, while their account is active. Empty for
  /// anyone else (and for several entries). Read past every cache unless `fresh` is false (what is
  /// only shown, never what a right rests on).
  public func establishmentsHeaded(by uid: String, fresh: Bool = true) async throws -> [EstablishmentHead] {
    let entries = try await (fresh ? directory.uncached : directory).people(withUID: uid)
    guard entries.count == 1, let entry = entries.first, person(from: entry).active,
      entry.first(configuration.functionAttribute)?.uppercased() == configuration.headFunction.uppercased()
    else { return [] }
    let disciplines = entry.values(configuration.disciplineAttribute)
    let principal = disciplines.contains(configuration.principalDiscipline)
    guard principal || disciplines.contains(configuration.deputyDiscipline) else { return [] }
    var seen: Set<String> = []
    return entry.values(configuration.responsibilityAttribute).compactMap { value in
      guard case .success(let responsibility?) = FrEduValues.responsibility(value),
        seen.insert(responsibility.uai).inserted
      else { return nil }
      return EstablishmentHead(uid: uid, establishment: responsibility.uai, deputy: !principal)
    }
  }

  /// The active principal and deputies of establishment `uai`, as the directory shows them now: who
  /// is told that a key waits there to be handed over.
  public func heads(ofEstablishment uai: String) async throws -> [DirectoryPerson] {
    try await directory.uncached.responsibles(forEstablishment: uai).filter(isHead).map(person(from:)).filter(\.active)
  }

  /// True for an entry with the head function and the principal or deputy discipline.
  func isHead(_ entry: DirectoryEntry) -> Bool {
    entry.first(configuration.functionAttribute)?.uppercased() == configuration.headFunction.uppercased()
      && !Set(entry.values(configuration.disciplineAttribute)).isDisjoint(
        with: [configuration.principalDiscipline, configuration.deputyDiscipline])
  }

  /// The other heads (principal, deputies) of the second-degree establishment that `n1` heads for the
  /// agent, when `secondDegreeValidators` is `headOrDeputy`: they may decide as the N+1 does.
  func coValidators(of subject: Facts, n1: RoutedApprover?) async throws -> [RoutedApprover] {
    guard configuration.secondDegreeValidators == .headOrDeputy, let n1 else { return [] }
    var found: [RoutedApprover] = []
    var seen: Set<String> = [normalized(n1.person.dn), normalized(subject.entry.dn)]
    for assignment in subject.assignments where isSecondDegree(assignment) {
      // Principals and deputies only (the function and one of the two disciplines).
      let heads = try await directory.responsibles(forEstablishment: assignment.uai).filter(isHead)
      guard heads.contains(where: { normalized($0.dn) == normalized(n1.person.dn) }) else { continue }
      // A head asking (a deputy): the N+1 decides alone, never a peer.
      if heads.contains(where: { normalized($0.dn) == normalized(subject.entry.dn) }) { continue }
      for head in heads where seen.insert(normalized(head.dn)).inserted {
        let deputy = head.values(configuration.disciplineAttribute).contains(configuration.deputyDiscipline)
        let title = deputy ? "deputy" : "head"
        found.append(
          RoutedApprover(
            person: person(from: head),
            foundBy:
              "\(title) (\(configuration.headFunction)) of \(assignment.uai), who may decide with \(n1.person.uid)"))
      }
    }
    return found
  }

  /// The N+1 of a person by the configured strategies, in order.
  func findManager(
    of subject: Facts,
    excluding excluded: Set<String>,
    requesterDN: String,
    problems: inout [RoutingProblem],
    level: String
  ) async throws -> FoundManager? {
    var anyStrategyApplied = false
    for strategy in configuration.strategies {
      switch strategy {
      case .managerAttribute:
        guard let managerDN = subject.entry.first(configuration.managerAttribute) else { continue }
        anyStrategyApplied = true
        if normalized(managerDN) == normalized(subject.entry.dn) {
          problems.append(
            RoutingProblem(
              code: "MANAGER_IS_SELF",
              message: "\(subject.person.uid)'s manager attribute names \(subject.person.uid) itself"))
          continue
        }
        if excluded.contains(normalized(managerDN)) {
          problems.append(
            RoutingProblem(
              code: "MANAGER_LOOP",
              message: "the managers of \(subject.person.uid) loop back to \(managerDN) (looking for the \(level))"))
          continue
        }
        guard let manager = try await directory.person(dn: managerDN) else {
          problems.append(
            RoutingProblem(
              code: "MANAGER_DANGLING",
              message: "\(subject.person.uid)'s manager \(managerDN) does not exist in the directory"))
          continue
        }
        let foundBy = "manager attribute of \(subject.person.uid)"
        return FoundManager(approver: RoutedApprover(person: person(from: manager), foundBy: foundBy), entry: manager)

      case .establishment:
        guard !subject.assignments.isEmpty else { continue }
        anyStrategyApplied = true
        if let found = try await establishmentHead(of: subject, excluding: excluded, problems: &problems) {
          return found
        }
      }
    }
    if !anyStrategyApplied {
      problems.append(
        RoutingProblem(
          code: "MANAGER_MISSING",
          message: "\(subject.person.uid) has no manager attribute and no assignment to an establishment"))
    }
    return nil
  }

  /// The person responsible for one of the subject's establishments, or a configured fallback when
  /// the subject heads it themselves.
  func establishmentHead(of subject: Facts, excluding excluded: Set<String>, problems: inout [RoutingProblem])
    async throws -> FoundManager?
  {
    var seen: Set<String> = []
    for assignment in subject.assignments where seen.insert(assignment.uai).inserted {
      let responsibles = try await directory.responsibles(forEstablishment: assignment.uai)
      var candidates: [DirectoryEntry]
      let role: String
      if isFirstDegree(assignment) || assignment.typeCode == configuration.circonscriptionType.uppercased() {
        candidates = responsibles.filter {
          $0.first(configuration.functionAttribute)?.uppercased() == configuration.inspectorFunction.uppercased()
        }
        role = "IEN1D covering \(assignment.uai)"
      } else if isSecondDegree(assignment) {
        let heads = responsibles.filter {
          $0.first(configuration.functionAttribute)?.uppercased() == configuration.headFunction.uppercased()
        }
        let principals = heads.filter {
          $0.values(configuration.disciplineAttribute).contains(configuration.principalDiscipline)
        }
        if principals.isEmpty {
          candidates = heads.filter {
            $0.values(configuration.disciplineAttribute).contains(configuration.deputyDiscipline)
          }
          role =
            "deputy (\(configuration.headFunction)/\(configuration.deputyDiscipline)) of \(assignment.uai), no principal"
        } else {
          candidates = principals
          role = "principal (\(configuration.headFunction)/\(configuration.principalDiscipline)) of \(assignment.uai)"
        }
      } else {
        continue
      }
      let headsItself = candidates.contains { normalized($0.dn) == normalized(subject.entry.dn) }
      candidates.removeAll { excluded.contains(normalized($0.dn)) || normalized($0.dn) == normalized(subject.entry.dn) }
      if candidates.count == 1, let head = candidates.first {
        return FoundManager(approver: RoutedApprover(person: person(from: head), foundBy: role), entry: head)
      }
      if candidates.count > 1 {
        problems.append(
          RoutingProblem(
            code: "SEVERAL_CANDIDATES",
            message:
              "\(candidates.count) people qualify as \(role): \(candidates.compactMap { $0.first(configuration.uidAttribute) }.joined(separator: ", ")); none is chosen"
          ))
        continue
      }
      if headsItself {
        if let fallback = try await fallback(for: assignment.department, excluding: excluded) { return fallback }
        continue
      }
      problems.append(
        RoutingProblem(
          code: "NO_RESPONSIBLE",
          message: "nobody is responsible for \(assignment.uai) (\(assignment.typeCode)) in the directory"))
    }
    return nil
  }

  func fallback(for department: String, excluding excluded: Set<String>) async throws -> FoundManager? {
    for key in [department, "*"] {
      guard let uid = configuration.fallbacks[key] else { continue }
      let entries = try await directory.people(withUID: uid)
      guard entries.count == 1, let entry = entries.first, !excluded.contains(normalized(entry.dn)) else { continue }
      return FoundManager(
        approver: RoutedApprover(
          person: person(from: entry),
          foundBy: key == "*" ? "academy fallback \(uid)" : "fallback \(uid) for department \(department)"),
        entry: entry)
    }
    return nil
  }

  /// An approver found by a strategy, with the directory entry it was read from.
  struct FoundManager {
    var approver: RoutedApprover
    var entry: DirectoryEntry
  }

  // MARK: Facts

  struct Facts {
    var entry: DirectoryEntry
    var person: DirectoryPerson
    var assignments: [Assignment]
    var function: String?
    var delegations: [Delegation]
  }

  func facts(of entry: DirectoryEntry, problems: inout [RoutingProblem]) -> Facts {
    let uid = entry.first(configuration.uidAttribute) ?? entry.dn
    var assignments: [Assignment] = []
    for value in entry.values(configuration.assignmentAttribute) {
      switch FrEduValues.assignment(value) {
      case .success(let assignment): assignments.append(assignment)
      case .failure(let malformed):
        problems.append(
          RoutingProblem(
            code: "MALFORMED_VALUE",
            message:
              "\(uid): \(configuration.assignmentAttribute) '\(malformed.value)' is not \(malformed.expected); ignored")
        )
      }
    }
    var delegations: [Delegation] = []
    for value in entry.values(configuration.delegationAttribute) {
      switch FrEduValues.delegation(value) {
      case .success(let delegation): delegations.append(delegation)
      case .failure(let malformed):
        problems.append(
          RoutingProblem(
            code: "MALFORMED_VALUE",
            message:
              "\(uid): \(configuration.delegationAttribute) '\(malformed.value)' is not \(malformed.expected); ignored")
        )
      }
    }
    return Facts(
      entry: entry, person: person(from: entry), assignments: assignments,
      function: entry.first(configuration.functionAttribute),
      delegations: delegations)
  }

  func person(from entry: DirectoryEntry) -> DirectoryPerson {
    let status = entry.first(configuration.accountStatusAttribute)?.lowercased()
    let name =
      entry.first(configuration.displayNameAttribute)
      ?? [entry.first("givenName"), entry.first("sn")].compactMap { $0 }.joined(separator: " ")
    return DirectoryPerson(
      uid: entry.first(configuration.uidAttribute) ?? "",
      dn: entry.dn,
      displayName: name,
      mail: entry.first(configuration.mailAttribute) ?? "",
      active: !(status.map { value in configuration.disabledValues.contains { $0.lowercased() == value } } ?? false)
    )
  }

  func isFirstDegree(_ assignment: Assignment) -> Bool {
    let codes = Set(configuration.firstDegreeTypes.map { $0.uppercased() })
    return codes.contains(assignment.typeCode)
      || (codes.contains(assignment.tier.uppercased())
        && assignment.typeCode != configuration.circonscriptionType.uppercased())
  }

  func isSecondDegree(_ assignment: Assignment) -> Bool {
    let codes = Set(configuration.secondDegreeTypes.map { $0.uppercased() })
    return codes.contains(assignment.typeCode) || codes.contains(assignment.tier.uppercased())
  }

  func normalized(_ dn: String) -> String {
    LDAPText.normalizeDN(dn) ?? dn.lowercased()
  }
}
