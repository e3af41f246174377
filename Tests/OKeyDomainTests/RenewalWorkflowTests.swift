import OKeyDomain
import Testing

@Suite("renewal state machine: every transition of DESIGN §3")
struct TransitionTests {
  @Test("start creates a DRAFT with the proposed routing, audited for the agent")
  func start() throws {
    let decision = try RenewalWorkflow.start(
      id: "r1", actor: portalForAgent, keyType: .hardware, motif: .stolen, motifDetails: "  ", routing: routing(),
      openRequestID: nil, now: t0
    ).get()
    #expect(decision.renewal.status == .draft)
    #expect(decision.renewal.version == 1)
    #expect(decision.renewal.agentUID == "agent")
    #expect(decision.renewal.routing.n1?.person.uid == "boss")
    #expect(decision.events.map(\.action) == ["start"])
    #expect(decision.events[0].actor == "portal")
    #expect(decision.events[0].onBehalfOf == "agent")
    #expect(decision.notifications.isEmpty)
  }

  @Test(
    "documents are added and removed in DRAFT and AWAITING_DOCUMENTS without changing the status",
    arguments: [RenewalStatus.draft, .awaitingDocuments])
  func documents(status: RenewalStatus) throws {
    let r = try request(in: status)
    let added = try step(r, .addDocument(id: "d9", pdf(), sha256: "ab"), by: agent)
    #expect(added.renewal.status == status)
    #expect(added.renewal.version == r.version + 1)
    #expect(added.renewal.documents.map(\.id) == ["d9"])
    #expect(added.effects.contains(.storeDocument(id: "d9", pdf())))
    let removed = try step(added.renewal, .removeDocument(id: "d9"), by: agent)
    #expect(removed.renewal.documents.isEmpty)
    #expect(removed.effects == [.deleteDocument(id: "d9")])
    #expect(removed.renewal.status == status)
  }

  @Test("submitting without the documents the motif needs keeps the request unrouted and tells no one")
  func submitWithoutDocuments() throws {
    let r = try started(motif: .stolen)
    let d = try step(r, .addDocument(id: "d1", pdf("supporting-document"), sha256: "00"), by: agent)
    let submitted = try step(d.renewal, .submit, by: agent)
    #expect(submitted.renewal.status == .awaitingDocuments)
    #expect(submitted.renewal.routed == false)
    #expect(submitted.notifications.isEmpty)
    #expect(submitted.events.last?.details.contains("theft-report") == true)
  }

  @Test("submitted without documents, documents added later, submitted again: routed to the N+1")
  func documentsLater() throws {
    var r = try started(motif: .lost)
    r = try step(r, .submit, by: agent).renewal
    #expect(r.status == .awaitingDocuments)
    r = try step(r, .addDocument(id: "d1", pdf("loss-declaration"), sha256: "00"), by: agent).renewal
    let again = try step(r, .submit, by: agent)
    #expect(again.renewal.status == .pendingApproval)
    #expect(again.renewal.routed)
    #expect(again.effects.contains(.snapshotRouting(reason: "submit")))
    // A LOST key: the validator hears of it, and the DSI mailbox is asked to suspend the old key.
    #expect(again.notifications.first == NotificationIntent(kind: .validatorRouted, recipient: .person(n1Person)))
    #expect(again.notifications.dropFirst().map(\.kind) == [.dsiWork])
  }

  @Test(
    "approval moves a software key to AWAITING_ENROLMENT and a hardware key to AWAITING_CHARTER",
    arguments: [(KeyType.software, RenewalStatus.awaitingEnrolment), (.hardware, .awaitingCharter)])
  func approve(keyType: KeyType, next: RenewalStatus) throws {
    let r = try request(in: .pendingApproval, keyType)
    let d = try step(r, .approve(comment: "ok"), by: n1)
    #expect(d.renewal.status == next)
    #expect(d.renewal.decidedBy == "boss")
    #expect(d.events.last?.from == .pendingApproval)
    #expect(d.events.last?.to == next)
    #expect(d.notifications.first?.kind == .agentApproved)
  }

  @Test("the N+2 approves while the N+1 does nothing")
  func approvalByN2() throws {
    let r = try request(in: .pendingApproval, .hardware)
    let d = try step(r, .approve(comment: ""), by: n2)
    #expect(d.renewal.status == .awaitingCharter)
    #expect(d.renewal.decidedBy == "bigboss")
    #expect(d.events.last?.details.contains("N+2") == true)
  }

