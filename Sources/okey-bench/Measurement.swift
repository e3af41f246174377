import Foundation
import Synchronization

/// Throughput and latency of one scenario.
struct Measurement: Sendable, Codable {
  var scenario: String
  var calls: Int
  var errors: Int
  var seconds: Double
  var p50Milliseconds: Double
  var p90Milliseconds: Double
  var p99Milliseconds: Double
  var maxMilliseconds: Double
  /// CPU time the server process used during the scenario, per call (when its pid was given).
  var serverCPUMillisecondsPerCall: Double?
  /// CPU time this client process used during the scenario, per call.
  var clientCPUMillisecondsPerCall: Double?

  var perSecond: Double { seconds > 0 ? Double(calls) / seconds : 0 }
}

/// CPU time (user + system) consumed so far by a process, read from `/proc/PID/stat`.
enum ProcessCPU {
  /// Seconds of CPU used by `pid` ("self" for this process), or nil when it cannot be read.
  static func seconds(pid: String) -> Double? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let end = stat.lastIndex(of: ")")
    else { return nil }
    // Fields after the command name, which may hold spaces: state is field 3, utime 14, stime 15.
    let fields = stat[stat.index(after: end)...].split(separator: " ")
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
  }

  /// The CPU seconds of every process of `pids`, or nil when one cannot be read (or none is given).
  static func seconds(pids: [String]) -> Double? {
    guard !pids.isEmpty else { return nil }
    var total = 0.0
    for pid in pids {
      guard let used = seconds(pid: pid) else { return nil }
      total += used
    }
    return total
  }

  /// Runs `body` and adds the CPU used per call by the servers (`serverPIDs`, summed) and by this
  /// process.
  static func accounting(serverPIDs: [String], _ body: () async throws -> Measurement) async rethrows -> Measurement {
    let server = seconds(pids: serverPIDs)
    let client = seconds(pid: "self")
    var measurement = try await body()
    let calls = Double(max(1, measurement.calls))
    if let before = server, let after = seconds(pids: serverPIDs) {
      measurement.serverCPUMillisecondsPerCall = (after - before) * 1000 / calls
    }
    if let before = client, let after = seconds(pid: "self") {
      measurement.clientCPUMillisecondsPerCall = (after - before) * 1000 / calls
    }
    return measurement
  }
}

/// Runs `operation` from `workers` concurrent tasks for `duration` (or until `count` calls in all),
/// timing every call.
func measure(
  _ scenario: String,
  workers: Int,
  duration: Duration,
  count: Int? = nil,
  operation: @escaping @Sendable (_ worker: Int, _ iteration: Int) async throws -> Void
) async -> Measurement {
  let clock = ContinuousClock()
  let start = clock.now
  let deadline = start + duration
  let issued = CallCounter()
  let results = await withTaskGroup(of: ([Duration], Int).self) { group in
    for worker in 0..<max(1, workers) {
      group.addTask {
        var latencies: [Duration] = []
        var errors = 0
        var iteration = 0
        while clock.now < deadline {
          if let count, issued.next() > count { break }
          let before = clock.now
          do { try await operation(worker, iteration) } catch { errors += 1 }
          latencies.append(clock.now - before)
          iteration += 1
        }
        return (latencies, errors)
      }
    }
    return await group.reduce(into: [([Duration], Int)]()) { $0.append($1) }
  }
  let elapsed = clock.now - start
  let latencies = results.flatMap(\.0).sorted()
  func percentile(_ p: Double) -> Double {
    guard !latencies.isEmpty else { return 0 }
    let index = min(latencies.count - 1, Int((Double(latencies.count) * p).rounded(.up)) - 1)
    return milliseconds(latencies[max(0, index)])
  }
  return Measurement(
    scenario: scenario, calls: latencies.count, errors: results.map(\.1).reduce(0, +), seconds: seconds(elapsed),
    p50Milliseconds: percentile(0.50), p90Milliseconds: percentile(0.90), p99Milliseconds: percentile(0.99),
    maxMilliseconds: latencies.last.map(milliseconds) ?? 0)
}

func seconds(_ duration: Duration) -> Double {
  Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func milliseconds(_ duration: Duration) -> Double { seconds(duration) * 1000 }

/// Prints measurements as an aligned table, with each scenario's ratio to `baseline` when given.
func printTable(_ measurements: [Measurement], baseline: String?) {
  let base = measurements.first { $0.scenario == baseline }?.perSecond
  let withCPU = measurements.contains { $0.serverCPUMillisecondsPerCall != nil }
  var header = ["scenario", "calls", "errors", "calls/s", "ratio", "p50 ms", "p90 ms", "p99 ms", "max ms"]
  if withCPU { header += ["server CPU ms/call", "client CPU ms/call"] }
  var rows = [header]
  for m in measurements {
    var row = [
      m.scenario, "\(m.calls)", "\(m.errors)", String(format: "%.0f", m.perSecond),
      base.map { String(format: "%.2f", m.perSecond / $0) } ?? "-",
      String(format: "%.2f", m.p50Milliseconds), String(format: "%.2f", m.p90Milliseconds),
      String(format: "%.2f", m.p99Milliseconds), String(format: "%.2f", m.maxMilliseconds),
    ]
    if withCPU {
      row += [m.serverCPUMillisecondsPerCall, m.clientCPUMillisecondsPerCall].map {
        $0.map { String(format: "%.3f", $0) } ?? "-"
      }
    }
    rows.append(row)
  }
  let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
  for row in rows {
    print(
      row.enumerated().map { column, cell in
        column == 0
          ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
          : String(repeating: " ", count: widths[column] - cell.count) + cell
      }.joined(separator: "  "))
  }
}

/// Prints measurements as JSON.
func printJSON(_ measurements: [Measurement]) throws {
  let encoder = JSONEncoder()
  encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
  print(String(decoding: try encoder.encode(measurements), as: UTF8.self))
}

/// Numbers the calls of all workers.
final class CallCounter: Sendable {
  private let value = Atomic<Int>(0)
  func next() -> Int { value.add(1, ordering: .relaxed).newValue }
}
