import GRPCCore
import GRPCProtobuf
import Logging
import OKeyAPI
import OKeyDirectory
import OKeyDomain
import OKeyStore

/// The stable reasons of okey.v1's errors, as the contract lists them (Protos/okey/v1/errors.proto).
typealias ErrorReason = Okey_V1_ErrorReason

/// An error of the RPC edge, with a stable reason code integrators branch on.
struct APIError: Error {
  var code: RPCError.Code
  var reason: ErrorReason
  var message: String
  /// ErrorInfo metadata (the keys errors.proto documents).
  var metadata: [String: String] = [:]
  /// For INVALID_ARGUMENT: the wrong field's path in the request.
  var field: String?

  static func invalidArgument(_ field: String, _ what: String) -> APIError {
    APIError(code: .invalidArgument, reason: .invalidField, message: "\(field): \(what)", field: field)
  }

  static func notFound(_ what: String) -> APIError {
    APIError(code: .notFound, reason: .notFound, message: what)
  }

  static func unauthenticated(_ reason: ErrorReason, _ message: String) -> APIError {
    APIError(code: .unauthenticated, reason: reason, message: message)
  }

  static func denied(_ reason: ErrorReason, _ message: String) -> APIError {
    APIError(code: .permissionDenied, reason: reason, message: message)
  }
}

/// The one place where every error becomes a gRPC status.
enum ErrorMapping {
  /// The status for `error`: domain refusals, store and directory failures by their kind; anything
  /// else INTERNAL without internals (logged with its cause under a log id the client gets).
  static func status(for error: any Error, logger: Logger, method: String) -> GoogleRPCStatus {
    switch error {
    case let error as APIError:
      return make(error.code, error.reason, error.message, metadata: error.metadata, field: error.field)
    case let refusal as RenewalRefusal:
      return make(
        code(for: refusal.code), reason(for: refusal.code), refusal.message, metadata: refusal.metadata,
        field: refusal.field)
    case let error as StoreError:
      switch error.code {
      case .notFound: return make(.notFound, .notFound, error.message)
      case .staleVersion: return make(.aborted, .staleVersion, error.message)
      case .openRequestExists: return make(.alreadyExists, .openRequestExists, error.message)
      case .slotFull: return make(.failedPrecondition, .slotFull, error.message)
      case .conflict: return make(.alreadyExists, .conflict, error.message)
      case .keyReused: return make(.failedPrecondition, .idempotencyKeyReused, error.message)
      case .tampered:
        logger.critical("request changed outside OKEY", metadata: ["method": "\(method)", "cause": "\(error.message)"])
        return make(.dataLoss, .requestTampered, error.message)
      case .unavailable, .schemaTooNew, .inUse:
        logger.error("store unavailable", metadata: ["method": "\(method)", "cause": "\(error.message)"])
        return make(.unavailable, .storeUnavailable, "the database is unavailable now: try again in a moment")
      }
    case let error as DirectoryError:
      logger.error("directory failure", metadata: ["method": "\(method)", "cause": "\(error)"])
      switch error.code {
      case .busy:
        return make(
          .resourceExhausted, .directoryBusy,
          "too many calls wait for the directory at this moment (\(error.message)): try again in a few seconds")
      case .configuration:
        return make(
          .unavailable, .directoryUnavailable,
          "the directory refuses OKEY's service account: the operators must fix okeyd's directory settings")
      default:
        return make(.unavailable, .directoryUnavailable, "the directory is unavailable now: try again in a moment")
      }
    case let error as RPCError:
      switch error.code {
      case .deadlineExceeded: return make(error.code, .deadlineExceeded, error.message)
      case .cancelled: return make(error.code, .cancelled, error.message)
      default: return make(error.code, .transport, error.message)
      }
    case is CancellationError:
      return make(.cancelled, .cancelled, "the call was cancelled")
    default:
      let id = CallIdentity.requestID ?? "-"
      logger.error(
        "unexpected error",
        metadata: ["request-id": "\(id)", "method": "\(method)", "cause": "\(String(reflecting: error))"])
      return make(
        .internalError, .internal,
        "an unexpected error occurred and nothing was changed; it is logged under request id \(id): give it to support",
        metadata: ["log_id": id])
    }
  }

  static func code(for refusal: RenewalRefusal.Code) -> RPCError.Code {
    switch refusal {
    case .invalidField, .documentType, .validatorInvalid: return .invalidArgument
    case .notYourRequest, .notAnApprover, .ownRequest, .notDSI, .notSupport, .validatorNotAllowed, .personDisabled,
      .scopeNotGranted, .notEstablishmentHead:
      return .permissionDenied
    case .staleVersion: return .aborted
    case .openRequestExists: return .alreadyExists
    case .documentNotFound: return .notFound
    case .documentLimit, .wrongState, .cancelTooLate, .wrongKeyType, .platformNotChosen, .charterCodeWrong,
      .charterNotAcknowledged, .noCharter, .slotFull, .slotElsewhere, .slotPast, .slotAlreadyBooked, .noValidator,
      .hasActiveKey, .phoneChangeTooSoon, .enrolmentCodeUnavailable:
      return .failedPrecondition
    }
  }

  /// The contract's reason for a domain refusal: the value of the same name (a test checks that
  /// every refusal code has one).
  static func reason(for refusal: RenewalRefusal.Code) -> ErrorReason {
    ErrorReason(wireName: refusal.rawValue) ?? .internal
  }

  /// The status with its ErrorInfo (domain okey.v1) and, for a wrong field, its BadRequest.
  static func make(
    _ code: RPCError.Code, _ reason: ErrorReason, _ message: String, metadata: [String: String] = [:],
    field: String? = nil
  ) -> GoogleRPCStatus {
    var metadata = metadata
    var details: [ErrorDetails] = []
    if let field {
      metadata["field"] = field
    }
    details.append(.errorInfo(reason: reason.wireName, domain: errorDomain, metadata: metadata))
    if let field {
      let description = message.hasPrefix(field + ": ") ? String(message.dropFirst(field.count + 2)) : message
      details.append(.badRequest(violations: [.init(field: field, description: description)]))
    }
    return GoogleRPCStatus(code: code, message: message, details: details)
  }

  /// ErrorInfo.domain of every okey.v1 error.
  static let errorDomain = "okey.v1"
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
      response.accepted = .failure(
        RPCError(ErrorMapping.status(for: Self.unwrap(error), logger: logger, method: method)))
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
