import OKeyDomain

let t0 = Instant(secondsSinceEpoch: 1_795_000_000)
let agentPerson = DirectoryPerson(
  uid: "agent", dn: "uid=agent,ou=people", displayName: "Alice Agent", mail: "alice@ac.test")
let n1Person = DirectoryPerson(uid: "boss", dn: "uid=boss,ou=people", displayName: "Bob Boss", mail: "bob@ac.test")
let n2Person = DirectoryPerson(
  uid: "bigboss", dn: "uid=bigboss,ou=people", displayName: "Carol Head", mail: "carol@ac.test")

let agent = Caller(uid: "agent")
let portalForAgent = Caller(uid: "agent", serviceAccount: "portal")
let otherAgent = Caller(uid: "mallory")
let n1 = Caller(uid: "boss")
let n2 = Caller(uid: "bigboss")
let dsi = Caller(uid: "dsi-op", groups: [.dsi])
let support = Caller(uid: "helpdesk", groups: [.support])

func routing(n1Active: Bool = true, autoDirector: Bool = false, onde: Bool = false, withN1: Bool = true) -> Routing {
  var first = n1Person
  first.active = n1Active
  return Routing(
    requester: agentPerson,
    n1: withN1 ? RoutedApprover(person: first, foundBy: "manager attribute") : nil,
    n2: RoutedApprover(person: n2Person, foundBy: "manager of N+1"),
    firstDegree: autoDirector || onde,
    schoolDirector: autoDirector,
    ondeDelegation: onde,
    resolvedAt: t0
  )
}

let charter = Charter(version: "2026-09", text: "Use your key wisely.", code: "4821", publishedAt: t0)
let place = PickupPlace(id: "rectorat", name: "Rectorat DSI", address: "1 rue de la Paix")

func pdf(_ kind: String = "supporting-document") -> AcceptedDocument {
  AcceptedDocument(filename: "proof.pdf", mediaType: .pdf, kind: kind, content: Array("%PDF-1.7 test".utf8))
}

/// Runs a command, failing the test on refusal.
func step(
  _ request: RenewalRequest, _ command: RenewalCommand, by actor: Caller, at offset: Int64 = 60
) throws -> RenewalDecision {
  try RenewalWorkflow.decide(
    command, on: request, by: actor,
    context: DecisionContext(now: t0.adding(seconds: offset), expectedVersion: request.version)
  ).get()
}

/// The refusal a command gets.
func refusal(
  _ request: RenewalRequest, _ command: RenewalCommand, by actor: Caller, version: Int64? = nil, at offset: Int64 = 60
) -> RenewalRefusal? {
  switch RenewalWorkflow.decide(
    command, on: request, by: actor,
    context: DecisionContext(now: t0.adding(seconds: offset), expectedVersion: version ?? request.version))
  {
  case .success: return nil
  case .failure(let refusal): return refusal
  }
}

func started(_ keyType: KeyType = .software, motif: Motif = .lost, routing: Routing = routing()) throws
  -> RenewalRequest
{
  try RenewalWorkflow.start(
    id: "r1", actor: agent, keyType: keyType, motif: motif, motifDetails: "", routing: routing, openRequestID: nil,
    now: t0
  ).get().renewal
}

/// A request walked to `status` along the normal path.
func request(in status: RenewalStatus, _ keyType: KeyType = .software) throws -> RenewalRequest {
  var r = try started(keyType, motif: .expired)
  if status == .draft { return r }
  if status == .awaitingDocuments { return try step(r, .submit, by: agent).renewal }
  if status == .cancelled { return try step(r, .cancel(reason: ""), by: agent).renewal }
  r = try step(r, .addDocument(id: "d1", pdf(), sha256: "00"), by: agent).renewal
  r = try step(r, .submit, by: agent).renewal
  if status == .pendingApproval { return r }
  if status == .rejected { return try step(r, .reject(reason: "no"), by: n1).renewal }
  r = try step(r, .approve(comment: ""), by: n1).renewal
  if keyType == .software {
    if status == .awaitingEnrolment { return r }
    r = try step(r, .choosePlatform(.android), by: agent).renewal
    r = try step(r, .confirmEnrolment(comment: ""), by: dsi).renewal
  }
  if status == .awaitingCharter { return r }
  r = try step(r, .signCharter(code: "4821", acknowledged: true, current: charter), by: agent).renewal
  if status == .awaitingDSI { return r }
  let finalized = try step(r, .finalize(serial: "NEW-1", place: keyType == .hardware ? place : nil), by: dsi).renewal
  if status == .completed, keyType == .software { return finalized }
  r = finalized
  if status == .readyForPickup { return r }
  let slot = PickupSlot(
    id: "s1", placeID: "rectorat", startsAt: t0.adding(seconds: 86_400), endsAt: t0.adding(seconds: 90_000), capacity: 2
  )
  r = try step(r, .bookPickup(slot), by: agent).renewal
  if status == .pickupBooked { return r }
  return try step(r, .recordHandover(comment: ""), by: dsi).renewal
}
