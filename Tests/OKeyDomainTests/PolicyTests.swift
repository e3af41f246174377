import OKeyDomain
import Testing

let pngHeader: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00]
let pngEnd: [UInt8] = [0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82]

@Suite("document rules")
struct DocumentRuleTests {
  let catalogue = ReasonCatalogue.standard

  @Test(
    "PDF, PNG and JPEG are recognised by their content",
    arguments: [
      (Array("%PDF-1.4\n%%EOF\n".utf8), DocumentMediaType.pdf),
      (pngHeader + pngEnd, .png),
      ([0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0xFF, 0xD9], .jpeg),
    ])
  func sniff(content: [UInt8], type: DocumentMediaType) {
    #expect(DocumentMediaType.sniff(content) == type)
    let accepted = try? DocumentRules().inspect(
      filename: "x", claimedMediaType: "", kind: "supporting-document", content: content, catalogue: catalogue
    ).get()
    #expect(accepted?.mediaType == type)
  }

  @Test("an executable named .pdf is refused whatever its name and claimed type")
  func executableAsPDF() {
    let elf: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, 0x02, 0x01, 0x01, 0x00]
    let result = DocumentRules().inspect(
      filename: "scan.pdf", claimedMediaType: "application/pdf", kind: "supporting-document", content: elf,
      catalogue: catalogue)
    guard case .failure(let refusal) = result else {
      Issue.record("executable accepted")
      return
    }
    #expect(refusal.code == .documentType)
  }

  func code(_ result: Result<AcceptedDocument, RenewalRefusal>) -> RenewalRefusal.Code? {
    if case .failure(let refusal) = result { return refusal.code }
    return nil
  }

  @Test("a claimed type that disagrees with the content is refused")
  func lyingType() {
    let result = DocumentRules().inspect(
      filename: "a.png", claimedMediaType: "image/png", kind: "supporting-document",
      content: Array("%PDF-1.4\n%%EOF".utf8), catalogue: catalogue)
    #expect(code(result) == .documentType)
  }

  @Test(
    "a file whose end marker is missing is refused: a PDF without %%EOF in its last KiB, a PNG without IEND, a JPEG without FF D9",
    arguments: [[UInt8]]([
      Array("%PDF-1.4\n1 0 obj".utf8),
      Array("%PDF-1.4\n%%EOF".utf8) + Array(repeating: UInt8(ascii: "x"), count: 2000),
      pngHeader + [0x00, 0x00],
      [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0x4A, 0x46],
      [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + [0x7F, 0x45, 0x4C, 0x46] + Array(pngEnd.dropLast()),
    ]))
  func incomplete(content: [UInt8]) {
    #expect(
      code(
        DocumentRules().inspect(
          filename: "a", claimedMediaType: "", kind: "supporting-document", content: content, catalogue: catalogue))
        == .documentType)
  }

  @Test("empty, oversized and unknown-kind documents are refused")
  func limits() {
    let rules = DocumentRules(maxBytes: 20, maxCount: 3)
    #expect(
      code(
        rules.inspect(
          filename: "a", claimedMediaType: "", kind: "supporting-document", content: [], catalogue: catalogue))
        == .documentLimit)
    #expect(
      code(
        rules.inspect(
          filename: "a", claimedMediaType: "", kind: "supporting-document",
          content: Array("%PDF-1.4 and more %%EOF".utf8), catalogue: catalogue)) == .documentLimit)
    #expect(
      code(
        rules.inspect(
          filename: "a", claimedMediaType: "", kind: "selfie", content: Array("%PDF-1 %%EOF".utf8), catalogue: catalogue
        )) == .invalidField)
  }

  @Test(
    "stored names lose paths and unsafe characters and get the content's extension",
    arguments: [
      ("../../etc/passwd", DocumentMediaType.pdf, "passwd.pdf"),
      ("C:\\Users\\me\\scan 1.jpeg", .jpeg, "scan_1.jpg"),
      (".hidden.png", .png, "hidden.png"),
      ("plainte-vol_2026.PDF", .pdf, "plainte-vol_2026.pdf"),
      ("déclaration perte.pdf", .pdf, "d_claration_perte.pdf"),
      ("", .png, "document.png"),
      ("a\u{0}b.pdf", .pdf, "a_b.pdf"),
    ])
  func sanitise(name: String, type: DocumentMediaType, expected: String) {
    #expect(DocumentRules.sanitise(name, mediaType: type) == expected)
  }

  @Test("the catalogue says which kinds each motif misses")
  func missingKinds() {
    let summary = DocumentSummary(
      id: "d", filename: "a.pdf", mediaType: .pdf, kind: "theft-report", sizeBytes: 1, sha256: "", addedAt: t0)
    #expect(catalogue.missingKinds(for: .stolen, documents: []) == ["theft-report"])
    #expect(catalogue.missingKinds(for: .stolen, documents: [summary]) == [])
    #expect(catalogue.missingKinds(for: .lost, documents: [summary]) == ["loss-declaration"])
  }
}

