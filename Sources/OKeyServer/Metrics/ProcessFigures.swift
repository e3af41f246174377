import Foundation

/// The process figures Prometheus clients name `process_*`, read from Linux's /proc.
struct ProcessFigures: Sendable {
  var cpuSeconds: Double
  var residentBytes: Double
  var openDescriptors: Double
  var maxDescriptors: Double
  var startTime: Double

  /// The figures now; nil where /proc is not there (not Linux).
  static func read() -> ProcessFigures? {
    guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
      let close = stat.lastIndex(of: ")")
    else { return nil }
    // Fields after the command name, from the 3rd (state) on.
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    func field(_ number: Int) -> Double { fields.indices.contains(number - 3) ? Double(fields[number - 3]) ?? 0 : 0 }
    let ticks = Double(max(1, sysconf(Int32(_SC_CLK_TCK))))
    let page = Double(max(1, sysconf(Int32(_SC_PAGESIZE))))
    let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
    var limit = rlimit()
    let maxDescriptors = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 ? Double(limit.rlim_cur) : 0
    return ProcessFigures(
      cpuSeconds: (field(14) + field(15)) / ticks,
      residentBytes: field(24) * page,
      openDescriptors: Double(descriptors),
      maxDescriptors: maxDescriptors,
      startTime: bootTime() + field(22) / ticks)
  }

  /// The boot time, in seconds since the epoch (`btime` of /proc/stat).
  static func bootTime() -> Double {
    guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return 0 }
    for line in stat.split(separator: "\n") where line.hasPrefix("btime ") {
      return Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces)) ?? 0
    }
    return 0
  }
}
