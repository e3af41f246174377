/// The academy's calendar: the local day an instant falls on (in the academy's time zone, given by
/// the server), and the public holidays. Business days, delegation windows, reminders and
/// escalation count in it.
public struct AcademyCalendar: Sendable {
  /// The local day number of an instant: days since 1970-01-01 in the academy's time zone.
  public let localDay: @Sendable (Instant) -> Int64
  /// Public holidays, as local day numbers (see ``dayNumber(year:month:day:)``).
  public let holidays: Set<Int64>

  /// A calendar from its day numbering and its holidays.
  public init(localDay: @escaping @Sendable (Instant) -> Int64, holidays: Set<Int64> = []) {
    self.localDay = localDay
    self.holidays = holidays
  }

  /// UTC without holidays (unit tests).
  public static let utc = AcademyCalendar(localDay: { $0.daysSinceEpoch })

  /// A time zone at a fixed distance from UTC (Indian/Reunion is UTC+4 all year).
  public static func fixedOffset(seconds: Int64, holidays: Set<Int64> = []) -> AcademyCalendar {
    AcademyCalendar(localDay: { $0.adding(seconds: seconds).daysSinceEpoch }, holidays: holidays)
  }

  /// Monday to Friday and not a public holiday.
  public func isBusinessDay(_ day: Int64) -> Bool {
    // 1970-01-01 was a Thursday: weekday 0 is Sunday.
    let weekday = ((day + 4) % 7 + 7) % 7
    return weekday >= 1 && weekday <= 5 && !holidays.contains(day)
  }

  /// The business days after the local day of `start`, up to and including the local day of `end`.
  public func businessDays(from start: Instant, to end: Instant) -> Int {
    let first = localDay(start)
    let last = localDay(end)
    guard last > first else { return 0 }
    // Bounded: a request never waits longer than a few years.
    let span = min(last - first, 4_000)
    var count = 0
    for day in (last - span + 1)...last where isBusinessDay(day) { count += 1 }
    return count
  }

  /// The day number of a calendar date (Howard Hinnant's days-from-civil); nil for a date that
  /// does not exist.
  public static func dayNumber(year: Int, month: Int, day: Int) -> Int64? {
    guard (1...12).contains(month), (1...31).contains(day), (1...9999).contains(year) else { return nil }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    let lengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    guard day <= lengths[month - 1] else { return nil }
    let y = Int64(month <= 2 ? year - 1 : year)
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let m = Int64(month)
    let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146_097 + doe - 719_468
  }
}
