import ArgumentParser
import Foundation
import OKeyClient

#if canImport(Glibc)
  import Glibc
#endif

/// Options of every command that talks to okeyd.
struct ConnectionOptions: ParsableArguments {
  @Option(name: .long, help: "okeyd address, HOST:PORT (default: $OKEY_SERVER, else 127.0.0.1:50051).")
  var server: String?

  @Option(name: .long, help: "Seconds to wait for an answer before giving up.")
  var timeout: Int = 10

  @Option(name: .long, help: "For a service-account key: the uid of the person to act for.")
  var onBehalfOf: String?

  @Flag(name: .long, help: "Print JSON instead of tables (for scripts).")
  var json = false

  @Option(
    name: .long,
    help:
      "Use TLS, trusting the CA certificates in this PEM file (default: $OKEY_TLS_CA; plaintext when neither is set).")
  var tlsCA: String?

  func settings(requireToken: Bool = true) throws -> OKeyClientSettings {
    let environment = ProcessInfo.processInfo.environment
    let address = server ?? environment["OKEY_SERVER"].flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1:50051"
    let token = environment["OKEY_TOKEN"].flatMap { $0.isEmpty ? nil : $0 } ?? TokenFile.read()
    do {
      var settings = try OKeyClientSettings(
        server: address, token: token, onBehalfOf: onBehalfOf, timeout: .seconds(max(1, timeout)))
      if let ca = tlsCA ?? environment["OKEY_TLS_CA"].flatMap({ $0.isEmpty ? nil : $0 }) {
        settings.tls = OKeyClientSettings.TLS(caCertificateFile: ca)
      }
      return settings
    } catch let error as OKeyClientError {
      throw ValidationError(error.message)
    }
  }
}

/// Where `okey login` keeps the session token: $XDG_CONFIG_HOME/okey/token (else ~/.config), mode 0600.
enum TokenFile {
  static var path: String {
    let environment = ProcessInfo.processInfo.environment
    let base = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.config")
    return base + "/okey/token"
  }

  static func read() -> String? {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
    let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
    return token.isEmpty ? nil : token
  }

  static func write(_ token: String) throws {
    let folder = (path as NSString).deletingLastPathComponent
    try FileManager.default.createDirectory(
      atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
    try Data((token + "\n").utf8).write(to: URL(fileURLWithPath: path))
    try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
  }

  static func remove() {
    try? FileManager.default.removeItem(atPath: path)
  }
}

/// Exit codes of okey, documented in `okey --help`.
enum ExitStatus {
  static let failure: Int32 = 1
  static let notServing: Int32 = 3
  static let refused: Int32 = 65
  static let notFound: Int32 = 66
  static let unavailable: Int32 = 69
  static let denied: Int32 = 77

