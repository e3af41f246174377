import Foundation
import Logging
import Synchronization

/// The log level of okeyd, shared by every logger it made: a reload (SIGHUP) changes it for all.
public final class LogLevelSwitch: Sendable {
  private let current: Mutex<Logger.Level>

  /// A switch at `level`.
  public init(_ level: Logger.Level) { current = Mutex(level) }

  /// The level in force.
  public var level: Logger.Level {
    get { current.withLock { $0 } }
    set { current.withLock { $0 = newValue } }
  }
}

/// okeyd's log lines on standard error, as text for people or as one JSON object a line for log
/// shippers; both carry the same fields: time, level, label, message, metadata, source.
public struct OKeyLogHandler: LogHandler {
  /// How a line is written.
  public enum Format: String, Sendable {
    case text
    case json
  }

  let label: String
  let format: Format
  let levelSwitch: LogLevelSwitch
  let write: @Sendable (String) -> Void
  public var metadata: Logger.Metadata = [:]
  public var metadataProvider: Logger.MetadataProvider?

  /// A handler for `label` writing `format` to standard error, at the switch's level.
  public init(label: String, format: Format, level: LogLevelSwitch, write: (@Sendable (String) -> Void)? = nil) {
    self.label = label
    self.format = format
    self.levelSwitch = level
    self.write = write ?? Self.standardError
  }

  /// The shared level (setting it changes every logger of the switch).
  public var logLevel: Logger.Level {
    get { levelSwitch.level }
    set { levelSwitch.level = newValue }
  }

  public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  public func log(event: LogEvent) {
    var all = metadata
    if let provided = metadataProvider?.get() { all.merge(provided) { _, new in new } }
    if let extra = event.metadata { all.merge(extra) { _, new in new } }
    write(Self.line(event: event, label: label, metadata: all, format: format, at: Date()))
  }

  /// One log line, ending with a newline.
  static func line(event: LogEvent, label: String, metadata: Logger.Metadata, format: Format, at date: Date)
    -> String
  {
    let time = date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    switch format {
    case .text:
      let fields = metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
      return
        "\(time) \(event.level) \(label) :\(fields.isEmpty ? "" : " " + fields) [\(event.source)] \(event.message)\n"
    case .json:
      var pairs: [(String, String)] = [
        ("time", time), ("level", "\(event.level)"), ("label", label), ("message", "\(event.message)"),
        ("source", event.source),
      ]
      let fixed = Set(pairs.map(\.0))
      for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
        // A metadata key never hides a fixed field.
        pairs.append((fixed.contains(key) ? "metadata." + key : key, "\(value)"))
      }
      return "{" + pairs.map { "\(jsonString($0.0)):\(jsonString($0.1))" }.joined(separator: ",") + "}\n"
    }
  }

  /// `text` as a JSON string literal.
  static func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case let c where c.value < 0x20 || c.value == 0x2028 || c.value == 0x2029:
        out += String(format: "\\u%04x", c.value)
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out + "\""
  }

  private static let output = Mutex(())

  @Sendable static func standardError(_ line: String) {
    // One write per line, never two lines interleaved.
    output.withLock { _ in
      var bytes = Array(line.utf8)
      var offset = 0
      while offset < bytes.count {
        let written = bytes.withUnsafeMutableBytes { buffer in
          Foundation.write(2, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
        }
        if written <= 0 { return }
        offset += written
      }
    }
  }
}
