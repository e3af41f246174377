import Foundation
import GRDB

/// Consistent copies of the SQLite database taken while okeyd serves, checked before they are
/// trusted, and their restoration. PostgreSQL sites use `pg_dump` instead.
public enum StoreBackup {
  /// What a backup (or the database it would replace) holds.
  public struct Summary: Sendable {
    /// The file.
    public var path: String
    /// Its size in bytes.
    public var bytes: Int64
    /// The last migration applied to it.
    public var schema: String
    /// Requests by status (wire names of the statuses, as stored).
    public var requestsByStatus: [String: Int]
    /// Documents, content kept or purged.
    public var documents: Int
    /// Audit events, and the chain's last one.
    public var auditEvents: Int64
    public var head: AuditHead
    /// The chain's verification (signatures too when a key was given).
    public var verification: AuditVerification

    /// Lines for people: what the copy holds and whether its chain holds.
    public var description: [String] {
      let requests = requestsByStatus.values.reduce(0, +)
      let statuses = requestsByStatus.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
      return [
        "\(path): \(bytes) bytes, schema \(schema)",
        "requests: \(requests)\(statuses.isEmpty ? "" : " (\(statuses))"); documents: \(documents)",
        "audit: \(auditEvents) events, head \(head.sequence) \(head.hash)",
        verification.intact
          ? "audit chain verified: \(verification.eventsChecked) events\(verification.keyed ? ", signatures checked with the audit key" : " (no audit key: signatures not checked)"), \(verification.requestsChecked) requests' states match"
          : "audit chain BROKEN: "
            + verification.problems.prefix(5).map { "\($0.kind.rawValue) at \($0.sequence): \($0.message)" }.joined(
              separator: "; "),
      ]
    }
  }

  /// Copies the database at `source` into `target` (which must not exist) as one consistent
  /// snapshot, taken in a single read transaction while okeyd goes on writing (`VACUUM INTO`); the
  /// copy is one self-contained file (no write-ahead log). Then checks the copy: SQLite's integrity
  /// check and the audit chain with `key`. A copy that fails its checks is deleted and the error
  /// says why.
  public static func backup(from source: String, to target: String, key: AuditKey?) throws -> Summary {
    guard FileManager.default.fileExists(atPath: source) else {
      throw StoreError(.notFound, "no database at \(source): check database.path")
    }
    guard !FileManager.default.fileExists(atPath: target) else {
      throw StoreError(.conflict, "\(target) exists: a backup never overwrites a file; choose another name")
    }
    try requireKnownSchema(source)
    do {
      let database = try DatabaseQueue(path: source)
      try database.writeWithoutTransaction { db in
        try db.execute(sql: "VACUUM INTO ?", arguments: [target])
      }
      try database.close()
      let copy = try DatabaseQueue(path: target)
      try copy.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = DELETE") }
      try copy.close()
    } catch let error as DatabaseError {
      try? FileManager.default.removeItem(atPath: target)
      throw StoreError(.unavailable, "the backup of \(source) failed: \(error.message ?? "\(error)")")
    }
    do {
      let summary = try inspect(path: target, key: key)
      guard summary.verification.intact else {
        throw StoreError(.tampered, summary.description.joined(separator: "\n"))
      }
      return summary
    } catch {
      try? FileManager.default.removeItem(atPath: target)
      throw error
    }
  }

