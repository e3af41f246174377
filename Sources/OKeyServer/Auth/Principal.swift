import Foundation
import GRPCCore
import OKeyDomain
import OKeyStore

/// Who is calling, once authenticated: a person's session, or an internal system acting for a
/// person (then it has exactly that person's rights) or for nobody.
struct Principal: Sendable {
  /// How the caller authenticated.
  enum Kind: Sendable {
    /// A person's session token, known by its hash.
    case session(tokenHash: String, expiresAt: Instant)
    /// A service-account key, acting for the person in `actor` (when `person` is set).
    case serviceAccount(name: String)
  }

  /// The person whose rights apply; nil for a service account acting for nobody.
  var person: DirectoryPerson?
  /// The actor the domain sees (uid, groups, service account).
  var actor: Caller
  /// How.
  var kind: Kind

  /// The person, or PERMISSION_DENIED for a service account acting for nobody.
  func requirePerson() throws -> (DirectoryPerson, Caller) {
    guard let person else {
      throw APIError.denied(
        .onBehalfOfRequired, "a service account must name the person it acts for in x-okey-on-behalf-of for this call")
    }
    return (person, actor)
  }

  /// The person and actor, or PERMISSION_DENIED unless the caller may act with `capacity` (a
  /// person's own session may; an internal system only when its roles list it).
  func require(_ capacity: Caller.Capacity) throws -> (DirectoryPerson, Caller) {
    let (person, actor) = try requirePerson()
    try actor.requireCapacity(capacity)
    return (person, actor)
  }

  /// PERMISSION_DENIED unless the caller is a DSI operator.
  func requireDSI() throws -> Caller {
    let (_, actor) = try requirePerson()
    try actor.requireDSIGroup()
    return actor
  }

  /// PERMISSION_DENIED unless the caller is support staff.
  func requireSupport() throws -> Caller {
    let (_, actor) = try requirePerson()
    try actor.requireSupportGroup()
    return actor
  }

  /// The principal of the current call, set by ``AuthenticationInterceptor``.
  @TaskLocal static var current: Principal?

  /// The current principal, or UNAUTHENTICATED.
  static func required() throws -> Principal {
    guard let current else {
      throw APIError.unauthenticated(.tokenMissing, "log in first and send authorization: Bearer <token>")
    }
    return current
  }
}

/// Tokens: random, sent once, stored and compared only as SHA-256.
enum Tokens {
  /// A new random token (32 bytes, base64url).
  static func make() -> String {
    var generator = SystemRandomNumberGenerator()
    let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
    return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(
      of: "/", with: "_"
    )
    .replacingOccurrences(of: "=", with: "")
  }

  /// Lower-case hex SHA-256 of a token.
  static func hash(_ token: String) -> String {
    hashHex(Array(token.utf8))
  }

  static func hashHex(_ bytes: [UInt8]) -> String {
    SHA256Hex.digest(bytes)
  }

  /// Compares two hex digests in constant time.
  static func equal(_ lhs: String, _ rhs: String) -> Bool {
    let a = Array(lhs.utf8)
    let b = Array(rhs.utf8)
    guard a.count == b.count else { return false }
    return zip(a, b).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
  }
}

/// The cancellation handle of the current call: grpc-swift cancels it (not the task) when the
/// call's deadline passes or the client leaves. Changes check it before they write.
enum CallCancellation {
  @TaskLocal static var handle: ServerContext.RPCCancellationHandle?

  /// The error of a call whose deadline passed before its change was written.
  static let deadlinePassed = APIError(
    code: .deadlineExceeded, reason: .deadlineExceeded,
    message: "the call's deadline passed before the change was written; nothing was changed")

  /// Throws when the current call is cancelled, so that nothing is written after its deadline.
  static func check() throws {
    try Task.checkCancellation()
    if handle?.isCancelled == true { throw deadlinePassed }
  }
}
