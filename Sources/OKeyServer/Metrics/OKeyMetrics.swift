import GRPCCore
import Logging
import Prometheus
import Synchronization

/// Prometheus metrics of okeyd: calls and latency per RPC and outcome, directory cache and
/// outbox figures (read when scraped).
final class OKeyMetrics: Sendable {
  let registry = PrometheusCollectorRegistry()
  static let buckets: [Duration] = [
    .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
    .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5),
  ]

  private let handles = Mutex<[String: (Counter, DurationHistogram)]>([:])
  private let finished = Mutex<[String: Int]>([:])

  /// Calls of `method` whose handler has returned (tests wait on it instead of sleeping).
  func callsFinished(method: String) -> Int { finished.withLock { $0[method, default: 0] } }

  func recordCall(method: String, code: String, duration: Duration) {
    let key = method + " " + code
    let (counter, histogram) = handles.withLock { handles in
      if let found = handles[key] { return found }
      let made = (
        registry.makeCounter(
          descriptor: Self.name("rpc_calls", unit: "total", help: "RPCs served, by method and gRPC status code"),
          labels: [("method", method), ("code", code)]),
        registry.makeDurationHistogram(
          descriptor: Self.name("rpc_duration", unit: "seconds", help: "RPC latency"), labels: [("method", method)],
          buckets: Self.buckets)
      )
      handles[key] = made
      return made
    }
    counter.increment()
    histogram.record(duration)
    finished.withLock { $0[method, default: 0] += 1 }
  }

  static func name(_ metric: String, unit: String = "", help: String) -> MetricNameDescriptor {
    MetricNameDescriptor(namespace: "okey", metricName: metric, unitName: unit, helpText: help)
  }

  func gauge(_ metric: String, _ help: String) -> Gauge {
    registry.makeGauge(descriptor: Self.name(metric, help: help))
  }

  /// The text exposition, after refreshing the gauges read from the application.
  func exposition(application: RenewalApplication, health: ServingStatusBoard) async -> String {
    let cache = application.resolver.cacheCounters
    gauge("directory_resolution_cache_hits", "Routing resolutions served from the cache since start").set(
      to: Double(cache.hits))
    gauge("directory_resolution_cache_misses", "Routing resolutions that went to the directory since start").set(
      to: Double(cache.misses))
    gauge("watch_subscriptions", "Open WatchRenewal streams").set(to: Double(application.changes.subscriptionCount))
    gauge("health_watchers", "Open health Watch streams").set(to: Double(health.watcherCount))
    if let pending = try? await application.store.outboxCount(state: .pending) {
      gauge("outbox_pending", "Notifications waiting to be sent").set(to: Double(pending))
    }
    if let dead = try? await application.store.outboxCount(state: .dead) {
      gauge("outbox_dead", "Notifications given up (dead letters)").set(to: Double(dead))
    }
    return registry.emitToString()
  }
}

/// Counts and times every call, and logs it with a request id (never a token or a secret).
struct MetricsInterceptor: ServerInterceptor {
  let metrics: OKeyMetrics
  let logger: Logger

  func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    let method = context.descriptor.fullyQualifiedMethod
    let requestID = String(UInt64.random(in: 0...UInt64.max), radix: 16)
    let start = ContinuousClock.now
    let metrics = self.metrics
    let logger = self.logger
    @Sendable func finish(_ code: String) {
      let duration = ContinuousClock.now - start
      metrics.recordCall(method: method, code: code, duration: duration)
      logger.debug(
        "rpc",
        metadata: [
          "request-id": "\(requestID)", "method": "\(method)", "code": "\(code)", "duration": "\(duration)",
          "peer": "\(context.remotePeer)",
        ])
    }
    var response = try await CallIdentity.$requestID.withValue(requestID) { try await next(request, context) }
    switch response.accepted {
    case .failure(let error):
      finish("\(error.code)")
    case .success(var contents):
      let producer = contents.producer
      contents.producer = { writer in
        do {
          let trailers = try await CallIdentity.$requestID.withValue(requestID) { try await producer(writer) }
          finish("ok")
          return trailers
        } catch let error as RPCError {
          finish("\(error.code)")
          throw error
        } catch {
          finish("unknown")
          throw error
        }
      }
      response.accepted = .success(contents)
    }
    return response
  }
}
