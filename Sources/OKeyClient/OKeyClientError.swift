import GRPCCore

/// What went wrong with a call, by kind, keeping the server's message (which says what to do).
public enum OKeyClientError: Error, Equatable, CustomStringConvertible {
  /// A field was wrong; the message names it.
  case invalidArgument(String)
  /// No such request, person or object.
  case notFound(String)
  /// The object already exists (e.g. a second open request).
  case alreadyExists(String)
  /// Not allowed for this caller.
  case permissionDenied(String)
  /// No token, or a token that is forged or expired: log in again.
  case unauthenticated(String)
  /// The request is not in a state that allows this; the message says which and what is missing.
  case failedPrecondition(String)
  /// The request changed since it was read (stale version): reload and retry.
  case aborted(String)
  /// The server or one of its dependencies (directory, disk) cannot be reached now.
  case unavailable(String)
  /// The call took longer than its deadline.
  case deadlineExceeded(String)
  /// The server does not offer this call.
  case unimplemented(String)
  /// Any other failure, with the gRPC code's name.
  case other(code: String, message: String)

  /// The server's message.
  public var message: String {
    switch self {
    case .invalidArgument(let m), .notFound(let m), .alreadyExists(let m), .permissionDenied(let m),
      .unauthenticated(let m), .failedPrecondition(let m), .aborted(let m), .unavailable(let m),
      .deadlineExceeded(let m), .unimplemented(let m):
      return m
    case .other(_, let m):
      return m
    }
  }

  public var description: String { message }

  /// Maps a gRPC error to its kind.
  init(_ error: RPCError) {
    let message = error.message.isEmpty ? "\(error.code)" : error.message
    switch error.code {
    case .invalidArgument, .outOfRange: self = .invalidArgument(message)
    case .notFound: self = .notFound(message)
    case .alreadyExists: self = .alreadyExists(message)
    case .permissionDenied: self = .permissionDenied(message)
    case .unauthenticated: self = .unauthenticated(message)
    case .failedPrecondition: self = .failedPrecondition(message)
    case .aborted: self = .aborted(message)
    case .unavailable: self = .unavailable(message)
    case .deadlineExceeded: self = .deadlineExceeded(message)
    case .unimplemented: self = .unimplemented(message)
    default: self = .other(code: "\(error.code)", message: message)
    }
  }
}
