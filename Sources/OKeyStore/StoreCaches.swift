import OKeyDomain
import Synchronization

/// A bounded map of request views with a generation per id, so that a read racing a change never
/// caches what the change made old.
final class ViewCache: Sendable {
  private struct State {
    var views: [String: RenewalView] = [:]
    var generations: [String: Int] = [:]
    var epoch = 0

    func generation(of id: String) -> Int { epoch << 32 | generations[id, default: 0] }
  }

  private let state = Mutex(State())
  private let capacity: Int

  init(capacity: Int) { self.capacity = capacity }

  func get(_ id: String) -> RenewalView? { state.withLock { $0.views[id] } }

  func generation(of id: String) -> Int { state.withLock { $0.generation(of: id) } }

  func put(_ id: String, _ view: RenewalView, ifStill generation: Int) {
    state.withLock { state in
      guard state.generation(of: id) == generation else { return }
      if state.views.count >= capacity { state.views.removeAll(keepingCapacity: true) }
      state.views[id] = view
    }
  }

  func drop(_ id: String) {
    state.withLock { state in
      state.views[id] = nil
      state.generations[id, default: 0] += 1
      // Forgetting every generation only makes racing reads skip the cache: safe, and bounded.
      if state.generations.count > capacity * 10 {
        state.generations.removeAll(keepingCapacity: true)
        state.views.removeAll(keepingCapacity: true)
        state.epoch += 1
      }
    }
  }
}

/// The last committed state of recent requests, with its version. A state is used only when the
/// row's version says it is still the committed one, so a stale or missing entry costs a decode,
/// never a wrong decision.
final class CommittedStates: Sendable {
  private let states: Mutex<[String: RenewalRequest]>
  private let capacity: Int

  init(capacity: Int) {
    self.capacity = capacity
    states = Mutex([:])
  }

  /// The kept state of `id` if it is the one at `version`.
  func state(of id: String, atVersion version: Int64) -> RenewalRequest? {
    states.withLock { states in
      guard let state = states[id], state.version == version else { return nil }
      return state
    }
  }

  /// Keeps a committed state unless a newer one is already kept.
  func keep(_ renewal: RenewalRequest) {
    states.withLock { states in
      if let kept = states[renewal.id], kept.version >= renewal.version { return }
      if states.count >= capacity { states.removeAll(keepingCapacity: true) }
      states[renewal.id] = renewal
    }
  }
}
