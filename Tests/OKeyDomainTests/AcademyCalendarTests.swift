import OKeyDomain
import Testing

@Suite("the academy's calendar: local days, weekends and public holidays")
struct AcademyCalendarTests {
  /// 10:00 UTC on a date.
  static func instant(_ year: Int, _ month: Int, _ day: Int, hourUTC: Int64 = 10) throws -> Instant {
    let number = try #require(AcademyCalendar.dayNumber(year: year, month: month, day: day))
    return Instant(millisecondsSinceEpoch: number * 86_400_000 + hourUTC * 3_600_000)
  }

  @Test("day numbers of real dates, none for dates that do not exist")
  func dayNumbers() throws {
    #expect(AcademyCalendar.dayNumber(year: 1970, month: 1, day: 1) == 0)
    #expect(AcademyCalendar.dayNumber(year: 2026, month: 12, day: 20) == 20_807)
    #expect(AcademyCalendar.dayNumber(year: 2024, month: 2, day: 29) != nil)
    #expect(AcademyCalendar.dayNumber(year: 2026, month: 2, day: 29) == nil)
    #expect(AcademyCalendar.dayNumber(year: 2026, month: 13, day: 1) == nil)
  }

  @Test(
    "a request routed on Thursday 21:00 UTC was routed on Friday in Réunion (UTC+4): by Tuesday, 3 business days in UTC, 2 there"
  )
  func localDays() throws {
    let routed = try Self.instant(2026, 12, 17, hourUTC: 21)
    let tuesday = try Self.instant(2026, 12, 22)
    #expect(AcademyCalendar.utc.businessDays(from: routed, to: tuesday) == 3)
    #expect(AcademyCalendar.fixedOffset(seconds: 4 * 3600).businessDays(from: routed, to: tuesday) == 2)
  }

  @Test("a public holiday is not a business day: Monday 20 December 2027 in Réunion")
  func holidays() throws {
    let holiday = try #require(AcademyCalendar.dayNumber(year: 2027, month: 12, day: 20))
    let reunion = AcademyCalendar.fixedOffset(seconds: 4 * 3600, holidays: [holiday])
    let friday = try Self.instant(2027, 12, 17)
    #expect(reunion.businessDays(from: friday, to: try Self.instant(2027, 12, 22)) == 2)
    #expect(reunion.businessDays(from: friday, to: try Self.instant(2027, 12, 23)) == 3)
    #expect(
      AcademyCalendar.fixedOffset(seconds: 4 * 3600).businessDays(from: friday, to: try Self.instant(2027, 12, 22)) == 3
    )
  }

  @Test("the escalation waits for business days in the academy's calendar")
  func escalation() throws {
    var r = try request(in: .pendingApproval)
    let holiday = try #require(AcademyCalendar.dayNumber(year: 2027, month: 12, day: 20))
    r.routedAt = try Self.instant(2027, 12, 17)
    let reunion = AcademyCalendar.fixedOffset(seconds: 4 * 3600, holidays: [holiday])
    func decide(on day: Int) throws -> RenewalRefusal? {
      switch RenewalWorkflow.decide(
        .escalate(delayBusinessDays: 3), on: r, by: Caller(uid: "okey"),
        context: DecisionContext(now: try Self.instant(2027, 12, day), expectedVersion: r.version, calendar: reunion))
      {
      case .success: return nil
      case .failure(let refusal): return refusal
      }
    }
    #expect(try decide(on: 22)?.code == .wrongState)
    #expect(try decide(on: 23) == nil)
  }
}
