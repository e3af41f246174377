import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// A small HTTP listener that serves `GET /metrics` in the Prometheus text format.
struct MetricsEndpoint: Service {
  let address: ListenAddress
  let render: @Sendable () async -> String
  let logger: Logger

  func run() async throws {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .bind(host: address.host, port: address.port) { channel in
        channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.configureHTTPServerPipeline()
          return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
            wrappingChannelSynchronously: channel)
        }
      }
    logger.notice(
      "metrics listening",
      metadata: ["address": "\(address.host):\(channel.channel.localAddress?.port ?? address.port)"])
    try await withGracefulShutdownHandler {
      try await withThrowingDiscardingTaskGroup { group in
        try await channel.executeThenClose { inbound in
          for try await connection in inbound {
            group.addTask { await serve(connection) }
          }
        }
      }
    } onGracefulShutdown: {
      channel.channel.close(promise: nil)
    }
  }

  func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
    try? await connection.executeThenClose { inbound, outbound in
      var path = ""
      for try await part in inbound {
        switch part {
        case .head(let head): path = head.uri
        case .body: break
        case .end:
          let ok = path == "/metrics"
          let body = ok ? await render() : "not found: try /metrics\n"
          var headers = HTTPHeaders()
          headers.add(name: "Content-Type", value: ok ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain")
          headers.add(name: "Content-Length", value: "\(body.utf8.count)")
          headers.add(name: "Connection", value: "close")
          try await outbound.write(
            .head(HTTPResponseHead(version: .http1_1, status: ok ? .ok : .notFound, headers: headers)))
          try await outbound.write(.body(.byteBuffer(ByteBuffer(string: body))))
          try await outbound.write(.end(nil))
          return
        }
      }
    }
  }
}
