import Logging
import OKeyDomain
import OKeyStore
import ServiceLifecycle

/// Deletes what must not be kept: the content of documents of requests ended more than
/// `retention.documentDays` ago, expired sessions, and idempotency keys older than
/// `retention.idempotencyKeyDays`, and the enrolment codes not read before they expired. Runs at start, then every `retention.sweepMinutes`.
struct RetentionSweep: Service {
  let store: any RenewalStore
  let retention: OKeyConfiguration.Retention
  let clock: @Sendable () -> Instant
  let logger: Logger

  /// One pass; returns what was deleted.
  @discardableResult
  func sweep(now: Instant) async throws -> (
    documents: Int, sessions: Int, idempotencyKeys: Int, enrolmentCodes: Int
  ) {
    let documents = try await store.purgeDocuments(
      endedBefore: now.adding(seconds: -Int64(retention.documentDays) * 86_400), now: now)
    let sessions = try await store.deleteExpiredSessions(now: now)
    let keys = try await store.deleteIdempotencyKeys(
      createdBefore: now.adding(seconds: -Int64(retention.idempotencyKeyDays) * 86_400))
    let codes = try await store.deleteExpiredEnrolmentCodes(now: now)
    return (documents, sessions, keys, codes)
  }

  func run() async throws {
    let every = Duration.seconds(retention.sweepMinutes * 60)
    try? await cancelWhenGracefulShutdown {
      while !Task.isCancelled {
        do {
          // One replica at a time sweeps; the others find the lock taken and wait for their next pass.
          if let swept = try await store.exclusively(
            "okey-retention-sweep", { [self] in try await sweep(now: clock()) }),
            swept.documents + swept.sessions + swept.idempotencyKeys + swept.enrolmentCodes > 0
          {
            logger.notice(
              "retention sweep",
              metadata: [
                "requests-documents-deleted": "\(swept.documents)", "sessions": "\(swept.sessions)",
                "idempotency-keys": "\(swept.idempotencyKeys)", "enrolment-codes": "\(swept.enrolmentCodes)",
              ])
          }
        } catch {
          logger.warning("retention sweep failed; next pass later", metadata: ["cause": "\(error)"])
        }
        try await Task.sleep(for: every)
      }
    }
  }
}
