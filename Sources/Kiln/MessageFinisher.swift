import Foundation
import KilnConfiguration
import KilnCore
import KilnMessage
import KilnStore
import Synchronization

/// What turns a stored content into the bytes sent to one recipient: the bulk headers
/// (Feedback-ID, the one-click List-Unsubscribe pair with the recipient's token) in
/// front, then a DKIM signature per key of the From domain's identity, which covers them.
/// Built once per delivery run from the engine's `LoadedSecrets` (read once per engine),
/// so that a missing key stops the engine before anything is sent.
struct MessageFinisher: Sendable {
    /// Parsed templates by content id.
    final class TemplateCache: Sendable {
        let compiled = Mutex<[Int64: MessageTemplate.Compiled]>([:])
    }
    let templates = TemplateCache()

    /// Bulk headers prepared (Feedback-ID line, unsubscribe targets, HMAC key) by
    /// configuration set, campaign and tags: the same for every recipient of a campaign.
    final class BulkHeaderCache: Sendable {
        let prepared = Mutex<[[String]: BulkHeaders.Prepared]>([:])
    }
    let bulkHeaders = BulkHeaderCache()

    let senderId: String
    let sets: [String: Configuration.ConfigurationSet]
    let unsubscribeSecrets: [String: [UInt8]]
    let signers: [String: [DKIMSigner]]
    /// The key of the return path's MAC, prepared (nil: unsigned, see `ReturnPath`).
    let returnPathKey: ReturnPath.Key?
    /// The longest rendered header field, in octets.
    let headerLimit: Int

