import GRPCCore
import Synchronization

/// Bounds the long-lived streams (WatchRenewal, Health.Watch): at most `perConnection` open on one
/// connection (known by its peer address and port) and `total` in all. A stream past either bound
/// is refused RESOURCE_EXHAUSTED at once, before it holds anything.
final class StreamQuota: Sendable {
  private struct State {
    var byConnection: [String: Int] = [:]
    var total = 0
  }

  private let state = Mutex(State())
  let perConnection: Int
  let total: Int

  init(perConnection: Int, total: Int) {
    self.perConnection = max(1, perConnection)
    self.total = max(1, total)
  }

  /// Takes a place for a stream of `connection`, runs `body`, and gives the place back.
  func withPlace<T>(for connection: String, _ body: () async throws -> T) async throws -> T {
    let refusal: String? = state.withLock { state in
      if state.total >= total { return "okeyd already serves \(total) Watch streams: try again later" }
      if state.byConnection[connection, default: 0] >= perConnection {
        return "this connection already has \(perConnection) open Watch streams: close one before opening another"
      }
      state.total += 1
      state.byConnection[connection, default: 0] += 1
      return nil
    }
    if let refusal { throw APIError(code: .resourceExhausted, reason: .watchLimit, message: refusal) }
    defer {
      state.withLock { state in
        state.total -= 1
        let left = state.byConnection[connection, default: 1] - 1
        state.byConnection[connection] = left > 0 ? left : nil
      }
    }
    return try await body()
  }

  /// Open streams now.
  var open: Int { state.withLock { $0.total } }
}