@Suite("routing policies")
struct RoutingPolicyTests {
  @Test("auto-validation applies to first-degree directors and ONDE delegates only")
  func autoValidation() {
    #expect(routing(autoDirector: true).autoValidation.isAutomatic)
    #expect(routing(onde: true).autoValidation.isAutomatic)
    #expect(!routing().autoValidation.isAutomatic)
    var secondDegreeDirector = routing()
    secondDegreeDirector.schoolDirector = true
    #expect(!secondDegreeDirector.autoValidation.isAutomatic)
  }

  @Test("the validator named instead of the N+1 must exist, be active and not be the agent")
  func correction() {
    let base = routing()
    func refusal(_ uid: String, _ person: DirectoryPerson?) -> RenewalRefusal.Code? {
      if case .failure(let refusal) = ValidatorCorrection.correct(
        base, proposal: base, candidateUID: uid, candidate: person, candidateManager: nil, choice: .anyone,
        standing: ValidatorStanding(managementPosition: nil))
      {
        return refusal.code
      }
      return nil
    }
    #expect(refusal("ghost", nil) == .validatorInvalid)
    #expect(refusal("agent", agentPerson) == .validatorInvalid)
    #expect(refusal("gone", DirectoryPerson(uid: "gone", active: false)) == .validatorInvalid)
    let ok = try? ValidatorCorrection.correct(
      base, proposal: base, candidateUID: "deputy", candidate: DirectoryPerson(uid: "deputy"),
      candidateManager: RoutedApprover(person: agentPerson, foundBy: "manager attribute"), choice: .anyone,
      standing: ValidatorStanding(managementPosition: nil)
    ).get()
    #expect(ok?.n1?.person.uid == "deputy")
    #expect(ok?.n1?.foundBy.hasPrefix("named by the agent instead of boss") == true)
    #expect(ok?.n2 == nil, "the agent never becomes their own N+2")
  }

  /// A candidate and what the policy says of them: nil when allowed, else the refusal's code.
  struct ChoiceCase: Sendable, CustomStringConvertible {
    var choice: ValidatorChoice
    var candidate: String
    var position: String?
    var refused: RenewalRefusal.Code?
    var description: String { "\(choice) \(candidate) \(position ?? "-")" }
  }

