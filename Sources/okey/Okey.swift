import ArgumentParser
import Foundation
import OKeyClient

/// The okey command-line client for support staff, the DSI and scripts.
@main
struct Okey: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "okey",
    abstract: "Query and drive the OKEY key-renewal service (okeyd).",
    discussion: """
      The server comes from --server, else OKEY_SERVER, else 127.0.0.1:50051.

      Exit codes: 0 done; 1 other failure; 3 server not serving; 64 usage error; 65 refused input or
      state; 66 not found; 69 server or directory unavailable; 77 not authenticated or not allowed.
      """,
    subcommands: [Health.self]
  )
}

/// Options every subcommand that talks to okeyd takes.
struct ConnectionOptions: ParsableArguments {
  @Option(name: .long, help: "okeyd address, HOST:PORT (default: $OKEY_SERVER, else 127.0.0.1:50051).")
  var server: String?

  @Option(name: .long, help: "Seconds to wait for an answer before giving up.")
  var timeout: Int = 10

  func settings() throws -> OKeyClientSettings {
    let environment = ProcessInfo.processInfo.environment
    let address = server ?? environment["OKEY_SERVER"].flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1:50051"
    do {
      return try OKeyClientSettings(
        server: address,
        token: environment["OKEY_TOKEN"].flatMap { $0.isEmpty ? nil : $0 },
        timeout: .seconds(max(1, timeout))
      )
    } catch let error as OKeyClientError {
      throw ValidationError(error.message)
    }
  }
}

/// Exit codes of okey, documented in `okey --help`.
enum ExitStatus {
  static let failure: Int32 = 1
  static let notServing: Int32 = 3
  static let refused: Int32 = 65
  static let notFound: Int32 = 66
  static let unavailable: Int32 = 69
  static let denied: Int32 = 77

  /// Prints the server's message on one line and returns the exit code for `error`'s kind.
  static func report(_ error: OKeyClientError) -> ExitCode {
    FileHandle.standardError.write(Data("okey: \(error.message.replacingOccurrences(of: "\n", with: " "))\n".utf8))
    switch error {
    case .invalidArgument, .failedPrecondition, .aborted, .alreadyExists: return ExitCode(refused)
    case .notFound: return ExitCode(notFound)
    case .unavailable, .deadlineExceeded: return ExitCode(unavailable)
    case .permissionDenied, .unauthenticated: return ExitCode(denied)
    case .unimplemented, .other: return ExitCode(failure)
    }
  }
}

/// Runs `body` against okeyd, reporting client errors as one line and an exit code.
func withClient<Result: Sendable>(
  _ options: ConnectionOptions,
  _ body: (OKeyClient) async throws -> Result
) async throws -> Result {
  let settings = try options.settings()
  do {
    return try await OKeyClient.with(settings, body)
  } catch let error as OKeyClientError {
    throw ExitStatus.report(error)
  }
}

extension Okey {
  struct Health: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Print the serving status of okeyd (gRPC health check).",
      discussion: "Prints SERVING, NOT_SERVING or UNKNOWN. Exits 0 when SERVING, 3 otherwise."
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(name: .long, help: "A full service name to check, e.g. okey.v1.RenewalService (default: the whole server).")
    var service: String = ""

    func run() async throws {
      let status = try await withClient(connection) { try await $0.servingStatus(of: service) }
      print(status.rawValue)
      if status != .serving { throw ExitCode(ExitStatus.notServing) }
    }
  }
}