  /// Prints the server's message on one line and returns the exit code for `error`'s kind.
  static func report(_ error: OKeyClientError) -> ExitCode {
    FileHandle.standardError.write(Data("okey: \(error.message.replacingOccurrences(of: "\n", with: " "))\n".utf8))
    switch error.kind {
    case .invalidArgument, .failedPrecondition, .aborted, .alreadyExists: return ExitCode(refused)
    case .notFound: return ExitCode(notFound)
    case .unavailable, .deadlineExceeded, .resourceExhausted: return ExitCode(unavailable)
    case .permissionDenied, .unauthenticated: return ExitCode(denied)
    case .unimplemented, .other: return ExitCode(failure)
    }
  }
}

/// Runs `body` against okeyd, reporting client errors as one line and an exit code.
func withClient<Result: Sendable>(_ options: ConnectionOptions, _ body: (OKeyClient) async throws -> Result)
  async throws -> Result
{
  let settings = try options.settings()
  do {
    return try await OKeyClient.with(settings, body)
  } catch let error as OKeyClientError {
    throw ExitStatus.report(error)
  }
}

/// Runs a change on the request of `change` with the version given or read now, and prints the result.
func changeRequest(
  _ connection: ConnectionOptions,
  _ change: ChangeOptions,
  _ body: @escaping (OKeyClient, _ id: String, _ version: Int64) async throws -> Renewal
) async throws {
  let renewal = try await withClient(connection) { client in
    try await body(
      client, change.requestID, try await version(of: change.requestID, given: change.expectedVersion, client: client))
  }
  try show(renewal, json: connection.json)
}

/// The request's current version, for commands run without --expected-version.
func version(of id: String, given: Int64?, client: OKeyClient) async throws -> Int64 {
  if let given { return given }
  return try await client.renewal(id).version
}

// MARK: Output

let jsonEncoder: JSONEncoder = {
  let encoder = JSONEncoder()
  encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
  encoder.dateEncodingStrategy = .iso8601
  return encoder
}()

func printJSON<T: Encodable>(_ value: T) throws {
  print(String(decoding: try jsonEncoder.encode(value), as: UTF8.self))
}

/// Prints rows as aligned columns; the first row is the header.
func printTable(_ rows: [[String]]) {
  guard let header = rows.first else { return }
  let widths = header.indices.map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
  for row in rows {
    let cells = row.enumerated().map { column, cell in
      column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
    }
    print(cells.joined(separator: "  "))
  }
}

/// ISO 8601 times in UTC, e.g. 2026-12-01T09:00:00Z.
func short(_ date: Date) -> String { date.formatted(.iso8601) }

/// Parses an ISO 8601 time such as 2026-12-01T09:00:00Z.
func parseTime(_ text: String) -> Date? { try? Date(text, strategy: .iso8601) }

/// Prints requests as a table (or JSON).
func show(_ renewals: [Renewal], nextPageToken: String = "", json: Bool) throws {
  if json {
    try printJSON(renewals)
    return
  }
  var rows = [["REQUEST", "AGENT", "KEY", "STATUS", "SINCE", "VERSION", "VALIDATOR", "UPDATED"]]
  for r in renewals {
    rows.append([
      r.id, r.agentUID, r.keyType.rawValue, r.status.rawValue, short(r.statusSince), "\(r.version)",
      r.routing.effectiveValidator?.uid ?? (r.routing.autoValidated ? "auto" : "-"), short(r.updatedAt),
    ])
  }
  printTable(rows)
  if !nextPageToken.isEmpty { print("more: --page-token \(nextPageToken)") }
}

/// Prints one request in detail (or JSON).
func show(_ r: Renewal, json: Bool, history: Bool = false) throws {
  if json {
    try printJSON(r)
    return
  }
  var rows: [[String]] = [
    ["request", r.id], ["agent", r.agentUID], ["key type", r.keyType.rawValue], ["motif", r.motif?.rawValue ?? "-"],
    ["status", r.status.rawValue], ["version", "\(r.version)"],
    [
      "validator",
      r.routing.effectiveValidator.map { "\($0.uid) (\($0.displayName))" }
        ?? (r.routing.autoValidated ? "automatic: \(r.routing.autoValidationReason)" : "-"),
    ],
    ["N+1", r.routing.n1.map { "\($0.uid) — \(r.routing.n1FoundBy)" } ?? "-"],
    ["N+2", r.routing.n2.map { "\($0.uid) — \(r.routing.n2FoundBy)" } ?? "-"],
    [
      "documents", r.documents.isEmpty ? "-" : r.documents.map { "\($0.kind): \($0.filename)" }.joined(separator: ", "),
    ],
  ]
  if !r.missingDocumentKinds.isEmpty { rows.append(["missing", r.missingDocumentKinds.joined(separator: ", ")]) }
  if let platform = r.platform { rows.append(["platform", platform.rawValue]) }
  if !r.charterVersion.isEmpty { rows.append(["charter", r.charterVersion]) }
  if !r.newKeySerial.isEmpty { rows.append(["new key", r.newKeySerial]) }
  if let place = r.pickupPlace { rows.append(["pickup place", "\(place.name) (\(place.id))"]) }
  if let until = r.enrolmentCodeExpiresAt {
    rows.append(["enrolment code", "waits, to read once before \(until.formatted(.iso8601))"])
  }
  if let at = r.enrolmentCodeReadAt { rows.append(["enrolment code", "read at \(at.formatted(.iso8601))"]) }
  if let at = r.earlyPhoneChangeAllowedAt {
    rows.append(["phone change", "another one allowed early by the DSI at \(at.formatted(.iso8601))"])
  }
  if !r.handoverEstablishment.isEmpty {
    rows.append(["hand-over", "at establishment \(r.handoverEstablishment), by its head (no appointment)"])
  }
  if let slot = r.appointment { rows.append(["appointment", "\(short(slot.startsAt)) slot \(slot.id)"]) }
  if !r.decidedBy.isEmpty {
    rows.append(["decided by", r.decidedBy + (r.decisionComment.isEmpty ? "" : ": \(r.decisionComment)")])
  }
  for problem in r.routing.problems { rows.append(["problem", "\(problem.code): \(problem.message)"]) }
  rows.append(["created", short(r.createdAt)])
  rows.append(["updated", short(r.updatedAt)])
  let width = rows.map { $0[0].count }.max() ?? 0
  for row in rows { print(row[0].padding(toLength: width, withPad: " ", startingAt: 0) + "  " + row[1]) }
  if history {
    print("")
    var table = [["#", "AT", "ACTOR", "FOR", "ACTION", "FROM", "TO", "DETAILS"]]
    for e in r.history {
      table.append([
        "\(e.sequence)", short(e.at), e.actor, e.onBehalfOf.isEmpty ? "-" : e.onBehalfOf, e.action,
        e.from?.rawValue ?? "-", e.to.rawValue, e.details,
      ])
    }
    printTable(table)
  }
}

/// Reads a password: from standard input with --password-stdin, else from the terminal without echo.
func readPassword(fromStandardInput: Bool) throws -> String {
  if fromStandardInput || isatty(STDIN_FILENO) == 0 {
    return (readLine(strippingNewline: true) ?? "")
  }
  FileHandle.standardError.write(Data("Password: ".utf8))
  var settings = termios()
  tcgetattr(STDIN_FILENO, &settings)
  var silent = settings
  silent.c_lflag &= ~tcflag_t(ECHO)
  tcsetattr(STDIN_FILENO, TCSANOW, &silent)
  defer {
    tcsetattr(STDIN_FILENO, TCSANOW, &settings)
    FileHandle.standardError.write(Data("\n".utf8))
  }
  return readLine(strippingNewline: true) ?? ""
}

extension KeyType: ExpressibleByArgument {
  public init?(argument: String) { self.init(rawValue: argument.uppercased()) }
}

extension Motif: ExpressibleByArgument {
  public init?(argument: String) { self.init(rawValue: argument.uppercased().replacingOccurrences(of: "-", with: "_")) }
}

extension MobilePlatform: ExpressibleByArgument {
  public init?(argument: String) { self.init(rawValue: argument.uppercased()) }
}

extension RenewalStatus: ExpressibleByArgument {
  public init?(argument: String) { self.init(rawValue: argument.uppercased().replacingOccurrences(of: "-", with: "_")) }
}
