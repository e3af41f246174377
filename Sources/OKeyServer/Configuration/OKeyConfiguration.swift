import Foundation
import Yams

/// Everything okeyd needs to run, built once at start from the configuration file and the
/// environment, then passed down. Every field has a documented default; see `okeyd.example.yaml`.
public struct OKeyConfiguration: Sendable, Equatable {
  /// Where okeyd listens. Default 127.0.0.1:50051.
  public var listen: ListenAddress = ListenAddress(host: "127.0.0.1", port: 50051)

  /// Transport and payload limits.
  public var limits: Limits = Limits()

  /// Where the SQLite database lives. Default `var/okey.sqlite`, relative to the working folder.
  public var databasePath: String = "var/okey.sqlite"

  /// Log level: trace, debug, info, notice, warning, error or critical. Default info.
  public var logLevel: String = "info"

  /// Longest time a graceful shutdown waits for in-flight RPCs before cancelling them. Default 10 s.
  public var shutdownGraceSeconds: Int = 10

  /// Transport and payload limits, with defaults sized for supporting documents of a few MiB.
  public struct Limits: Sendable, Equatable, Codable {
    /// Largest request message accepted, in bytes. Default 8 MiB (documents are at most 5 MiB).
    public var maxMessageBytes: Int = 8 * 1024 * 1024
    /// Most concurrent RPC streams on one HTTP/2 connection. Default 100.
    public var maxConcurrentStreamsPerConnection: Int = 100

    /// The defaults.
    public init() {}

    public init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      let defaults = Limits()
      maxMessageBytes = try container.decodeIfPresent(Int.self, forKey: .maxMessageBytes) ?? defaults.maxMessageBytes
      maxConcurrentStreamsPerConnection =
        try container.decodeIfPresent(Int.self, forKey: .maxConcurrentStreamsPerConnection)
        ?? defaults.maxConcurrentStreamsPerConnection
    }
  }

  /// The configuration with every default.
  public init() {}

  /// Reads a YAML configuration file; keys it leaves out keep their defaults.
  public static func load(file path: String) throws -> OKeyConfiguration {
    let text: String
    do {
      text = try String(contentsOfFile: path, encoding: .utf8)
    } catch {
      throw ConfigurationError("cannot read configuration file \(path): \(error.localizedDescription)")
    }
    return try parse(yaml: text, source: path)
  }

  /// Parses YAML configuration text; `source` names it in error messages.
  public static func parse(yaml text: String, source: String = "configuration") throws -> OKeyConfiguration {
    let file: File
    do {
      file = try YAMLDecoder().decode(File.self, from: text.isEmpty ? "{}" : text)
    } catch let error as DecodingError {
      throw ConfigurationError("\(source): \(Self.describe(error))")
    } catch {
      throw ConfigurationError("\(source) is not valid YAML: \(error)")
    }
    var configuration = OKeyConfiguration()
    if let listen = file.listen { configuration.listen = try ListenAddress(parsing: listen, field: "listen") }
    if let limits = file.limits { configuration.limits = limits }
    if let database = file.database?.path { configuration.databasePath = database }
    if let level = file.logLevel { configuration.logLevel = level }
    if let grace = file.shutdownGraceSeconds { configuration.shutdownGraceSeconds = grace }
    try configuration.validate()
    return configuration
  }

  /// Applies the environment overrides: OKEY_LISTEN, OKEY_DATABASE_PATH, OKEY_LOG_LEVEL.
  public mutating func applyEnvironment(_ environment: [String: String]) throws {
    if let listen = environment["OKEY_LISTEN"], !listen.isEmpty {
      self.listen = try ListenAddress(parsing: listen, field: "OKEY_LISTEN")
    }
    if let path = environment["OKEY_DATABASE_PATH"], !path.isEmpty { databasePath = path }
    if let level = environment["OKEY_LOG_LEVEL"], !level.isEmpty { logLevel = level }
    try validate()
  }

  /// Refuses values that cannot work, naming the field.
  public func validate() throws {
    guard limits.maxMessageBytes >= 1024, limits.maxMessageBytes <= 64 * 1024 * 1024 else {
      throw ConfigurationError("limits.maxMessageBytes must be between 1024 and 67108864, not \(limits.maxMessageBytes)")
    }
    guard limits.maxConcurrentStreamsPerConnection >= 1 else {
      throw ConfigurationError("limits.maxConcurrentStreamsPerConnection must be at least 1")
    }
    guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(logLevel) else {
      throw ConfigurationError("logLevel must be one of trace, debug, info, notice, warning, error, critical; not '\(logLevel)'")
    }
    guard shutdownGraceSeconds >= 0 else {
      throw ConfigurationError("shutdownGraceSeconds must not be negative")
    }
  }

  private struct File: Decodable {
    var listen: String?
    var limits: Limits?
    var database: Database?
    var logLevel: String?
    var shutdownGraceSeconds: Int?
    struct Database: Decodable { var path: String? }
  }

  private static func describe(_ error: DecodingError) -> String {
    switch error {
    case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
      let path = context.codingPath.map(\.stringValue).joined(separator: ".")
      return "\(path.isEmpty ? "file" : path): \(context.debugDescription)"
    case .keyNotFound(let key, _):
      return "missing key \(key.stringValue)"
    @unknown default:
      return "\(error)"
    }
  }
}

/// A host and TCP port to listen on.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
  /// IPv4 address or host name, e.g. 127.0.0.1.
  public var host: String
  /// TCP port; 0 lets the system choose a free one.
  public var port: Int

  /// Creates an address.
  public init(host: String, port: Int) {
    self.host = host
    self.port = port
  }

  /// Parses `HOST:PORT`; `field` names the setting in the error.
  public init(parsing text: String, field: String) throws {
    guard let colon = text.lastIndex(of: ":"),
      let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port),
      colon != text.startIndex
    else {
      throw ConfigurationError("\(field) must be HOST:PORT (e.g. 127.0.0.1:50051), not '\(text)'")
    }
    self.host = String(text[..<colon])
    self.port = port
  }

  /// True for 127.0.0.0/8, ::1 and localhost.
  public var isLoopback: Bool {
    host == "localhost" || host == "::1" || host.hasPrefix("127.")
  }

  public var description: String { "\(host):\(port)" }
}

/// A configuration value that cannot work; the message names the setting and what to do.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
  /// For people.
  public var message: String
  /// Creates an error.
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}
