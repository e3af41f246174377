import OKeyDomain
import Testing

@Suite("the DSI's and the desk's days: closure, enrolment conversation, walk-ins, no-shows")
struct DeskAndClosureTests {
  @Test(
    "the DSI cancels any request that is not over, with a reason the agent is told; the documents' content goes, a booked seat is freed"
  )
  func dsiCancels() throws {
    for status in RenewalStatus.open {
      let keyType: KeyType = [.readyForPickup, .pickupBooked].contains(status) ? .hardware : .software
      let r = try request(in: status, keyType)
      let decision = try step(r, .cancelByDSI(reason: "key never collected"), by: dsi)
      #expect(decision.renewal.status == .cancelled, "\(status)")
      #expect(decision.notifications.map(\.kind) == [.agentCancelled])
      #expect(decision.notifications.first?.details == "key never collected")
      #expect(decision.events.last?.action == "dsi-cancel" && decision.events.last?.role == .dsi)
      #expect(decision.effects.contains(.releaseSlot(id: "s1")) == (status == .pickupBooked), "\(status)")
      #expect(decision.effects.contains(.purgeDocumentContent) == !r.documents.isEmpty, "\(status)")
    }
  }

  @Test("DSI cancellation is refused without a reason, on a request that is over, to non-DSI and on one's own request")
  func dsiCancelRefusals() throws {
    let r = try request(in: .readyForPickup, .hardware)
    #expect(refusal(r, .cancelByDSI(reason: "  "), by: dsi)?.code == .invalidField)
    #expect(refusal(r, .cancelByDSI(reason: "x"), by: agent)?.code == .notDSI)
    #expect(refusal(r, .cancelByDSI(reason: "x"), by: Caller(uid: "agent", groups: [.dsi]))?.code == .ownRequest)
    for status in [RenewalStatus.completed, .rejected, .cancelled] {
      #expect(refusal(try request(in: status), .cancelByDSI(reason: "x"), by: dsi)?.code == .wrongState)
    }
  }

  @Test(
    "the agent says the elements are sent once the platform is chosen; the DSI asks for them again with a message; a new platform means new elements"
  )
  func enrolmentConversation() throws {
    var r = try request(in: .awaitingEnrolment)
    #expect(refusal(r, .markElementsSent, by: agent)?.code == .platformNotChosen)
    r = try step(r, .choosePlatform(.ios), by: agent).renewal
    #expect(refusal(r, .markElementsSent, by: n1)?.code == .notYourRequest)
    let sent = try step(r, .markElementsSent, by: agent, at: 120)
    #expect(sent.renewal.status == .awaitingEnrolment)
    #expect(sent.renewal.elementsSentAt == t0.adding(seconds: 120))
    #expect(sent.notifications.map(\.kind) == [.dsiWork])
    #expect(refusal(sent.renewal, .requestElementsAgain(message: ""), by: dsi)?.code == .invalidField)
    #expect(refusal(sent.renewal, .requestElementsAgain(message: "x"), by: agent)?.code == .notDSI)
    let again = try step(sent.renewal, .requestElementsAgain(message: "the activation code is unreadable"), by: dsi)
    #expect(again.renewal.status == .awaitingEnrolment && again.renewal.elementsSentAt == nil)
    #expect(again.notifications.map(\.kind) == [.elementsRequested])
    #expect(again.notifications.first?.details == "the activation code is unreadable")
    let resent = try step(again.renewal, .markElementsSent, by: agent).renewal
    #expect(try step(resent, .choosePlatform(.android), by: agent).renewal.elementsSentAt == nil)
    #expect(try step(resent, .choosePlatform(.ios), by: agent).renewal.elementsSentAt != nil)
    // Hardware keys have no enrolment elements.
    #expect(refusal(try request(in: .awaitingCharter, .hardware), .markElementsSent, by: agent)?.code == .wrongKeyType)
  }

  @Test(
    "a walk-in is handed the key without a booking; the agent cancels an appointment (seat freed); the DSI records a no-show (seat freed, agent told)"
  )
  func pickupDesk() throws {
    let ready = try request(in: .readyForPickup, .hardware)
    let walkIn = try step(ready, .recordHandover(comment: "walk-in"), by: dsi)
    #expect(walkIn.renewal.status == .completed)
    #expect(walkIn.effects.contains { if case .issueKey = $0 { return true } else { return false } })
    #expect(!walkIn.effects.contains(.releaseSlot(id: "s1")))

    let booked = try request(in: .pickupBooked, .hardware)
    #expect(refusal(booked, .cancelPickup, by: dsi)?.code == .notYourRequest)
    let cancelled = try step(booked, .cancelPickup, by: agent)
    #expect(cancelled.renewal.status == .readyForPickup && cancelled.renewal.appointmentSlotID == nil)
    #expect(cancelled.effects == [.releaseSlot(id: "s1")])
    #expect(refusal(cancelled.renewal, .cancelPickup, by: agent)?.code == .wrongState)

    #expect(refusal(booked, .recordNoShow(comment: ""), by: agent)?.code == .notDSI)
    let missed = try step(booked, .recordNoShow(comment: "did not come"), by: dsi)
    #expect(missed.renewal.status == .readyForPickup && missed.renewal.appointmentSlotID == nil)
    #expect(missed.effects == [.releaseSlot(id: "s1")])
    #expect(missed.notifications.map(\.kind) == [.pickupMissed])
    #expect(refusal(ready, .recordNoShow(comment: ""), by: dsi)?.code == .wrongState)
  }

