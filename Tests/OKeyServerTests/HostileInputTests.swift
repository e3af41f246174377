import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import Logging
import OKeyAPI
import OKeyDomain
import OKeyStore
import OKeyTestSupport
import SwiftProtobuf
import Testing

@testable import OKeyServer

@Suite("hostile input: the right status, nothing written", .serialized)
struct HostileInputTests {
  @Test("forged, expired and misplaced credentials are refused")
  func credentials() async throws {
    try await withAcademy { daemon, client in
      let forged = TestCaller(client, name: "forged", metadata: ["authorization": "Bearer not-a-real-token"])
      #expect(
        await failure { _ = try await forged.renewals.listMyRenewals(.init(), metadata: forged.metadata) }?.code
          == .unauthenticated)
      let basic = TestCaller(client, name: "basic", metadata: ["authorization": "Basic ZW5zMWE6cGFzc3dvcmQx"])
      #expect(
        await failure { _ = try await basic.renewals.listMyRenewals(.init(), metadata: basic.metadata) }?.reason
          == "TOKEN_MISSING")

      // An expired session.
      let token = "expired-session-token"
      let now = RenewalApplication.systemClock()
      try await daemon.application.store.saveSession(
        StoredSession(
          tokenHash: daemon.authentication.sessions.hash(token), uid: "ens1a", createdAt: now.adding(seconds: -7200),
          expiresAt: now.adding(seconds: -60)))
      let expired = TestCaller(client, name: "expired", metadata: ["authorization": "Bearer \(token)"])
      #expect(
        await failure { _ = try await expired.renewals.listMyRenewals(.init(), metadata: expired.metadata) }?.code
          == .unauthenticated)

      // A credential that is not valid is UNAUTHENTICATED whatever else the call carries: a forged or
      // expired token sent with x-okey-on-behalf-of is not told that only service accounts may send it.
      for (name, token) in [("forged", "not-a-real-token"), ("expired", token)] {
        let withOnBehalf: Metadata = ["authorization": "Bearer \(token)", "x-okey-on-behalf-of": "ens1a"]
        let outcome = await failure { _ = try await forged.renewals.listMyRenewals(.init(), metadata: withOnBehalf) }
        #expect(outcome?.code == .unauthenticated, "\(name)")
        #expect(outcome?.reason == "TOKEN_INVALID", "\(name)")
      }

      // A person's session cannot act for someone else.
      let session = try await TestCaller.session(client, "ens1b")
      var impersonating = session.metadata
      impersonating.addString("ens1a", forKey: "x-okey-on-behalf-of")
      #expect(
        await failure { _ = try await session.renewals.listMyRenewals(.init(), metadata: impersonating) }?.code
          == .permissionDenied)
      // A service account that may not act for people, and one naming nobody real.
      let tools = TestCaller.portal(client, for: "ens1a", key: toolsKey)
      #expect(
        await failure { _ = try await tools.renewals.listMyRenewals(.init(), metadata: tools.metadata) }?.code
          == .permissionDenied)
      for uid in ["*", "ens1a)(uid=*", "ghost", "twin"] {
        let portal = TestCaller.portal(client, for: uid)
        #expect(
          await failure { _ = try await portal.renewals.listMyRenewals(.init(), metadata: portal.metadata) }?.code
            == .permissionDenied, "\(uid)")
      }
      // Wrong passwords, and an empty one.
      let auth = Okey_V1_AuthService.Client(wrapping: client)
      #expect(
        await failure {
          _ = try await auth.login(
            .with {
              $0.uid = "ens1a"
              $0.password = "nope"
            })
        }?.reason == "BAD_CREDENTIALS")
      #expect(
        await failure {
          _ = try await auth.login(
            .with {
              $0.uid = "*"
              $0.password = "password1"
            })
        }?.reason == "BAD_CREDENTIALS")
      #expect(
        await failure {
          _ = try await auth.login(
            .with {
              $0.uid = "ens1a"
              $0.password = ""
            })
        }?.code == .invalidArgument)
    }
  }

  @Test("bad input on a request gets its status code and leaves the request as it was")
  func nothingWritten() async throws {
    try await withAcademy(configure: { $0.limits.maxDocumentBytes = 64 * 1024 }) { _, client in
      let agent = try await TestCaller.session(client, "ens1a")
      let other = try await TestCaller.session(client, "ens1b")
      let renewal = try await agent.renewals.startRenewal(
        .with {
          $0.keyType = .hardware
          $0.motif = .stolen
        }, metadata: agent.metadata
      ).renewal
      let before = try await agent.get(renewal.requestID)
      func add(
        _ content: Data, name: String = "scan.pdf", type: String = "application/pdf", kind: String = "theft-report",
        as caller: TestCaller? = nil
      ) async -> (code: RPCError.Code, reason: String)? {
        let caller = caller ?? agent
        return await failure {
          _ = try await caller.renewals.addDocument(
            .with {
              $0.requestID = renewal.requestID
              $0.filename = name
              $0.mediaType = type
              $0.kind = kind
              $0.content = content
              $0.expectedVersion = renewal.version
            }, metadata: caller.metadata)
        }
      }
      let elf = Data([0x7F, 0x45, 0x4C, 0x46, 0x02, 0x01, 0x01, 0x00] + Array(repeating: 0, count: 100))
      #expect(await add(elf)?.reason == "DOCUMENT_TYPE")
      #expect(await add(pdfBytes, type: "image/png")?.reason == "DOCUMENT_TYPE")
      #expect(await add(Data("%PDF-".utf8) + Data(count: 70 * 1024))?.reason == "DOCUMENT_LIMIT")
      #expect(await add(pdfBytes, kind: "selfie")?.code == .invalidArgument)
      #expect(await add(pdfBytes, as: other)?.reason == "NOT_YOUR_REQUEST")
      // Unknown enum values.
      #expect(
        await failure {
          _ = try await agent.renewals.startRenewal(
            .with {
              $0.keyType = .UNRECOGNIZED(9)
              $0.motif = .lost
            }, metadata: agent.metadata)
        }?.code == .invalidArgument)
      #expect(
        await failure {
          _ = try await agent.renewals.startRenewal(
            .with {
              $0.keyType = .software
              $0.motif = .UNRECOGNIZED(42)
            }, metadata: agent.metadata)
        }?.code == .invalidArgument)
      // Ids and uids with tricks in them.
      #expect(await failure { _ = try await agent.get("../../etc/passwd") }?.code == .invalidArgument)
      #expect(await failure { _ = try await agent.get(UUID().uuidString.lowercased()) }?.code == .notFound)
      #expect(await failure { _ = try await other.get(renewal.requestID) }?.code == .permissionDenied)
      for uid in ["*", "ens1a)(uid=*", "ens1a", "\\", "ghost"] {
        let outcome = await failure {
          _ = try await agent.renewals.setValidator(
            .with {
              $0.requestID = renewal.requestID
              $0.validatorUid = uid
              $0.expectedVersion = renewal.version
            }, metadata: agent.metadata)
        }
        #expect(outcome?.code == .invalidArgument, "\(uid): \(String(describing: outcome))")
      }
      // A stale version.
      #expect(
        await failure {
          _ = try await agent.renewals.cancelRenewal(
            .with {
              $0.requestID = renewal.requestID
              $0.expectedVersion = renewal.version + 7
            }, metadata: agent.metadata)
        }?.reason == "STALE_VERSION")
      // A bad page token.
      #expect(
        await failure {
          _ = try await agent.renewals.listMyRenewals(.with { $0.pageToken = "!!!" }, metadata: agent.metadata)
        }?.code == .invalidArgument)

      let after = try await agent.get(renewal.requestID)
      #expect(after == before, "a refused call changed the request")
    }
  }

  @Test(
    "extreme timestamps, negative limits and forged page tokens are INVALID_ARGUMENT naming the field, and okeyd keeps serving"
  )
  func extremeValues() async throws {
    try await withAcademy { _, client in
      let support = try await TestCaller.session(client, "helpdesk1")
      let dsi = try await TestCaller.session(client, "dsi-op1")
      let huge = Google_Protobuf_Timestamp(seconds: 1 << 62, nanos: 0)
      let cases: [(String, @Sendable () async throws -> Void)] = [
        (
          "created_after.seconds",
          { _ = try await support.support.searchRenewals(.with { $0.createdAfter = huge }, metadata: support.metadata) }
        ),
        (
          "created_before.seconds",
          {
            _ = try await support.support.searchRenewals(
              .with { $0.createdBefore = .init(seconds: Int64.min, nanos: 0) }, metadata: support.metadata)
          }
        ),
        (
          "created_after.nanos",
          {
            _ = try await support.support.searchRenewals(
              .with { $0.createdAfter = .init(seconds: 0, nanos: -1) }, metadata: support.metadata)
          }
        ),
        (
          "slots[0].starts_at.seconds",
          {
            _ = try await dsi.operations.publishPickupSlots(
              .with {
                $0.place = .with {
                  $0.placeID = "edge"
                  $0.name = "Edge"
                }
                $0.slots = [
                  .with {
                    $0.startsAt = huge
                    $0.endsAt = huge
                    $0.capacity = 1
                  }
                ]
              }, metadata: dsi.metadata)
          }
        ),
        (
          "limit",
          { _ = try await support.support.listOutbox(.with { $0.limit = Int32.min }, metadata: support.metadata) }
        ),
        (
          "page_token",
          {
            let token = Data("\(Int64.max):x".utf8).base64EncodedString()
            _ = try await support.support.searchRenewals(.with { $0.pageToken = token }, metadata: support.metadata)
          }
        ),
        (
          "page_size",
          {
            _ = try await support.support.searchRenewals(.with { $0.pageSize = Int32.min }, metadata: support.metadata)
          }
        ),
      ]
      for (field, call) in cases {
        do {
          try await call()
          Issue.record("\(field): accepted")
        } catch let error as RPCError {
          #expect(error.code == .invalidArgument, "\(field): \(error)")
          #expect(error.message.contains(field), "\(field): \(error.message)")
        }
      }
      // Still serving.
      _ = try await support.support.stats(.init(), metadata: support.metadata)
    }
  }

  @Test("repeated wrong passwords pause logins for that uid only, even with the right password")
  func loginThrottle() async throws {
    try await withAcademy(configure: { $0.sessions.maxFailedLogins = 3 }) { _, client in
      let auth = Okey_V1_AuthService.Client(wrapping: client)
      for _ in 0..<3 {
        #expect(
          await failure {
            _ = try await auth.login(
              .with {
                $0.uid = "ens1a"
                $0.password = "guess"
              })
          }?.reason == "BAD_CREDENTIALS")
      }
      let throttled = await failure {
        _ = try await auth.login(
          .with {
            $0.uid = "ens1a"
            $0.password = SlapdFixture.personPassword
          })
      }
      #expect(throttled?.code == .resourceExhausted)
      #expect(throttled?.reason == "LOGIN_THROTTLED")
      let other = try await auth.login(
        .with {
          $0.uid = "ens1b"
          $0.password = SlapdFixture.personPassword
        })
      #expect(!other.token.isEmpty)
    }
  }

  @Test("a lockout holds whatever the spelling of the uid: trailing space or other case are the same person")
  func throttleCanonical() async throws {
    try await withAcademy(configure: { $0.sessions.maxFailedLogins = 3 }) { _, client in
      let auth = Okey_V1_AuthService.Client(wrapping: client)
      for _ in 0..<3 {
        #expect(
          await failure {
            _ = try await auth.login(
              .with {
                $0.uid = "ens1a"
                $0.password = "guess"
              })
          }?.reason == "BAD_CREDENTIALS")
      }
      for spelling in ["ens1a ", "ENS1A", " Ens1a"] {
        let reason = await Self.loginReason(auth, uid: spelling, password: SlapdFixture.personPassword)
        #expect(reason == "LOGIN_THROTTLED", "'\(spelling)': \(reason)")
      }
    }
  }

  @Test("parallel wrong logins cannot all reach the directory: at most the limit are checked, the rest throttled")
  func throttleParallel() async throws {
    try await withAcademy(configure: { $0.sessions.maxFailedLogins = 3 }) { _, client in
      let auth = Okey_V1_AuthService.Client(wrapping: client)
      let reasons = await withTaskGroup(of: String.self) { group in
        for _ in 0..<20 { group.addTask { await Self.loginReason(auth, uid: "ens1b", password: "guess") } }
        var reasons: [String] = []
        for await reason in group { reasons.append(reason) }
        return reasons
      }
      #expect(reasons.filter { $0 == "BAD_CREDENTIALS" }.count <= 3, "\(reasons)")
      #expect(reasons.filter { $0 == "LOGIN_THROTTLED" }.count >= 17, "\(reasons)")
    }
  }

  /// The ErrorInfo reason of a login ("OK" if it went through).
  static func loginReason(_ auth: Okey_V1_AuthService.Client<HTTP2ClientTransport.Posix>, uid: String, password: String)
    async -> String
  {
    do {
      _ = try await auth.login(
        .with {
          $0.uid = uid
          $0.password = password
        })
      return "OK"
    } catch let error as RPCError {
      return (try? error.unpackGoogleRPCStatus())??.details.first?.errorInfo?.reason ?? "\(error.code)"
    } catch {
      return "\(error)"
    }
  }

  @Test("one address that keeps failing is paused, whichever uids it tries")
  func throttlePeer() async throws {
    try await withAcademy(configure: { $0.sessions.maxFailedLoginsPerPeer = 4 }) { _, client in
      let auth = Okey_V1_AuthService.Client(wrapping: client)
      for n in 0..<4 {
        #expect(await Self.loginReason(auth, uid: "nobody-\(n)", password: "guess") == "BAD_CREDENTIALS")
      }
      #expect(await Self.loginReason(auth, uid: "ens3", password: SlapdFixture.personPassword) == "LOGIN_THROTTLED")
    }
  }

  @Test("a flood of failures on unknown uids evicts old entries but never a real person's lockout")
  func throttleEviction() {
    let throttle = LoginThrottle(maxFailures: 2, maxPeerFailures: Int.max, windowSeconds: 300, capacity: 100)
    let now = Instant(millisecondsSinceEpoch: 1_795_000_000_000)
    for _ in 0..<2 {
      guard case .success(let reservation) = throttle.reserve(canonicalUID: "ens1a", now: now) else {
        Issue.record("refused before the limit")
        return
      }
      throttle.finish(reservation, succeeded: false, peer: "ipv4:10.0.0.1", now: now)
    }
    for n in 0..<100_001 { throttle.recordUnknown(uid: "random-\(n)", peer: "ipv4:10.0.\(n % 250).\(n % 7)", now: now) }
    guard case .failure = throttle.reserve(canonicalUID: "ENS1A", now: now.adding(seconds: 10)) else {
      Issue.record("the lockout was wiped by the flood")
      return
    }
    #expect(
      throttle.waitBeforeLookup(uid: "random-0", peer: "ipv4:192.0.2.1", now: now) == nil,
      "the oldest unknown entries were evicted")
  }

  @Test("an oversized message is refused and the server keeps serving")
  func oversized() async throws {
    try await withAcademy(configure: {
      $0.limits.maxMessageBytes = 256 * 1024
      $0.limits.maxDocumentBytes = 128 * 1024
    }) { _, client in
      let agent = try await TestCaller.session(client, "ens1a")
      let renewal = try await agent.renewals.startRenewal(
        .with {
          $0.keyType = .hardware
          $0.motif = .expired
        }, metadata: agent.metadata
      ).renewal
      let outcome = await failure {
        _ = try await agent.renewals.addDocument(
          .with {
            $0.requestID = renewal.requestID
            $0.filename = "big.pdf"
            $0.kind = "supporting-document"
            $0.content = Data("%PDF-".utf8) + Data(count: 1024 * 1024)
            $0.expectedVersion = renewal.version
          }, metadata: agent.metadata)
      }
      #expect(outcome?.code == .resourceExhausted || outcome?.code == .unavailable)
      let after = try await agent.get(renewal.requestID)
      #expect(after.version == renewal.version)
      #expect(after.documents.isEmpty)
    }
  }
}

