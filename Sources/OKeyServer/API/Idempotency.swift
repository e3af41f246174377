import OKeyAPI
import OKeyStore
import SwiftProtobuf

/// A request that may carry an idempotency key (every okey.v1 request of a change).
protocol IdempotentRequest: SwiftProtobuf.Message {
  var idempotencyKey: String { get set }
}

/// A request that changes one renewal request: its id and the version the caller saw.
protocol RenewalChangeRequest: IdempotentRequest {
  var requestID: String { get }
  var expectedVersion: Int64 { get }
}

extension Okey_V1_StartRenewalRequest: IdempotentRequest {}
extension Okey_V1_AddDocumentRequest: RenewalChangeRequest {}
extension Okey_V1_RemoveDocumentRequest: RenewalChangeRequest {}
extension Okey_V1_SetValidatorRequest: RenewalChangeRequest {}
extension Okey_V1_SubmitRenewalRequest: RenewalChangeRequest {}
extension Okey_V1_CancelRenewalRequest: RenewalChangeRequest {}
extension Okey_V1_ChooseMobilePlatformRequest: RenewalChangeRequest {}
extension Okey_V1_SignCharterRequest: RenewalChangeRequest {}
extension Okey_V1_BookPickupRequest: RenewalChangeRequest {}
extension Okey_V1_ApproveRequest: RenewalChangeRequest {}
extension Okey_V1_RejectRequest: RenewalChangeRequest {}
extension Okey_V1_ConfirmEnrolmentElementsRequest: RenewalChangeRequest {}
extension Okey_V1_FinalizeRequest: RenewalChangeRequest {}
extension Okey_V1_PublishPickupSlotsRequest: IdempotentRequest {}
extension Okey_V1_RecordHandoverRequest: RenewalChangeRequest {}
extension Okey_V1_HandOverKeyRequest: RenewalChangeRequest {}
extension Okey_V1_AttachEnrolmentCodeRequest: RenewalChangeRequest {}
extension Okey_V1_ConfirmEnrolmentScannedRequest: RenewalChangeRequest {}
extension Okey_V1_RecordNoShowRequest: RenewalChangeRequest {}
extension Okey_V1_AllowPhoneChangeRequest: RenewalChangeRequest {}
extension Okey_V1_RequestElementsAgainRequest: RenewalChangeRequest {}
extension Okey_V1_OperationsServiceCancelRenewalRequest: RenewalChangeRequest {}
extension Okey_V1_MarkElementsSentRequest: RenewalChangeRequest {}
extension Okey_V1_CancelPickupRequest: RenewalChangeRequest {}
extension Okey_V1_PublishCharterRequest: IdempotentRequest {}
extension Okey_V1_RerouteRequest: RenewalChangeRequest {}

enum Idempotency {
  /// The request's idempotency key with the digest of its message name and other fields, or nil
  /// without a key;
  /// INVALID_ARGUMENT for a key over 128 characters.
  static func key(_ request: some IdempotentRequest) throws -> IdempotencyKey? {
    guard !request.idempotencyKey.isEmpty else { return nil }
    guard request.idempotencyKey.utf8.count <= 128,
      request.idempotencyKey.utf8.allSatisfy({ (0x21...0x7E).contains($0) })
    else {
      throw APIError.invalidArgument("idempotency_key", "1 to 128 printable ASCII characters (a UUID, for instance)")
    }
    var arguments = request
    arguments.idempotencyKey = ""
    // Fields this server does not know are not arguments it acts on.
    arguments.unknownFields = UnknownStorage()
    // The message's name first: the same key on another RPC is other arguments.
    let bytes: [UInt8] = Array(type(of: request).protoMessageName.utf8) + [0] + (try arguments.serializedBytes())
    return IdempotencyKey(key: request.idempotencyKey, fingerprint: SHA256Hex.digest(bytes))
  }
}
