import GRDB
import Synchronization

/// Group commit for the writer connection: the changes that arrive while a commit is being synced
/// are written together in the next transaction, each inside its own savepoint, and each caller is
/// answered only once the transaction that carries its change has committed (and, at FULL
/// durability, been synced to the disk). A change that fails rolls back to its savepoint alone; a
/// commit that fails fails every change of its group, and none of them is acknowledged.
///
/// With one caller at a time this is one transaction per change, as before; under load the `fsync`
/// and the WAL writes of a commit are shared by up to ``maximumGroup`` changes.
final class GroupCommit: Sendable {
  /// One change waiting for the writer.
  private struct Pending: Sendable {
    /// Runs the change on the writer, inside the open transaction; returns how to answer its caller
    /// once the commit's outcome is known (nil: committed).
    let apply: @Sendable (Database) throws -> @Sendable ((any Error)?) -> Void
    /// Answers the caller with a failure before or instead of its change.
    let fail: @Sendable (any Error) -> Void
  }

  /// The most changes one transaction carries.
  static let maximumGroup = 64

  private let pool: DatabasePool
  private let state = Mutex((waiting: [Pending](), draining: false))
  /// Sizes of the groups committed so far (for the benchmark's figures and the tests).
  private let counters = Mutex((groups: 0, changes: 0))

  init(pool: DatabasePool) { self.pool = pool }

  /// Transactions committed by the group writer, and the changes they carried.
  var figures: (groups: Int, changes: Int) { counters.withLock { ($0.groups, $0.changes) } }

  /// Runs `body` as one change of the next group transaction and returns its result once that
  /// transaction has committed. `body` runs inside a savepoint: when it throws, only its own writes
  /// are rolled back, and its error is thrown here.
  func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
      let pending = Pending(
        apply: { db in
          let value = try body(db)
          return { failure in
            if let failure { continuation.resume(throwing: failure) } else { continuation.resume(returning: value) }
          }
        },
        fail: { continuation.resume(throwing: $0) })
      let startsDrain = state.withLock { state -> Bool in
        state.waiting.append(pending)
        guard !state.draining else { return false }
        state.draining = true
        return true
      }
      if startsDrain { Task { await self.drain() } }
    }
  }

  /// Commits groups until no change waits.
  private func drain() async {
    while true {
      let group = state.withLock { state -> [Pending] in
        let group = Array(state.waiting.prefix(Self.maximumGroup))
        state.waiting.removeFirst(group.count)
        if group.isEmpty { state.draining = false }
        return group
      }
      if group.isEmpty { return }
      let answers: [@Sendable () -> Void]
      do {
        answers = try await pool.writeWithoutTransaction { db in try Self.commit(group, in: db) }
        counters.withLock {
          $0.groups += 1
          $0.changes += group.count
        }
      } catch {
        // The writer could not be reached or BEGIN failed: nothing of the group was written.
        for pending in group { pending.fail(error) }
        continue
      }
      for answer in answers { answer() }
    }
  }

  /// Writes a group in one transaction, each change in its own savepoint; returns the answers to
  /// give once this function has returned (the commit done).
  private static func commit(_ group: [Pending], in db: Database) throws -> [@Sendable () -> Void] {
    try db.execute(sql: "BEGIN IMMEDIATE")
    var outcomes: [@Sendable ((any Error)?) -> Void] = []
    var refusals: [(index: Int, error: any Error)] = []
    for (index, pending) in group.enumerated() {
      do {
        try db.execute(sql: "SAVEPOINT change")
        do {
          let answer = try pending.apply(db)
          try db.execute(sql: "RELEASE SAVEPOINT change")
          outcomes.append(answer)
        } catch {
          guard db.isInsideTransaction else { throw error }
          try db.execute(sql: "ROLLBACK TO SAVEPOINT change")
          try db.execute(sql: "RELEASE SAVEPOINT change")
          refusals.append((index, error))
          outcomes.append({ _ in })
        }
      } catch {
        // SQLite rolled the whole transaction back (I/O error, disk full) or the savepoint could
        // not be undone: no change of the group may be acknowledged.
        if db.isInsideTransaction { try? db.execute(sql: "ROLLBACK") }
        throw error
      }
    }
    do {
      try db.execute(sql: "COMMIT")
    } catch {
      if db.isInsideTransaction { try? db.execute(sql: "ROLLBACK") }
      throw error
    }
    var answers: [@Sendable () -> Void] = outcomes.map { outcome in { outcome(nil) } }
    for (index, error) in refusals {
      let pending = group[index]
      answers[index] = { pending.fail(error) }
    }
    return answers
  }
}
