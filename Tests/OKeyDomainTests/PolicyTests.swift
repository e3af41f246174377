import OKeyDomain
import Testing

@Suite("document rules")
struct DocumentRuleTests {
  let catalogue = ReasonCatalogue.standard

  @Test("PDF, PNG and JPEG are recognised by their content",
        arguments: [
          (Array("%PDF-1.4\n".utf8), DocumentMediaType.pdf),
          ([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00], .png),
          ([0xFF, 0xD8, 0xFF, 0xE0, 0x00], .jpeg),
        ])
  func sniff(content: [UInt8], type: DocumentMediaType) {
    #expect(DocumentMediaType.sniff(content) == type)
    let accepted = try? DocumentRules().inspect(filename: "x", claimedMediaType: "", kind: "supporting-document", content: content, catalogue: catalogue).get()
    #expect(accepted?.mediaType == type)
  }

  @Test("an executable named .pdf is refused whatever its name and claimed type")
  func executableAsPDF() {
    let elf: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, 0x02, 0x01, 0x01, 0x00]
    let result = DocumentRules().inspect(filename: "scan.pdf", claimedMediaType: "application/pdf", kind: "supporting-document", content: elf, catalogue: catalogue)
    guard case .failure(let refusal) = result else {
      Issue.record("executable accepted")
      return
    }
    #expect(refusal.code == .documentType)
  }

  @Test("a claimed type that disagrees with the content is refused")
  func lyingType() {
    let result = DocumentRules().inspect(filename: "a.png", claimedMediaType: "image/png", kind: "supporting-document", content: Array("%PDF-1.4".utf8), catalogue: catalogue)
    #expect((try? result.get()) == nil)
  }

  @Test("empty, oversized and unknown-kind documents are refused")
  func limits() {
    let rules = DocumentRules(maxBytes: 10, maxCount: 3)
    #expect((try? rules.inspect(filename: "a", claimedMediaType: "", kind: "supporting-document", content: [], catalogue: catalogue).get()) == nil)
    #expect((try? rules.inspect(filename: "a", claimedMediaType: "", kind: "supporting-document", content: Array("%PDF-1.4 and more".utf8), catalogue: catalogue).get()) == nil)
    #expect((try? rules.inspect(filename: "a", claimedMediaType: "", kind: "selfie", content: Array("%PDF-1".utf8), catalogue: catalogue).get()) == nil)
  }

  @Test("stored names lose paths and unsafe characters and get the content's extension",
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
    let summary = DocumentSummary(id: "d", filename: "a.pdf", mediaType: .pdf, kind: "theft-report", sizeBytes: 1, sha256: "", addedAt: t0)
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
    #expect((try? ValidatorCorrection.correct(base, candidateUID: "ghost", candidate: nil, candidateManager: nil).get()) == nil)
    #expect((try? ValidatorCorrection.correct(base, candidateUID: "agent", candidate: agentPerson, candidateManager: nil).get()) == nil)
    let disabled = DirectoryPerson(uid: "gone", active: false)
    #expect((try? ValidatorCorrection.correct(base, candidateUID: "gone", candidate: disabled, candidateManager: nil).get()) == nil)
    let ok = try? ValidatorCorrection.correct(
      base, candidateUID: "deputy", candidate: DirectoryPerson(uid: "deputy"),
      candidateManager: RoutedApprover(person: agentPerson, foundBy: "manager attribute")
    ).get()
    #expect(ok?.n1?.person.uid == "deputy")
    #expect(ok?.n2 == nil, "the agent never becomes their own N+2")
  }

  @Test("the effective validator is the N+1, or the N+2 when the N+1 is disabled")
  func effectiveValidator() {
    #expect(routing().effectiveValidator?.uid == "boss")
    #expect(routing(n1Active: false).effectiveValidator?.uid == "bigboss")
  }
}

@Suite("key inventory and charter")
struct InventoryTests {
  @Test("issuing a key replaces the agent's active keys and leaves others alone")
  func issue() {
    let old = KeyRecord(serial: "OLD", agentUID: "agent", keyType: .hardware, status: .active, activatedAt: t0)
    let older = KeyRecord(serial: "OLDER", agentUID: "agent", keyType: .hardware, status: .replaced, activatedAt: t0, replacedAt: t0)
    let someoneElse = KeyRecord(serial: "X", agentUID: "bob", keyType: .software, status: .active, activatedAt: t0)
    let new = KeyRecord(serial: "NEW", agentUID: "agent", keyType: .software, status: .active, activatedAt: t0.adding(seconds: 10))
    let keys = KeyInventory.issue(new, to: [old, older, someoneElse])
    #expect(keys.first { $0.serial == "OLD" }?.status == .replaced)
    #expect(keys.first { $0.serial == "OLD" }?.replacedAt == new.activatedAt)
    #expect(keys.first { $0.serial == "OLDER" } == older)
    #expect(keys.first { $0.serial == "X" } == someoneElse)
    #expect(keys.filter { $0.agentUID == "agent" && $0.status == .active }.map(\.serial) == ["NEW"])
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
