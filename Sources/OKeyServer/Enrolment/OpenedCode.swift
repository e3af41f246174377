import Synchronization

/// The payload of an enrolment code opened inside the transaction that wipes it, handed out only
/// once that transaction committed.
final class OpenedCode: Sendable {
  private let value = Mutex<(payload: String, png: [UInt8])?>(nil)

  /// Keeps the opened payload and its QR code.
  func keep(_ payload: String, png: [UInt8]) { value.withLock { $0 = (payload, png) } }

  /// The payload and QR code kept, if any.
  var code: (payload: String, png: [UInt8])? { value.withLock { $0 } }
}

/// A committed reading without a payload to return: a defect, answered INTERNAL.
struct EnrolmentCodeLost: Error {}
