import OKeyDomain

/// The directory as the rest of OKEY sees it (the port); ``LDAPDirectory`` implements it over libldap.
public protocol Directory: Sendable {
  /// Every person entry whose uid is `uid` (normally one; several is a data problem).
  func people(withUID uid: String) async throws -> [DirectoryEntry]
  /// The entry named `dn`, or nil when there is none (or the DN is not valid).
  func person(dn: String) async throws -> DirectoryEntry?
  /// The entries whose responsibility attribute names establishment `uai`.
  func responsibles(forEstablishment uai: String) async throws -> [DirectoryEntry]
  /// The DNs of the groups that list `memberDN` as a member.
  func groups(withMember memberDN: String) async throws -> [String]
  /// True when `password` is the password of `dn`, checked by a bind on a connection of its own.
  /// An empty password is refused before any bind.
  func checkPassword(dn: String, password: String) async throws -> Bool
  /// Every person entry whose uid is `uid`, read for a login: never from a cache, and on the
  /// directory's login lane so that a flood of logins cannot starve the service's own lookups.
  func loginEntries(withUID uid: String) async throws -> [DirectoryEntry]
  /// True when at least one person entry names `dn` in its manager attribute.
  func managesSomeone(dn: String) async throws -> Bool
  /// Drops what is remembered of `uid` (a cache's entries), so that the next read asks the directory.
  func forget(uid: String)
  /// The directory itself, under any cache.
  var uncached: any Directory { get }
}

extension Directory {
  /// Nothing is remembered by default.
  public func forget(uid: String) {}
  /// A directory that caches nothing is its own uncached form.
  public var uncached: any Directory { self }
}

/// One directory entry: its DN and its attribute values (attribute names lower-cased).
public struct DirectoryEntry: Sendable, Hashable {
  /// Distinguished name.
  public var dn: String
  /// Values by lower-cased attribute name.
  public var attributes: [String: [String]]

  /// Creates an entry.
  public init(dn: String, attributes: [String: [String]]) {
    self.dn = dn
    self.attributes = Dictionary(attributes.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: +)
  }

  /// All values of an attribute (case-insensitive name).
  public func values(_ attribute: String) -> [String] {
    attributes[attribute.lowercased()] ?? []
  }

  /// The first value of an attribute, if any.
  public func first(_ attribute: String) -> String? {
    values(attribute).first
  }
}

/// A failure of the directory.
public struct DirectoryError: Error, Sendable, Hashable, CustomStringConvertible {
  /// Kinds of failure.
  public enum Code: String, Sendable, Hashable {
    /// The directory cannot be reached or did not answer in time: try again later.
    case unavailable = "DIRECTORY_UNAVAILABLE"
    /// Too many calls wait for the directory already (a full queue): refused at once, try again.
    case busy = "DIRECTORY_BUSY"
    /// OKEY's own directory settings are wrong (URI, service account, TLS).
    case configuration = "DIRECTORY_CONFIGURATION"
    /// A bind was refused (wrong DN or password).
    case invalidCredentials = "INVALID_CREDENTIALS"
    /// A DN is not valid.
    case invalidDN = "INVALID_DN"
    /// Any other refusal by the directory.
    case protocolError = "DIRECTORY_ERROR"
  }

  /// The kind.
  public var code: Code
  /// For people; never holds a password.
  public var message: String

  /// Creates an error.
  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { "\(code.rawValue): \(message)" }
}
