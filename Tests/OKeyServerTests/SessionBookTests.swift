import Foundation
import Logging
import OKeyDirectory
import OKeyDomain
import OKeyStore
import OKeyTestSupport
import Synchronization
import Testing

@testable import OKeyServer

@Suite("sessions remembered between calls")
struct SessionBookTests {
  /// A clock the test moves by hand.
  final class HandClock: Sendable {
    let now: Mutex<Instant>
    init(_ start: Instant) { now = Mutex(start) }
    func advance(seconds: Int64) { now.withLock { $0 = $0.adding(seconds: seconds) } }
    func read() -> Instant { now.withLock { $0 } }
  }

  @Test("a remembered session is refused once it expires, and an unknown token is never remembered")
  func expiry() async throws {
    try await withTemporaryDirectory { folder in
      let store = try SQLiteRenewalStore(path: folder + "/okey.sqlite")
      let clock = HandClock(Instant(millisecondsSinceEpoch: 1_795_000_000_000))
      // No directory answers: the session keeps what it knew (an outage locks nobody out).
      var unreachable = DirectoryConfiguration()
      unreachable.uri = "ldap://127.0.0.1:1"
      unreachable.networkTimeoutSeconds = 1
      let directory = LDAPDirectory(configuration: unreachable)
      defer { Task { await directory.shutdown() } }
      let resolver = RoutingResolver(directory: directory, now: { clock.read() })
      let book = SessionBook(
        store: store, clock: { clock.read() }, resolver: resolver, recheckSeconds: 0, logger: Logger(label: "test"))
      let (token, _) = try await book.open(for: DirectoryPerson(uid: "ens1a"), groups: [], ttlSeconds: 20)
      #expect(try await book.session(forTokenHash: Tokens.hash(token))?.actor.uid == "ens1a")
      clock.advance(seconds: 19)
      #expect(try await book.session(forTokenHash: Tokens.hash(token))?.actor.uid == "ens1a")
      clock.advance(seconds: 1)
      #expect(try await book.session(forTokenHash: Tokens.hash(token)) == nil)

      // A token asked for before its session exists is found once it does.
      let later = "later-session-token"
      #expect(try await book.session(forTokenHash: Tokens.hash(later)) == nil)
      try await store.saveSession(
        StoredSession(
          tokenHash: Tokens.hash(later), uid: "ens1b", createdAt: clock.read(),
          expiresAt: clock.read().adding(seconds: 60)))
      #expect(try await book.session(forTokenHash: Tokens.hash(later))?.actor.uid == "ens1b")
    }
  }

  @Test("token hashes are the SHA-256 of the token in lower-case hex")
  func tokenHash() {
    #expect(Tokens.hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    #expect(Tokens.hash("abc") == sha256Hex("abc"))
    #expect(Tokens.hash("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
  }
}
