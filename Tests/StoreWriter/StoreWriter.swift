// A writer process for the crash test: starts and submits renewal requests as fast as it can and
// prints "ack <id> <version>" after each commit, so that the test can kill it with SIGKILL mid-burst
// and then check that every acknowledged write survived.
import Foundation
import OKeyDomain
import OKeyStore

@main
struct StoreWriter {
  static func main() async throws {
    let arguments = CommandLine.arguments
    guard arguments.count == 3, let count = Int(arguments[2]) else {
      FileHandle.standardError.write(Data("usage: okey-store-writer DATABASE COUNT\n".utf8))
      exit(64)
    }
    let store = try SQLiteRenewalStore(path: arguments[1])
    let base = Instant(secondsSinceEpoch: 1_795_000_000)
    for index in 0..<count {
      let uid = "writer-\(getpid())-\(index)"
      let requester = DirectoryPerson(uid: uid)
      let routing = Routing(
        requester: requester, n1: RoutedApprover(person: DirectoryPerson(uid: "boss"), foundBy: "test"),
        resolvedAt: base)
      let id = "crash-\(getpid())-\(index)"
      let started = try await store.start(agentUID: uid, idempotencyKey: nil) { open in
        RenewalWorkflow.start(
          id: id, actor: Caller(uid: uid), keyType: .hardware, motif: .expired, motifDetails: "", routing: routing,
          openRequestID: open, now: base)
      }
      // An unbuffered write: the line is out before the next write starts.
      FileHandle.standardOutput.write(Data("ack \(started.id) \(started.version)\n".utf8))
    }
  }
}
