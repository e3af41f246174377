import Foundation
import GRPCCore
import Logging
import OKeyDirectory
import OKeyDomain
import OKeyStore

/// Authenticates every okey.v1 call except Login (health and reflection need no token): reads
/// `authorization: Bearer <token>` and `x-okey-on-behalf-of`, and runs the handler with the
/// ``Principal``. Denied calls are logged (who, what, why), never the token.
struct AuthenticationInterceptor: ServerInterceptor {
  let application: RenewalApplication
  let logger: Logger

  static let open: Set<String> = ["okey.v1.AuthService/Login"]

  func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    let method = context.descriptor.fullyQualifiedMethod
    guard context.descriptor.service.fullyQualifiedService.hasPrefix("okey.v1."), !Self.open.contains(method) else {
      return try await next(request, context)
    }
    let principal: Principal
    do {
      principal = try await authenticate(request.metadata)
    } catch {
      logger.notice(
        "call denied", metadata: ["method": "\(method)", "peer": "\(context.remotePeer)", "why": "\(String(describing: (error as? APIError)?.reason ?? "\(type(of: error))"))"])
      throw error
    }
    let cancellation = context.cancellation
    var response = try await Principal.$current.withValue(principal) {
      try await CallCancellation.$handle.withValue(cancellation) {
        try await next(request, context)
      }
    }
    // A streaming body runs after this returns: give it the principal too.
    if case .success(var contents) = response.accepted {
      let producer = contents.producer
      contents.producer = { writer in
        try await Principal.$current.withValue(principal) {
          try await CallCancellation.$handle.withValue(cancellation) { try await producer(writer) }
        }
      }
      response.accepted = .success(contents)
    }
    return response
  }

  func authenticate(_ metadata: Metadata) async throws -> Principal {
    let header = metadata[stringValues: "authorization"].first(where: { _ in true }) ?? ""
    guard header.lowercased().hasPrefix("bearer "), case let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces), !token.isEmpty else {
      throw APIError.unauthenticated("TOKEN_MISSING", "no token: log in (AuthService.Login) and send authorization: Bearer <token>")
    }
    guard token.count <= 512 else { throw APIError.unauthenticated("TOKEN_INVALID", "the token is not valid: log in again") }
    let hash = Tokens.hash(token)
    let onBehalfOf = metadata[stringValues: "x-okey-on-behalf-of"].first(where: { _ in true })
    if let account = application.configuration.serviceAccounts.first(where: { Tokens.equal($0.keySHA256, hash) }) {
      guard let uid = onBehalfOf, !uid.isEmpty else {
        return Principal(person: nil, actor: Actor(uid: "", serviceAccount: account.name), kind: .serviceAccount(name: account.name))
      }
      guard account.actsForPeople else {
        throw APIError.denied("ON_BEHALF_OF_NOT_ALLOWED", "service account \(account.name) may not act for people")
      }
      guard RenewalApplication.isPlausibleUID(uid) else {
        throw APIError.denied("UNKNOWN_PERSON", "x-okey-on-behalf-of names no single person of the directory")
      }
      let application = self.application
      // The person and their groups for the directory cache's lifetime: one lookup, not one per call.
      let principal: Principal? = try await application.actingPrincipals.value(for: account.name + "\u{0}" + uid) {
        guard let person = try await application.resolver.person(uid: uid) else { return nil }
        let groups = try await application.resolver.groupRoles(of: person)
        return Principal(person: person, actor: Actor(uid: person.uid, groups: groups, serviceAccount: account.name), kind: .serviceAccount(name: account.name))
      }
      guard let principal else {
        throw APIError.denied("UNKNOWN_PERSON", "x-okey-on-behalf-of names no single person of the directory")
      }
      return principal
    }
    if onBehalfOf != nil {
      throw APIError.denied("ON_BEHALF_OF_NOT_ALLOWED", "only service accounts may send x-okey-on-behalf-of")
    }
    guard let session = try await application.sessions.session(forTokenHash: hash) else {
      throw APIError.unauthenticated("TOKEN_INVALID", "the token is unknown or expired: log in again")
    }
    return session
  }
}
