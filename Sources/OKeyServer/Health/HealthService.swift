import GRPCCore
import OKeyAPI

/// The standard `grpc.health.v1.Health` service, answering from a ``ServingStatusBoard``.
public struct HealthService: Grpc_Health_V1_Health.SimpleServiceProtocol {
  let board: ServingStatusBoard
  let streams: StreamQuota

  /// Creates the service over `board`; Watch streams count in `streams`.
  init(board: ServingStatusBoard, streams: StreamQuota) {
    self.board = board
    self.streams = streams
  }

  public func check(
    request: Grpc_Health_V1_HealthCheckRequest,
    context: ServerContext
  ) async throws -> Grpc_Health_V1_HealthCheckResponse {
    guard let status = board.status(of: request.service) else {
      throw RPCError(
        code: .notFound,
        message:
          "unknown service '\(request.service)': ask for \"\" (the whole server) or a full service name such as okey.v1.RenewalService"
      )
    }
    return .with { $0.status = status }
  }

  public func watch(
    request: Grpc_Health_V1_HealthCheckRequest,
    response: RPCWriter<Grpc_Health_V1_HealthCheckResponse>,
    context: ServerContext
  ) async throws {
    try await streams.withPlace(for: context.remotePeer) {
      let subscription = board.watch(request.service)
      // A client that goes away while nothing changes must not leave the subscription open.
      try await withRPCCancellationHandler {
        for await status in subscription.statuses {
          try await response.write(.with { $0.status = status })
        }
      } onCancelRPC: {
        subscription.stop()
      }
    }
  }
}
