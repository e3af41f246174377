import Foundation
import OKeyServer
import OKeyStore
import OKeyTestSupport
import Testing

@Suite("upgrades: migrations at start, never a database from a newer okeyd")
struct UpgradeTests {
  static func config(_ folder: String) throws -> String {
    let path = folder + "/okeyd.yaml"
    try "audit:\n  allowUnkeyed: true\ndatabase:\n  path: \(folder)/okey.sqlite\nlisten: 127.0.0.1:0\n".write(
      toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  @Test(
    "okeyd migrate --check: the pending migration of a database at the previous version, then up to date once okeyd opened it"
  )
  func previousVersion() async throws {
    try await withTemporaryDirectory { folder in
      let config = try Self.config(folder)
      let previous = try #require(SQLiteRenewalStore.knownMigrations.dropLast().last)
      let latest = try #require(SQLiteRenewalStore.knownMigrations.last)
      try SQLiteRenewalStore.migrate(path: folder + "/okey.sqlite", upTo: previous)
      let okeyd = TestPaths.executable("okeyd")
      let before = try await ChildProcess.run(okeyd, ["migrate", "--check", "--config", config])
      #expect(before.status == 0, "\(before.error)")
      #expect(before.output.contains("the last \(previous)"), "\(before.output)")
      #expect(before.output.contains("okeyd would run at start: \(latest)"), "\(before.output)")
      // Checking changed nothing.
      #expect(try SQLiteRenewalStore.migrationStatus(path: folder + "/okey.sqlite")?.pending == [latest])
      _ = try SQLiteRenewalStore(path: folder + "/okey.sqlite")
      let after = try await ChildProcess.run(okeyd, ["migrate", "--check", "--config", config])
      #expect(after.output.contains("up to date"), "\(after.output)")
    }
  }

  @Test(
    "a database written by a newer okeyd is refused, naming both versions, by the store, by okeyd at start (exit 65) and by migrate --check; nothing is written to it"
  )
  func futureVersion() async throws {
    try await withTemporaryDirectory { folder in
      let config = try Self.config(folder)
      let path = folder + "/okey.sqlite"
      _ = try SQLiteRenewalStore(path: path)
      _ = try await sqlite3(path, "INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-the-future');")
      let rows = try await sqlite3(path, "SELECT count(*) FROM grdb_migrations;")
      let latest = try #require(SQLiteRenewalStore.knownMigrations.last)
      let refused = #expect(throws: StoreError.self) { _ = try SQLiteRenewalStore(path: path) }
      #expect(refused?.code == .schemaTooNew)
      #expect(
        refused?.message.contains("v99-from-the-future") == true && refused?.message.contains(latest) == true,
        "\(refused?.message ?? "")")
      let okeyd = TestPaths.executable("okeyd")
      let started = try await ChildProcess.run(okeyd, ["--config", config])
      #expect(started.status == 65)
      #expect(started.error.contains("written by a newer okeyd (schema v99-from-the-future)"), "\(started.error)")
      let check = try await ChildProcess.run(okeyd, ["migrate", "--check", "--config", config])
      #expect(check.status == 65)
      #expect(check.output.contains("v99-from-the-future") && check.output.contains(latest), "\(check.output)")
      #expect(try await sqlite3(path, "SELECT count(*) FROM grdb_migrations;") == rows)
    }
  }
}
