import ArgumentParser
import Foundation
import OKeyDirectory
import OKeyDomain

/// okey-bench: throughput and latency of OKEY's parts, each next to its baseline in the same run.
@main
struct OKeyBench: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "okey-bench",
    abstract: "Measure OKEY: throughput and latency percentiles against a baseline measured in the same run.",
    subcommands: [RPCBench.self, DirectoryBench.self, Seed.self, DiskBench.self]
  )
}

/// Routing resolutions per second (cache off and warm) next to the raw libldap search rate.
struct DirectoryBench: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "directory",
    abstract:
      "Resolutions per second with the cache off and warm, next to the raw libldap search rate on the same slapd."
  )

  @Option(help: "LDAP URI of the directory.") var uri: String
  @Option(help: "Service account DN.") var bindDN = "cn=okey,ou=services,dc=ac-test,dc=fr"
  @Option(help: "Service account password (or OKEY_LDAP_BIND_PASSWORD).") var bindPassword: String?
  @Option(help: "Search base.") var base = "dc=ac-test,dc=fr"
  @Option(help: "Comma-separated uids to resolve in turn.") var uids =
    "ens1a,ens-clg,rect-agent,ens2a,ens-lyc,adjoint1,dis-agent,ens1b"
  @Option(help: "Concurrent workers (also the connection pool size).") var workers = 4
  @Option(help: "Seconds per scenario.") var seconds = 5
  @Flag(help: "Print JSON instead of a table.") var json = false

  func run() async throws {
    var configuration = DirectoryConfiguration()
    configuration.uri = uri
    configuration.bindDN = bindDN
    configuration.bindPassword = bindPassword ?? ProcessInfo.processInfo.environment["OKEY_LDAP_BIND_PASSWORD"] ?? ""
    configuration.peopleBase = base
    configuration.poolSize = workers
    let directory = LDAPDirectory(configuration: configuration)
    try await directory.checkServiceAccount()
    let list = uids.split(separator: ",").map(String.init)
    let now = Instant(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1000))
    let duration = Duration.seconds(seconds)
    var results: [Measurement] = []

    let filterBase = base
    let firstUID = list.first ?? "ens1a"
    results.append(
      await measure("libldap search (uid=…)", workers: workers, duration: duration) { _, i in
        let uid = i % 2 == 0 ? firstUID : list[i % list.count]
        _ = try await directory.search(
          base: filterBase, scope: .subtree, filter: "(uid=\(LDAPText.escapeFilterValue(uid)))",
          attributes: ["uid", "manager", "FrEduRne"])
      })
    let cold = RoutingResolver(directory: directory, cacheTTL: .zero, now: { now })
    results.append(
      await measure("resolve, cache off", workers: workers, duration: duration) { worker, i in
        _ = try await cold.resolve(uid: list[(worker + i) % list.count])
      })
    let cached = CachingDirectory(directory, ttl: .seconds(3600), capacity: 100_000)
    let warm = RoutingResolver(directory: cached, cacheTTL: .seconds(3600), now: { now })
    for uid in list { _ = try await warm.resolve(uid: uid) }
    results.append(
      await measure("resolve, cache warm", workers: workers, duration: duration) { worker, i in
        _ = try await warm.resolve(uid: list[(worker + i) % list.count])
      })
    await directory.shutdown()
    if json {
      try printJSON(results)
    } else {
      print("directory \(uri), \(workers) workers, \(seconds) s per scenario, uids: \(list.joined(separator: ","))")
      printTable(results, baseline: "libldap search (uid=…)")
      let hits = warm.cacheCounters
      print("warm cache: \(hits.hits) hits, \(hits.misses) misses")
    }
  }
}
