import GRPCCore
import GRPCProtobuf
import Logging
import OKeyDirectory
import OKeyDomain
import OKeyStore

/// An error of the RPC edge, with a stable reason code integrators branch on.
struct APIError: Error {
  var code: RPCError.Code
  var reason: String
  var message: String

  static func invalidArgument(_ field: String, _ what: String) -> APIError {
    APIError(code: .invalidArgument, reason: "INVALID_FIELD", message: "\(field): \(what)")
  }

  static func notFound(_ what: String) -> APIError {
    APIError(code: .notFound, reason: "NOT_FOUND", message: what)
  }

  static func unauthenticated(_ reason: String, _ message: String) -> APIError {
    APIError(code: .unauthenticated, reason: reason, message: message)
  }

  static func denied(_ reason: String, _ message: String) -> APIError {
    APIError(code: .permissionDenied, reason: reason, message: message)
  }
}

/// The one place where every error becomes a gRPC status.
enum ErrorMapping {
  /// The status for `error`: domain refusals, store and directory failures by their kind; anything
  /// else UNKNOWN without internals (logged with its cause).
  static func status(for error: any Error, logger: Logger, method: String) -> GoogleRPCStatus {
    switch error {
    case let error as APIError:
      return make(error.code, error.reason, error.message)
    case let refusal as RenewalRefusal:
      return make(code(for: refusal.code), refusal.code.rawValue, refusal.message)
    case let error as StoreError:
      switch error.code {
      case .notFound: return make(.notFound, "NOT_FOUND", error.message)
      case .staleVersion: return make(.aborted, "STALE_VERSION", error.message)
      case .openRequestExists: return make(.alreadyExists, "OPEN_REQUEST_EXISTS", error.message)
      case .slotFull: return make(.failedPrecondition, "SLOT_FULL", error.message)
      case .conflict: return make(.alreadyExists, "CONFLICT", error.message)
      case .tampered:
        logger.critical("request changed outside OKEY", metadata: ["method": "\(method)", "cause": "\(error.message)"])
        return make(.dataLoss, "REQUEST_TAMPERED", error.message)
      case .unavailable:
        logger.error("store unavailable", metadata: ["method": "\(method)", "cause": "\(error.message)"])
        return make(.unavailable, "STORE_UNAVAILABLE", "the database is unavailable now: try again in a moment")
      }
    case let error as DirectoryError:
      logger.error("directory failure", metadata: ["method": "\(method)", "cause": "\(error)"])
      switch error.code {
      case .busy:
        return make(
          .resourceExhausted, "DIRECTORY_BUSY", "too many calls wait for the directory at this moment (\(error.message)): try again in a few seconds")
      case .configuration:
        return make(.unavailable, "DIRECTORY_UNAVAILABLE", "the directory refuses OKEY's service account: the operators must fix okeyd's directory settings")
      default:
        return make(.unavailable, "DIRECTORY_UNAVAILABLE", "the directory is unavailable now: try again in a moment")
      }
    case let error as RPCError:
      return make(error.code, "\(error.code)".uppercased(), error.message)
    case is CancellationError:
      return make(.cancelled, "CANCELLED", "the call was cancelled")
    default:
      let id = CallIdentity.requestID ?? "-"
      logger.error("unexpected error", metadata: ["request-id": "\(id)", "method": "\(method)", "cause": "\(String(reflecting: error))"])
      return make(.internalError, "INTERNAL", "an unexpected error occurred and nothing was changed; it is logged under request id \(id): give it to support")
    }
  }

  static func code(for refusal: RenewalRefusal.Code) -> RPCError.Code {
    switch refusal {
    case .invalidField, .documentType, .validatorInvalid: return .invalidArgument
    case .notYourRequest, .notAnApprover, .ownRequest, .notDSI, .validatorNotAllowed, .personDisabled, .scopeNotGranted:
      return .permissionDenied
    case .staleVersion: return .aborted
    case .openRequestExists: return .alreadyExists
    case .documentNotFound: return .notFound
    case .documentLimit, .wrongState, .cancelTooLate, .wrongKeyType, .platformNotChosen, .charterCodeWrong,
      .charterNotAcknowledged, .noCharter, .slotFull, .slotElsewhere, .slotPast, .slotAlreadyBooked, .noValidator:
      return .failedPrecondition
    }
  }

  static func make(_ code: RPCError.Code, _ reason: String, _ message: String) -> GoogleRPCStatus {
    GoogleRPCStatus(code: code, message: message, details: [.errorInfo(reason: reason, domain: "okey.v1")])
  }
}

/// Maps every error thrown by a handler once, at the edge.
struct ErrorMappingInterceptor: ServerInterceptor {
  let logger: Logger

  func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    let method = context.descriptor.fullyQualifiedMethod
    let logger = self.logger
    var response: StreamingServerResponse<Output>
    do {
      response = try await next(request, context)
    } catch {
      throw RPCError(ErrorMapping.status(for: Self.unwrap(error), logger: logger, method: method))
    }
    switch response.accepted {
    case .failure(let error):
      // Errors thrown further in (handlers, other interceptors) arrive here wrapped as UNKNOWN with
      // their cause: map the cause.
      response.accepted = .failure(RPCError(ErrorMapping.status(for: Self.unwrap(error), logger: logger, method: method)))
    case .success(var contents):
      // Errors of streaming bodies (WatchRenewal) are mapped too.
      let producer = contents.producer
      contents.producer = { writer in
        do {
          return try await producer(writer)
        } catch {
          throw RPCError(ErrorMapping.status(for: Self.unwrap(error), logger: logger, method: method))
        }
      }
      response.accepted = .success(contents)
    }
    return response
  }

  /// The error a handler threw, out of the UNKNOWN wrapper grpc-swift puts around non-gRPC errors.
  static func unwrap(_ error: any Error) -> any Error {
    if let rpc = error as? RPCError, rpc.code == .unknown, let cause = rpc.cause { return unwrap(cause) }
    return error
  }
}

extension RPCError {
  init(_ status: GoogleRPCStatus) {
    self.init(code: status.rpcErrorCode, message: status.rpcErrorMessage, metadata: status.rpcErrorMetadata)
  }
}

/// The identity of the current call in the logs, set by the outermost interceptor.
enum CallIdentity {
  /// The request id every log line of the call carries.
  @TaskLocal static var requestID: String?
}