  @Test(
    "the validator-choice policy: managers allows the proposal and management positions only, directory nothing but the proposal, anyone every active person",
    arguments: [
      ChoiceCase(choice: .managers, candidate: "colleague", position: nil, refused: .validatorNotAllowed),
      ChoiceCase(
        choice: .managers, candidate: "principal", position: "head of establishment (DIR/D0010)", refused: nil),
      ChoiceCase(choice: .managers, candidate: "bigboss", position: nil, refused: nil),
      ChoiceCase(choice: .managers, candidate: "boss", position: nil, refused: nil),
      ChoiceCase(
        choice: .directory, candidate: "principal", position: "head of establishment (DIR/D0010)",
        refused: .validatorNotAllowed),
      ChoiceCase(choice: .directory, candidate: "bigboss", position: nil, refused: .validatorNotAllowed),
      ChoiceCase(choice: .directory, candidate: "boss", position: nil, refused: nil),
      ChoiceCase(choice: .anyone, candidate: "colleague", position: nil, refused: nil),
    ])
  func validatorChoice(_ c: ChoiceCase) {
    let base = routing()
    let outcome = ValidatorCorrection.correct(
      base, proposal: base, candidateUID: c.candidate, candidate: DirectoryPerson(uid: c.candidate),
      candidateManager: nil,
      choice: c.choice, standing: ValidatorStanding(managementPosition: c.position))
    switch outcome {
    case .success(let corrected):
      #expect(c.refused == nil, "\(c) was allowed")
      #expect(corrected.n1?.person.uid == c.candidate)
      if c.candidate == "boss" {
        #expect(corrected.proposedN1 == nil, "naming the proposal again leaves no correction")
      } else {
        #expect(corrected.proposedN1?.person.uid == "boss")
      }
    case .failure(let refusal):
      #expect(refusal.code == c.refused, "\(c): \(refusal)")
    }
  }

  @Test("the effective validator is the N+1, or the N+2 when the N+1 is disabled")
  func effectiveValidator() {
    #expect(routing().effectiveValidator?.uid == "boss")
    #expect(routing(n1Active: false).effectiveValidator?.uid == "bigboss")
  }
}

@Suite("key inventory and charter")
struct InventoryTests {
  @Test(
    "issuing a key replaces the agent's active keys of its type only (a token and a phone: the other stays), or the one the DSI names"
  )
  func issue() {
    let token = KeyRecord(serial: "TOKEN", agentUID: "agent", keyType: .hardware, status: .active, activatedAt: t0)
    let phone = KeyRecord(serial: "PHONE", agentUID: "agent", keyType: .software, status: .active, activatedAt: t0)
    let spare = KeyRecord(serial: "SPARE", agentUID: "agent", keyType: .software, status: .active, activatedAt: t0)
    let older = KeyRecord(
      serial: "OLDER", agentUID: "agent", keyType: .software, status: .replaced, activatedAt: t0, replacedAt: t0)
    let someoneElse = KeyRecord(serial: "X", agentUID: "bob", keyType: .software, status: .active, activatedAt: t0)
    let new = KeyRecord(
      serial: "NEW", agentUID: "agent", keyType: .software, status: .active, activatedAt: t0.adding(seconds: 10))
    let keys = KeyInventory.issue(new, to: [token, phone, spare, older, someoneElse])
    #expect(keys.first { $0.serial == "PHONE" }?.status == .replaced)
    #expect(keys.first { $0.serial == "PHONE" }?.replacedAt == new.activatedAt)
    #expect(keys.first { $0.serial == "TOKEN" } == token, "the hardware token stays active")
    #expect(keys.first { $0.serial == "OLDER" } == older)
    #expect(keys.first { $0.serial == "X" } == someoneElse)
    #expect(
      keys.filter { $0.agentUID == "agent" && $0.status == .active }.map(\.serial).sorted() == ["NEW", "TOKEN"])
    // The DSI names the one replaced: the other phone key stays.
    let named = KeyInventory.issue(new, replacing: "SPARE", to: [token, phone, spare])
    #expect(
      named.filter { $0.status == .active }.map(\.serial).sorted() == ["NEW", "PHONE", "TOKEN"])
  }

  @Test("a charter is published with a code of 4 to 12 letters or digits")
  func charterValidation() {
    #expect(Charter.validate(version: "v1", text: "t", code: "4821") == nil)
    #expect(Charter.validate(version: "v1", text: "t", code: "12") != nil)
    #expect(Charter.validate(version: "", text: "t", code: "4821") != nil)
    #expect(Charter.validate(version: "v1", text: " ", code: "4821") != nil)
    #expect(Charter.validate(version: "v1", text: "t", code: "48 21") != nil)
  }
}
