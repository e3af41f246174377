import Foundation
import OKeyDomain
import OKeyStore

/// Writes notification messages as RFC 5322 text: encoded UTF-8 subject, Message-ID, Date,
/// Auto-Submitted, in French or English, each naming the request and the recipient's next action.
struct MailComposer: Sendable {
  let from: String
  let language: String
  let dsiMailbox: String
  /// The academy's time zone, for the Date header.
  var timeZone: TimeZone = .gmt
  /// Where agents send the enrolment elements (`enrolment.elementsMailbox`); empty for `dsiMailbox`.
  var elementsMailbox = ""

  /// The address the mails give for the enrolment elements.
  var elementsAddress: String { elementsMailbox.isEmpty ? dsiMailbox : elementsMailbox }

  /// A composed message.
  struct Mail: Sendable, Equatable {
    var to: String
    var subject: String
    var body: String
    /// The whole message, headers and body, CRLF line endings.
    var text: String
  }

  /// The message for `message` about `renewal`; nil when the recipient has no mail address.
  func compose(_ message: OutboxMessage, renewal: RenewalRequest?, date: Date) -> Mail? {
    let to = message.recipient.map(\.mail) ?? dsiMailbox
    guard !to.isEmpty else { return nil }
    let name =
      message.recipient?.displayName.isEmpty == false
      ? message.recipient?.displayName ?? "" : (message.recipient?.uid ?? "DSI")
    let (subject, body) = words(for: message, renewal: renewal, recipientName: name)
    let headers = [
      "From: \(Self.clean(from))",
      "To: \(Self.clean(to))",
      "Subject: \(Self.encodedWord(subject))",
      "Date: \(Self.rfc5322Date(date, timeZone: timeZone))",
      "Message-ID: \(message.messageID)",
      "Auto-Submitted: auto-generated",
      "X-OKEY-Request: \(message.renewalID)",
      "MIME-Version: 1.0",
      "Content-Type: text/plain; charset=UTF-8",
      "Content-Transfer-Encoding: 8bit",
    ]
    let text = (headers + [""] + body.components(separatedBy: "\n")).joined(separator: "\r\n") + "\r\n"
    return Mail(to: to, subject: subject, body: body, text: text)
  }

