import Foundation
import GRPCCore
import Logging
import OKeyDirectory
import OKeyStore
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

  /// Slow operations (mail delivery waits, directory timeouts) need longer buckets.
  static let longBuckets: [Duration] = [
    .milliseconds(100), .seconds(1), .seconds(5), .seconds(15), .seconds(60), .seconds(300), .seconds(900),
    .seconds(3600), .seconds(4 * 3600), .seconds(86_400),
  ]

  private let directoryHandles = Mutex<[String: (DurationHistogram, Counter)]>([:])
  private let mailAttempts = Mutex<[String: Counter]>([:])

  /// Times one directory operation (`operation`: people, person, groups, password, ...).
  func recordDirectoryCall(operation: String, duration: Duration, failed: Bool) {
    let (histogram, errors) = directoryHandles.withLock { handles in
      if let found = handles[operation] { return found }
      let made = (
        registry.makeDurationHistogram(
          descriptor: Self.name("directory_call_duration", unit: "seconds", help: "Directory operations' latency"),
          labels: [("operation", operation)], buckets: Self.buckets),
        registry.makeCounter(
          descriptor: Self.name("directory_errors", unit: "total", help: "Directory operations that failed"),
          labels: [("operation", operation)])
      )
      handles[operation] = made
      return made
    }
    histogram.record(duration)
    if failed { errors.increment() }
  }

  /// Times one commit of the store's writer.
  func recordCommit(_ duration: Duration) { commitHistogram.record(duration) }

  private let commitHistogram: DurationHistogram
  private let mailSending: DurationHistogram
  private let mailDelay: DurationHistogram

  init() {
    commitHistogram = registry.makeDurationHistogram(
      descriptor: Self.name("store_commit_duration", unit: "seconds", help: "Store commits: write and sync of the WAL"),
      buckets: Self.buckets)
    mailSending = registry.makeDurationHistogram(
      descriptor: Self.name("mail_send_duration", unit: "seconds", help: "Runs of the mail command"),
      buckets: Self.buckets + [.seconds(10), .seconds(30)])
    mailDelay = registry.makeDurationHistogram(
      descriptor: Self.name(
        "mail_delivery_delay", unit: "seconds", help: "From a notification's writing to its sending"),
      buckets: Self.longBuckets)
    registry.makeGauge(
      descriptor: Self.name("build_info", help: "The running okeyd's version (always 1)"),
      labels: [("version", OKeyVersion.current)]
    ).set(to: 1)
  }

  /// Counts one delivery attempt of the outbox, and times it.
  func recordDelivery(_ attempt: NotificationDelivery.DeliveryAttempt) {
    let counter = mailAttempts.withLock { counters in
      if let found = counters[attempt.outcome.rawValue] { return found }
      let made = registry.makeCounter(
        descriptor: Self.name("mail_attempts", unit: "total", help: "Delivery attempts of notifications, by outcome"),
        labels: [("outcome", attempt.outcome.rawValue)])
      counters[attempt.outcome.rawValue] = made
      return made
    }
    counter.increment()
    if let sending = attempt.sending { mailSending.record(sending) }
    if let delay = attempt.delay { mailDelay.record(delay) }
  }

  /// What a scrape reads besides the recorded figures.
  struct ScrapeSources: Sendable {
    var application: RenewalApplication
    var authentication: Authentication
    var health: ServingStatusBoard
    var directory: LDAPDirectory
    /// The SQLite store (its file sizes); nil on PostgreSQL.
    var sqlite: SQLiteRenewalStore?
  }

  /// The text exposition, after refreshing the gauges read when scraped; then the figures kept
  /// elsewhere (process, logins, directory lanes) in the same format.
  func exposition(_ sources: ScrapeSources) async -> String {
    let application = sources.application
    let cache = application.resolver.cacheCounters
    gauge("directory_resolution_cache_hits", "Routing resolutions served from the cache since start").set(
      to: Double(cache.hits))
    gauge("directory_resolution_cache_misses", "Routing resolutions that went to the directory since start").set(
      to: Double(cache.misses))
    gauge("watch_subscriptions", "Open WatchRenewal streams").set(to: Double(application.changes.subscriptionCount))
    gauge("health_watchers", "Open health Watch streams").set(to: Double(sources.health.watcherCount))
    if let pending = try? await application.store.outboxCount(state: .pending) {
      gauge("outbox_pending", "Notifications waiting to be sent").set(to: Double(pending))
    }
    if let dead = try? await application.store.outboxCount(state: .dead) {
      gauge("outbox_dead", "Notifications given up (dead letters)").set(to: Double(dead))
    }
    if let sizes = sources.sqlite?.fileSizes {
      gauge("store_database_bytes", "Size of the database file").set(to: Double(sizes.database))
      gauge("store_wal_bytes", "Size of the database's write-ahead log").set(to: Double(sizes.wal))
    }
    var text = registry.emitToString()
    var families = ExpositionText()
    let lanes = sources.directory.lanes
    families.family(
      "okey_directory_pool_in_use", type: "gauge", help: "Directory calls running on a pool thread, by lane",
      lanes.map { (["lane": $0.lane], Double($0.inUse)) })
    families.family(
      "okey_directory_pool_queued", type: "gauge", help: "Directory calls waiting for a pool thread, by lane",
      lanes.map { (["lane": $0.lane], Double($0.queued)) })
    families.family(
      "okey_directory_pool_threads", type: "gauge", help: "Threads (and connections at most) of each lane",
      lanes.map { (["lane": $0.lane], Double($0.threads)) })
    families.family(
      "okey_directory_busy_refusals_total", type: "counter",
      help: "Directory calls refused because their lane was full (DIRECTORY_BUSY)",
      lanes.map { (["lane": $0.lane], Double($0.refusedBusy)) })
    let logins = sources.authentication.logins.snapshot
    families.family(
      "okey_logins_total", type: "counter", help: "Logins by outcome since start",
      [
        (["outcome": "succeeded"], Double(logins.succeeded)), (["outcome": "failed"], Double(logins.failed)),
        (["outcome": "throttled"], Double(logins.throttled)),
      ])
    families.process(ProcessFigures.read())
    text += families.text
    return text
  }
}

/// Families written by hand in the Prometheus text format: the figures okeyd keeps outside the
/// registry (read when scraped) and the standard `process_*` figures.
struct ExpositionText {
  private(set) var text = ""

  mutating func family(_ name: String, type: String, help: String, _ samples: [([String: String], Double)]) {
    text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    for (labels, value) in samples {
      let rendered = labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\(Self.escape($0.value))\"" }
      text += name + (rendered.isEmpty ? "" : "{" + rendered.joined(separator: ",") + "}") + " \(Self.number(value))\n"
    }
  }

  mutating func process(_ figures: ProcessFigures?) {
    guard let figures else { return }
    family(
      "process_cpu_seconds_total", type: "counter", help: "User and system CPU time spent", [([:], figures.cpuSeconds)])
    family(
      "process_resident_memory_bytes", type: "gauge", help: "Resident memory size", [([:], figures.residentBytes)])
    family("process_open_fds", type: "gauge", help: "Open file descriptors", [([:], figures.openDescriptors)])
    family(
      "process_max_fds", type: "gauge", help: "Most open file descriptors allowed", [([:], figures.maxDescriptors)])
    family(
      "process_start_time_seconds", type: "gauge", help: "Start time of the process since the Unix epoch",
      [([:], figures.startTime)])
  }

  static func escape(_ value: String) -> String {
    value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
      .replacingOccurrences(of: "\n", with: "\\n")
  }

  static func number(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
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