  /// Reads `path` without changing it: integrity, schema, what it holds, and its audit chain
  /// checked with `key`.
  public static func inspect(path: String, key: AuditKey?) throws -> Summary {
    guard FileManager.default.fileExists(atPath: path) else { throw StoreError(.notFound, "no file at \(path)") }
    try requireKnownSchema(path)
    var configuration = Configuration()
    configuration.readonly = true
    do {
      return try DatabaseQueue(path: path, configuration: configuration).read { db in
        let integrity = try String.fetchAll(db, sql: "PRAGMA integrity_check")
        guard integrity == ["ok"] else {
          throw StoreError(
            .tampered, "\(path) is damaged (SQLite integrity check: \(integrity.prefix(3).joined(separator: "; ")))")
        }
        var byStatus: [String: Int] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT status, count(*) AS n FROM renewals GROUP BY status") {
          byStatus[try row.decode(forColumn: "status")] = try row.decode(forColumn: "n")
        }
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        return Summary(
          path: path, bytes: (attributes?[.size] as? NSNumber)?.int64Value ?? 0,
          schema: try SQLiteRenewalStore.migrationStatus(db).applied.last ?? "none",
          requestsByStatus: byStatus,
          documents: try Int.fetchOne(db, sql: "SELECT count(*) FROM documents") ?? 0,
          auditEvents: try Int64.fetchOne(db, sql: "SELECT count(*) FROM audit_events") ?? 0,
          head: try AuditChain.head(in: db),
          verification: try AuditChain.verify(in: db, key: key, expectedHead: nil))
      }
    } catch let error as DatabaseError {
      throw StoreError(.unavailable, "cannot read \(path): \(error.message ?? "\(error)")")
    }
  }

  /// Puts the backup at `backup` in place of the database at `path` once it passed ``inspect(path:key:)``
  /// with an intact chain. The database it replaces (with its write-ahead log) is kept beside it as
  /// `path.before-restore-TIME`. The caller makes sure okeyd is stopped (``DatabaseLock``).
  public static func restore(from backup: String, to path: String, key: AuditKey?, now: Date = Date()) throws
    -> (summary: Summary, keptAs: String?)
  {
    let summary = try inspect(path: backup, key: key)
    guard summary.verification.intact else {
      throw StoreError(
        .tampered,
        "the backup's audit chain does not verify: not restored\n" + summary.description.joined(separator: "\n"))
    }
    let folder = (path as NSString).deletingLastPathComponent
    if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
    let staging = path + ".restoring"
    try? FileManager.default.removeItem(atPath: staging)
    try FileManager.default.copyItem(atPath: backup, toPath: staging)
    try sync(staging)
    var keptAs: String?
    if FileManager.default.fileExists(atPath: path) {
      let stamp = now.ISO8601Format(.iso8601.year().month().day().time(includingFractionalSeconds: false))
        .replacingOccurrences(of: ":", with: "")
      let aside = path + ".before-restore-" + stamp
      for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
        try FileManager.default.moveItem(atPath: path + suffix, toPath: aside + suffix)
      }
      keptAs = aside
    }
    guard rename(staging, path) == 0 else {
      throw StoreError(.unavailable, "cannot move the restored copy into \(path): \(String(cString: strerror(errno)))")
    }
    if !folder.isEmpty { try sync(folder) }
    return (summary, keptAs)
  }

  /// Refuses a database written by a newer okeyd: this one cannot vouch for its format.
  static func requireKnownSchema(_ path: String) throws {
    do {
      guard let status = try SQLiteRenewalStore.migrationStatus(path: path), status.unknown.isEmpty else {
        let status = try SQLiteRenewalStore.migrationStatus(path: path)
        throw StoreError(
          .schemaTooNew,
          "\(path) was written by a newer okeyd (schema \(status?.unknown.last ?? "?")); this okeyd knows the schema up to \(Schema.versions.last ?? "?"): use the newer okeyd"
        )
      }
    } catch let error as DatabaseError {
      throw StoreError(.unavailable, "\(path) is not an OKEY database: \(error.message ?? "\(error)")")
    }
  }

  private static func sync(_ path: String) throws {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw StoreError(.unavailable, "cannot open \(path) to sync it") }
    defer { close(fd) }
    guard fsync(fd) == 0 else { throw StoreError(.unavailable, "cannot sync \(path) to the disk") }
  }
}

/// An exclusive lock on a database file, held by the okeyd that serves it: a second okeyd on the
/// same file, or a restore under a running okeyd, is refused. The lock is `flock` on `PATH.lock`,
/// released when the holder closes it or its process ends (even by SIGKILL).
public final class DatabaseLock: Sendable {
  private let descriptor: Int32
  /// The lock file.
  public let path: String

  /// Takes the lock of the database at `database`, or throws ``StoreError/Code/inUse`` naming who
  /// holds it.
  public init(database: String) throws {
    path = database + ".lock"
    let folder = (database as NSString).deletingLastPathComponent
    if !folder.isEmpty { try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
    let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    guard fd >= 0 else {
      throw StoreError(.unavailable, "cannot open the lock file \(path): \(String(cString: strerror(errno)))")
    }
    guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
      let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
      close(fd)
      throw StoreError(
        .inUse,
        "\(database) is in use by another okeyd\(holder.map { $0.isEmpty ? "" : " (process \($0))" } ?? ""): stop it first"
      )
    }
    let pid = "\(getpid())\n"
    _ = ftruncate(fd, 0)
    _ = pid.withCString { write(fd, $0, strlen($0)) }
    descriptor = fd
  }

  deinit { close(descriptor) }
}
