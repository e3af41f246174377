import Synchronization

/// The payload of an enrolment code opened inside the transaction that wipes it, handed out only
/// once that transaction committed.
final class OpenedCode: Sendable {
  private let value = Mutex<String?>(nil)

  /// Keeps the opened payload.
  func keep(_ payload: String) { value.withLock { $0 = payload } }

  /// The payload kept, if any.
  var payload: String? { value.withLock { $0 } }
}

/// A committed reading without a payload to return: a defect, answered INTERNAL.
struct EnrolmentCodeLost: Error {}
