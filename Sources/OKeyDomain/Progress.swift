/// What a request waits for now, and who must act: support's answer to "where is my key?".
public struct Waiting: Sendable, Hashable {
  /// Who must act.
  public enum Party: String, Sendable, Hashable, CaseIterable {
    /// The agent (documents, platform, elements, charter, booking, collection).
    case agent = "AGENT"
    /// The validators the routing snapshot names.
    case approver = "APPROVER"
    /// A DSI operator.
    case dsi = "DSI"
    /// Nobody: the request is over.
    case nobody = "NOBODY"
  }

  /// Who must act.
  public var party: Party
  /// The people named (the agent, or the N+1 then the N+2); empty for the DSI and for nobody.
  public var people: [DirectoryPerson]
  /// The step, in words.
  public var step: String
}

extension RenewalRequest {
  /// What the request waits for now and who must act.
  public var waiting: Waiting {
    let agent = routing.requester.uid == agentUID ? routing.requester : DirectoryPerson(uid: agentUID)
    func byAgent(_ step: String) -> Waiting { Waiting(party: .agent, people: [agent], step: step) }
    func byDSI(_ step: String) -> Waiting { Waiting(party: .dsi, people: [], step: step) }
    switch status {
    case .draft:
      return byAgent("the agent has not submitted the request")
    case .awaitingDocuments:
      return byAgent("the agent must add the supporting documents the motif needs, then submit again")
    case .pendingApproval:
      var seen: Set<String> = []
      let approvers = (routing.n1Level + [routing.n2].compactMap { $0 }).map(\.person).filter {
        $0.active && seen.insert($0.uid).inserted
      }
      return Waiting(
        party: .approver, people: approvers,
        step: escalatedAt == nil
          ? "waiting for the validator's decision (N+1; the N+2 may decide in their absence)"
          : "waiting for a decision; the N+2 was told the request waits")
    case .awaitingEnrolment:
      if platform == nil { return byAgent("the agent must choose the phone platform") }
      if enrolmentCodeReadAt != nil {
        return byAgent("the agent must scan the enrolment code they read, then say so")
      }
      if enrolmentCodeExpiresAt != nil {
        return byAgent("the agent must read the enrolment code (QR code) in OKEY, once, and scan it")
      }
      if enrolmentByCode == true {
        return byDSI("the DSI must make the token and attach its enrolment code (QR code)")
      }
      if elementsSentAt == nil {
        return byAgent("the agent must send the enrolment elements to the DSI mailbox and say so")
      }
      return byDSI("the DSI must confirm the enrolment elements the agent sent")
    case .awaitingCharter:
      return byAgent("the agent must sign the charter (the code at its bottom)")
    case .awaitingDSI:
      return byDSI("the DSI must finalise the key (its serial)")
    case .readyForPickup:
      if let uai = handoverEstablishment {
        return byAgent(
          "the agent must collect the key from the head of establishment \(uai), who records the hand-over (no appointment)"
        )
      }
      return byAgent("the agent must book an appointment to collect the key (or come to the desk)")
    case .pickupBooked:
      return byDSI("the agent has an appointment: the desk hands the key over, or records a no-show")
    case .completed, .rejected, .cancelled:
      return Waiting(party: .nobody, people: [], step: "the request is \(status.rawValue): nothing to do")
    }
  }
}
