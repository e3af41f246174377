import OKeyDomain
import Testing

@Suite("the period's report: counts, step times by nearest rank, late requests")
struct ReportTests {
  static func event(_ action: String, _ to: RenewalStatus, hoursAfter hours: Int64) -> RenewalEvent {
    RenewalEvent(
      action: action, actor: "x", onBehalfOf: nil, role: .agent, from: nil, to: to, details: "",
      at: t0.adding(seconds: hours * 3600))
  }

  @Test("three decisions after 1 h, 2 h and 10 h: median 2 h, 90th percentile 10 h; counts by status, motif, type, UAI")
  func report() throws {
    var requests: [(renewal: RenewalRequest, events: [RenewalEvent])] = []
    for (index, hours) in [Int64(1), 2, 10].enumerated() {
      var r = try request(in: .awaitingEnrolment)
      r.id = "r\(index)"
      r.routing.establishment = index == 2 ? nil : "9740100K"
      requests.append(
        (
          r,
          [
            Self.event("submit", .pendingApproval, hoursAfter: 0),
            Self.event("approve", .awaitingEnrolment, hoursAfter: hours),
          ]
        ))
    }
    var late = try request(in: .pendingApproval)
    late.id = "late"
    late.statusSince = t0
    requests.append((late, [Self.event("submit", .pendingApproval, hoursAfter: 0)]))
    let report = RenewalReport.make(requests, now: t0.adding(seconds: 30 * 86_400), calendar: .utc, lateAfter: 5)
    #expect(report.requests == 4)
    #expect(report.byStatus == ["AWAITING_ENROLMENT": 3, "PENDING_APPROVAL": 1])
    #expect(report.byKeyType == ["SOFTWARE": 4])
    #expect(report.byEstablishment == ["9740100K": 2, "unknown": 2])
    let decided = try #require(report.stepTimes.first { $0.step == .submittedToDecided })
    #expect(decided.count == 3 && decided.medianSeconds == 2 * 3600 && decided.p90Seconds == 10 * 3600)
    #expect(!report.stepTimes.contains { $0.step == .readyToHandedOver })
    // Open and waiting: the late one and the three in AWAITING_ENROLMENT (their status_since is older).
    let lateOne = try #require(report.late.first { $0.renewal.id == "late" })
    #expect(lateOne.waiting.party == .approver && lateOne.businessDays >= 20)
  }
}
