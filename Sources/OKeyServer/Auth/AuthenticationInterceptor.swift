import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import OKeyDirectory
import OKeyDomain
import OKeyStore
import X509

/// Authenticates every okey.v1 call except Login (health and reflection need no token): reads
/// `authorization: Bearer <token>` and `x-okey-on-behalf-of`, and runs the handler with the
/// ``Principal``. Denied calls are logged (who, what, why), never the token.
struct AuthenticationInterceptor: ServerInterceptor {
  let authentication: Authentication
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
      principal = try await authenticate(request.metadata, context: context)
    } catch {
      logger.notice(
        "call denied",
        metadata: [
          "method": "\(method)", "peer": "\(context.remotePeer)",
          "why": "\((error as? APIError)?.reason.wireName ?? "\(type(of: error))")",
        ])
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

  /// Authenticates first, then decides what the credential may do: a credential that is not valid
  /// is UNAUTHENTICATED whatever else the call carries.
  func authenticate(_ metadata: Metadata, context: ServerContext? = nil) async throws -> Principal {
    let header = metadata[stringValues: "authorization"].first(where: { _ in true }) ?? ""
    guard header.lowercased().hasPrefix("bearer "),
      case let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces), !token.isEmpty
    else {
      throw APIError.unauthenticated(
        .tokenMissing, "no token: log in (AuthService.Login) and send authorization: Bearer <token>")
    }
    guard token.count <= 512 else {
      throw APIError.unauthenticated(.tokenInvalid, "the token is not valid: log in again")
    }
    let hash = Tokens.hash(token)
    let onBehalfOf = metadata[stringValues: "x-okey-on-behalf-of"].first(where: { _ in true })
    if let account = authentication.serviceAccount(keyHash: hash) {
      if let subject = account.clientCertificateSubject {
        guard let presented = Self.clientCertificateSubject(context), Self.sameSubject(presented, subject) else {
          throw APIError.unauthenticated(
            .clientCertificate, "service account \(account.name)'s key is accepted only from its own client certificate"
          )
        }
      }
      guard let uid = onBehalfOf, !uid.isEmpty else {
        return Principal(
          person: nil, actor: Caller(uid: "", serviceAccount: account.name, capacities: []),
          kind: .serviceAccount(name: account.name))
      }
      guard account.actsForPeople else {
        throw APIError.denied(.onBehalfOfNotAllowed, "service account \(account.name) may not act for people")
      }
      guard RequestChecks.isPlausibleUID(uid) else {
        throw APIError.denied(.unknownPerson, "x-okey-on-behalf-of names no single person of the directory")
      }
      guard let person = try await authentication.actingPerson(uid) else {
        throw APIError.denied(.unknownPerson, "x-okey-on-behalf-of names no single person of the directory")
      }
      guard person.person.active else {
        throw APIError.denied(.personDisabled, "\(uid) is disabled in the directory: nobody may act for them")
      }
      return Principal.acting(for: person.person, groups: person.groups, through: account)
    }
    guard let session = try await authentication.sessions.session(forTokenHash: authentication.sessions.hash(token))
    else {
      throw APIError.unauthenticated(.tokenInvalid, "the token is unknown or expired: log in again")
    }
    if onBehalfOf != nil {
      throw APIError.denied(.onBehalfOfNotAllowed, "only service accounts may send x-okey-on-behalf-of")
    }
    return session
  }

  /// The subject of the mutual-TLS client certificate of the call, if any.
  static func clientCertificateSubject(_ context: ServerContext?) -> String? {
    guard let posix = context?.transportSpecific as? HTTP2ServerTransport.Posix.Context,
      let certificate = posix.peerCertificate
    else { return nil }
    return String(describing: certificate.subject)
  }

  static func sameSubject(_ lhs: String, _ rhs: String) -> Bool {
    func normal(_ text: String) -> String {
      text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.joined(separator: ",")
    }
    return normal(lhs) == normal(rhs)
  }
}

extension Principal {
  /// A service account acting for `person`: the person's rights, limited to the roles the account
  /// is configured for, never more.
  static func acting(
    for person: DirectoryPerson, groups: Set<Caller.GroupRole>, through account: OKeyConfiguration.ServiceAccount
  ) -> Principal {
    let roles = Set(account.roles)
    var capacities: Set<Caller.Capacity> = []
    if roles.contains(.agent) { capacities.insert(.agent) }
    if roles.contains(.approver) { capacities.insert(.approver) }
    var allowedGroups: Set<Caller.GroupRole> = []
    if roles.contains(.dsi), groups.contains(.dsi) { allowedGroups.insert(.dsi) }
    if roles.contains(.support), groups.contains(.support) { allowedGroups.insert(.support) }
    return Principal(
      person: person,
      actor: Caller(uid: person.uid, groups: allowedGroups, serviceAccount: account.name, capacities: capacities),
      kind: .serviceAccount(name: account.name))
  }
}
