import ArgumentParser
import Foundation
import OKeyClient

/// The okey command-line client for support staff, approvers, the DSI and scripts.
@main
struct Okey: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "okey",
    abstract: "Query and drive the OKEY key-renewal service (okeyd).",
    discussion: """
      The server comes from --server, else OKEY_SERVER, else 127.0.0.1:50051. The token comes from
      OKEY_TOKEN, else the file `okey login` writes ($XDG_CONFIG_HOME/okey/token, mode 0600). A
      service-account key in OKEY_TOKEN acts for a person with --on-behalf-of UID.

      Exit codes: 0 done; 1 other failure; 3 server not serving; 64 usage error; 65 refused input or
      state; 66 not found; 69 server or directory unavailable; 77 not authenticated or not allowed.
      """,
    subcommands: [
      Health.self, Login.self, Logout.self, WhoAmI.self, RenewalCommands.self, Approvals.self, Ops.self, Slots.self,
      CharterCommands.self, Requests.self, Routing.self, Keys.self, Audit.self, Stats.self, Report.self,
      Outbox.self,
    ]
  )
}

extension Okey {
  struct Health: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Print the serving status of okeyd (gRPC health check).",
      discussion: "Prints SERVING, NOT_SERVING or UNKNOWN. Exits 0 when SERVING, 3 otherwise.")
    @OptionGroup var connection: ConnectionOptions
    @Option(name: .long, help: "A full service name to check, e.g. okey.v1.RenewalService (default: the whole server).")
    var service: String = ""

    func run() async throws {
      let status = try await withClient(connection) { try await $0.servingStatus(of: service) }
      print(status.rawValue)
      if status != .serving { throw ExitCode(ExitStatus.notServing) }
    }
  }

  struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Log in with your directory password and keep the session token for the next commands.",
      discussion:
        "Asks for the password without echo (or reads one line from standard input with --password-stdin). The token is written to $XDG_CONFIG_HOME/okey/token with mode 0600; --print-token prints it instead, for OKEY_TOKEN."
    )
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "Your directory login (uid).") var uid: String
    @Flag(help: "Read the password from standard input (for scripts).") var passwordStdin = false
    @Flag(help: "Print the token on standard output instead of writing the token file.") var printToken = false

    func run() async throws {
      let password = try readPassword(fromStandardInput: passwordStdin)
      let result = try await withClient(connection) { try await $0.login(uid: uid, password: password) }
      if printToken {
        print(result.token)
      } else {
        try TokenFile.write(result.token)
        if connection.json {
          try printJSON(result.principal)
        } else {
          print(
            "logged in as \(result.principal.uid) (\(result.principal.roles.joined(separator: ", "))) until \(short(result.expiresAt))"
          )
        }
      }
    }
  }

  struct Logout: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "End the session on the server, then forget the token `okey login` kept.",
      discussion: """
        The token stops working at once. When the server cannot be reached the local token is
        still forgotten, and okey says that the session stays valid on the server until it expires.
        """)
    @OptionGroup var connection: ConnectionOptions
    func run() async throws {
      let settings = try connection.settings(requireToken: false)
      guard settings.token != nil else {
        print("not logged in")
        return
      }
      // The kept token goes whatever the server says; a token from $OKEY_TOKEN is not ours to delete.
      defer { if settings.token == TokenFile.read() { TokenFile.remove() } }
      do {
        let uid = try await OKeyClient.with(settings) { try await $0.logout() }
        print("logged out: the session of \(uid) has ended")
      } catch let error as OKeyClientError where error.kind == .unauthenticated {
        print("the session had already ended")
      } catch let error as OKeyClientError {
        if error.kind == .unavailable {
          FileHandle.standardError.write(
            Data("okey: the session could not be ended on the server and stays valid until it expires\n".utf8))
        }
        throw ExitStatus.report(error)
      }
    }
  }

  struct WhoAmI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "whoami", abstract: "Show who the current token makes you, with your roles.")
    @OptionGroup var connection: ConnectionOptions
    func run() async throws {
      let principal = try await withClient(connection) { try await $0.whoAmI() }
      if connection.json {
        try printJSON(principal)
      } else {
        let who = principal.uid.isEmpty ? "(nobody)" : principal.uid
        let via = principal.serviceAccount.isEmpty ? "" : " via \(principal.serviceAccount)"
        let heads =
          principal.headedEstablishments.isEmpty
          ? "" : "; heads \(principal.headedEstablishments.joined(separator: ", "))"
        print("\(who) \(principal.displayName) roles: \(principal.roles.joined(separator: ", "))\(via)\(heads)")
      }
    }
  }
}
