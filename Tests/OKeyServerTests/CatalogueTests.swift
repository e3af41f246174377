import Foundation
import GRPCCore
import OKeyAPI
import OKeyDomain
import OKeyTestSupport
import Testing

@testable import OKeyServer

/// The reasons catalogue and the enrolment instructions are configuration (issue 15, point 7).
@Suite("reasons catalogue and enrolment instructions from the configuration", .serialized)
struct CatalogueTests {
  @Test(
    "a wrong catalogue or wrong instructions are refused with the setting named",
    arguments: [
      (
        "reasons:\n  motifs:\n    LOTS:\n      documents: [x]\n",
        "unknown setting reasons.motifs.LOTS: did you mean LOST?"
      ),
      ("reasons:\n  motifs:\n    LOST:\n      documents: []\n", "reasons.motifs.LOST.documents is empty"),
      (
        "reasons:\n  motifs:\n    STOLEN:\n      documents: [Theft Report]\n",
        "reasons.motifs.STOLEN.documents: 'Theft Report' is not a document kind"
      ),
      (
        "reasons:\n  motifs:\n    STOLEN:\n      documents: [theft-report, theft-report]\n",
        "reasons.motifs.STOLEN.documents names a kind twice"
      ),
      ("reasons:\n  extraDocumentKinds: [\"\"]\n", "reasons.extraDocumentKinds: '' is not a document kind"),
      (
        "reasons:\n  motifs:\n    OTHER:\n      documents: [x]\n      detailsRequierd: true\n",
        "unknown setting reasons.motifs.OTHER.detailsRequierd: did you mean detailsRequired?"
      ),
      (
        "enrolment:\n  instructions:\n    ANDROID:\n      fr: []\n",
        "enrolment.instructions.ANDROID.fr is missing or empty"
      ),
      (
        "enrolment:\n  instructions:\n    IOS:\n      en: [\"Send them to {mail}\"]\n",
        "enrolment.instructions.IOS.en[0]: {mail} is not a placeholder"
      ),
      (
        "enrolment:\n  instructions:\n    IOS:\n      en: [\"Read {documentationURL}\"]\n",
        "enrolment.instructions.IOS.en[0] uses {documentationURL} but enrolment.documentationURL is empty"
      ),
      ("enrolment:\n  instructions:\n    IOS:\n      de: [a]\n", "unknown setting enrolment.instructions.IOS.de"),
      ("enrolment:\n  documentationURL: http://intranet/okey\n", "enrolment.documentationURL: 'http://intranet/okey'"),
      ("enrolment:\n  elementsMailbox: dsi\n", "enrolment.elementsMailbox: 'dsi' is not a mail address"),
      ("dsiMailbox: \"DSI <dsi@ac-test.fr>\"\n", "dsiMailbox: 'DSI <dsi@ac-test.fr>' is not a mail address"),
    ])
  func refused(yaml: String, message: String) throws {
    let error = #expect(throws: ConfigurationError.self) {
      try OKeyConfiguration.parse(yaml: unkeyed + yaml, source: "okeyd.yaml")
    }
    // Unknown names are found while reading the file (prefixed with it), wrong values while validating.
    let text = error?.message ?? ""
    #expect(text.hasPrefix("okeyd.yaml: " + message) || text.hasPrefix(message), "\(text)")
  }

  @Test("the defaults are the catalogue and steps okeyd had in code; a file that sets one motif keeps the others")
  func defaultsAndOverlay() throws {
    let defaults = try OKeyConfiguration.parse(yaml: unkeyed)
    #expect(defaults.reasons.catalogue == ReasonCatalogue.standard)
    let guide = defaults.enrolment.guide(dsiMailbox: defaults.dsiMailbox)
    #expect(
      guide.steps(for: .ios, language: "en", requestID: "R1")[2].contains("to dsi@ac-test.fr, with your request id R1"))
    let changed = try OKeyConfiguration.parse(
      yaml: unkeyed + "reasons:\n  motifs:\n    LOST:\n      documents: [loss-declaration, identity-card]\n")
    let catalogue = changed.reasons.catalogue
    #expect(catalogue.entry(for: .lost).requiredDocumentKinds == ["loss-declaration", "identity-card"])
    #expect(catalogue.entry(for: .stolen) == ReasonCatalogue.standard.entry(for: .stolen))
    #expect(catalogue.entry(for: .other).requiresDetails)
    #expect(catalogue.knownDocumentKinds.contains("identity-card"))
  }

  @Test("okeyd refuses to start with a wrong catalogue and names the setting")
  func okeydRefusesToStart() async throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
      "okey-catalogue-\(UInt32.random(in: 0...UInt32.max)).yaml"
    ).path
    let database = path + ".sqlite"
    defer {
      for file in [path, database, database + ".lock", database + "-wal", database + "-shm"] {
        try? FileManager.default.removeItem(atPath: file)
      }
    }
    let yaml = "database:\n  path: \(database)\nreasons:\n  motifs:\n    LOST:\n      documents: []\n"
    try (unkeyed + yaml).write(toFile: path, atomically: true, encoding: .utf8)
    let started = try await ChildProcess.run(
      TestPaths.executable("okeyd"), ["--config", path, "--listen", "127.0.0.1:0"])
    #expect(started.status == 64)
    #expect(started.error.contains("reasons.motifs.LOST.documents is empty"), "\(started.error)")
    #expect(!FileManager.default.fileExists(atPath: database))
  }

  @Test(
    "over gRPC: the configured catalogue is served and enforced, and the instructions come in the asked language with the mailbox and documentation filled"
  )
  func served() async throws {
    try await withTemporaryDirectory { folder in
      let capture = try MailCapture(folder: folder)
      try await withAcademy(configure: {
        $0.mail.command = capture.command
        $0.reasons.motifs["LOST"] = .init(documents: ["loss-declaration", "identity-card"])
        $0.enrolment.elementsMailbox = "enrolement@ac-test.fr"
        $0.enrolment.documentationURL = "https://www.ac-test.fr/okey/telephone"
        $0.enrolment.instructions["ANDROID"]?["en"] = [
          "Install FreeOTP from the Play Store ({documentationURL}).",
          "Mail the elements to {mailbox} quoting {requestId}.",
        ]
      }) { daemon, client in
        let agent = try await TestCaller.session(client, "ens-clg")
        let catalogue = try await agent.renewals.getReasonsCatalogue(.init(), metadata: agent.metadata)
        #expect(catalogue.motifs.count == Motif.allCases.count)
        #expect(
          catalogue.motifs.first { $0.motif == .lost }?.requiredDocumentKinds == ["loss-declaration", "identity-card"])
        #expect(catalogue.motifs.first { $0.motif == .other }?.detailsRequired == true)
        #expect(catalogue.documentKinds.contains("identity-card"))

        // LOST now needs two kinds: with the declaration only, the request is kept, not routed.
        var lost = try await agent.startAndSubmit(.software, motif: .lost, kind: "loss-declaration")
        #expect(lost.status == .awaitingDocuments)
        #expect(lost.missingDocumentKinds == ["identity-card"])
        let unknownKind = await failure {
          _ = try await agent.renewals.addDocument(
            .with {
              $0.requestID = lost.requestID
              $0.filename = "x.pdf"
              $0.kind = "passport"
              $0.content = pdfBytes
              $0.expectedVersion = lost.version
            }, metadata: agent.metadata)
        }
        #expect(unknownKind?.code == .invalidArgument)
        lost = try await agent.renewals.addDocument(
          .with {
            $0.requestID = lost.requestID
            $0.filename = "cni.pdf"
            $0.kind = "identity-card"
            $0.content = pdfBytes
            $0.expectedVersion = lost.version
          }, metadata: agent.metadata
        ).renewal
        lost = try await agent.renewals.submitRenewal(
          .with {
            $0.requestID = lost.requestID
            $0.expectedVersion = lost.version
          }, metadata: agent.metadata
        ).renewal
        #expect(lost.status == .pendingApproval)
        let principal = try await TestCaller.session(client, "principal1")
        lost = try await principal.approvals.approve(
          .with {
            $0.requestID = lost.requestID
            $0.expectedVersion = lost.version
          }, metadata: principal.metadata
        ).renewal
        #expect(lost.status == .awaitingEnrolment)
        // The approval mail tells the agent where the elements go: the elements mailbox, not the DSI's.
        _ = try await daemon.notifications.deliverDue(now: daemon.application.clock())
        let approvalMail = capture.messages.first {
          header("X-OKEY-Request", in: $0) == lost.requestID && $0.contains("validée")
        }
        #expect(approvalMail?.contains("envoyez les éléments d'enrôlement à enrolement@ac-test.fr") == true)

        // A language okeyd does not write is refused before anything changes.
        let german = await failure {
          _ = try await agent.renewals.chooseMobilePlatform(
            .with {
              $0.requestID = lost.requestID
              $0.platform = .android
              $0.expectedVersion = lost.version
              $0.language = "de"
            }, metadata: agent.metadata)
        }
        #expect(german?.code == .invalidArgument)
        #expect(try await agent.get(lost.requestID).version == lost.version)

        let english = try await agent.renewals.chooseMobilePlatform(
          .with {
            $0.requestID = lost.requestID
            $0.platform = .android
            $0.expectedVersion = lost.version
            $0.language = "en"
          }, metadata: agent.metadata)
        #expect(
          english.instructions.steps == [
            "Install FreeOTP from the Play Store (https://www.ac-test.fr/okey/telephone).",
            "Mail the elements to enrolement@ac-test.fr quoting \(lost.requestID).",
          ])
        #expect(english.instructions.dsiMailbox == "enrolement@ac-test.fr")
        #expect(english.instructions.documentationURL == "https://www.ac-test.fr/okey/telephone")
        #expect(english.instructions.language == "en")

        // The academy's language (French by default) when none is asked; the other platform's defaults stay.
        let french = try await agent.renewals.chooseMobilePlatform(
          .with {
            $0.requestID = lost.requestID
            $0.platform = .ios
            $0.expectedVersion = english.renewal.version
          }, metadata: agent.metadata)
        #expect(french.instructions.language == "fr")
        #expect(french.instructions.steps.first == "Installez l'application d'authentification depuis l'App Store.")
        #expect(french.instructions.steps[2].contains("à enrolement@ac-test.fr, avec le numéro de votre demande"))
      }
    }
  }
}
