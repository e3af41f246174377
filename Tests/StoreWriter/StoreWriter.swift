// A writer process for the crash test: starts renewal requests as fast as it can, sixteen at a time
// (they share group commits), and prints "ack <id> <version>" after each commit, so that the test can kill it with SIGKILL mid-burst
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
    // Sixteen writers at once, so that their changes share group commits.
    let writers = 16
    try await withThrowingTaskGroup(of: Void.self) { group in
      for writer in 0..<writers {
        group.addTask {
          for index in stride(from: writer, to: count, by: writers) { try await write(index, store: store) }
        }
      }
      try await group.waitForAll()
    }
  }

  static func write(_ index: Int, store: SQLiteRenewalStore) async throws {
    let base = Instant(secondsSinceEpoch: 1_795_000_000)
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
    // An unbuffered write of one short line (a single write(2), whole on a pipe).
    FileHandle.standardOutput.write(Data("ack \(started.id) \(started.version)\n".utf8))
  }
}
