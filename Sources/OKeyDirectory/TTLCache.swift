import Synchronization

/// A small time-limited cache with hit and miss counters. A TTL of zero turns it off.
public final class TTLCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
  private struct State {
    var items: [Key: (value: Value, expires: ContinuousClock.Instant)] = [:]
    var hits = 0
    var misses = 0
  }

  private let state = Mutex(State())
  private let ttl: Duration
  private let capacity: Int
  private let now: @Sendable () -> ContinuousClock.Instant

  /// Creates a cache keeping values for `ttl`, at most `capacity` of them; `now` is the clock
  /// (tests give one they move by hand).
  public init(
    ttl: Duration, capacity: Int, now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
  ) {
    self.ttl = ttl
    self.capacity = max(1, capacity)
    self.now = now
  }

  /// True when the cache keeps anything.
  public var isEnabled: Bool { ttl > .zero }

  /// The cached value for `key`, or the one `load` gives (then cached).
  public func value(for key: Key, load: () async throws -> Value) async throws -> Value {
    if let cached = cached(key) { return cached }
    let value = try await load()
    insert(value, for: key)
    return value
  }

  /// The cached value for `key` if it has not expired (counted as a hit or a miss).
  public func cached(_ key: Key) -> Value? {
    guard isEnabled else { return nil }
    let now = self.now()
    return state.withLock { state in
      if let item = state.items[key], item.expires > now {
        state.hits += 1
        return item.value
      }
      state.misses += 1
      return nil
    }
  }

  /// Keeps `value` for `key` for the cache's TTL.
  public func insert(_ value: Value, for key: Key) {
    guard isEnabled else { return }
    let now = self.now()
    state.withLock { state in
      if state.items.count >= capacity {
        state.items = state.items.filter { $0.value.expires > now }
        if state.items.count >= capacity { state.items.removeAll(keepingCapacity: true) }
      }
      state.items[key] = (value, now + ttl)
    }
  }

  /// Forgets everything.
  public func removeAll() {
    state.withLock { $0.items.removeAll() }
  }

  /// Forgets one key.
  public func remove(_ key: Key) {
    _ = state.withLock { $0.items.removeValue(forKey: key) }
  }

  /// Hits and misses since creation.
  public var counters: (hits: Int, misses: Int) {
    state.withLock { ($0.hits, $0.misses) }
  }
}

/// A ``Directory`` that caches entries and group lists for a short time (never password checks).
public final class CachingDirectory: Directory {
  private let base: any Directory
  private let people: TTLCache<String, [DirectoryEntry]>
  private let byDN: TTLCache<String, DirectoryEntry?>
  private let responsibles: TTLCache<String, [DirectoryEntry]>
  private let groups: TTLCache<String, [String]>
  private let manages: TTLCache<String, Bool>

  /// Wraps `base`; `ttl` zero turns caching off.
  public init(_ base: any Directory, ttl: Duration, capacity: Int) {
    self.base = base
    people = TTLCache(ttl: ttl, capacity: capacity)
    byDN = TTLCache(ttl: ttl, capacity: capacity)
    responsibles = TTLCache(ttl: ttl, capacity: capacity)
    groups = TTLCache(ttl: ttl, capacity: capacity)
    manages = TTLCache(ttl: ttl, capacity: capacity)
  }

  public func people(withUID uid: String) async throws -> [DirectoryEntry] {
    try await people.value(for: uid) { try await base.people(withUID: uid) }
  }

  public func person(dn: String) async throws -> DirectoryEntry? {
    try await byDN.value(for: LDAPText.normalizeDN(dn) ?? dn) { try await base.person(dn: dn) }
  }

  public func responsibles(forEstablishment uai: String) async throws -> [DirectoryEntry] {
    try await responsibles.value(for: uai) { try await base.responsibles(forEstablishment: uai) }
  }

  public func groups(withMember memberDN: String) async throws -> [String] {
    try await groups.value(for: memberDN) { try await base.groups(withMember: memberDN) }
  }

  public func checkPassword(dn: String, password: String) async throws -> Bool {
    try await base.checkPassword(dn: dn, password: password)
  }

  public func loginEntries(withUID uid: String) async throws -> [DirectoryEntry] {
    try await base.loginEntries(withUID: uid)
  }

  public func managesSomeone(dn: String) async throws -> Bool {
    try await manages.value(for: LDAPText.normalizeDN(dn) ?? dn) { try await base.managesSomeone(dn: dn) }
  }

  /// Drops the cached entries of `uid`, and the groups and manager facts of their DNs (the next
  /// lookup reads the directory).
  public func forget(uid: String) {
    for entry in people.cached(uid) ?? [] {
      let dn = LDAPText.normalizeDN(entry.dn) ?? entry.dn
      groups.remove(entry.dn)
      byDN.remove(dn)
      manages.remove(dn)
    }
    people.remove(uid)
    base.forget(uid: uid)
  }

  /// The wrapped directory.
  public var uncached: any Directory { base.uncached }

  /// Hits and misses of the entry caches, added up.
  public var counters: (hits: Int, misses: Int) {
    [people.counters, byDN.counters, responsibles.counters, groups.counters, manages.counters].reduce((0, 0)) {
      ($0.0 + $1.hits, $0.1 + $1.misses)
    }
  }

  /// Forgets everything.
  public func removeAll() {
    people.removeAll()
    byDN.removeAll()
    responsibles.removeAll()
    groups.removeAll()
    manages.removeAll()
  }
}
