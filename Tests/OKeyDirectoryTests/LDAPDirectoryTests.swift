import OKeyDirectory
import OKeyDomain
import OKeyTestSupport
import Testing

@Suite("LDAP adapter against a real slapd", .serialized)
struct LDAPDirectoryTests {
  @Test(
    "filter metacharacters, NUL and non-ASCII in a uid match nothing",
    arguments: [
      "*", ")(uid=*", "ens1a)(|(uid=*", "*)(objectClass=*", "\\", "ens1a\u{0}", "ens1a\u{0})(uid=*", "énsé1a",
      "(uid=ens1a)", "ens*",
    ])
  func filterInjection(uid: String) async throws {
    try await withSlapd { slapd in
      try await withLDAPDirectory(slapd) { directory in
        #expect(try await directory.people(withUID: uid).isEmpty)
        #expect(try await directory.responsibles(forEstablishment: uid).isEmpty)
        let routing = try await RoutingResolver(directory: directory, cacheTTL: .zero, now: { today }).resolve(uid: uid)
        #expect(routing.problems.map(\.code) == ["NO_ENTRY"])
        // And nothing changed: the directory holds what it held.
        #expect(try await directory.people(withUID: "ens1a").count == 1)
        #expect(
          try await directory.search(
            base: "dc=ac-test,dc=fr", scope: .subtree, filter: "(objectClass=person)", attributes: ["uid"]
          ).count == 33)
      }
    }
  }

  @Test("RFC 4515 escaping and DN normalisation")
  func escaping() {
    #expect(LDAPText.escapeFilterValue("a*b(c)\\d").lowercased() == "a\\2ab\\28c\\29\\5cd")
    #expect(LDAPText.escapeFilterValue("x\u{0}y") == "x\\00y")
    #expect(LDAPText.escapeFilterValue("ens1a") == "ens1a")
    #expect(LDAPText.escapeFilterValue("") == "")
    #expect(
      LDAPText.normalizeDN("UID=Ens1a, OU=People,DC=ac-test,DC=fr")
        == LDAPText.normalizeDN("uid=ens1a,ou=people,dc=ac-test,dc=fr"))
    #expect(LDAPText.normalizeDN("not a dn") == nil)
  }

  @Test("passwords are checked by a bind of the user's own; an empty password is refused before any bind")
  func passwords() async throws {
    try await withSlapd { slapd in
      try await withLDAPDirectory(slapd) { directory in
        let dn = "uid=ens1a,ou=people,dc=ac-test,dc=fr"
        let right = try await directory.checkPassword(dn: dn, password: SlapdFixture.personPassword)
        #expect(right)
        #expect(try await directory.checkPassword(dn: dn, password: "wrong") == false)
        #expect(try await directory.checkPassword(dn: dn, password: "") == false)
        #expect(try await directory.checkPassword(dn: "uid=ghost,ou=people,dc=ac-test,dc=fr", password: "x") == false)
        #expect(try await directory.checkPassword(dn: "garbage", password: "x") == false)
        // The pooled connections still search as the service account afterwards.
        #expect(try await directory.people(withUID: "ien1").count == 1)
      }
    }
  }

  @Test("a wrong service password is a clear configuration error")
  func wrongServicePassword() async throws {
    try await withSlapd { slapd in
      try await withLDAPDirectory(slapd, configure: { $0.bindPassword = "not-the-password" }) { directory in
        let error = await #expect(throws: DirectoryError.self) { try await directory.checkServiceAccount() }
        #expect(error?.code == .configuration)
        #expect(error?.message.contains(SlapdFixture.serviceDN) == true)
        #expect(error?.message.contains("not-the-password") == false)
      }
    }
  }

  @Test(
    "slapd stopped mid-run gives an unavailable error within the timeouts, and the same directory recovers once it is back"
  )
  func outageAndRecovery() async throws {
    try await withSlapd { slapd in
      try await withLDAPDirectory(slapd) { directory in
        let resolver = RoutingResolver(directory: directory, cacheTTL: .zero, now: { today })
        #expect(try await resolver.resolve(uid: "ens1a").n1?.person.uid == "ien1")
        try await slapd.stop()
        let clock = ContinuousClock()
        let start = clock.now
        let error = await #expect(throws: DirectoryError.self) { try await resolver.resolve(uid: "ens1a") }
        #expect(error?.code == .unavailable)
        // Network timeout 2 s, operation timeout 3 s, one retry: well under 15 s whatever the load.
        #expect(clock.now - start < .seconds(15))
        try await slapd.restart()
        #expect(try await resolver.resolve(uid: "ens1a").n1?.person.uid == "ien1")
      }
    }
  }

  @Test("an unreachable directory is unavailable, not a crash")
  func unreachable() async throws {
    var configuration = DirectoryConfiguration()
    configuration.uri = "ldap://127.0.0.1:1"
    configuration.networkTimeoutSeconds = 1
    let directory = LDAPDirectory(configuration: configuration)
    let error = await #expect(throws: DirectoryError.self) { try await directory.people(withUID: "ens1a") }
    #expect(error?.code == .unavailable)
    await directory.shutdown()
  }
}

@Suite("FrEdu values")
struct FrEduValueTests {
  @Test("assignments, responsibilities and delegations parse; malformed values are reported")
  func parse() throws {
    let assignment = try FrEduValues.assignment("9741234X$UAJ$PU$ENS$9741234X$T1$1ORD$151").get()
    #expect(assignment.uai == "9741234X")
    #expect(assignment.typeCode == "1ORD")
    #expect(assignment.department == "974")
    #expect((try? FrEduValues.assignment("garbage").get()) == nil)
    #expect((try? FrEduValues.assignment("97412$UAJ$PU$ENS$9741234X$T1$1ORD$151").get()) == nil)
    #expect(try FrEduValues.responsibility("X").get() == nil)
    #expect(try FrEduValues.responsibility("9740100K$UAJ$PU$N$T3$CLG$340").get()?.typeCode == "CLG")
    let delegation = try FrEduValues.delegation(
      "ONDE|https://x/|01/09/2025|31/08/2026|dir2|FrEduRneResp=9741002B$UAJ$PU$N$T1$1ORD$151|srv|DIR|"
    ).get()
    #expect(delegation.application == "ONDE")
    #expect(delegation.isCurrent(on: CivilDate(ddmmyyyy: "31/08/2026")!))
    #expect(!delegation.isCurrent(on: CivilDate(ddmmyyyy: "01/09/2026")!))
    #expect((try? FrEduValues.delegation("ONDE|not a date|x|").get()) == nil)
    #expect(CivilDate(ddmmyyyy: "29/02/2025") == nil)
    #expect(CivilDate(ddmmyyyy: "29/02/2024") != nil)
    #expect(CivilDate(ddmmyyyy: "1/1/24") == nil)
  }

  @Test(
    "the civil date of an instant",
    arguments: [(Int64(0), "01/01/1970"), (1_795_910_400, "29/11/2026"), (951_782_400, "29/02/2000")])
  func civilDate(seconds: Int64, expected: String) {
    #expect(CivilDate(Instant(secondsSinceEpoch: seconds)) == CivilDate(ddmmyyyy: expected))
  }
}