@Suite("honest answers: replays and unexpected failures", .serialized)
struct HonestAnswerTests {
  struct Boom: Error {}

  @Test("an unexpected failure inside a change writes nothing and is INTERNAL with the request id of its log line")
  func internalFailure() async throws {
    try await withAcademy { daemon, client in
      let agent = try await TestCaller.session(client, "ens1a")
      let r = try await agent.renewals.startRenewal(
        .with {
          $0.keyType = .software
          $0.motif = .expired
        }, metadata: agent.metadata
      ).renewal
      await #expect(throws: Boom.self) {
        _ = try await daemon.application.change(
          r.requestID, expectedVersion: r.version, actor: OKeyDomain.Caller(uid: "ens1a")
        ) { _, _ in
          throw Boom()
        }
      }
      #expect(try await agent.get(r.requestID).version == r.version)
      let status = CallIdentity.$requestID.withValue("feedc0de") {
        ErrorMapping.status(for: Boom(), logger: Logger(label: "test"), method: "okey.v1.RenewalService/SubmitRenewal")
      }
      #expect(status.code == .internalError)
      #expect(status.message.contains("feedc0de"))
      #expect(!status.message.contains("Boom"), "no internals in the message")
    }
  }

  @Test(
    "an idempotency key is scoped to its caller: another caller with the same key gets its own answer, not the first result"
  )
  func idempotencyScope() async throws {
    try await withAcademy { _, client in
      let portal = TestCaller.portal(client, for: "ens1a")
      let first = try await portal.renewals.startRenewal(
        .with {
          $0.keyType = .software
          $0.motif = .expired
          $0.idempotencyKey = "k-1"
        }, metadata: portal.metadata
      ).renewal
      let replay = try await portal.renewals.startRenewal(
        .with {
          $0.keyType = .software
          $0.motif = .expired
          $0.idempotencyKey = "k-1"
        }, metadata: portal.metadata
      ).renewal
      #expect(replay.requestID == first.requestID)
      let session = try await TestCaller.session(client, "ens1a")
      let other = await failure {
        _ = try await session.renewals.startRenewal(
          .with {
            $0.keyType = .software
            $0.motif = .expired
            $0.idempotencyKey = "k-1"
          }, metadata: session.metadata)
      }
      #expect(
        other?.code == .alreadyExists, "the agent's own session is another caller: the one-open-request rule answers")
      // A replayed submit is refused to a caller who cannot see the request.
      let colleague = try await TestCaller.session(client, "ens1b")
      let stranger = await failure {
        _ = try await colleague.renewals.submitRenewal(
          .with {
            $0.requestID = first.requestID
            $0.expectedVersion = first.version
            $0.idempotencyKey = "k-2"
          }, metadata: colleague.metadata)
      }
      #expect(stranger?.reason == "NOT_YOUR_REQUEST")
    }
  }
}