  @Test("a disabled N+1 makes the N+2 the validator that is notified")
  func disabledN1() throws {
    var r = try started(motif: .expired, routing: routing(n1Active: false))
    r = try step(r, .addDocument(id: "d1", pdf(), sha256: "00"), by: agent).renewal
    let d = try step(r, .submit, by: agent)
    #expect(d.notifications == [NotificationIntent(kind: .validatorRouted, recipient: .person(n2Person))])
    #expect(d.events.last?.details.contains("disabled") == true)
  }

  @Test("rejection with a reason is terminal and tells the agent")
  func reject() throws {
    let d = try step(try request(in: .pendingApproval), .reject(reason: "not justified"), by: n1)
    #expect(d.renewal.status == .rejected)
    #expect(d.renewal.decisionComment == "not justified")
    #expect(d.notifications.map(\.kind) == [.agentRejected])
  }

  @Test(
    "school directors and ONDE delegates are validated automatically at submission",
    arguments: [
      (true, false, KeyType.software, RenewalStatus.awaitingEnrolment), (false, true, .hardware, .awaitingCharter),
    ])
  func autoValidation(director: Bool, onde: Bool, keyType: KeyType, next: RenewalStatus) throws {
    var r = try started(keyType, motif: .expired, routing: routing(autoDirector: director, onde: onde))
    r = try step(r, .addDocument(id: "d1", pdf(), sha256: "00"), by: agent).renewal
    let d = try step(r, .submit, by: agent)
    #expect(d.renewal.status == next)
    #expect(d.renewal.decidedBy == "auto")
    #expect(d.events.map(\.action) == ["submit", "auto-validate"])
    #expect(d.events.map(\.to) == [.pendingApproval, next])
    #expect(d.events[1].role == .system)
    #expect(!d.notifications.contains { $0.kind == .validatorRouted })
  }

  @Test("choosing a platform keeps AWAITING_ENROLMENT and records it; the DSI then confirms")
  func enrolment() throws {
    let r = try request(in: .awaitingEnrolment)
    let chosen = try step(r, .choosePlatform(.ios), by: agent)
    #expect(chosen.renewal.status == .awaitingEnrolment)
    #expect(chosen.renewal.platform == .ios)
    let again = try step(chosen.renewal, .choosePlatform(.android), by: agent)
    #expect(again.renewal.platform == .android)
    let confirmed = try step(again.renewal, .confirmEnrolment(comment: "QR received"), by: dsi)
    #expect(confirmed.renewal.status == .awaitingCharter)
    #expect(confirmed.notifications.map(\.kind) == [.charterReminder])
  }

  @Test("signing the charter with its code and the box ticked moves to AWAITING_DSI")
  func signCharter() throws {
    let d = try step(
      try request(in: .awaitingCharter), .signCharter(code: " 4821 ", acknowledged: true, current: charter), by: agent)
    #expect(d.renewal.status == .awaitingDSI)
    #expect(d.renewal.charterVersion == "2026-09")
    #expect(d.notifications.map(\.kind) == [.dsiWork])
  }

  @Test("finalising a software key completes it and issues the key")
  func finalizeSoftware() throws {
    let d = try step(try request(in: .awaitingDSI), .finalize(serial: "SOFT-9", place: nil), by: dsi)
    #expect(d.renewal.status == .completed)
    #expect(d.renewal.newKeySerial == "SOFT-9")
    guard case .issueKey(let key) = d.effects.first else {
      Issue.record("no key issued")
      return
    }
    #expect(key.serial == "SOFT-9")
    #expect(key.status == .active)
    #expect(d.notifications.map(\.kind) == [.agentCompleted])
  }

