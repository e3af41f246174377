import OKeyDirectory
import OKeyDomain
import OKeyTestSupport
import Synchronization
import Testing

/// 2026-11-29, the day the fixture's delegation windows are read against.
let today = Instant(secondsSinceEpoch: 1_795_910_400)

/// What the sample academy must give for one uid.
struct Expected: Sendable, CustomStringConvertible {
  var uid: String
  var n1: String?
  var n2: String?
  var auto = false
  var problems: Set<String> = []
  var n1FoundBy: String? = nil
  var description: String { uid }
}

@Suite("routing against the sample academy in a real slapd", .serialized)
struct RoutingTests {
  static let cases: [Expected] = [
    Expected(uid: "rect-agent", n1: "dsi-head", n2: "sg", n1FoundBy: "manager attribute"),
    Expected(uid: "ens1a", n1: "ien1", n2: "dasen974", n1FoundBy: "IEN1D covering 9741001A"),
    Expected(uid: "ens1b", n1: "ien1", n2: "dasen974"),
    Expected(uid: "dir1", n1: "ien1", n2: "dasen974", auto: true),
    Expected(uid: "dir2", n1: "ien1", n2: "dasen974", auto: true),
    Expected(uid: "ens2a", n1: "ien1", n2: "dasen974", auto: true),
    Expected(uid: "ens2b", n1: "ien1", n2: "dasen974", problems: ["DELEGATION_EXPIRED"]),
    Expected(uid: "ens-clg", n1: "principal1", n2: "dasen974", n1FoundBy: "principal"),
    Expected(uid: "adjoint1", n1: "principal1", n2: "dasen974"),
    Expected(uid: "principal1", n1: "dasen974", n2: "recteur", n1FoundBy: "fallback dasen974 for department 974"),
    Expected(uid: "ens-lyc", n1: "adjoint2", n2: "dasen974", n1FoundBy: "deputy"),
    Expected(uid: "ien1", n1: "dasen974", n2: "recteur"),
    Expected(uid: "dasen974", n1: "recteur", n2: nil, problems: ["NO_N2"]),
    Expected(uid: "sg", n1: "recteur", n2: nil, problems: ["NO_N2"]),
    Expected(uid: "ghost", n1: nil, n2: nil, problems: ["NO_ENTRY"]),
    Expected(uid: "twin", n1: nil, n2: nil, problems: ["SEVERAL_ENTRIES"]),
    Expected(uid: "orphan", n1: nil, n2: nil, problems: ["MANAGER_MISSING"]),
    Expected(uid: "dangling", n1: nil, n2: nil, problems: ["MANAGER_DANGLING"]),
    Expected(uid: "selfish", n1: nil, n2: nil, problems: ["MANAGER_IS_SELF"]),
    Expected(uid: "loopa", n1: "loopb", n2: nil, problems: ["MANAGER_LOOP", "NO_N2"]),
    Expected(uid: "ens-noresp", n1: nil, n2: nil, problems: ["NO_RESPONSIBLE"]),
    Expected(uid: "ens3", n1: nil, n2: nil, problems: ["SEVERAL_CANDIDATES"]),
    Expected(uid: "dis-agent", n1: "disabled-boss", n2: "sg", problems: ["VALIDATOR_DISABLED"]),
    Expected(uid: "ens-bad", n1: "ien1", n2: "dasen974", problems: ["MALFORMED_VALUE"]),
  ]