  @Test(
    "the DSI lets an agent change phone again early: only on a completed phone change, once, with a reason the agent is told; that change then no longer holds back the next"
  )
  func allowPhoneChange() throws {
    var phoneChange = try request(in: .completed)
    phoneChange.motif = .phoneChanged
    let completedAt = try #require(phoneChange.statusSince)
    #expect(PhoneChangePolicy.limitingCompletions(of: [phoneChange]) == [completedAt])
    #expect(refusal(phoneChange, .allowPhoneChange(reason: "x"), by: agent)?.code == .notDSI)
    #expect(
      refusal(phoneChange, .allowPhoneChange(reason: "x"), by: Caller(uid: "agent", groups: [.dsi]))?.code
        == .ownRequest)
    #expect(refusal(phoneChange, .allowPhoneChange(reason: " "), by: dsi)?.code == .invalidField)
    // A renewal for another motif, or a phone change not completed, holds nothing back.
    #expect(refusal(try request(in: .completed), .allowPhoneChange(reason: "x"), by: dsi)?.code == .wrongState)
    var open = try request(in: .awaitingDSI)
    open.motif = .phoneChanged
    #expect(refusal(open, .allowPhoneChange(reason: "x"), by: dsi)?.code == .wrongState)

    let allowed = try step(phoneChange, .allowPhoneChange(reason: "phone stolen"), by: dsi, at: 3_600)
    #expect(allowed.renewal.status == .completed && allowed.renewal.statusSince == completedAt)
    #expect(allowed.renewal.earlyPhoneChangeAllowedAt == t0.adding(seconds: 3_600))
    #expect(allowed.events.last?.action == "allow-phone-change" && allowed.events.last?.details == "phone stolen")
    #expect(allowed.notifications.map(\.kind) == [.phoneChangeAllowed])
    #expect(allowed.notifications.first?.details == "phone stolen")
    #expect(PhoneChangePolicy.limitingCompletions(of: [allowed.renewal]).isEmpty)
    #expect(refusal(allowed.renewal, .allowPhoneChange(reason: "again"), by: dsi)?.code == .wrongState)
  }

  @Test("status_since moves when the status changes, not on a change that keeps it")
  func statusSince() throws {
    var r = try request(in: .awaitingEnrolment)
    let entered = r.statusSince
    #expect(entered != nil)
    r = try step(r, .choosePlatform(.ios), by: agent, at: 5_000).renewal
    #expect(r.statusSince == entered)
    r = try step(r, .confirmEnrolment(comment: ""), by: dsi, at: 9_000).renewal
    #expect(r.statusSince == t0.adding(seconds: 9_000))
  }
}

@Suite("LOST and STOLEN: the old key is suspended before anyone approves")
struct SuspensionTests {
  @Test("routing a LOST or STOLEN request tells the DSI mailbox which keys to suspend; an EXPIRED one does not")
  func suspendAtRouting() throws {
    for motif in [Motif.lost, .stolen, .expired] {
      var r = try started(.software, motif: motif)
      r = try step(
        r,
        .addDocument(
          id: "d1", pdf(ReasonCatalogue.standard.entries[motif]?.requiredDocumentKinds.first ?? ""), sha256: "0"),
        by: agent
      )
      .renewal
      let submitted = try step(r, .submitting(routing: nil, changes: [], oldKeys: ["SW-OLD-1"]), by: agent)
      let suspensions = submitted.notifications.filter { $0.kind == .dsiWork && $0.details.contains("suspend") }
      if motif == .expired {
        #expect(suspensions.isEmpty)
      } else {
        #expect(submitted.renewal.status == .pendingApproval, "\(motif)")
        #expect(suspensions.count == 1 && suspensions.first?.details.contains("SW-OLD-1") == true, "\(motif)")
      }
    }
  }

  @Test("the DSI may name the key replaced, never the new serial itself")
  func replacedSerial() throws {
    let r = try request(in: .awaitingDSI)
    #expect(refusal(r, .finalize(serial: "NEW-2", place: nil, replacing: "NEW-2"), by: dsi)?.code == .invalidField)
    let done = try step(r, .finalize(serial: "NEW-2", place: nil, replacing: "SW-OLD"), by: dsi).renewal
    #expect(done.replacedKeySerial == "SW-OLD" && done.status == .completed)
  }
}

@Suite("what a request waits for, and who must act")
struct WaitingTests {
  @Test("each status names who must act: the agent, the validators of the snapshot, the DSI, or nobody")
  func waiting() throws {
    let expected: [(RenewalStatus, KeyType, Waiting.Party, [String])] = [
      (.draft, .software, .agent, ["agent"]), (.awaitingDocuments, .software, .agent, ["agent"]),
      (.pendingApproval, .software, .approver, ["boss", "bigboss"]), (.awaitingEnrolment, .software, .agent, ["agent"]),
      (.awaitingCharter, .hardware, .agent, ["agent"]), (.awaitingDSI, .software, .dsi, []),
      (.readyForPickup, .hardware, .agent, ["agent"]), (.pickupBooked, .hardware, .dsi, []),
      (.completed, .software, .nobody, []), (.rejected, .software, .nobody, []), (.cancelled, .software, .nobody, []),
    ]
    for (status, keyType, party, people) in expected {
      let waiting = try request(in: status, keyType).waiting
      #expect(waiting.party == party, "\(status)")
      #expect(waiting.people.map(\.uid) == people, "\(status)")
      #expect(!waiting.step.isEmpty)
    }
    // Software enrolment: the agent until the elements are said sent, then the DSI.
    var r = try step(try request(in: .awaitingEnrolment), .choosePlatform(.ios), by: agent).renewal
    #expect(r.waiting.party == .agent && r.waiting.step.contains("enrolment elements"))
    r = try step(r, .markElementsSent, by: agent).renewal
    #expect(r.waiting.party == .dsi)
  }
}
