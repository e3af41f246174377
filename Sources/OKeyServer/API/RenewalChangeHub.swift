import OKeyDomain
import Synchronization

/// Tells WatchRenewal streams about changes, by request id.
final class RenewalChangeHub: Sendable {
  private struct State {
    var subscribers: [String: [Int: AsyncStream<RenewalRequest>.Continuation]] = [:]
    var next = 0
  }

  private let state = Mutex(State())

  /// A stream of the changes of one request, and a function that ends it.
  func subscribe(_ id: String) -> (changes: AsyncStream<RenewalRequest>, stop: @Sendable () -> Void) {
    let (stream, continuation) = AsyncStream.makeStream(of: RenewalRequest.self, bufferingPolicy: .bufferingNewest(16))
    let key = state.withLock { state -> Int in
      let key = state.next
      state.next += 1
      state.subscribers[id, default: [:]][key] = continuation
      return key
    }
    continuation.onTermination = { [weak self] _ in
      self?.state.withLock { state in
        state.subscribers[id]?[key] = nil
        if state.subscribers[id]?.isEmpty == true { state.subscribers[id] = nil }
      }
    }
    return (stream, { continuation.finish() })
  }

  func publish(_ renewal: RenewalRequest) {
    let continuations = state.withLock { Array($0.subscribers[renewal.id]?.values ?? [:].values) }
    for continuation in continuations { continuation.yield(renewal) }
  }

  /// True while a stream watches the request.
  func isWatched(_ id: String) -> Bool { state.withLock { $0.subscribers[id]?.isEmpty == false } }

  /// Open subscriptions (for leak tests and metrics).
  var subscriptionCount: Int { state.withLock { $0.subscribers.values.reduce(0) { $0 + $1.count } } }

  /// Ends every subscription (shutdown).
  func finishAll() {
    let all = state.withLock { state -> [AsyncStream<RenewalRequest>.Continuation] in
      let all = state.subscribers.values.flatMap(\.values)
      state.subscribers.removeAll()
      return all
    }
    for continuation in all { continuation.finish() }
  }
}
