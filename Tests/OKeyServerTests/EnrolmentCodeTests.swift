import Foundation
import GRPCCore
import OKeyAPI
import OKeyDomain
import OKeyStore
import OKeyTestSupport
import Testing

@testable import OKeyServer

/// The token by QR code (issue 23, point 5): with `enrolment.mode: qr` the DSI attaches the new
/// token's provisioning payload, sealed in the database under a key kept outside it; the agent reads
/// it once as a QR code, then it is gone; "scanned" confirms the enrolment.
@Suite("enrolment by QR code", .serialized)
struct EnrolmentCodeTests {
  /// A payload with a secret to look for wherever it must not be.
  static let secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
  static let payload = "otpauth://totp/ac-test:ens-clg?secret=\(secret)&issuer=ac-test&digits=6"

  /// okeyd in QR mode, its code key in `folder`.
  static func qrMode(_ folder: String, hours: Int = 24) throws -> @Sendable (inout OKeyConfiguration) -> Void {
    let keyFile = folder + "/enrolment.key"
    try String(repeating: "5a", count: 32).write(toFile: keyFile, atomically: true, encoding: .utf8)
    return { configuration in
      configuration.enrolment.mode = "qr"
      configuration.enrolment.codeKeyFile = keyFile
      configuration.enrolment.codeHours = hours
    }
  }

  /// `agent`'s phone change, submitted (no approver) and its platform chosen.
  static func phoneChange(of agent: TestCaller) async throws -> Okey_V1_Renewal {
    let renewal = try await agent.startAndSubmit(.software, motif: .phoneChanged)
    return try await agent.renewals.chooseMobilePlatform(
      .with {
        $0.requestID = renewal.requestID
        $0.platform = .android
        $0.expectedVersion = renewal.version
      }, metadata: agent.metadata
    ).renewal
  }

  static func attach(_ renewal: Okey_V1_Renewal, by dsi: TestCaller) async throws -> Okey_V1_Renewal {
    try await dsi.operations.attachEnrolmentCode(
      .with {
        $0.requestID = renewal.requestID
        $0.payload = payload
        $0.expectedVersion = renewal.version
      }, metadata: dsi.metadata
    ).renewal
  }

  /// Every byte of the database file and its WAL, as text.
  static func databaseBytes(_ daemon: OKeyDaemon) -> String {
    let path = daemon.configuration.database.path
    return [path, path + "-wal"].compactMap { FileManager.default.contents(atPath: $0) }.map {
      String(decoding: $0, as: UTF8.self)
    }.joined()
  }

