import OKeyDomain
import Synchronization

/// Slows password guessing: after `maxFailures` failed logins for one uid within `window`, logins
/// for that uid are refused until the window has passed since the last failure. A success clears it.
/// (Someone who knows a uid can delay its owner's login by that long: the price of the protection.)
final class LoginThrottle: Sendable {
  private struct Failures {
    var count: Int
    var last: Instant
  }

  private let failures = Mutex<[String: Failures]>([:])
  private let maxFailures: Int
  private let windowSeconds: Int64

  init(maxFailures: Int, windowSeconds: Int) {
    self.maxFailures = max(1, maxFailures)
    self.windowSeconds = Int64(max(1, windowSeconds))
  }

  /// The seconds left before `uid` may try again, or nil when it may now.
  func wait(for uid: String, now: Instant) -> Int64? {
    failures.withLock { failures in
      let key = uid.lowercased()
      guard let entry = failures[key] else { return nil }
      let elapsed = (now.millisecondsSinceEpoch - entry.last.millisecondsSinceEpoch) / 1000
      if elapsed >= windowSeconds {
        failures[key] = nil
        return nil
      }
      return entry.count >= maxFailures ? windowSeconds - elapsed : nil
    }
  }

  func recordFailure(for uid: String, now: Instant) {
    failures.withLock { failures in
      let key = uid.lowercased()
      var entry = failures[key] ?? Failures(count: 0, last: now)
      entry.count += 1
      entry.last = now
      failures[key] = entry
      if failures.count > 100_000 { failures.removeAll() }
    }
  }

  func recordSuccess(for uid: String) {
    _ = failures.withLock { $0.removeValue(forKey: uid.lowercased()) }
  }
}
