import Foundation

/// The checks of identifiers that come from the wire, and new request ids.
enum RequestChecks {
  /// A new request (or document, slot) id: a lower-case UUID.
  static func newID() -> String { UUID().uuidString.lowercased() }

  /// A uid worth asking the directory about: 1 to 64 characters, no control characters. Filter
  /// metacharacters are allowed through: the directory escapes them and finds nobody.
  static func isPlausibleUID(_ uid: String) -> Bool {
    (1...64).contains(uid.count) && !uid.unicodeScalars.contains { $0.properties.generalCategory == .control }
  }

  /// Checks a request id's shape (INVALID_ARGUMENT naming the field otherwise).
  static func checkID(_ id: String, field: String = "request_id") throws {
    guard (1...64).contains(id.count), id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
      throw APIError.invalidArgument(field, "not a request id: use the request_id OKEY returned")
    }
  }
}
