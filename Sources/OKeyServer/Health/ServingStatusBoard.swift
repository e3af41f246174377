import OKeyAPI
import Synchronization

/// The serving status of okeyd and of each service it offers, as the gRPC health-checking protocol
/// reports it; watchers hear every change.
public final class ServingStatusBoard: Sendable {
  /// A serving status in the words of `grpc.health.v1`.
  public typealias Status = Grpc_Health_V1_HealthCheckResponse.ServingStatus

  private struct Watcher {
    let service: String
    let continuation: AsyncStream<Status>.Continuation
  }

  private struct State {
    var statuses: [String: Status] = [:]
    var watchers: [Int: Watcher] = [:]
    var nextWatcherID = 0
    var shuttingDown = false
  }

  private let state = Mutex(State())

  /// Creates a board where the overall status ("") and each named service start as `status`.
  public init(services: [String], status: Status = .serving) {
    state.withLock { state in
      state.statuses[""] = status
      for service in services { state.statuses[service] = status }
    }
  }

  /// The status of `service` ("" for the whole server), or nil when the service is unknown.
  public func status(of service: String) -> Status? {
    state.withLock { $0.statuses[service] }
  }

  /// Sets the status of a service (or of the whole server with "") and tells its watchers.
  /// Ignored once shutdown has begun: then everything stays NOT_SERVING.
  public func set(_ status: Status, for service: String) {
    state.withLock { state in
      guard !state.shuttingDown else { return }
      state.statuses[service] = status
      for watcher in state.watchers.values where watcher.service == service {
        watcher.continuation.yield(status)
      }
    }
  }

  /// Marks every service NOT_SERVING, tells every watcher, then ends their streams so that
  /// graceful shutdown is not held up by open Watch calls.
  public func enterShutdown() {
    let watchers = state.withLock { state -> [Watcher] in
      state.shuttingDown = true
      for key in state.statuses.keys { state.statuses[key] = .notServing }
      let watchers = Array(state.watchers.values)
      state.watchers.removeAll()
      return watchers
    }
    for watcher in watchers {
      watcher.continuation.yield(.notServing)
      watcher.continuation.finish()
    }
  }

  /// A subscription to the status of one service: yields the current status (SERVICE_UNKNOWN when
  /// unknown) and then each change, until shutdown, until `stop()`, or until the consumer goes.
  public struct Subscription: Sendable {
    /// The statuses, current first.
    public let statuses: AsyncStream<Status>
    let continuation: AsyncStream<Status>.Continuation
    /// Ends the subscription (its stream finishes, the board forgets it).
    public func stop() { continuation.finish() }
  }

  /// Subscribes to the status of `service`.
  public func watch(_ service: String) -> Subscription {
    let (stream, continuation) = AsyncStream.makeStream(of: Status.self, bufferingPolicy: .bufferingNewest(8))
    let subscription = Subscription(statuses: stream, continuation: continuation)
    let id: Int? = state.withLock { state in
      continuation.yield(state.statuses[service] ?? .serviceUnknown)
      if state.shuttingDown { return nil }
      let id = state.nextWatcherID
      state.nextWatcherID += 1
      state.watchers[id] = Watcher(service: service, continuation: continuation)
      return id
    }
    guard let id else {
      continuation.finish()
      return subscription
    }
    continuation.onTermination = { [weak self] _ in
      _ = self?.state.withLock { $0.watchers.removeValue(forKey: id) }
    }
    return subscription
  }

  /// Number of open Watch subscriptions (for metrics and leak tests).
  public var watcherCount: Int {
    state.withLock { $0.watchers.count }
  }
}