  @Test(
    "a phone change by QR code: no approver; the code attached by the DSI is sealed in the database and hidden from support; the agent reads it once as a PNG, the second read is refused and the row is gone; scanned, signed, finalised"
  )
  func phoneChangeByCode() async throws {
    try await withTemporaryDirectory { folder in
      try await withAcademy(configure: try Self.qrMode(folder)) { daemon, client in
        let agent = try await TestCaller.session(client, "ens-clg")
        let dsi = try await TestCaller.session(client, "dsi-op1")
        let support = try await TestCaller.session(client, "helpdesk1")
        try await dsi.publishCharter(version: "2026-12", code: "CLEF2026")
        var renewal = try await agent.startAndSubmit(.software, motif: .phoneChanged)
        #expect(renewal.status == .awaitingEnrolment, "a phone change needs no approver")
        let chosen = try await agent.renewals.chooseMobilePlatform(
          .with {
            $0.requestID = renewal.requestID
            $0.platform = .ios
            $0.expectedVersion = renewal.version
          }, metadata: agent.metadata)
        renewal = chosen.renewal
        #expect(renewal.enrolmentByCode)
        #expect(chosen.instructions.steps.contains { $0.contains("QR code") && $0.contains("une fois") })
        #expect(chosen.instructions.steps.last?.contains("ancien téléphone") == true)
        // No elements by mail in this mode, and nothing to read yet.
        let elements = await failure {
          _ = try await agent.renewals.markElementsSent(
            .with {
              $0.requestID = renewal.requestID
              $0.expectedVersion = renewal.version
            }, metadata: agent.metadata)
        }
        #expect(elements?.reason == "WRONG_STATE")
        let early = await failure {
          _ = try await agent.renewals.getEnrolmentCode(
            .with {
              $0.requestID = renewal.requestID
              $0.expectedVersion = renewal.version
            }, metadata: agent.metadata)
        }
        #expect(early?.code == .failedPrecondition)
        #expect(early?.reason == "ENROLMENT_CODE_UNAVAILABLE")
        let work = try await dsi.operations.listWork(.init(), metadata: dsi.metadata).renewals
        #expect(work.contains { $0.requestID == renewal.requestID }, "the DSI sees the token to make")

        // The DSI attaches the code: the agent is told; support and the file never see it in clear.
        renewal = try await Self.attach(renewal, by: dsi)
        #expect(renewal.hasEnrolmentCodeExpiresAt)
        let told = try await daemon.application.store.outboxMessages(renewalID: renewal.requestID).filter {
          $0.kind == .enrolmentCodeReady
        }
        #expect(told.map { $0.recipient?.uid } == ["ens-clg"])
        let seenBySupport = try await support.support.getRenewal(
          .with { $0.requestID = renewal.requestID }, metadata: support.metadata
        ).renewal
        #expect(!(try seenBySupport.jsonString()).contains(Self.secret))
        #expect(!Self.databaseBytes(daemon).contains(Self.secret), "sealed in the database")

        // Read once: the payload and its QR code.
        let code = try await agent.renewals.getEnrolmentCode(
          .with {
            $0.requestID = renewal.requestID
            $0.expectedVersion = renewal.version
          }, metadata: agent.metadata)
        #expect(code.payload == Self.payload)
        #expect(Array(code.qrCodePng.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(code.qrCodePng.count > 200)
        renewal = code.renewal
        #expect(renewal.hasEnrolmentCodeReadAt && !renewal.hasEnrolmentCodeExpiresAt)
        let again = await failure {
          _ = try await agent.renewals.getEnrolmentCode(
            .with {
              $0.requestID = renewal.requestID
              $0.expectedVersion = renewal.version
            }, metadata: agent.metadata)
        }
        #expect(again?.reason == "ENROLMENT_CODE_UNAVAILABLE")
        let rows = try await sqlite3(daemon.configuration.database.path, "SELECT COUNT(*) FROM enrolment_codes;")
        #expect(rows.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "wiped once read")

        // Scanned, the charter signed again, the DSI finalises.
        renewal = try await agent.renewals.confirmEnrolmentScanned(
          .with {
            $0.requestID = renewal.requestID
            $0.expectedVersion = renewal.version
          }, metadata: agent.metadata
        ).renewal
        #expect(renewal.status == .awaitingCharter)
        renewal = try await agent.renewals.signCharter(
          .with {
            $0.requestID = renewal.requestID
            $0.charterCode = "CLEF2026"
            $0.acknowledged = true
            $0.expectedVersion = renewal.version
          }, metadata: agent.metadata
        ).renewal
        renewal = try await dsi.operations.finalize(
          .with {
            $0.requestID = renewal.requestID
            $0.expectedVersion = renewal.version
            $0.newKeySerial = "SW-QR-1"
          }, metadata: dsi.metadata
        ).renewal
        #expect(renewal.status == .completed)
        let history = try await agent.get(renewal.requestID).history
        #expect(history.map(\.action).contains("read-enrolment-code"))
        #expect(history.allSatisfy { !$0.details.contains(Self.secret) })
        #expect(history.allSatisfy { $0.role != .approver }, "no approver in this path")
      }
    }
  }