  @Test("finalising a hardware key makes it READY_FOR_PICKUP at the place, then booking and hand-over complete it")
  func hardwarePath() throws {
    let ready = try step(try request(in: .awaitingDSI, .hardware), .finalize(serial: "HW-1", place: place), by: dsi)
    #expect(ready.renewal.status == .readyForPickup)
    #expect(ready.renewal.pickupPlaceID == "rectorat")
    #expect(ready.notifications.first?.details.contains("Rectorat") == true)
    let slotA = PickupSlot(
      id: "a", placeID: "rectorat", startsAt: t0.adding(seconds: 3600), endsAt: t0.adding(seconds: 5400), capacity: 1)
    let slotB = PickupSlot(
      id: "b", placeID: "rectorat", startsAt: t0.adding(seconds: 7200), endsAt: t0.adding(seconds: 9000), capacity: 1)
    let booked = try step(ready.renewal, .bookPickup(slotA), by: agent)
    #expect(booked.renewal.status == .pickupBooked)
    #expect(booked.effects == [.bookSlot(id: "a")])
    let moved = try step(booked.renewal, .bookPickup(slotB), by: agent)
    #expect(moved.renewal.appointmentSlotID == "b")
    #expect(moved.effects == [.releaseSlot(id: "a"), .bookSlot(id: "b")])
    let done = try step(moved.renewal, .recordHandover(comment: "signed receipt"), by: dsi)
    #expect(done.renewal.status == .completed)
    #expect(done.effects.contains { if case .issueKey(let k) = $0 { return k.serial == "HW-1" } else { return false } })
  }

  @Test(
    "the agent cancels in every status before AWAITING_DSI",
    arguments: [RenewalStatus.draft, .awaitingDocuments, .pendingApproval, .awaitingEnrolment, .awaitingCharter])
  func cancel(status: RenewalStatus) throws {
    let d = try step(try request(in: status), .cancel(reason: "found my key"), by: agent)
    #expect(d.renewal.status == .cancelled)
    #expect(d.events.last?.from == status)
  }

  @Test("the DSI re-routes a pending request and the new validator is told")
  func reroute() throws {
    var newRouting = routing()
    newRouting.n1 = RoutedApprover(person: DirectoryPerson(uid: "newboss"), foundBy: "manager attribute")
    let d = try step(try request(in: .pendingApproval), .reroute(newRouting), by: dsi)
    #expect(d.renewal.status == .pendingApproval)
    #expect(d.renewal.routing.n1?.person.uid == "newboss")
    #expect(d.notifications.first?.recipient == .person(DirectoryPerson(uid: "newboss")))
  }

  @Test("setting a validator keeps the directory's proposal beside the correction")
  func setValidator() throws {
    let r = try started()
    let corrected = try ValidatorCorrection.correct(
      r.routing, proposal: r.routing, candidateUID: "deputy", candidate: DirectoryPerson(uid: "deputy"),
      candidateManager: RoutedApprover(person: n2Person, foundBy: "manager attribute"), choice: .managers,
      standing: ValidatorStanding(managementPosition: "deputy head of establishment (DIR/D0011)")
    ).get()
    let d = try step(r, .setValidator(corrected: corrected), by: agent)
    #expect(d.renewal.routing.n1?.person.uid == "deputy")
    #expect(d.renewal.routing.proposedN1?.person.uid == "boss")
    #expect(d.events.last?.details.contains("boss") == true)
    // The proposed N+1 is told, once.
    #expect(d.notifications.map(\.kind) == [.validatorReplaced])
    #expect(d.notifications.first?.recipient == .person(r.routing.n1!.person))
    let again = try step(d.renewal, .setValidator(corrected: corrected), by: agent)
    #expect(again.notifications.isEmpty, "naming the same validator again tells nobody")
  }
}

@Suite("renewal state machine: every refusal")
struct RefusalTests {
  @Test(
    "another agent, an approver or support cannot act on the agent's request",
    arguments: [otherAgent, n1, support, dsi])
  func wrongActorForAgentCommands(actor: Caller) throws {
    let r = try request(in: .draft)
    #expect(refusal(r, .submit, by: actor)?.code == .notYourRequest)
    #expect(refusal(r, .cancel(reason: ""), by: actor)?.code == .notYourRequest)
    #expect(refusal(r, .addDocument(id: "x", pdf(), sha256: ""), by: actor)?.code == .notYourRequest)
  }

  @Test("only the N+1 or N+2 of the snapshot approve; never the agent", arguments: [otherAgent, dsi, support])
  func wrongApprover(actor: Caller) throws {
    let r = try request(in: .pendingApproval)
    #expect(refusal(r, .approve(comment: ""), by: actor)?.code == .notAnApprover)
    #expect(refusal(r, .reject(reason: "x"), by: actor)?.code == .notAnApprover)
    #expect(refusal(r, .approve(comment: ""), by: agent)?.code == .ownRequest)
  }

  @Test("an approver named in a draft's proposal cannot approve before it is routed")
  func approveBeforeRouting() throws {
    #expect(refusal(try request(in: .draft), .approve(comment: ""), by: n1)?.code == .notAnApprover)
  }

