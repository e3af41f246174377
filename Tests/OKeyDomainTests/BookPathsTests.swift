import OKeyDomain
import Testing

/// The OKEY book's other paths in the pure state machine (issue 23): the hand-over at the
/// establishment and the token by QR code.
@Suite("state machine: hand-over at the establishment, token by QR code")
struct BookPathsTests {
  static let colleges = HandoverPolicy(establishmentTypes: ["clg"])
  static let principal = Caller(uid: "principal")
  static let head = EstablishmentHead(uid: "principal", establishment: "9740100K", deputy: false)

  static func decide(
    _ request: RenewalRequest, _ command: RenewalCommand, by actor: Caller,
    handover: HandoverPolicy = HandoverPolicy(), byCode: Bool = false, at offset: Int64 = 60
  ) -> Result<RenewalDecision, RenewalRefusal> {
    RenewalWorkflow.decide(
      command, on: request, by: actor,
      context: DecisionContext(
        now: t0.adding(seconds: offset), expectedVersion: request.version, handover: handover,
        enrolmentByCode: byCode))
  }

  static func code(_ result: Result<RenewalDecision, RenewalRefusal>) -> RenewalRefusal.Code? {
    if case .failure(let refusal) = result { return refusal.code }
    return nil
  }

  @Test(
    "a collège agent's key goes to the collège when finalised without a place; only that collège's head (or the DSI) hands it over, never their own"
  )
  func handover() throws {
    var signed = try request(in: .awaitingDSI, .hardware)
    signed.routing.establishment = "9740100K"
    signed.routing.establishmentType = "CLG"
    let finalize = RenewalCommand.finalize(serial: "HW-1", place: nil)
    #expect(Self.code(Self.decide(signed, finalize, by: dsi)) == .invalidField, "no policy: a place is needed")
    let headPerson = DirectoryPerson(uid: "principal")
    let ready = try Self.decide(
      signed, .finalize(serial: "HW-1", place: nil, heads: [headPerson]), by: dsi, handover: Self.colleges
    ).get()
    #expect(ready.renewal.status == .readyForPickup)
    #expect(ready.renewal.handoverEstablishment == "9740100K" && ready.renewal.pickupPlaceID == nil)
    #expect(ready.notifications.map(\.kind) == [.agentReadyAtEstablishment, .keyToHandOver])
    let waiting = ready.renewal

    let elsewhere = EstablishmentHead(uid: "principal", establishment: "9740200L", deputy: false)
    for (heads, actor) in [([elsewhere], Self.principal), ([], Self.principal), ([Self.head], otherAgent)] {
      #expect(
        Self.code(Self.decide(waiting, .recordHandover(comment: "", heads: heads), by: actor)) == .notEstablishmentHead)
    }
    let agentAsHead = EstablishmentHead(uid: "agent", establishment: "9740100K", deputy: true)
    #expect(
      Self.code(Self.decide(waiting, .recordHandover(comment: "", heads: [agentAsHead]), by: agent)) == .ownRequest)
    let done = try Self.decide(waiting, .recordHandover(comment: "", heads: [Self.head]), by: Self.principal).get()
    #expect(done.renewal.status == .completed)
    #expect(done.events.last?.role == .establishmentHead)
    #expect(done.events.last?.details == "handed over at 9740100K by the head principal")
    #expect(try Self.decide(waiting, .recordHandover(comment: ""), by: dsi).get().renewal.status == .completed)

    // A key at a DSI place is the desk's: no head hands it over.
    let atPlace = try request(in: .readyForPickup, .hardware)
    #expect(
      Self.code(Self.decide(atPlace, .recordHandover(comment: "", heads: [Self.head]), by: Self.principal)) == .notDSI)
  }

  @Test(
    "by QR code: the DSI attaches a code once the platform is chosen; the agent reads it once before it expires; scanned only after reading"
  )
  func byCode() throws {
    var renewal = try Self.decide(
      try request(in: .awaitingEnrolment), .choosePlatform(.android), by: agent, byCode: true
    ).get().renewal
    #expect(renewal.enrolmentByCode == true)
    #expect(Self.code(Self.decide(renewal, .markElementsSent, by: agent)) == .wrongState)
    #expect(Self.code(Self.decide(renewal, .readEnrolmentCode, by: agent)) == .enrolmentCodeUnavailable)
    #expect(Self.code(Self.decide(renewal, .confirmScanned, by: agent)) == .enrolmentCodeUnavailable)
    let expiry = t0.adding(seconds: 3600)
    #expect(Self.code(Self.decide(renewal, .attachEnrolmentCode(sealed: [1], expiresAt: expiry), by: agent)) == .notDSI)
    let attached = try Self.decide(renewal, .attachEnrolmentCode(sealed: [1, 2], expiresAt: expiry), by: dsi).get()
    #expect(attached.effects == [.storeEnrolmentCode(sealed: [1, 2], expiresAt: expiry)])
    #expect(attached.notifications.map(\.kind) == [.enrolmentCodeReady])
    renewal = attached.renewal
    #expect(Self.code(Self.decide(renewal, .readEnrolmentCode, by: otherAgent)) == .notYourRequest)
    #expect(Self.code(Self.decide(renewal, .readEnrolmentCode, by: agent, at: 3600)) == .enrolmentCodeUnavailable)
    let read = try Self.decide(renewal, .readEnrolmentCode, by: agent).get()
    #expect(read.effects == [.wipeEnrolmentCode])
    renewal = read.renewal
    #expect(Self.code(Self.decide(renewal, .readEnrolmentCode, by: agent)) == .enrolmentCodeUnavailable)
    #expect(try Self.decide(renewal, .confirmScanned, by: agent).get().renewal.status == .awaitingCharter)
  }

  @Test("in mailbox mode there is no code to attach, and the elements are said sent as before")
  func mailbox() throws {
    let renewal = try Self.decide(try request(in: .awaitingEnrolment), .choosePlatform(.ios), by: agent).get().renewal
    #expect(renewal.enrolmentByCode == nil)
    let attach = RenewalCommand.attachEnrolmentCode(sealed: [1], expiresAt: t0.adding(seconds: 3600))
    #expect(Self.code(Self.decide(renewal, attach, by: dsi)) == .wrongState)
    #expect(try Self.decide(renewal, .markElementsSent, by: agent).get().renewal.elementsSentAt != nil)
  }
}
