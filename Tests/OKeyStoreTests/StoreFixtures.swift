import Foundation
import OKeyDomain
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