  @Test("DSI operations are for the DSI", arguments: [agent, n1, support])
  func notDSI(actor: Caller) throws {
    #expect(refusal(try request(in: .awaitingDSI), .finalize(serial: "X", place: nil), by: actor)?.code == .notDSI)
    #expect(refusal(try request(in: .pendingApproval), .reroute(routing()), by: actor)?.code == .notDSI)
  }

  @Test("a stale version is refused", arguments: [Int64(0), 2, 99])
  func staleVersion(version: Int64) throws {
    let r = try request(in: .pendingApproval)
    #expect(r.version != version)
    #expect(refusal(r, .approve(comment: ""), by: n1, version: version)?.code == .staleVersion)
  }

  @Test(
    "a command in the wrong status names the status",
    arguments: [
      (RenewalStatus.awaitingEnrolment, RenewalCommand.approve(comment: ""), "boss"),
      (.pendingApproval, .submit, "agent"),
      (.awaitingCharter, .finalize(serial: "X", place: nil), "dsi-op"),
      (.awaitingDSI, .signCharter(code: "4821", acknowledged: true, current: charter), "agent"),
      (.completed, .approve(comment: ""), "boss"),
      (.awaitingEnrolment, .recordHandover(comment: ""), "dsi-op"),
    ])
  func wrongState(status: RenewalStatus, command: RenewalCommand, uid: String) throws {
    let actor = [agent, n1, dsi].first { $0.uid == uid } ?? agent
    let r = try request(in: status)
    let refused = refusal(r, command, by: actor)
    #expect(refused?.code == .wrongState)
    #expect(refused?.message.contains(status.rawValue) == true)
  }

  @Test("a second open request is refused with the open one's id")
  func secondOpenRequest() throws {
    let result = RenewalWorkflow.start(
      id: "r2", actor: agent, keyType: .software, motif: .lost, motifDetails: "", routing: routing(),
      openRequestID: "r1", now: t0
    )
    guard case .failure(let refused) = result else {
      Issue.record("second request accepted")
      return
    }
    #expect(refused.code == .openRequestExists)
    #expect(refused.message.contains("r1"))
  }

