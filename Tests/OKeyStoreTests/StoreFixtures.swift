import Foundation
import OKeyDomain
import OKeyPostgresStore
import OKeyStore
import OKeyTestSupport

let base = Instant(secondsSinceEpoch: 1_795_000_000)
let dsiActor = Caller(uid: "dsi-op", groups: [.dsi])
let charter = Charter(version: "2026-09", text: "Charter text", code: "4821", publishedAt: base)
let place = PickupPlace(id: "rectorat", name: "Rectorat", address: "1 rue de la Paix")

/// Opens a fresh store in a temporary folder for `body`.
func withStore<Result>(
  durability: Durability = .full,
  _ body: (SQLiteRenewalStore, String) async throws -> Result
) async throws -> Result {
  try await withTemporaryDirectory { folder in
    let path = folder + "/okey.sqlite"
    let store = try SQLiteRenewalStore(path: path, durability: durability)
    return try await body(store, path)
  }
}

/// The two adapters of the store port, which the contract suites play alike.
enum StoreKind: String, CaseIterable, Sendable, CustomStringConvertible {
  case sqlite
  case postgresql

  var description: String { rawValue }
}

/// A store under test, with what a test needs of its engine.
struct StoreUnderTest: Sendable {
  let kind: StoreKind
  let store: any RenewalStore
  /// Runs SQL with the engine's own client (sqlite3, psql), as someone working on the database
  /// outside okeyd; its output one row a line ("1\n" for a count).
  let sql: @Sendable (String) async throws -> String
  /// Another store on the same database: a restart, a repair tool, a second replica.
  let another: @Sendable () async throws -> any RenewalStore
}

/// Opens a fresh store of `kind` (a file in a temporary folder, or a new PostgreSQL cluster) for
/// `body`, and closes everything it opened.
func withStore<Result>(
  _ kind: StoreKind, durability: Durability = .full, _ body: (StoreUnderTest) async throws -> Result
) async throws -> Result {
  switch kind {
  case .sqlite:
    return try await withStore(durability: durability) { store, path in
      try await body(
        StoreUnderTest(
          kind: kind, store: store, sql: { try await sqlite3(path, $0) },
          another: { try SQLiteRenewalStore(path: path, durability: durability) }))
    }
  case .postgresql:
    return try await withPostgres { postgres in
      let opened = OpenedStores()
      let open: @Sendable () async throws -> any RenewalStore = {
        let store = try await PostgresRenewalStore.open(
          try PostgresStoreConfiguration(url: postgres.url, password: PostgresFixture.password, poolSize: 4))
        await opened.add(store)
        return store
      }
      do {
        let result = try await body(
          StoreUnderTest(kind: kind, store: try await open(), sql: { try await postgres.psql($0) }, another: open))
        await opened.closeAll()
        return result
      } catch {
        await opened.closeAll()
        throw error
      }
    }
  }
}

/// The PostgreSQL stores a test opened, closed at its end.
actor OpenedStores {
  private var stores: [PostgresRenewalStore] = []

  func add(_ store: PostgresRenewalStore) { stores.append(store) }

  func closeAll() async {
    for store in stores { await store.close() }
    stores = []
  }
}

func routingFor(_ uid: String) -> Routing {
  Routing(
    requester: DirectoryPerson(uid: uid, mail: "\(uid)@ac.test"),
    n1: RoutedApprover(person: DirectoryPerson(uid: "boss", mail: "boss@ac.test"), foundBy: "manager attribute"),
    n2: RoutedApprover(person: DirectoryPerson(uid: "bigboss"), foundBy: "manager attribute"),
    resolvedAt: base
  )
}

/// Starts a request for `uid`.
@discardableResult
func start(
  _ store: some RenewalStore, _ uid: String, keyType: KeyType = .hardware, id: String? = nil, key: String? = nil,
  at offset: Int64 = 0
)
  async throws -> RenewalRequest
{
  let id = id ?? "r-\(uid)"
  return try await store.start(agentUID: uid, idempotencyKey: key.map { IdempotencyKey(key: $0, fingerprint: "") }) {
    open in
    RenewalWorkflow.start(
      id: id, actor: Caller(uid: uid), keyType: keyType, motif: .expired, motifDetails: "", routing: routingFor(uid),
      openRequestID: open, now: base.adding(seconds: offset))
  }
}

/// Applies a command through the store with the version the request has now.
@discardableResult
func apply(
  _ store: some RenewalStore, _ request: RenewalRequest, _ command: RenewalCommand, by actor: Caller,
  version: Int64? = nil, key: String? = nil, at offset: Int64 = 60
) async throws -> RenewalRequest {
  try await store.change(
    renewalID: request.id, operation: command.action,
    idempotencyKey: key.map { IdempotencyKey(key: $0, fingerprint: "") }
  ) { current, reader in
    var command = command
    if case .bookPickup(let slot) = command, let fresh = try? reader.pickupSlot(id: slot.id) {
      command = .bookPickup(fresh)
    }
    return RenewalWorkflow.decide(
      command, on: current, by: actor,
      context: DecisionContext(now: base.adding(seconds: offset), expectedVersion: version ?? current.version))
  }
}

let pdfDocument = AcceptedDocument(
  filename: "proof.pdf", mediaType: .pdf, kind: "supporting-document", content: Array("%PDF-1.7 proof".utf8))

/// Walks a hardware request to READY_FOR_PICKUP at `place`.
func readyForPickup(_ store: some RenewalStore, _ uid: String) async throws -> RenewalRequest {
  var r = try await start(store, uid)
  r = try await apply(store, r, .addDocument(id: "doc-\(uid)", pdfDocument, sha256: "00"), by: Caller(uid: uid))
  r = try await apply(store, r, .submit, by: Caller(uid: uid))
  r = try await apply(store, r, .approve(comment: ""), by: Caller(uid: "boss"))
  r = try await apply(store, r, .signCharter(code: "4821", acknowledged: true, current: charter), by: Caller(uid: uid))
  return try await apply(store, r, .finalize(serial: "HW-\(uid)", place: place), by: dsiActor)
}
