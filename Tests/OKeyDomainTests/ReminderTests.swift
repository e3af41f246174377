import OKeyDomain
import Testing

@Suite("reminders: once per period of business days while a request waits, and the day before an appointment")
struct ReminderTests {
  static let periods = ReminderPeriods(documents: 5, elements: 3, pickup: 5, approver: 2)

  static func due(_ r: RenewalRequest, daysAfter days: Int64, appointment: Instant? = nil) -> Reminder? {
    Reminder.due(
      for: r, at: (r.statusSince ?? r.updatedAt).adding(seconds: days * 86_400), calendar: .utc, periods: periods,
      appointmentStartsAt: appointment)
  }

  @Test("each waiting step reminds the one who must act after its period, and again one period after that")
  func periodsOfWaiting() throws {
    let waits: [(RenewalStatus, KeyType, Reminder)] = [
      (.awaitingDocuments, .software, .documents), (.awaitingEnrolment, .software, .elements),
      (.readyForPickup, .hardware, .pickup), (.pendingApproval, .software, .approver),
    ]
    for (status, keyType, reminder) in waits {
      let r = try request(in: status, keyType)
      #expect(Self.due(r, daysAfter: 1) == nil, "\(status)")
      #expect(Self.due(r, daysAfter: 14) == reminder, "\(status)")
      // Sent: the service's own change records it; the next one is a period later.
      let sent = try RenewalWorkflow.decide(
        .remind(Self.periods, appointmentStartsAt: nil), on: r, by: Caller(uid: "okey"),
        context: DecisionContext(
          now: (r.statusSince ?? r.updatedAt).adding(seconds: 14 * 86_400), expectedVersion: r.version)
      ).get()
      #expect(sent.renewal.status == status && sent.notifications.map(\.kind) == [reminder.kind], "\(status)")
      let recipient = sent.notifications.first?.recipient
      #expect(recipient == .person(status == .pendingApproval ? n1Person : agentPerson(in: r)), "\(status)")
      #expect(Self.due(sent.renewal, daysAfter: 15) == nil, "\(status): once per period")
      #expect(Self.due(sent.renewal, daysAfter: 28) == reminder, "\(status): again a period later")
    }
  }

  @Test("no reminder once the agent said the elements are sent, for an escalated request, or with the period off")
  func nothingToRemind() throws {
    var r = try step(try request(in: .awaitingEnrolment), .choosePlatform(.ios), by: agent).renewal
    r = try step(r, .markElementsSent, by: agent).renewal
    #expect(Self.due(r, daysAfter: 30) == nil)
    var escalated = try request(in: .pendingApproval)
    escalated.escalatedAt = escalated.statusSince
    #expect(Self.due(escalated, daysAfter: 30) == nil)
    let off = ReminderPeriods(documents: 0)
    let waiting = try request(in: .awaitingDocuments)
    #expect(
      Reminder.due(for: waiting, at: waiting.updatedAt.adding(seconds: 90 * 86_400), calendar: .utc, periods: off)
        == nil)
    let refused = RenewalWorkflow.decide(
      .remind(Self.periods, appointmentStartsAt: nil), on: waiting, by: Caller(uid: "okey"),
      context: DecisionContext(now: waiting.updatedAt, expectedVersion: waiting.version))
    #expect(throws: RenewalRefusal.self) { try refused.get() }
  }

  @Test("the appointment reminder goes on the last business day before it (Friday for a Monday), once")
  func dayBeforeAppointment() throws {
    let r = try request(in: .pickupBooked, .hardware)
    let monday = try #require(AcademyCalendar.dayNumber(year: 2030, month: 12, day: 2))
    let appointment = Instant(millisecondsSinceEpoch: monday * 86_400_000 + 9 * 3_600_000)
    func due(daysBefore: Int64) -> Reminder? {
      Reminder.due(
        for: r, at: appointment.adding(seconds: -daysBefore * 86_400), calendar: .utc, periods: Self.periods,
        appointmentStartsAt: appointment)
    }
    #expect(due(daysBefore: 4) == nil, "Thursday")
    #expect(due(daysBefore: 3) == .appointment, "Friday")
    #expect(due(daysBefore: 2) == .appointment, "Saturday, when Friday's was missed")
    var reminded = r
    reminded.lastReminderAt = appointment.adding(seconds: -3 * 86_400)
    for hoursLater: Int64 in [1, 24] {
      #expect(
        Reminder.due(
          for: reminded, at: appointment.adding(seconds: -3 * 86_400 + hoursLater * 3600), calendar: .utc,
          periods: Self.periods, appointmentStartsAt: appointment) == nil, "once")
    }
  }

  func agentPerson(in r: RenewalRequest) -> DirectoryPerson {
    r.routing.requester.uid == r.agentUID ? r.routing.requester : DirectoryPerson(uid: r.agentUID)
  }
}