    init(configuration: Configuration, secrets: LoadedSecrets) {
        // The unsubscribe mailto and URL, and the signing domains, in A-label form even
        // when the configuration was built in code rather than loaded.
        let configuration = configuration.withASCIIDomains()
        senderId = configuration.senderId
        sets = Dictionary(configuration.configurationSets.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        unsubscribeSecrets = secrets.unsubscribe
        returnPathKey = secrets.returnPath.flatMap { $0.isEmpty ? nil : ReturnPath.Key(secret: $0) }
        headerLimit = configuration.feedbackSettings.headerLimit
        var signers: [String: [DKIMSigner]] = [:]
        for (i, identity) in configuration.identities.enumerated() {
            for (k, key) in (identity.dkim ?? []).enumerated() {
                guard let loaded = secrets.dkimKeys["identities[\(i)].dkim[\(k)]"] else { continue }
                // Keyed and signed by the A-label form, as `content.fromDomain` is (RFC 8616).
                signers[identity.asciiDomain, default: []].append(DKIMSigner(domain: identity.asciiDomain, selector: key.selector, key: loaded,
                                                                                     rsaLibrary: secrets.rsaLibrary))
            }
        }
        self.signers = signers
    }

    /// The RSA signing library of each selector (`selector._domainkey.domain`), for the log.
    var rsaLibraries: [String: RSASigningLibrary] {
        var result: [String: RSASigningLibrary] = [:]
        for signer in signers.values.joined() {
            if let library = signer.rsaLibrary { result["\(signer.selector)._domainkey.\(signer.domain)"] = library }
        }
        return result
    }

    /// The Feedback-ID of a message of `set` in `campaign`: the message's campaign (else
    /// the set's, else "general"), the set's category (else "mail"), its stream (else its
    /// name), and the sender id.
    /// A template's `tags` replace the campaign and the category.
    static func feedbackID(_ set: Configuration.ConfigurationSet?, name: String, campaign: String?, tags: [String] = [],
                           senderId: String) throws(KilnError) -> FeedbackID {
        let fields = set?.feedbackId
        return try FeedbackID(campaign: tags.first ?? campaign ?? fields?.campaign ?? "general",
                              category: tags.count > 1 ? tags[1] : fields?.category ?? "mail",
                              stream: fields?.stream ?? name, senderId: senderId)
    }

    /// The bytes to send for `message`: a template rendered with its variables and
    /// composed, or the stored message; then bulk headers and signatures.
    func finish(_ content: StoredContent, message: LeasedMessage, time: Timestamp) throws(KilnError) -> [UInt8] {
        let recipient = message.recipient
        guard content.isTemplate else { return try finish(content, recipient: recipient, time: time) }
        let compiled: MessageTemplate.Compiled
        if let cached = templates.compiled.withLock({ $0[message.contentID] }) {
            compiled = cached
        } else {
            let template: MessageTemplate
            do { template = try JSONDecoder().decode(MessageTemplate.self, from: Data(content.data)) } catch {
                throw KilnError(.renderingFailure, "the stored template does not decode: \(error)", location: "content \(message.contentID)")
            }
            compiled = try template.compile()
            templates.compiled.withLock { cache in
                if cache.count > 1000 { cache.removeAll() }
                cache[message.contentID] = compiled
            }
        }
        var variables: [String: String] = [:]
        if let data = message.variables { variables = try Self.variables(data, message: message.id) }
        let address: EmailAddress
        do { address = try EmailAddress(recipient) } catch { throw KilnError(.invalidAddress, "'\(recipient.escapingControlCharacters)' is not an email address", location: "recipient") }
        let draft = try compiled.render(to: address, variables: variables)
        // The Message-ID's domain in A-label form, even for content stored before it was one.
        let domain = IDNA.asciiDomainOrSame(content.fromDomain ?? address.domain)
        let unique = "\(message.id).\(String(UInt64(bitPattern: time.nanoseconds), radix: 36))"
        // The bulk headers go first, and the message is composed behind them in the same buffer.
        var bulk: [UInt8] = []
        try bulkHeaders(content, tags: compiled.template.tags ?? []).append(for: token(content, recipient: recipient), to: &bulk)
        let composed = try MessageBuilder.compose(draft, date: time, messageID: "\(unique)@\(domain)", boundarySeed: unique, prefix: bulk)
        // Template variables are untrusted: a field past `feedback.maxHeaderBytes` fails this recipient only.
        if let longest = HeaderField.longestField(in: composed, from: bulk.count), longest.octets > headerLimit {
            throw KilnError(.renderingFailure, "the \(longest.name) field renders to \(longest.octets) octets, over feedback.maxHeaderBytes (\(headerLimit))",
                            location: "message \(message.id)")
        }
        return try sign(composed, content: content, time: time)
    }

    /// The bytes to send to `recipient`.
    /// - Parameter tags: a template's Feedback-ID campaign and category, when it has them.
    func finish(_ content: StoredContent, recipient: String, time: Timestamp, tags: [String] = []) throws(KilnError) -> [UInt8] {
        var message: [UInt8] = []
        message.reserveCapacity(content.data.count + 512)
        try bulkHeaders(content, tags: tags).append(for: token(content, recipient: recipient), to: &message)
        message += content.data
        return try sign(message, content: content, time: time)
    }

    func token(_ content: StoredContent, recipient: String) -> UnsubscribeToken {
        UnsubscribeToken(recipient: recipient, list: content.configurationSet, campaign: content.campaign ?? "")
    }

    /// Signs `message` with every key of its From domain.
    func sign(_ message: [UInt8], content: StoredContent, time: Timestamp) throws(KilnError) -> [UInt8] {
        var message = message
        for signer in signers[content.fromDomain.map(IDNA.asciiDomainOrSame) ?? ""] ?? [] {
            message = try signer.sign(message, time: time)
        }
        return message
    }

    /// The bulk headers of `content`'s configuration set and campaign, prepared once.
    func bulkHeaders(_ content: StoredContent, tags: [String]) throws(KilnError) -> BulkHeaders.Prepared {
        let key = [content.configurationSet, content.campaign ?? "\u{0}"] + tags
        if let cached = bulkHeaders.prepared.withLock({ $0[key] }) { return cached }
        let set = sets[content.configurationSet]
        let prepared = try BulkHeaders(
            feedbackID: try Self.feedbackID(set, name: content.configurationSet, campaign: content.campaign, tags: tags, senderId: senderId),
            unsubscribeURL: set?.unsubscribe?.url, unsubscribeMailto: set?.unsubscribe?.mailto,
            secret: unsubscribeSecrets[content.configurationSet] ?? []).prepared()
        bulkHeaders.prepared.withLock { cache in
            if cache.count > 1000 { cache.removeAll() }
            cache[key] = prepared
        }
        return prepared
    }

    var signs: Bool { !signers.isEmpty }
}