  func words(for message: OutboxMessage, renewal: RenewalRequest?, recipientName: String) -> (String, String) {
    let id = message.renewalID
    let agent =
      renewal.map {
        $0.routing.requester.displayName.isEmpty ? $0.agentUID : "\($0.routing.requester.displayName) (\($0.agentUID))"
      } ?? "-"
    let french = language == "fr"
    let key =
      renewal.map {
        $0.keyType == .software ? (french ? "logicielle" : "software") : (french ? "matérielle" : "hardware")
      } ?? ""
    let greeting = french ? "Bonjour \(recipientName),\n\n" : "Hello \(recipientName),\n\n"
    let signature =
      french
      ? "\n\n-- \nOKEY, renouvellement des clés OTP. Message automatique : ne pas répondre."
      : "\n\n-- \nOKEY, OTP key renewal. Automatic message: do not reply."
    let subject: String
    let text: String
    switch (message.kind, french) {
    case (.validatorRouted, true):
      subject = "Demande de clé OTP à valider : \(agent)"
      text =
        "\(agent) demande le renouvellement de sa clé OTP \(key). Vous êtes son valideur : approuvez ou refusez la demande \(id) dans OKEY."
    case (.validatorRouted, false):
      subject = "OTP key request to approve: \(agent)"
      text =
        "\(agent) asks to renew their \(key) OTP key. You are their validator: approve or reject request \(id) in OKEY."
    case (.n2Escalation, true):
      subject = "Demande de clé OTP en attente depuis \(message.details) jours ouvrés : \(agent)"
      text =
        "La demande \(id) de \(agent) attend la décision de son N+1 depuis \(message.details) jours ouvrés. En tant que N+2, vous pouvez l'approuver ou la refuser dans OKEY."
    case (.n2Escalation, false):
      subject = "OTP key request waiting for \(message.details) business days: \(agent)"
      text =
        "Request \(id) from \(agent) has waited \(message.details) business days for their N+1. As N+2 you may approve or reject it in OKEY."
    case (.agentApproved, true):
      subject = "Votre demande de clé OTP est validée"
      text =
        "Votre demande \(id) est validée. Prochaine étape : "
        + (renewal?.keyType == .software
          ? "choisissez la plateforme de votre téléphone dans OKEY et envoyez les éléments d'enrôlement à \(elementsAddress)."
          : "signez la charte dans OKEY.")
    case (.agentApproved, false):
      subject = "Your OTP key request is approved"
      text =
        "Your request \(id) is approved. Next step: "
        + (renewal?.keyType == .software
          ? "choose your phone platform in OKEY and send the enrolment elements to \(elementsAddress)."
          : "sign the charter in OKEY.")
    case (.agentRejected, true):
      subject = "Votre demande de clé OTP est refusée"
      text =
        "Votre demande \(id) est refusée pour le motif suivant : \(message.details)\nVous pouvez déposer une nouvelle demande si la situation change."
    case (.agentRejected, false):
      subject = "Your OTP key request is rejected"
      text =
        "Your request \(id) is rejected, for this reason: \(message.details)\nYou may file a new request if things change."
    case (.charterReminder, true):
      subject = "Signez la charte pour recevoir votre clé OTP"
      text =
        "Pour poursuivre la demande \(id), lisez la charte dans OKEY, saisissez le code imprimé en bas de la charte et cochez « J'ai lu la charte »."
    case (.charterReminder, false):
      subject = "Sign the charter to receive your OTP key"
      text =
        "To go on with request \(id), read the charter in OKEY, type the code printed at its bottom and tick \"I have read the charter\"."
    case (.agentReadyForPickup, true):
      subject = "Votre clé OTP est prête : prenez rendez-vous"
      text =
        "La clé de la demande \(id) vous attend : \(message.details). Prenez rendez-vous dans OKEY pour venir la chercher."
    case (.agentReadyForPickup, false):
      subject = "Your OTP key is ready: book an appointment"
      text = "The key of request \(id) waits for you at: \(message.details). Book an appointment in OKEY to collect it."
    case (.agentReadyAtEstablishment, true):
      subject = "Votre clé OTP est arrivée dans votre établissement"
      text =
        "La clé de la demande \(id) a été remise à votre établissement (\(message.details)). Allez la chercher auprès du chef d'établissement ou de son adjoint, qui enregistre la remise dans OKEY. Pas de rendez-vous à prendre."
    case (.agentReadyAtEstablishment, false):
      subject = "Your OTP key has arrived at your establishment"
      text =
        "The key of request \(id) was sent to your establishment (\(message.details)). Collect it from the head of establishment or a deputy, who records the hand-over in OKEY. There is no appointment to book."
    case (.keyToHandOver, true):
      subject = "Une clé OTP est à remettre dans votre établissement (\(agent))"
      text =
        "La clé de la demande \(id) de \(agent) est envoyée à votre établissement (\(message.details)). Remettez-la à l'agent en main propre, puis enregistrez la remise dans OKEY (les clés à remettre)."
    case (.keyToHandOver, false):
      subject = "An OTP key is to be handed over at your establishment (\(agent))"
      text =
        "The key of \(agent)'s request \(id) is sent to your establishment (\(message.details)). Hand it to the agent in person, then record the hand-over in OKEY (the keys to hand over)."
    case (.enrolmentCodeReady, true):
      subject = "Le QR code de votre nouvelle clé OTP est prêt"
      text =
        "Le QR code du jeton de la demande \(id) vous attend dans OKEY. Connectez-vous avec votre identifiant académique, affichez-le et scannez-le avec l'application d'authentification : il ne s'affiche qu'une fois. Dites ensuite dans OKEY qu'il est scanné, puis signez la charte."
    case (.enrolmentCodeReady, false):
      subject = "The QR code of your new OTP key is ready"
      text =
        "The QR code of request \(id)'s token waits for you in OKEY. Sign in with your academic login, show it and scan it with the authenticator app: it is shown only once. Then say in OKEY that it is scanned, and sign the charter."
    case (.agentCompleted, true):
      subject = "Votre nouvelle clé OTP est active"
      text =
        renewal?.motif == .firstKey
        ? "La demande \(id) est terminée : votre première clé \(message.details) est active. Définissez son code PIN avec le système OTP ; OKEY ne vous le demandera jamais."
        : "La demande \(id) est terminée : votre nouvelle clé \(message.details) est active et l'ancienne est remplacée. Le code PIN reste celui de votre ancienne clé."
          + (renewal?.motif == .phoneChanged ? "\n" + EnrolmentGuide.oldPhoneStep(language: "fr") : "")
    case (.agentCompleted, false):
      subject = "Your new OTP key is active"
      text =
        renewal?.motif == .firstKey
        ? "Request \(id) is complete: your first key \(message.details) is active. Define its PIN with the OTP system; OKEY never asks for it."
        : "Request \(id) is complete: your new key \(message.details) is active and the old one replaced. The PIN stays the one of your old key."
          + (renewal?.motif == .phoneChanged ? "\n" + EnrolmentGuide.oldPhoneStep(language: "en") : "")
    case (.validatorReplaced, true):
      subject = "OKEY : \(agent) a désigné un autre valideur"
      text =
        "L'annuaire vous propose comme valideur (N+1) de la demande \(id) de \(agent), mais l'agent a désigné \(message.details) à votre place. Si ce choix vous paraît anormal, signalez-le à la DSI."
    case (.validatorReplaced, false):
      subject = "OKEY: \(agent) named another validator"
      text =
        "The directory proposes you as the validator (N+1) of request \(id) from \(agent), but the agent named \(message.details) instead. If this looks wrong, tell the DSI."
    case (.n1Informed, true):
      let coValidator = message.details.contains(" co-validator ")
      subject =
        coValidator
        ? "OKEY : un autre chef d'établissement a statué sur la demande de \(agent)"
        : "OKEY : le N+2 a statué sur la demande de \(agent)"
      text =
        "La demande \(id) de \(agent) dont vous êtes le valideur a été \(message.details.hasPrefix("approved") ? "approuvée" : "refusée") par \(coValidator ? "un autre chef d'établissement" : "le N+2") (\(message.details.split(separator: " ").last.map(String.init) ?? "-"))."
    case (.n1Informed, false):
      let coValidator = message.details.contains(" co-validator ")
      subject =
        coValidator
        ? "OKEY: another head of establishment decided on the request of \(agent)"
        : "OKEY: the N+2 decided on the request of \(agent)"
      text = "Request \(id) from \(agent), of which you are the validator, was \(message.details)."
    case (.agentCancelled, true):
      subject = "Votre demande de clé OTP est annulée par la DSI"
      text =
        "La DSI a annulé votre demande \(id) pour le motif suivant : \(message.details)\nVous pouvez déposer une nouvelle demande dans OKEY."
    case (.agentCancelled, false):
      subject = "Your OTP key request was cancelled by the DSI"
      text =
        "The DSI cancelled your request \(id), for this reason: \(message.details)\nYou may file a new request in OKEY."
    case (.elementsRequested, true):
      subject = "Envoyez à nouveau les éléments d'enrôlement de votre clé OTP"
      text =
        "La DSI a besoin à nouveau des éléments d'enrôlement de la demande \(id) : \(message.details)\nEnvoyez-les à \(elementsAddress), puis indiquez dans OKEY que c'est fait."
    case (.elementsRequested, false):
      subject = "Send the enrolment elements of your OTP key again"
      text =
        "The DSI needs the enrolment elements of request \(id) again: \(message.details)\nSend them to \(elementsAddress), then say so in OKEY."
    case (.pickupMissed, true):
      subject = "Rendez-vous manqué : reprenez rendez-vous pour votre clé OTP"
      text =
        "Vous n'êtes pas venu au rendez-vous de retrait de la clé de la demande \(id). La clé vous attend toujours : prenez un nouveau rendez-vous dans OKEY."
    case (.pickupMissed, false):
      subject = "Missed appointment: book another one for your OTP key"
      text =
        "You did not come to the appointment to collect the key of request \(id). The key still waits for you: book another appointment in OKEY."
    case (.phoneChangeAllowed, true):
      subject = "La DSI vous autorise un nouveau changement de téléphone"
      text =
        "La DSI vous autorise à changer à nouveau de téléphone sans attendre, pour le motif suivant : \(message.details)\nDéposez une demande de changement de téléphone dans OKEY."
    case (.phoneChangeAllowed, false):
      subject = "The DSI lets you change phone again"
      text =
        "The DSI lets you change phone again without waiting, for this reason: \(message.details)\nFile a phone change request in OKEY."
    case (.documentsReminder, true):
      subject = "Rappel : votre demande de clé OTP attend ses justificatifs"
      text =
        "La demande \(id) attend toujours les justificatifs demandés. Ajoutez-les dans OKEY puis soumettez à nouveau la demande."
    case (.documentsReminder, false):
      subject = "Reminder: your OTP key request waits for its documents"
      text = "Request \(id) still waits for the supporting documents. Add them in OKEY, then submit the request again."
    case (.elementsReminder, true):
      subject = "Rappel : envoyez les éléments d'enrôlement de votre clé OTP"
      text =
        "La demande \(id) attend les éléments d'enrôlement de votre téléphone. Envoyez-les à \(elementsAddress), puis indiquez dans OKEY que c'est fait."
    case (.elementsReminder, false):
      subject = "Reminder: send the enrolment elements of your OTP key"
      text =
        "Request \(id) waits for the enrolment elements of your phone. Send them to \(elementsAddress), then say so in OKEY."
    case (.pickupReminder, true):
      subject = "Rappel : votre clé OTP vous attend"
      text =
        renewal?.handoverEstablishment.map {
          "La clé de la demande \(id) vous attend dans votre établissement (\($0)). Allez la chercher auprès du chef d'établissement."
        } ?? "La clé de la demande \(id) vous attend. Prenez rendez-vous dans OKEY pour venir la chercher."
    case (.pickupReminder, false):
      subject = "Reminder: your OTP key is waiting for you"
      text =
        renewal?.handoverEstablishment.map {
          "The key of request \(id) waits for you at your establishment (\($0)). Collect it from the head of establishment."
        } ?? "The key of request \(id) is waiting for you. Book an appointment in OKEY to collect it."
    case (.approverReminder, true):
      subject = "Rappel : une demande de clé OTP attend votre décision (\(agent))"
      text = "La demande \(id) de \(agent) attend toujours votre décision : approuvez-la ou refusez-la dans OKEY."
    case (.approverReminder, false):
      subject = "Reminder: an OTP key request waits for your decision (\(agent))"
      text = "Request \(id) from \(agent) still waits for your decision: approve or reject it in OKEY."
    case (.appointmentReminder, true):
      subject = "Rappel : votre rendez-vous pour retirer votre clé OTP"
      text =
        "Votre rendez-vous pour retirer la clé de la demande \(id) a lieu le prochain jour ouvré. Pensez à vous munir d'une pièce d'identité."
    case (.appointmentReminder, false):
      subject = "Reminder: your appointment to collect your OTP key"
      text =
        "Your appointment to collect the key of request \(id) is on the next working day. Bring an identity document."
    case (.dsiWork, true):
      subject = "OKEY : une opération attend la DSI (\(agent))"
      text = "Demande \(id) de \(agent) : \(message.details). Voir `okey ops work`."
    case (.dsiWork, false):
      subject = "OKEY: an operation waits for the DSI (\(agent))"
      text = "Request \(id) from \(agent): \(message.details). See `okey ops work`."
    }
    return (subject, greeting + text + signature)
  }

  /// A header value without line breaks (directory values are untrusted).
  static func clean(_ value: String) -> String {
    value.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
  }

  /// RFC 2047 encoded words for non-ASCII text, split so that no word exceeds 75 characters.
  static func encodedWord(_ text: String) -> String {
    let text = clean(text)
    guard text.unicodeScalars.contains(where: { !$0.isASCII }) else { return text }
    var words: [String] = []
    var chunk = ""
    for character in text {
      if (chunk + String(character)).utf8.count > 45 {
        words.append(chunk)
        chunk = ""
      }
      chunk.append(character)
    }
    if !chunk.isEmpty { words.append(chunk) }
    return words.map { "=?UTF-8?B?" + Data($0.utf8).base64EncodedString() + "?=" }.joined(separator: "\r\n ")
  }

  static func rfc5322Date(_ date: Date, timeZone: TimeZone = .gmt) -> String {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = timeZone
    formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
    return formatter.string(from: date)
  }
}
