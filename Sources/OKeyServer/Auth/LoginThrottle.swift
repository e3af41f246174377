import OKeyDomain
import Synchronization

/// Slows password guessing. Failed logins are counted per person (the directory's own uid, so that
/// `"ens1a "` and `"ENS1A"` are the same person), per typed uid when the directory knows none, and
/// per peer address. After `maxFailures` failures for one person within `window`, that person's
/// logins are refused until the window has passed since the last failure; a peer that failed
/// `maxPeerFailures` times is refused the same way. An attempt is reserved before the password is
/// checked, so parallel guesses cannot all reach the directory before one is counted. Too many
/// entries evict the oldest, and unknown uids never evict the lockout of a real person.
/// (Someone who knows a uid can delay its owner's login by `window`: the price of the protection.)
final class LoginThrottle: Sendable {
  private struct Entry {
    var failures: Int
    var inFlight: Int
    var last: Instant
  }

  /// One table of counters with a bound.
  private struct Table {
    var entries: [String: Entry] = [:]
    let capacity: Int

    /// Drops the oldest tenth of the entries not in flight once over capacity.
    mutating func evictIfFull() {
      guard entries.count > capacity else { return }
      let idle = entries.filter { $0.value.inFlight == 0 }.sorted { $0.value.last < $1.value.last }
      for (key, _) in idle.prefix(max(1, capacity / 10)) { entries[key] = nil }
    }
  }

  private struct State {
    var people: Table
    var unknown: Table
    var peers: Table
  }

  /// What `reserve` gives back: finish it with the outcome.
  struct Reservation: Sendable {
    fileprivate let key: String
  }

  private let state: Mutex<State>
  private let maxFailures: Int
  private let maxPeerFailures: Int
  private let windowSeconds: Int64

  init(maxFailures: Int, maxPeerFailures: Int = 100, windowSeconds: Int, capacity: Int = 100_000) {
    self.maxFailures = max(1, maxFailures)
    self.maxPeerFailures = max(1, maxPeerFailures)
    self.windowSeconds = Int64(max(1, windowSeconds))
    let capacity = max(10, capacity)
    state = Mutex(
      State(people: Table(capacity: capacity), unknown: Table(capacity: capacity), peers: Table(capacity: capacity)))
  }

  static func key(_ uid: String) -> String { uid.trimmingSpaces.lowercased() }

  /// Failures of one person that lock their logins, and for how long after the last one (seconds).
  var limits: (maxFailures: Int, windowSeconds: Int64) { (maxFailures, windowSeconds) }

  /// Seconds a person with `failures`, the last at `last`, must still wait at `now`; nil when they
  /// may try (for the failures replicas share through the store).
  func wait(failures: Int, last: Instant, now: Instant) -> Int64? {
    let elapsed = max(0, (now.millisecondsSinceEpoch - last.millisecondsSinceEpoch) / 1000)
    guard failures >= maxFailures, elapsed < windowSeconds else { return nil }
    return max(1, windowSeconds - elapsed)
  }

  /// Gives a reserved check back without counting it (refused before the password was checked).
  func release(_ reservation: Reservation) {
    state.withLock { state in
      guard var entry = state.people.entries[reservation.key] else { return }
      entry.inFlight = max(0, entry.inFlight - 1)
      state.people.entries[reservation.key] = entry.failures == 0 && entry.inFlight == 0 ? nil : entry
    }
  }

  /// Seconds left before the entry allows an attempt, given `pending` attempts in flight; nil when
  /// it allows one now (an entry whose window passed is forgotten).
  private func wait(_ table: inout Table, _ key: String, limit: Int, now: Instant, countingInFlight: Bool) -> Int64? {
    guard let entry = table.entries[key] else { return nil }
    let elapsed = (now.millisecondsSinceEpoch - entry.last.millisecondsSinceEpoch) / 1000
    if elapsed >= windowSeconds, entry.inFlight == 0 {
      table.entries[key] = nil
      return nil
    }
    let used = entry.failures + (countingInFlight ? entry.inFlight : 0)
    return used >= limit ? max(1, windowSeconds - max(0, elapsed)) : nil
  }

  /// Seconds before `peer` or the typed `uid` may try again, or nil when they may now. Asked before
  /// the directory lookup.
  func waitBeforeLookup(uid: String, peer: String, now: Instant) -> Int64? {
    state.withLock { state in
      if let wait = wait(&state.peers, peer, limit: maxPeerFailures, now: now, countingInFlight: false) { return wait }
      return wait(&state.unknown, Self.key(uid), limit: maxFailures, now: now, countingInFlight: false)
    }
  }

  /// Reserves one password check for the person `canonicalUID`; nil with the seconds to wait when
  /// failures and checks in flight already reach the limit.
  func reserve(canonicalUID: String, now: Instant) -> Result<Reservation, Wait> {
    state.withLock { state in
      let key = Self.key(canonicalUID)
      if let seconds = wait(&state.people, key, limit: maxFailures, now: now, countingInFlight: true) {
        return .failure(Wait(seconds: seconds))
      }
      var entry = state.people.entries[key] ?? Entry(failures: 0, inFlight: 0, last: now)
      entry.inFlight += 1
      state.people.entries[key] = entry
      state.people.evictIfFull()
      return .success(Reservation(key: key))
    }
  }

  /// Ends a reserved check: a success clears the person's failures, a failure counts for the person
  /// and the peer.
  func finish(_ reservation: Reservation, succeeded: Bool, peer: String, now: Instant) {
    state.withLock { state in
      var entry = state.people.entries[reservation.key] ?? Entry(failures: 0, inFlight: 1, last: now)
      entry.inFlight = max(0, entry.inFlight - 1)
      if succeeded {
        entry.failures = 0
      } else {
        entry.failures += 1
        entry.last = now
      }
      state.people.entries[reservation.key] = entry.failures == 0 && entry.inFlight == 0 ? nil : entry
      if !succeeded { Self.count(&state.peers, peer, now: now) }
    }
  }

  /// A failure before any person was found (an unknown uid): counts for the typed uid and the peer.
  func recordUnknown(uid: String, peer: String, now: Instant) {
    state.withLock { state in
      Self.count(&state.unknown, Self.key(uid), now: now)
      Self.count(&state.peers, peer, now: now)
    }
  }

  private static func count(_ table: inout Table, _ key: String, now: Instant) {
    var entry = table.entries[key] ?? Entry(failures: 0, inFlight: 0, last: now)
    entry.failures += 1
    entry.last = now
    table.entries[key] = entry
    table.evictIfFull()
  }

  /// How long to wait, in seconds.
  struct Wait: Error, Sendable {
    var seconds: Int64
  }
}