  @Test("a first key is refused to someone holding an active key of that type, at the start and at submission")
  func firstKeyNeedsNoActiveKey() throws {
    let refused = RenewalWorkflow.start(
      id: "r", actor: agent, keyType: .hardware, motif: .firstKey, motifDetails: "", routing: routing(),
      openRequestID: nil, activeKeysOfType: ["HW-1"], now: t0)
    guard case .failure(let startRefusal) = refused else {
      Issue.record("a first key was started beside an active key")
      return
    }
    #expect(startRefusal.code == .hasActiveKey)
    #expect(startRefusal.message.contains("HW-1") && startRefusal.message.contains("EXPIRED"))

    var draft = try started(.hardware, motif: .firstKey)
    draft = try step(draft, .addDocument(id: "d1", pdf(), sha256: "00"), by: agent).renewal
    let submitted = refusal(
      draft, .submitting(routing: nil, changes: [], oldKeys: ["HW-2"]), by: agent)
    #expect(submitted?.code == .hasActiveKey)
    #expect(
      try step(draft, .submitting(routing: nil, changes: [], oldKeys: []), by: agent).renewal.status == .pendingApproval
    )
  }

  @Test("OTHER needs details")
  func otherNeedsDetails() {
    let result = RenewalWorkflow.start(
      id: "r", actor: agent, keyType: .software, motif: .other, motifDetails: " ", routing: routing(),
      openRequestID: nil, now: t0)
    guard case .failure(let refused) = result else {
      Issue.record("OTHER without details accepted")
      return
    }
    #expect(refused.code == .invalidField)
    #expect(refused.message.contains("motif_details"))
  }

  @Test("a wrong charter code, an unticked box or no charter are refused")
  func charterRefusals() throws {
    let r = try request(in: .awaitingCharter)
    #expect(
      refusal(r, .signCharter(code: "1234", acknowledged: true, current: charter), by: agent)?.code == .charterCodeWrong
    )
    #expect(
      refusal(r, .signCharter(code: "4821", acknowledged: false, current: charter), by: agent)?.code
        == .charterNotAcknowledged)
    #expect(refusal(r, .signCharter(code: "4821", acknowledged: true, current: nil), by: agent)?.code == .noCharter)
  }

  @Test("a full slot, a slot elsewhere, a past slot and the same slot again are refused")
  func slotRefusals() throws {
    let r = try request(in: .readyForPickup, .hardware)
    let full = PickupSlot(
      id: "f", placeID: "rectorat", startsAt: t0.adding(seconds: 3600), endsAt: t0.adding(seconds: 4000), capacity: 2,
      booked: 2)
    let elsewhere = PickupSlot(
      id: "e", placeID: "lycee", startsAt: t0.adding(seconds: 3600), endsAt: t0.adding(seconds: 4000), capacity: 2)
    let past = PickupSlot(id: "p", placeID: "rectorat", startsAt: t0, endsAt: t0.adding(seconds: 100), capacity: 2)
    #expect(refusal(r, .bookPickup(full), by: agent)?.code == .slotFull)
    #expect(refusal(r, .bookPickup(elsewhere), by: agent)?.code == .slotElsewhere)
    #expect(refusal(r, .bookPickup(past), by: agent)?.code == .slotPast)
    let booked = try request(in: .pickupBooked, .hardware)
    let same = PickupSlot(
      id: "s1", placeID: "rectorat", startsAt: t0.adding(seconds: 86_400), endsAt: t0.adding(seconds: 90_000),
      capacity: 2, booked: 1)
    #expect(refusal(booked, .bookPickup(same), by: agent)?.code == .slotAlreadyBooked)
  }

  @Test(
    "cancel is too late from AWAITING_DSI on, and impossible once terminal",
    arguments: [
      (RenewalStatus.awaitingDSI, RenewalRefusal.Code.cancelTooLate), (.readyForPickup, .cancelTooLate),
      (.pickupBooked, .cancelTooLate), (.completed, .wrongState), (.rejected, .wrongState), (.cancelled, .wrongState),
    ])
  func cancelTooLate(status: RenewalStatus, code: RenewalRefusal.Code) throws {
    #expect(refusal(try request(in: status, .hardware), .cancel(reason: ""), by: agent)?.code == code)
  }

  @Test("the DSI cannot confirm enrolment before a platform is chosen")
  func platformNotChosen() throws {
    #expect(
      refusal(try request(in: .awaitingEnrolment), .confirmEnrolment(comment: ""), by: dsi)?.code == .platformNotChosen)
  }

  @Test("software-only and hardware-only steps refuse the other key type")
  func wrongKeyType() throws {
    #expect(
      refusal(try request(in: .awaitingCharter, .hardware), .choosePlatform(.ios), by: agent)?.code == .wrongKeyType)
    #expect(
      refusal(
        try request(in: .completed, .software),
        .bookPickup(PickupSlot(id: "s", placeID: "x", startsAt: t0, endsAt: t0, capacity: 1)), by: agent)?.code
        == .wrongKeyType)
  }

  @Test("finalising checks the serial and the place against the key type")
  func finalizeFields() throws {
    #expect(
      refusal(try request(in: .awaitingDSI), .finalize(serial: "bad serial!", place: nil), by: dsi)?.code
        == .invalidField)
    #expect(
      refusal(try request(in: .awaitingDSI), .finalize(serial: "S1", place: place), by: dsi)?.code == .invalidField)
    #expect(
      refusal(try request(in: .awaitingDSI, .hardware), .finalize(serial: "H1", place: nil), by: dsi)?.code
        == .invalidField)
  }

  @Test("rejecting needs a reason")
  func rejectNeedsReason() throws {
    #expect(refusal(try request(in: .pendingApproval), .reject(reason: "  "), by: n1)?.code == .invalidField)
  }

  @Test("submitting with no validator at all is refused with what to do")
  func noValidator() throws {
    var noOne = routing(withN1: false)
    noOne.n2 = nil
    var r = try started(motif: .expired, routing: noOne)
    r = try step(r, .addDocument(id: "d", pdf(), sha256: "0"), by: agent).renewal
    let refused = refusal(r, .submit, by: agent)
    #expect(refused?.code == .noValidator)
    #expect(refused?.message.contains("validator") == true)
  }

  @Test("one document too many and an unknown document are refused")
  func documentLimits() throws {
    var r = try started()
    let rules = DocumentRules(maxBytes: 100, maxCount: 1)
    r = try RenewalWorkflow.decide(
      .addDocument(id: "a", pdf(), sha256: "0"), on: r, by: agent,
      context: DecisionContext(now: t0, expectedVersion: r.version, documentRules: rules)
    ).get().renewal
    let second = RenewalWorkflow.decide(
      .addDocument(id: "b", pdf(), sha256: "0"), on: r, by: agent,
      context: DecisionContext(now: t0, expectedVersion: r.version, documentRules: rules))
    guard case .failure(let tooMany) = second else {
      Issue.record("a second document accepted past the limit of one")
      return
    }
    #expect(tooMany.code == .documentLimit)
    #expect(refusal(r, .removeDocument(id: "zzz"), by: agent)?.code == .documentNotFound)
  }
}

