/// The figures of a period for the DSI and support: requests by status, motif, key type and
/// establishment, the time each step took, and the requests that wait too long.
public struct RenewalReport: Sendable, Hashable {
  /// A step whose duration is measured, from one event to the next.
  public enum Step: String, Sendable, Hashable, CaseIterable {
    /// From the routing (submission) to the decision (approve, reject or automatic validation).
    case submittedToDecided = "SUBMITTED_TO_DECIDED"
    /// From the approval to the DSI's confirmation of the enrolment elements (software keys).
    case decidedToElementsConfirmed = "DECIDED_TO_ELEMENTS_CONFIRMED"
    /// From the charter's signature to the finalisation.
    case charterToFinalised = "CHARTER_TO_FINALISED"
    /// From the key ready at the desk to its hand-over (hardware keys).
    case readyToHandedOver = "READY_TO_HANDED_OVER"
  }

  /// How long a step took over the requests that went through it.
  public struct StepTime: Sendable, Hashable {
    public var step: Step
    /// Requests measured.
    public var count: Int
    /// Median and 90th percentile, in seconds (nearest rank).
    public var medianSeconds: Int64
    public var p90Seconds: Int64
  }

  /// A request that waits longer than the threshold.
  public struct Late: Sendable, Hashable {
    public var renewal: RenewalRequest
    public var waiting: Waiting
    /// Business days it has waited in its status.
    public var businessDays: Int
  }

  /// How many requests the period holds.
  public var requests: Int
  public var byStatus: [String: Int]
  public var byMotif: [String: Int]
  public var byKeyType: [String: Int]
  /// By the agent's establishment (UAI); "unknown" when the routing has none.
  public var byEstablishment: [String: Int]
  public var stepTimes: [StepTime]
  /// Open requests waiting at least the threshold, longest first.
  public var late: [Late]

  /// The report of `requests` (each with its events, oldest first) at `now`: requests not over that
  /// have waited `lateAfter` business days or more in their status are listed as late.
  public static func make(
    _ requests: [(renewal: RenewalRequest, events: [RenewalEvent])], now: Instant, calendar: AcademyCalendar,
    lateAfter: Int
  ) -> RenewalReport {
    func count(_ key: (RenewalRequest) -> String) -> [String: Int] {
      requests.reduce(into: [:]) { $0[key($1.renewal), default: 0] += 1 }
    }
    var durations: [Step: [Int64]] = [:]
    for (_, events) in requests {
      func at(_ matches: (RenewalEvent) -> Bool) -> Instant? { events.first(where: matches)?.at }
      func last(_ matches: (RenewalEvent) -> Bool) -> Instant? { events.last(where: matches)?.at }
      let routed = last { $0.action == "submit" && $0.to == .pendingApproval }
      let decided = at { ["approve", "reject", "auto-validate"].contains($0.action) }
      let approved = at { $0.action == "approve" || $0.action == "auto-validate" }
      let confirmed = at { $0.action == "confirm-enrolment" }
      let signed = at { $0.action == "sign-charter" }
      let finalised = at { $0.action == "finalize" }
      let ready = at { $0.action == "finalize" && $0.to == .readyForPickup }
      let handedOver = at { $0.action == "record-handover" }
      for (step, start, end) in [
        (Step.submittedToDecided, routed, decided), (.decidedToElementsConfirmed, approved, confirmed),
        (.charterToFinalised, signed, finalised), (.readyToHandedOver, ready, handedOver),
      ] {
        guard let start, let end, start <= end else { continue }
        let (seconds, overflow) = end.millisecondsSinceEpoch.subtractingReportingOverflow(start.millisecondsSinceEpoch)
        if !overflow { durations[step, default: []].append(seconds / 1000) }
      }
    }
    let stepTimes = Step.allCases.compactMap { step -> StepTime? in
      guard let values = durations[step]?.sorted(), !values.isEmpty else { return nil }
      func rank(_ percentile: Int) -> Int64 {
        // Nearest rank: the smallest value with at least `percentile` % of the values at or below it.
        values[max(0, min(values.count - 1, (percentile * values.count + 99) / 100 - 1))]
      }
      return StepTime(step: step, count: values.count, medianSeconds: rank(50), p90Seconds: rank(90))
    }
    let late = requests.compactMap { item -> Late? in
      let renewal = item.renewal
      guard !renewal.status.isTerminal else { return nil }
      let days = calendar.businessDays(from: renewal.statusSince ?? renewal.updatedAt, to: now)
      guard days >= lateAfter else { return nil }
      return Late(renewal: renewal, waiting: renewal.waiting, businessDays: days)
    }.sorted { ($0.businessDays, $1.renewal.id) > ($1.businessDays, $0.renewal.id) }
    return RenewalReport(
      requests: requests.count, byStatus: count { $0.status.rawValue }, byMotif: count { $0.motif.rawValue },
      byKeyType: count { $0.keyType.rawValue.uppercased() },
      byEstablishment: count { $0.routing.establishment ?? "unknown" },
      stepTimes: stepTimes, late: late)
  }
}
