import Foundation
import KilnCore
import KilnMessage
import KilnStore

/// What turns a stored content into the bytes sent to one recipient: the bulk headers
/// (Feedback-ID, the one-click List-Unsubscribe pair with the recipient's token) in
/// front, then a DKIM signature per key of the From domain's identity, which covers them.
/// Built once per delivery run; keys and secrets are read then, so that a missing key
/// stops the run before anything is sent.
struct MessageFinisher: Sendable {
    let senderId: String
    let sets: [String: Configuration.ConfigurationSet]
    let unsubscribeSecrets: [String: [UInt8]]
    let signers: [String: [DKIMSigner]]

    init(configuration: Configuration, secrets: SecretSource) throws(KilnError) {
        senderId = configuration.senderId
        sets = Dictionary(configuration.configurationSets.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var unsubscribeSecrets: [String: [UInt8]] = [:]
        for (i, set) in configuration.configurationSets.enumerated() {
            guard let u = set.unsubscribe else { continue }
            let field = "configurationSets[\(i)].unsubscribe"
            let secret = if let file = u.secretFile {
                try secrets.fromFile(file, for: field + ".secretFile")
            } else {
                try secrets.fromEnvironment(u.secretEnv ?? "", for: field + ".secretEnv")
            }
            unsubscribeSecrets[set.name] = Array(secret.utf8)
        }
        self.unsubscribeSecrets = unsubscribeSecrets
        var signers: [String: [DKIMSigner]] = [:]
        for (i, identity) in configuration.identities.enumerated() {
            for (k, key) in (identity.dkim ?? []).enumerated() {
                let field = "identities[\(i)].dkim[\(k)].privateKeyFile"
                let loaded = try DKIMKey.load(path: secrets.resolve(key.privateKeyFile), expectedAlgorithm: key.algorithm,
                                              allowInsecure: key.allowInsecureKeyFile ?? false, field: field)
                signers[identity.domain.lowercased(), default: []].append(DKIMSigner(domain: identity.domain, selector: key.selector, key: loaded))
            }
        }
        self.signers = signers
    }

    /// The Feedback-ID of a message of `set` in `campaign`: the message's campaign (else
    /// the set's, else "general"), the set's category (else "mail"), its stream (else its
    /// name), and the sender id.
    static func feedbackID(_ set: Configuration.ConfigurationSet?, name: String, campaign: String?, senderId: String) throws(KilnError) -> FeedbackID {
        let fields = set?.feedbackId
        return try FeedbackID(campaign: campaign ?? fields?.campaign ?? "general", category: fields?.category ?? "mail",
                              stream: fields?.stream ?? name, senderId: senderId)
    }

    /// The bytes to send to `recipient`.
    func finish(_ content: StoredContent, recipient: String, time: Timestamp) throws(KilnError) -> [UInt8] {
        let set = sets[content.configurationSet]
        let headers = BulkHeaders(
            feedbackID: try Self.feedbackID(set, name: content.configurationSet, campaign: content.campaign, senderId: senderId),
            unsubscribeURL: set?.unsubscribe?.url, unsubscribeMailto: set?.unsubscribe?.mailto,
            secret: unsubscribeSecrets[content.configurationSet] ?? [])
        let token = UnsubscribeToken(recipient: recipient, list: content.configurationSet, campaign: content.campaign ?? "")
        var message = headers.lines(for: token) + content.data
        for signer in signers[content.fromDomain?.lowercased() ?? ""] ?? [] {
            message = try signer.sign(message, time: time)
        }
        return message
    }

    var signs: Bool { !signers.isEmpty }
}
