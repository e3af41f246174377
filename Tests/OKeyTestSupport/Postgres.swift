import Foundation

/// A throwaway PostgreSQL cluster on 127.0.0.1 and a free port, from Debian's postgresql package,
/// started by `Tools/pg-fixture`: database `okey`, role `okey`.
public final class PostgresFixture: Sendable {
  /// The folder holding the cluster.
  public let folder: String
  /// The port it listens on.
  public let port: Int

  /// The role, its password and the database the fixture creates.
  public static let role = "okey"
  public static let password = "okey-pg-secret"
  public static let database = "okey"

  /// `postgres://okey@127.0.0.1:PORT/okey` (the password comes apart, as in production).
  public var url: String { "postgres://\(Self.role)@127.0.0.1:\(port)/\(Self.database)" }

  static let script = TestPaths.packageRoot + "/Tools/pg-fixture"

  init(folder: String, port: Int) {
    self.folder = folder
    self.port = port
  }

  /// Creates and starts a new cluster.
  public static func start() async throws -> PostgresFixture {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "okey-pg-\(UInt64.random(in: 0...UInt64.max))"
    ).path
    let result = try await ChildProcess.run(script, ["start", folder, "0"], timeout: .seconds(120))
    guard result.status == 0, let port = Int(result.output.trimmingCharacters(in: .whitespacesAndNewlines)) else {
      throw ChildProcessError("PostgreSQL did not start: \(result.error)")
    }
    return PostgresFixture(folder: folder, port: port)
  }

  /// Runs `sql` with psql as the role okey, as someone working on the database outside okeyd; its
  /// output unaligned, one row a line ("1\n" for a count).
  public func psql(_ sql: String) async throws -> String {
    let result = try await ChildProcess.run(Self.script, ["psql", folder, sql], timeout: .seconds(60))
    guard result.status == 0 else { throw ChildProcessError("psql failed: \(result.error)") }
    return result.output
  }

  /// Stops it (fast shutdown).
  public func stop() async throws {
    _ = try await ChildProcess.run(Self.script, ["stop", folder], timeout: .seconds(60))
  }

  /// Kills the postmaster (SIGKILL), as a crash would.
  public func kill() async throws {
    _ = try await ChildProcess.run(Self.script, ["kill", folder], timeout: .seconds(60))
  }

  /// Starts it again on the same port with the same data.
  public func restart() async throws {
    let result = try await ChildProcess.run(Self.script, ["start", folder, "\(port)"], timeout: .seconds(60))
    guard result.status == 0 else { throw ChildProcessError("PostgreSQL did not restart: \(result.error)") }
  }

  /// Stops it and removes its folder.
  public func destroy() async {
    try? await stop()
    try? FileManager.default.removeItem(atPath: folder)
  }
}

/// Runs `body` with a fresh PostgreSQL cluster, then destroys it. At most one cluster runs at a time
/// in a test process: the tests run in parallel on two cores, and twenty clusters starting together
/// would starve each other (and every other test) of CPU.
public func withPostgres<Result>(_ body: (PostgresFixture) async throws -> Result) async throws -> Result {
  await ClusterSlots.shared.acquire()
  let postgres: PostgresFixture
  do {
    postgres = try await PostgresFixture.start()
  } catch {
    await ClusterSlots.shared.release()
    throw error
  }
  do {
    let result = try await body(postgres)
    await postgres.destroy()
    await ClusterSlots.shared.release()
    return result
  } catch {
    await postgres.destroy()
    await ClusterSlots.shared.release()
    throw error
  }
}

/// A counting semaphore for the clusters of one test process.
actor ClusterSlots {
  static let shared = ClusterSlots(slots: 1)
  private var free: Int
  private var waiting: [CheckedContinuation<Void, Never>] = []

  init(slots: Int) { free = slots }

  func acquire() async {
    if free > 0 {
      free -= 1
      return
    }
    await withCheckedContinuation { waiting.append($0) }
  }

  func release() {
    if waiting.isEmpty {
      free += 1
    } else {
      waiting.removeFirst().resume()
    }
  }
}
