import OKeyAPI
import OKeyStore
import SwiftProtobuf

/// A request that may carry an idempotency key (every okey.v1 request of a change).
protocol IdempotentRequest: SwiftProtobuf.Message {
  var idempotencyKey: String { get set }
}

extension Okey_V1_StartRenewalRequest: IdempotentRequest {}
extension Okey_V1_AddDocumentRequest: IdempotentRequest {}
extension Okey_V1_RemoveDocumentRequest: IdempotentRequest {}
extension Okey_V1_SetValidatorRequest: IdempotentRequest {}
extension Okey_V1_SubmitRenewalRequest: IdempotentRequest {}
extension Okey_V1_CancelRenewalRequest: IdempotentRequest {}
extension Okey_V1_ChooseMobilePlatformRequest: IdempotentRequest {}
extension Okey_V1_SignCharterRequest: IdempotentRequest {}
extension Okey_V1_BookPickupRequest: IdempotentRequest {}
extension Okey_V1_ApproveRequest: IdempotentRequest {}
extension Okey_V1_RejectRequest: IdempotentRequest {}
extension Okey_V1_ConfirmEnrolmentElementsRequest: IdempotentRequest {}
extension Okey_V1_FinalizeRequest: IdempotentRequest {}
extension Okey_V1_PublishPickupSlotsRequest: IdempotentRequest {}
extension Okey_V1_RecordHandoverRequest: IdempotentRequest {}
extension Okey_V1_PublishCharterRequest: IdempotentRequest {}
extension Okey_V1_RerouteRequest: IdempotentRequest {}

enum Idempotency {
  /// The request's idempotency key with the digest of its other fields, or nil without a key;
  /// INVALID_ARGUMENT for a key over 128 characters.
  static func key(_ request: some IdempotentRequest) throws -> IdempotencyKey? {
    guard !request.idempotencyKey.isEmpty else { return nil }
    guard request.idempotencyKey.count <= 128 else { throw APIError.invalidArgument("idempotency_key", "at most 128 characters") }
    var arguments = request
    arguments.idempotencyKey = ""
    let bytes: [UInt8] = try arguments.serializedBytes()
    return IdempotencyKey(key: request.idempotencyKey, fingerprint: SHA256Hex.digest(bytes))
  }
}
