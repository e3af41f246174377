import Foundation

/// A program run by a test, with its output captured in files (no pipe can fill up and block it).
public final class ChildProcess: @unchecked Sendable {
  private let process = Process()
  private let outputPath: String
  private let errorPath: String

  /// Starts `executable` with `arguments` and `environment` added to the test's own.
  public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], input: String? = nil)
    throws
  {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent(
      "okey-child-\(UInt64.random(in: 0...UInt64.max))"
    ).path
    outputPath = base + ".out"
    errorPath = base + ".err"
    _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
    _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    if let input {
      let inputPath = base + ".in"
      _ = FileManager.default.createFile(atPath: inputPath, contents: Data(input.utf8))
      process.standardInput = FileHandle(forReadingAtPath: inputPath)
    } else {
      process.standardInput = FileHandle.nullDevice
    }
    process.standardOutput = FileHandle(forWritingAtPath: outputPath)
    process.standardError = FileHandle(forWritingAtPath: errorPath)
    try process.run()
  }

  deinit {
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    try? FileManager.default.removeItem(atPath: outputPath)
    try? FileManager.default.removeItem(atPath: errorPath)
  }

  /// The process id.
  public var pid: Int32 { process.processIdentifier }

  /// What it wrote to standard output so far.
  public var standardOutput: String {
    (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
  }

  /// What it wrote to standard error so far.
  public var standardError: String {
    (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
  }

  /// True while it runs.
  public var isRunning: Bool { process.isRunning }

  /// Sends `signal` to it.
  public func send(_ signal: Int32) {
    if process.isRunning { kill(process.processIdentifier, signal) }
  }

  /// Waits for it to exit, at most `timeout`; kills it (SIGKILL) and throws past that.
  @discardableResult
  public func waitForExit(timeout: Duration = .seconds(30)) async throws -> Int32 {
    let clock = ContinuousClock()
    let start = clock.now
    let deadline = clock.now + timeout
    while process.isRunning {
      // Foundation on Linux can miss the end of a child that exited before it was watched (its SIGCHLD
      // came first) until another child ends: a zombie has ended; its status is in /proc.
      if clock.now - start > .seconds(2), let status = exitedStatus { return status }
      if clock.now >= deadline {
        kill(process.processIdentifier, SIGKILL)
        throw ChildProcessError("\(process.executableURL?.lastPathComponent ?? "child") did not exit within \(timeout)")
      }
      try await Task.sleep(for: .milliseconds(20))
    }
    return process.terminationStatus
  }

  /// The exit status of a child that has ended but was not reaped yet (state Z in /proc), else nil:
  /// its exit code, or the signal that ended it.
  private var exitedStatus: Int32? {
    guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
      let close = stat.lastIndex(of: ")")
    else { return nil }
    // Fields after the command name, from the 3rd (state) on; the 52nd is the wait status.
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.first == "Z", fields.count > 49,
      let code = Int32(fields[49].trimmingCharacters(in: .whitespacesAndNewlines))
    else { return nil }
    return code & 0x7f != 0 ? code & 0x7f : (code >> 8) & 0xff
  }

  /// Waits until `predicate` holds for its standard error, at most `timeout`.
  public func waitForError(
    timeout: Duration = .seconds(30),
    _ predicate: (String) -> Bool
  ) async throws -> String {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
      let text = standardError
      if predicate(text) { return text }
      if !process.isRunning {
        throw ChildProcessError("exited with status \(process.terminationStatus) before it was ready:\n\(text)")
      }
      try await Task.sleep(for: .milliseconds(20))
    }
    throw ChildProcessError("not ready within \(timeout):\n\(standardError)")
  }

  /// Runs a program to its end and returns its exit status and output.
  public static func run(
    _ executable: String,
    _ arguments: [String],
    environment: [String: String] = [:],
    input: String? = nil,
    timeout: Duration = .seconds(60)
  ) async throws -> (status: Int32, output: String, error: String) {
    let child = try ChildProcess(executable, arguments, environment: environment, input: input)
    let status = try await child.waitForExit(timeout: timeout)
    return (status, child.standardOutput, child.standardError)
  }
}

/// A child process failed to start, to get ready or to stop.
public struct ChildProcessError: Error, CustomStringConvertible {
  /// What happened.
  public var description: String
  /// Creates an error.
  public init(_ description: String) { self.description = description }
}

/// Runs the sqlite3 command-line tool (Debian's sqlite3) on a database file, as someone with access
/// to the file would.
public func sqlite3(_ path: String, _ sql: String) async throws -> String {
  let result = try await ChildProcess.run("/usr/bin/sqlite3", [path, sql])
  guard result.status == 0 else { throw ChildProcessError("sqlite3 failed: \(result.error)") }
  return result.output
}

/// Runs `body`, failing with a message naming `what` when it has not finished within `limit` (its
/// task is then cancelled): a missing stream message fails the test instead of hanging the run.
public func withTimeLimit<T: Sendable>(
  _ limit: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
  try await withThrowingTaskGroup(of: T.self) { group in
    group.addTask { try await body() }
    group.addTask {
      try await Task.sleep(for: limit)
      throw ChildProcessError("\(what) did not finish within \(limit)")
    }
    defer { group.cancelAll() }
    guard let first = try await group.next() else { throw ChildProcessError("\(what) gave no result") }
    return first
  }
}
