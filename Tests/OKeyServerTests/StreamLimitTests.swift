import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import OKeyAPI
import OKeyTestSupport
import Testing

@testable import OKeyServer

@Suite("streams and connections are bounded", .serialized)
struct StreamLimitTests {
  /// Opens a Health.Watch stream on `client` and keeps it open until the returned task is cancelled;
  /// the task's value is the code the stream ended with (nil when cancelled by the test).
  func openWatch(_ client: GRPCClient<HTTP2ClientTransport.Posix>, opened: AsyncStream<RPCError.Code?>.Continuation)
    -> Task<Void, Never>
  {
    Task {
      do {
        try await Grpc_Health_V1_Health.Client(wrapping: client).watch(.init()) { response in
          for try await _ in response.messages { opened.yield(nil) }
        }
      } catch let error as RPCError {
        // The test's own cancellation ends a stream: not an event.
        if !Task.isCancelled { opened.yield(error.code) }
      } catch {
        if !Task.isCancelled { opened.yield(.unknown) }
      }
    }
  }

  @Test(
    "Watch streams past the bound of a connection, then past the total, are refused RESOURCE_EXHAUSTED; a closed one frees its place",
    .timeLimit(.minutes(1)))
  func watchCaps() async throws {
    try await withAcademy(configure: {
      $0.limits.maxWatchStreamsPerConnection = 2
      $0.limits.maxWatchStreams = 3
    }) { daemon, first in
      let (events, continuation) = AsyncStream.makeStream(of: RPCError.Code?.self)
      var iterator = events.makeAsyncIterator()
      let a = openWatch(first, opened: continuation)
      let b = openWatch(first, opened: continuation)
      #expect(await iterator.next() == .some(nil))
      #expect(await iterator.next() == .some(nil))
      let c = openWatch(first, opened: continuation)
      #expect(await iterator.next() == .resourceExhausted, "a third stream on one connection")
      let address = try await daemon.listeningAddress
      try await withClient(address) { second in
        let d = openWatch(second, opened: continuation)
        #expect(await iterator.next() == .some(nil), "another connection has room")
        let e = openWatch(second, opened: continuation)
        #expect(await iterator.next() == .resourceExhausted, "past the total")
        a.cancel()
        await a.value
        try await pollUntil("a place freed") { daemon.application.streams.open == 2 }
        let f = openWatch(second, opened: continuation)
        let reopened = await iterator.next()
        #expect(reopened == .some(nil), "\(String(describing: reopened))")
        for task in [b, c, d, e, f] { task.cancel() }
        for task in [b, c, d, e, f] { await task.value }
      }
    }
  }

  @Test(
    "okeyd sends GOAWAY to an idle HTTP/2 connection after limits.connectionMaxIdleSeconds, and to any connection after connectionMaxAgeSeconds",
    .timeLimit(.minutes(1)), arguments: ["idle", "age"])
  func idleConnection(limit: String) async throws {
    try await withOKeyDaemon(configure: {
      $0.limits.connectionMaxIdleSeconds = limit == "idle" ? 1 : 0
      $0.limits.connectionMaxAgeSeconds = limit == "age" ? 1 : 0
      $0.limits.connectionMaxGraceSeconds = 1
    }) { _, address in
      // A raw HTTP/2 client: the connection preface and an empty SETTINGS frame, then nothing.
      let script = """
        import socket, sys, time
        s = socket.create_connection(("\(address.host)", \(address.port)))
        s.sendall(b"PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))
        s.settimeout(10)
        started, data, goaway = time.monotonic(), b"", False
        while not goaway:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            i = 0
            while i + 9 <= len(data):
                length, kind = int.from_bytes(data[i:i + 3], "big"), data[i + 3]
                goaway = goaway or kind == 7
                i += 9 + length
        print(f"closed after {time.monotonic() - started:.1f} s, goaway={goaway}")
        """
      let result = try await ChildProcess.run("/usr/bin/python3", ["-c", script], timeout: .seconds(30))
      #expect(result.status == 0, "\(result.error)")
      #expect(result.output.contains("goaway=True"), "\(result.output)")
      let seconds = Double(result.output.split(separator: " ").dropFirst(2).first ?? "") ?? 99
      #expect(seconds < 8, "\(result.output)")
    }
  }
}

/// Polls `condition` every 20 ms until it holds, failing after `limit`.
func pollUntil(_ what: String, limit: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws {
  let clock = ContinuousClock()
  let deadline = clock.now + limit
  while try await !condition() {
    guard clock.now < deadline else { throw ChildProcessError("\(what): not within \(limit)") }
    try await Task.sleep(for: .milliseconds(20))
  }
}