  @Test(
    "an unread code expires: the retention sweep wipes it after enrolment.codeHours and the agent is told to ask for a new one; a new code replaces it"
  )
  func expiresUnread() async throws {
    try await withTemporaryDirectory { folder in
      try await withAcademy(configure: try Self.qrMode(folder, hours: 1)) { daemon, client in
        let agent = try await TestCaller.session(client, "ens-clg")
        let dsi = try await TestCaller.session(client, "dsi-op1")
        var renewal = try await Self.phoneChange(of: agent)
        renewal = try await Self.attach(renewal, by: dsi)
        let listed = try await dsi.operations.listWork(.init(), metadata: dsi.metadata).renewals
        #expect(!listed.contains { $0.requestID == renewal.requestID }, "the code waits for the agent")
        let sweeper = RetentionSweep(
          store: daemon.application.store, retention: daemon.configuration.retention, clock: daemon.application.clock,
          logger: daemon.application.logger)
        let now = daemon.application.clock()
        #expect(try await sweeper.sweep(now: now.adding(seconds: 1800)).enrolmentCodes == 0)
        #expect(try await sweeper.sweep(now: now.adding(seconds: 3601)).enrolmentCodes == 1)
        let work = try await dsi.operations.listWork(.init(), metadata: dsi.metadata).renewals
        #expect(
          work.contains { $0.requestID == renewal.requestID }, "an expired code puts the request back in the DSI's list"
        )
        let expired = await failure {
          _ = try await agent.renewals.getEnrolmentCode(
            .with {
              $0.requestID = renewal.requestID
              $0.expectedVersion = renewal.version
            }, metadata: agent.metadata)
        }
        #expect(expired?.reason == "ENROLMENT_CODE_UNAVAILABLE")
        #expect(try await agent.get(renewal.requestID).version == renewal.version, "a refusal writes nothing")
        renewal = try await Self.attach(renewal, by: dsi)
        let code = try await agent.renewals.getEnrolmentCode(
          .with {
            $0.requestID = renewal.requestID
            $0.expectedVersion = renewal.version
          }, metadata: agent.metadata)
        #expect(code.payload == Self.payload)
      }
    }
  }

  @Test(
    "a payload that is empty, holds a control character, or is too long for a QR code is INVALID_ARGUMENT naming payload, and changes nothing"
  )
  func hostilePayloads() async throws {
    try await withTemporaryDirectory { folder in
      try await withAcademy(configure: try Self.qrMode(folder)) { _, client in
        let agent = try await TestCaller.session(client, "ens-clg")
        let dsi = try await TestCaller.session(client, "dsi-op1")
        let renewal = try await Self.phoneChange(of: agent)
        for payload in [
          "", "otpauth://totp/x?secret=A\u{0}B", "line\r\nBcc: x@evil", String(repeating: "x", count: 2001),
        ] {
          let refused = await failure {
            _ = try await dsi.operations.attachEnrolmentCode(
              .with {
                $0.requestID = renewal.requestID
                $0.payload = payload
                $0.expectedVersion = renewal.version
              }, metadata: dsi.metadata)
          }
          #expect(refused?.code == .invalidArgument, "\(payload.prefix(20))")
          #expect(refused?.reason == "INVALID_FIELD")
        }
        #expect(try await agent.get(renewal.requestID).version == renewal.version)
      }
    }
  }

  @Test("with enrolment.mode: mailbox (the default) there is no code to attach or to read")
  func mailboxMode() async throws {
    try await withAcademy { _, client in
      let agent = try await TestCaller.session(client, "ens-clg")
      let dsi = try await TestCaller.session(client, "dsi-op1")
      let renewal = try await Self.phoneChange(of: agent)
      #expect(!renewal.enrolmentByCode)
      let attach = await failure { _ = try await Self.attach(renewal, by: dsi) }
      #expect(attach?.reason == "WRONG_STATE")
      let read = await failure {
        _ = try await agent.renewals.getEnrolmentCode(
          .with {
            $0.requestID = renewal.requestID
            $0.expectedVersion = renewal.version
          }, metadata: agent.metadata)
      }
      #expect(read?.reason == "ENROLMENT_CODE_UNAVAILABLE")
    }
  }

  @Test("the QR code image is a PNG of the payload's modules with a quiet zone, its checksums right")
  func image() throws {
    let png = try #require(QRCodeImage.png(of: Self.payload, scale: 2))
    // IHDR: width and height equal, (modules + 8) × 2, modules = 17 + 4 × version.
    let width = png[16..<20].reduce(0) { $0 << 8 | Int($1) }
    #expect(width == png[20..<24].reduce(0) { $0 << 8 | Int($1) })
    #expect((width / 2 - 8 - 17) % 4 == 0)
    // The IHDR chunk's CRC is the one PNG readers check.
    let crc = png[29..<33].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    #expect(crc == QRCodeImage.crc32(Array(png[12..<29])))
    #expect(QRCodeImage.png(of: String(repeating: "x", count: 3000)) == nil, "too long for a QR code")
  }
}
