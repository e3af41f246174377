import OKeyDomain

/// An assignment of a person (one `FrEduRne` value):
/// `UAI$UAJ$PU|PR$function$UAI-of-UAJ$T<n>$<type code>$<nature code>`.
public struct Assignment: Sendable, Hashable {
  /// The establishment (UAI).
  public var uai: String
  /// Public or private sector (PU, PR).
  public var sector: String
  /// The person's function there (ENS, DIR, INS...).
  public var function: String
  /// The UAI the UAJ attaches to (for a school: its circonscription).
  public var parentUAI: String
  /// Tier: T1 first degree, T3 second degree...
  public var tier: String
  /// Establishment type code: 1ORD, CLG, LYC, IEN...
  public var typeCode: String
  /// Nature code.
  public var natureCode: String

  /// The department code: the first three characters of the UAI.
  public var department: String { String(uai.prefix(3)) }
}

/// An establishment a person is responsible for (one `FrEduRneResp` value):
/// `UAI$UAJ$PU|PR$A|N|F$T<n>$<type code>$<nature code>`; `X` means none.
public struct Responsibility: Sendable, Hashable {
  /// The establishment (UAI).
  public var uai: String
  /// Tier.
  public var tier: String
  /// Establishment type code.
  public var typeCode: String
}

/// A calendar day (the delegation windows are days, dd/mm/yyyy).
public struct CivilDate: Sendable, Hashable, Comparable {
  public var year: Int
  public var month: Int
  public var day: Int

  /// Parses dd/mm/yyyy; nil when it is not a real date.
  public init?(ddmmyyyy text: String) {
    let parts = text.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 3, let d = Int(parts[0]), let m = Int(parts[1]), let y = Int(parts[2]),
      parts[2].count == 4, (1...12).contains(m), (1...31).contains(d)
    else { return nil }
    let daysInMonth = [
      31, (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31,
    ]
    guard d <= daysInMonth[m - 1] else { return nil }
    year = y
    month = m
    day = d
  }

  /// The day an instant falls on, in UTC.
  public init(_ instant: Instant) {
    self.init(day: instant.daysSinceEpoch)
  }

  /// The date of a day number (days since 1970-01-01; ``AcademyCalendar/localDay`` gives the
  /// academy's).
  public init(day number: Int64) {
    // Howard Hinnant's civil-from-days.
    let z = number + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    day = Int(doy - (153 * mp + 2) / 5 + 1)
    month = Int(mp < 10 ? mp + 3 : mp - 9)
    year = Int(yoe + era * 400) + (month <= 2 ? 1 : 0)
  }

  public static func < (lhs: CivilDate, rhs: CivilDate) -> Bool {
    (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
  }
}

/// A delegation (one `FrEduResDel` value):
/// `app|resource-url|start dd/mm/yyyy|end dd/mm/yyyy|delegator uid|FrEduRneResp=<rneresp>[;...]|server|function|`.
public struct Delegation: Sendable, Hashable {
  /// The application delegated (ONDE...).
  public var application: String
  /// First day of the delegation.
  public var start: CivilDate
  /// Last day of the delegation.
  public var end: CivilDate
  /// Who delegated.
  public var delegatorUID: String

  /// True when `day` lies within the window.
  public func isCurrent(on day: CivilDate) -> Bool { start <= day && day <= end }
}

/// Parsers for the FrEdu value formats. Malformed values give a message, never a crash.
public enum FrEduValues {
  /// Parses a `FrEduRne` value.
  public static func assignment(_ value: String) -> Result<Assignment, MalformedValue> {
    let fields = value.split(separator: "$", omittingEmptySubsequences: false).map(String.init)
    guard fields.count >= 8, isUAI(fields[0]) else {
      return .failure(MalformedValue(value: value, expected: "UAI$UAJ$PU|PR$function$UAI$T<n>$type$nature"))
    }
    return .success(
      Assignment(
        uai: fields[0].uppercased(), sector: fields[2], function: fields[3], parentUAI: fields[4].uppercased(),
        tier: fields[5],
        typeCode: fields[6].uppercased(), natureCode: fields[7]))
  }

  /// Parses a `FrEduRneResp` value; nil for `X` (none).
  public static func responsibility(_ value: String) -> Result<Responsibility?, MalformedValue> {
    if value.trimmingCharacters(in: " ") == "X" { return .success(nil) }
    let fields = value.split(separator: "$", omittingEmptySubsequences: false).map(String.init)
    guard fields.count >= 7, isUAI(fields[0]) else {
      return .failure(MalformedValue(value: value, expected: "UAI$UAJ$PU|PR$A|N|F$T<n>$type$nature"))
    }
    return .success(Responsibility(uai: fields[0].uppercased(), tier: fields[4], typeCode: fields[5].uppercased()))
  }

  /// Parses a `FrEduResDel` value.
  public static func delegation(_ value: String) -> Result<Delegation, MalformedValue> {
    let fields = value.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
    guard fields.count >= 5, !fields[0].isEmpty, let start = CivilDate(ddmmyyyy: fields[2]),
      let end = CivilDate(ddmmyyyy: fields[3])
    else {
      return .failure(MalformedValue(value: value, expected: "app|url|start dd/mm/yyyy|end dd/mm/yyyy|delegator|..."))
    }
    return .success(Delegation(application: fields[0], start: start, end: end, delegatorUID: fields[4]))
  }

  static func isUAI(_ text: String) -> Bool {
    text.count == 8 && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }
  }
}

/// A directory value that does not follow its format.
public struct MalformedValue: Error, Sendable, Hashable {
  /// The value as found.
  public var value: String
  /// The format expected.
  public var expected: String
}

extension String {
  func trimmingCharacters(in set: Character) -> String {
    var text = Substring(self)
    while text.first == set { text.removeFirst() }
    while text.last == set { text.removeLast() }
    return String(text)
  }
}
