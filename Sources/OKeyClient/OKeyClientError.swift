import GRPCCore
import GRPCProtobuf
import OKeyAPI

/// What went wrong with a call: its kind (from the gRPC code), the contract's reason to switch on
/// (``reason``, from ErrorInfo), the values that go with it, and the server's message for people.
public struct OKeyClientError: Error, Equatable, CustomStringConvertible {
  /// The kind of failure, from the gRPC code.
  public enum Kind: String, Sendable, Equatable {
    /// A field was wrong; ``fieldViolations`` name it.
    case invalidArgument
    /// No such request, person or object.
    case notFound
    /// The object already exists (e.g. a second open request).
    case alreadyExists
    /// Not allowed for this caller.
    case permissionDenied
    /// No token, or a token that is forged or expired: log in again.
    case unauthenticated
    /// The request is not in a state that allows this; the message says which and what is missing.
    case failedPrecondition
    /// The request changed since it was read (stale version): reload and retry.
    case aborted
    /// The server or one of its dependencies (directory, disk) cannot be reached now.
    case unavailable
    /// Too many calls or logins at this moment: try again later.
    case resourceExhausted
    /// The call took longer than its deadline.
    case deadlineExceeded
    /// The server does not offer this call.
    case unimplemented
    /// Any other failure (``code`` names it).
    case other
  }

  /// The kind of failure.
  public var kind: Kind
  /// The gRPC code's name.
  public var code: String
  /// The server's reason (okey.v1 `ErrorReason`); `.unspecified` when the server sent none, e.g. a
  /// failure of the connection itself.
  public var reason: Okey_V1_ErrorReason
  /// ErrorInfo.metadata: "request_id", "current_version", "retry_after_seconds", "field", "log_id".
  public var metadata: [String: String]
  /// For INVALID_ARGUMENT: each wrong field's path and what to do.
  public var fieldViolations: [FieldViolation]
  /// The server's message (which says what to do).
  public var message: String

  /// One wrong field of a refused request.
  public struct FieldViolation: Sendable, Equatable {
    /// The field's path in the request, e.g. "slots[0].capacity".
    public var field: String
    /// What is wrong and what to do.
    public var description: String
  }

  /// An error of the client itself (bad settings), before any call.
  public init(kind: Kind, message: String) {
    self.kind = kind
    self.code = kind.rawValue
    self.reason = .unspecified
    self.metadata = [:]
    self.fieldViolations = []
    self.message = message
  }

  public var description: String { message }

  /// Maps a gRPC error to its kind, reading the google.rpc.Status details okeyd sends.
  init(_ error: RPCError) {
    self.message = error.message.isEmpty ? "\(error.code)" : error.message
    self.code = "\(error.code)"
    switch error.code {
    case .invalidArgument, .outOfRange: kind = .invalidArgument
    case .notFound: kind = .notFound
    case .alreadyExists: kind = .alreadyExists
    case .permissionDenied: kind = .permissionDenied
    case .unauthenticated: kind = .unauthenticated
    case .failedPrecondition: kind = .failedPrecondition
    case .aborted: kind = .aborted
    case .unavailable: kind = .unavailable
    case .resourceExhausted: kind = .resourceExhausted
    case .deadlineExceeded: kind = .deadlineExceeded
    case .unimplemented: kind = .unimplemented
    default: kind = .other
    }
    let details = (try? error.unpackGoogleRPCStatus())?.details ?? []
    let info = details.lazy.compactMap(\.errorInfo).first { $0.domain == "okey.v1" }
    reason = info.flatMap { Okey_V1_ErrorReason(wireName: $0.reason) } ?? .unspecified
    metadata = info?.metadata ?? [:]
    fieldViolations = details.compactMap(\.badRequest).flatMap(\.violations).map {
      FieldViolation(field: $0.field, description: $0.description)
    }
  }
}