@Suite("trust rules of the state machine")
struct TrustRuleTests {
  @Test(
    "a DSI operator cannot confirm, finalise, re-route, or hand over their own request",
    arguments: [
      (RenewalStatus.awaitingEnrolment, KeyType.software), (.awaitingDSI, .software), (.pendingApproval, .software),
      (.pickupBooked, .hardware),
    ])
  func dsiOnOwnRequest(status: RenewalStatus, keyType: KeyType) throws {
    var r = try request(in: status, keyType)
    if status == .awaitingEnrolment { r = try step(r, .choosePlatform(.ios), by: agent).renewal }
    let ownDSI = Caller(uid: "agent", groups: [.dsi])
    let command: RenewalCommand
    switch status {
    case .awaitingEnrolment: command = .confirmEnrolment(comment: "")
    case .awaitingDSI: command = .finalize(serial: "OWN-1", place: nil)
    case .pendingApproval: command = .reroute(routing())
    default: command = .recordHandover(comment: "")
    }
    #expect(refusal(r, command, by: ownDSI)?.code == .ownRequest)
    #expect(refusal(r, command, by: dsi) == nil, "another operator may")
  }

  @Test("a validator the snapshot records as disabled cannot decide; the other one can")
  func disabledInSnapshot() throws {
    var r = try started(routing: routing(n1Active: false))
    r = try step(r, .addDocument(id: "d1", pdf("loss-declaration"), sha256: "00"), by: agent).renewal
    r = try step(r, .submit, by: agent).renewal
    #expect(r.status == .pendingApproval)
    #expect(refusal(r, .approve(comment: ""), by: n1)?.code == .personDisabled)
    #expect(refusal(r, .approve(comment: ""), by: n2) == nil)
  }

  @Test("an internal system without the approver role cannot decide, without the agent role cannot act for the agent")
  func capacities() throws {
    let r = try request(in: .pendingApproval)
    let portalForN1 = Caller(uid: "boss", serviceAccount: "portal", capacities: [.agent])
    #expect(refusal(r, .approve(comment: ""), by: portalForN1)?.code == .scopeNotGranted)
    let approverOnlyForAgent = Caller(uid: "agent", serviceAccount: "tool", capacities: [.approver])
    #expect(refusal(r, .cancel(reason: ""), by: approverOnlyForAgent)?.code == .scopeNotGranted)
  }

  @Test("the N+1 hears when the N+2 decides, and not when they decide themselves", arguments: [true, false])
  func n1Informed(approve: Bool) throws {
    let r = try request(in: .pendingApproval)
    let command: RenewalCommand = approve ? .approve(comment: "ok") : .reject(reason: "no")
    let byN2 = try step(r, command, by: n2)
    #expect(byN2.notifications.contains { $0.kind == .n1Informed && $0.recipient == .person(n1Person) })
    let byN1 = try step(r, command, by: n1)
    #expect(!byN1.notifications.contains { $0.kind == .n1Informed })
  }

  @Test(
    "submission decides on the routing of the day: a delegation gone since the start means approval, a new one auto-validation"
  )
  func routingOfTheDay() throws {
    var r = try started(routing: routing(onde: true))
    r = try step(r, .addDocument(id: "d1", pdf("loss-declaration"), sha256: "00"), by: agent).renewal
    let expired = try step(
      r, .submitting(routing: routing(), changes: ["the ONDE delegation is no longer current"]), by: agent)
    #expect(expired.renewal.status == .pendingApproval)
    #expect(expired.events.first?.details.contains("the ONDE delegation is no longer current") == true)
    var plain = try started(routing: routing())
    plain = try step(plain, .addDocument(id: "d1", pdf("loss-declaration"), sha256: "00"), by: agent).renewal
    let delegated = try step(plain, .submitting(routing: routing(onde: true), changes: []), by: agent)
    #expect(delegated.renewal.status == .awaitingEnrolment)
  }
}