  @Test("every rule of both strategies and every kind of broken data")
  func sampleAcademy() async throws {
    try await withSlapd { slapd in
      try await withLDAPDirectory(slapd) { directory in
        let resolver = RoutingResolver(directory: directory, cacheTTL: .zero, now: { today })
        for expected in Self.cases {
          let routing = try await resolver.resolve(uid: expected.uid)
          #expect(
            routing.n1?.person.uid == expected.n1,
            "\(expected.uid): N+1 \(routing.n1?.person.uid ?? "none"); \(routing.problems)")
          #expect(
            routing.n2?.person.uid == expected.n2,
            "\(expected.uid): N+2 \(routing.n2?.person.uid ?? "none"); \(routing.problems)")
          #expect(routing.autoValidation.isAutomatic == expected.auto, "\(expected.uid): auto-validation")
          #expect(Set(routing.problems.map(\.code)) == expected.problems, "\(expected.uid): \(routing.problems)")
          if let foundBy = expected.n1FoundBy {
            #expect(
              routing.n1?.foundBy.hasPrefix(foundBy) == true, "\(expected.uid): found by \(routing.n1?.foundBy ?? "-")")
          }
          for problem in routing.problems { #expect(!problem.message.isEmpty) }
        }
      }
    }
  }

  @Test("a disabled N+1 makes the active N+2 the effective validator")
  func disabledValidator() async throws {
    try await withSlapd { slapd in
      try await withLDAPDirectory(slapd) { directory in
        let routing = try await RoutingResolver(directory: directory, cacheTTL: .zero, now: { today }).resolve(
          uid: "dis-agent")
        #expect(routing.n1?.person.active == false)
        #expect(routing.effectiveValidator?.uid == "sg")
        #expect(routing.problems.first { $0.code == "VALIDATOR_DISABLED" }?.message.contains("sg") == true)
      }
    }
  }

  @Test(
    "second degree: the deputies of the agent's establishment decide beside the principal (headOrDeputy), or not (head); a deputy named by the agent keeps the principal beside them"
  )
  func secondDegreeValidators() async throws {
    try await withSlapd { slapd in
      try await withLDAPDirectory(slapd) { directory in
        let resolver = RoutingResolver(directory: directory, cacheTTL: .zero, now: { today })
        let clg = try await resolver.resolve(uid: "ens-clg")
        #expect(clg.n1?.person.uid == "principal1")
        #expect(clg.coValidators?.map(\.person.uid) == ["adjoint1"])
        #expect(clg.coValidators?.first?.foundBy.contains("deputy") == true)
        #expect(clg.namesApprover("adjoint1"))
        #expect(clg.askedValidators.map(\.uid) == ["principal1", "adjoint1"])
        // A deputy asking: the principal decides alone (the deputy never decides on their own request).
        #expect(try await resolver.resolve(uid: "adjoint1").coValidators == nil)
        // A lycée with a deputy and no principal, and the first degree: nobody beside the N+1.
        #expect(try await resolver.resolve(uid: "ens-lyc").coValidators == nil)
        #expect(try await resolver.resolve(uid: "ens1a").coValidators == nil)

        let named = try await resolver.correctValidator(of: clg, proposal: clg, to: "adjoint1").get()
        #expect(named.n1?.person.uid == "adjoint1")
        #expect(named.coValidators?.map(\.person.uid) == ["principal1"])
        let elsewhere = try await resolver.correctValidator(of: clg, proposal: clg, to: "ien1").get()
        #expect(elsewhere.coValidators == nil)
        #expect(!elsewhere.namesApprover("adjoint1"))

        var headOnly = RoutingConfiguration()
        headOnly.secondDegreeValidators = .head
        let alone = try await RoutingResolver(
          directory: directory, configuration: headOnly, cacheTTL: .zero, now: { today }
        ).resolve(uid: "ens-clg")
        #expect(alone.coValidators == nil)
        #expect(!alone.namesApprover("adjoint1"))
      }
    }
  }

  @Test(
    "second degree: a deputy asking is decided by the principal alone, never by a peer deputy; a DIR holding neither discipline is no co-validator"
  )
  func secondDegreePeers() async throws {
    try await withSlapd { slapd in
      for (uid, discipline) in [("adjoint3", "discipline: D0011\n"), ("gestion1", "")] {
        try await slapd.modify(
          """
          dn: uid=\(uid),ou=people,dc=ac-test,dc=fr
          changetype: add
          objectClass: inetOrgPerson
          objectClass: FrEduPerson
          uid: \(uid)
          cn: \(uid)
          sn: \(uid)
          mail: \(uid)@ac-test.fr
          userPassword: password1
          FrEduRne: 9740100K$UAJ$PU$DIR$9740100K$T3$CLG$340
          FrEduFonctAdm: DIR
          \(discipline)FrEduRneResp: 9740100K$UAJ$PU$N$T3$CLG$340

          """)
      }
      try await withLDAPDirectory(slapd) { directory in
        let resolver = RoutingResolver(directory: directory, cacheTTL: .zero, now: { today })
        let teacher = try await resolver.resolve(uid: "ens-clg")
        #expect(teacher.coValidators?.map(\.person.uid).sorted() == ["adjoint1", "adjoint3"])
        let deputy = try await resolver.resolve(uid: "adjoint1")
        #expect(deputy.n1?.person.uid == "principal1")
        #expect(deputy.coValidators == nil)
        #expect(!deputy.namesApprover("adjoint3"))
      }
    }
  }

  @Test("strategies follow the configured order: establishment only, manager only")
  func strategyOrder() async throws {
    try await withSlapd { slapd in
      try await withLDAPDirectory(slapd) { directory in
        var establishmentOnly = RoutingConfiguration()
        establishmentOnly.strategies = [.establishment]
        let byEstablishment = RoutingResolver(
          directory: directory, configuration: establishmentOnly, cacheTTL: .zero, now: { today })
        #expect(try await byEstablishment.resolve(uid: "ens1a").n1?.person.uid == "ien1")
        #expect(try await byEstablishment.resolve(uid: "rect-agent").problems.map(\.code) == ["MANAGER_MISSING"])

        var managerOnly = RoutingConfiguration()
        managerOnly.strategies = [.managerAttribute]
        let byManager = RoutingResolver(
          directory: directory, configuration: managerOnly, cacheTTL: .zero, now: { today })
        #expect(try await byManager.resolve(uid: "rect-agent").n1?.person.uid == "dsi-head")
        #expect(try await byManager.resolve(uid: "ens1a").n1 == nil)

        var noFallback = RoutingConfiguration()
        noFallback.fallbacks = [:]
        let withoutFallback = RoutingResolver(
          directory: directory, configuration: noFallback, cacheTTL: .zero, now: { today })
        let principal = try await withoutFallback.resolve(uid: "principal1")
        #expect(principal.n1 == nil)
      }
    }
  }

  @Test("an ONDE delegation counts only inside its date window")
  func delegationWindow() async throws {
    try await withSlapd { slapd in
      try await withLDAPDirectory(slapd) { directory in
        // 2025-06-01: ens2b's delegation (2024-09-01 to 2025-08-31) is current then.
        let then = Instant(secondsSinceEpoch: 1_748_736_000)
        let routing = try await RoutingResolver(directory: directory, cacheTTL: .zero, now: { then }).resolve(
          uid: "ens2b")
        #expect(routing.ondeDelegation)
        #expect(routing.autoValidation.isAutomatic)
      }
    }
  }

  @Test("the validator named by the agent must exist, be active and not be the agent; the N+2 follows")
  func validatorCorrection() async throws {
    try await withSlapd { slapd in
      try await withLDAPDirectory(slapd) { directory in
        let resolver = RoutingResolver(directory: directory, cacheTTL: .zero, now: { today })
        let routing = try await resolver.resolve(uid: "ens-clg")
        let corrected = try await resolver.correctValidator(of: routing, to: "adjoint1").get()
        #expect(corrected.n1?.person.uid == "adjoint1")
        #expect(corrected.n2?.person.uid == "principal1")
        #expect(corrected.proposedN1?.person.uid == "principal1")
        for refused in ["ghost", "ens-clg", "disabled-boss", "twin", "*"] {
          let result = try await resolver.correctValidator(of: routing, to: refused)
          guard case .failure(let refusal) = result else {
            Issue.record("\(refused) accepted")
            continue
          }
          #expect(refusal.code == .validatorInvalid, "\(refused): \(refusal)")
        }
        // A colleague exists and is active, but holds no management position.
        if case .failure(let refusal) = try await resolver.correctValidator(of: routing, to: "ens-lyc") {
          #expect(refusal.code == .validatorNotAllowed)
        } else {
          Issue.record("a colleague without a management position accepted under validatorChoice managers")
        }
      }
    }
  }

  @Test("roles come from the configured directory groups")
  func groupRoles() async throws {
    try await withSlapd { slapd in
      try await withLDAPDirectory(slapd) { directory in
        let resolver = RoutingResolver(directory: directory, cacheTTL: .zero, now: { today })
        for (uid, roles) in [("dsi-op1", Set([Caller.GroupRole.dsi])), ("helpdesk1", [.support]), ("ens1a", [])] {
          let person = try #require(try await resolver.person(uid: uid))
          #expect(try await resolver.groupRoles(of: person) == roles, "\(uid)")
        }
      }
    }
  }

  @Test("a warm cache answers repeated resolutions without the directory, and forgets after its TTL")
  func cache() async throws {
    try await withSlapd { slapd in
      try await withLDAPDirectory(slapd) { directory in
        // The cache's clock moves by hand: no race with a TTL on a shared machine.
        let clock = Mutex(ContinuousClock.now)
        let resolver = RoutingResolver(
          directory: directory, cacheTTL: .seconds(60), cacheClock: { clock.withLock { $0 } }, now: { today })
        let first = try await resolver.resolve(uid: "ens1a")
        let operations = directory.latency.snapshot.count
        let second = try await resolver.resolve(uid: "ens1a")
        #expect(second == first)
        #expect(directory.latency.snapshot.count == operations, "a warm resolution went to the directory")
        #expect(resolver.cacheCounters.hits == 1)
        clock.withLock { $0 = $0.advanced(by: .seconds(59)) }
        _ = try await resolver.resolve(uid: "ens1a")
        #expect(directory.latency.snapshot.count == operations, "still within the TTL")
        clock.withLock { $0 = $0.advanced(by: .seconds(2)) }
        _ = try await resolver.resolve(uid: "ens1a")
        #expect(directory.latency.snapshot.count > operations)
        #expect(resolver.cacheCounters.misses == 2)
        #expect(resolver.cacheCounters.hits == 2)
      }
    }
  }
}
