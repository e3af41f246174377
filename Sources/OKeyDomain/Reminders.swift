/// How long a request waits before its reminder, in business days of the academy.
public struct ReminderPeriods: Sendable, Hashable {
  /// The agent, in AWAITING_DOCUMENTS. 0 turns it off.
  public var documents: Int
  /// The agent, in AWAITING_ENROLMENT without the elements said sent. 0 turns it off.
  public var elements: Int
  /// The agent, in READY_FOR_PICKUP without an appointment. 0 turns it off.
  public var pickup: Int
  /// The N+1, in PENDING_APPROVAL (set it below the N+2 escalation delay). 0 turns it off.
  public var approver: Int
  /// The agent, the business day before their appointment.
  public var appointmentDayBefore: Bool

  /// Periods (business days; 0 for never).
  public init(
    documents: Int = 5, elements: Int = 3, pickup: Int = 5, approver: Int = 2, appointmentDayBefore: Bool = true
  ) {
    self.documents = documents
    self.elements = elements
    self.pickup = pickup
    self.approver = approver
    self.appointmentDayBefore = appointmentDayBefore
  }
}

/// A reminder a waiting request is due, and to whom.
public enum Reminder: Sendable, Hashable {
  case documents
  case elements
  case pickup
  case approver
  case appointment

  /// The message it sends.
  public var kind: NotificationIntent.Kind {
    switch self {
    case .documents: return .documentsReminder
    case .elements: return .elementsReminder
    case .pickup: return .pickupReminder
    case .approver: return .approverReminder
    case .appointment: return .appointmentReminder
    }
  }

  /// The reminder `renewal` is due at `now`, if any: once per period while it waits (counted from
  /// when it entered its status, or from its last reminder), and the business day before an
  /// appointment (`appointmentStartsAt`).
  public static func due(
    for renewal: RenewalRequest, at now: Instant, calendar: AcademyCalendar, periods: ReminderPeriods,
    appointmentStartsAt: Instant? = nil
  ) -> Reminder? {
    let entered = renewal.statusSince ?? renewal.updatedAt
    let since = max(entered, renewal.lastReminderAt ?? entered)
    func waited(_ period: Int) -> Bool { period > 0 && calendar.businessDays(from: since, to: now) >= period }
    switch renewal.status {
    case .awaitingDocuments:
      return waited(periods.documents) ? .documents : nil
    case .awaitingEnrolment
    where renewal.keyType == .software && renewal.elementsSentAt == nil && renewal.enrolmentByCode != true:
      return waited(periods.elements) ? .elements : nil
    case .readyForPickup:
      return waited(periods.pickup) ? .pickup : nil
    case .pendingApproval where !renewal.routing.autoValidation.isAutomatic && renewal.escalatedAt == nil:
      return waited(periods.approver) ? .approver : nil
    case .pickupBooked:
      guard periods.appointmentDayBefore, let startsAt = appointmentStartsAt, startsAt > now else { return nil }
      // Due on the last business day before the appointment's day, once.
      let today = calendar.localDay(now)
      let day = calendar.localDay(startsAt)
      guard today < day else { return nil }
      // The last business day before the appointment's day (a missed one is caught up until it).
      var previous = day - 1
      while previous > day - 30, !calendar.isBusinessDay(previous) { previous -= 1 }
      guard today >= previous else { return nil }
      if let last = renewal.lastReminderAt, calendar.localDay(last) >= previous, last >= entered { return nil }
      return .appointment
    default:
      return nil
    }
  }
}
