import Crypto
import Foundation
import Kiln
import KilnCore
import KilnMessage
import KilnStore
import Logging
import Metrics
import Synchronization

/// The front door's one gate, behind the SMTP listener and the HTTP API: it checks
/// credentials (kept in the store, so every node shares them), limits failed logins,
/// authorizes senders for their tenant (`SendingAuthorization`), takes tenants' quotas,
/// and hands messages to the engine, answering only once they are committed.
///
/// Credentials are read from the store at most every `refreshInterval` (2 s): a
/// credential revoked or rotated on one node is refused on every node within that.
/// A secret that verified is remembered (by its SHA-256, never in clear) against the
/// hash it matched, so that the slow hash runs once per secret and rotation.
public final class SubmissionGate: SubmissionBackend {
    public let engine: SendEngine
    let credentialStore: any CredentialStore
    let authorization: SendingAuthorization
    let trustedNetworks: [(bytes: [UInt8], prefixLength: Int, tenant: String)]
    let logger: Logger
    let refreshInterval: Duration
    /// Recipients per API call at most.
    public let maxRecipientsPerCall: Int
    private let state: Mutex<State>

    private struct State {
        var records: [String: CredentialRecord] = [:]
        var loadedAt: Timestamp?
        var throttle: LoginThrottle
        var quota: TenantQuota
        /// SHA-256 of `name \0 secret` → the stored hash it verified against.
        var verified: [String: String] = [:]
    }

    /// - Parameters:
    ///   - credentials: where credentials are (default: the engine's store).
    ///   - throttle: the brute-force limits.
    public init(engine: SendEngine, credentials: (any CredentialStore)? = nil, throttle: LoginThrottle = LoginThrottle(),
                refreshInterval: Duration = .seconds(2), logger: Logger) throws(KilnError) {
        self.engine = engine
        credentialStore = credentials ?? engine.store
        let configuration = engine.configuration
        authorization = SendingAuthorization(configuration: configuration)
        trustedNetworks = (configuration.submission?.smtp?.trustedNetworks ?? []).compactMap { trusted in
            Configuration.network(trusted.network).map { ($0.bytes, $0.prefixLength, trusted.tenant ?? Configuration.defaultTenant) }
        }
        self.logger = logger
        self.refreshInterval = refreshInterval
        maxRecipientsPerCall = configuration.submission?.maxRecipientsPerCall ?? 1_000
        state = Mutex(State(throttle: throttle, quota: TenantQuota(tenants: configuration.tenants ?? [])))
    }

    // MARK: Who is sending

    public func trustedPrincipal(peer: String) -> Principal? {
        guard let address = Self.addressBytes(peer) else { return nil }
        for network in trustedNetworks where network.bytes.count == address.count
            && IPAddressBytes.matches(address, network: network.bytes, prefixLength: network.prefixLength) {
            return Principal(tenant: network.tenant, credential: nil)
        }
        return nil
    }

    public func authenticate(name: String, secret: String, peer: String) async -> Result<Principal, SubmissionRefusal> {
        let now = engine.currentTime()
        switch state.withLock({ $0.throttle.verdict(peer: peer, now: now) }) {
        case .lockedOut(let seconds):
            Metrics.Counter(label: "kiln_submission_logins_total", dimensions: [("result", "locked_out")]).increment()
            return .failure(SubmissionRefusal(.lockedOut(retryAfter: seconds), "Too many failed logins from \(peer); try again in \(seconds) s"))
        case .proceed(let delay):
            if delay > .zero { try? await Task.sleep(for: delay) }
        }
        let records: [String: CredentialRecord]
        do { records = try await currentCredentials() } catch {
            logger.error("cannot read credentials", metadata: ["error": "\(error)"])
            return .failure(SubmissionRefusal(.unavailable, "Credentials cannot be checked now; try again later"))
        }
        guard let record = records[name], record.revokedAt == nil, await verify(secret, record: record, now: now) else {
            let locked = state.withLock { $0.throttle.failed(peer: peer, now: now) }
            Metrics.Counter(label: "kiln_submission_logins_total", dimensions: [("result", "failed")]).increment()
            if locked { Metrics.Counter(label: "kiln_submission_lockouts_total").increment() }
            logger.notice("refused a login", metadata: ["peer": "\(peer)", "credential": "\(name.prefix(64).escapingControlCharacters)",
                                                        "lockedOut": "\(locked)"])
            return .failure(SubmissionRefusal(.badCredentials, "Authentication credentials invalid"))
        }
        if !record.sources.isEmpty {
            let address = Self.addressBytes(peer)
            let allowed = record.sources.contains { source in
                guard let network = Configuration.network(source), let address, address.count == network.bytes.count else { return false }
                return IPAddressBytes.matches(address, network: network.bytes, prefixLength: network.prefixLength)
            }
            guard allowed else {
                Metrics.Counter(label: "kiln_submission_logins_total", dimensions: [("result", "forbidden_source")]).increment()
                logger.notice("refused a login from outside the credential's networks", metadata: ["peer": "\(peer)", "credential": "\(name)"])
                return .failure(SubmissionRefusal(.forbiddenSource, "Credential \(name) may not be used from \(peer)"))
            }
        }
        state.withLock { $0.throttle.succeeded(peer: peer) }
        Metrics.Counter(label: "kiln_submission_logins_total", dimensions: [("result", "succeeded")]).increment()
        return .success(Principal(tenant: record.tenant, credential: record.name))
    }

    public func checkEnvelopeSender(_ address: String, principal: Principal) -> SubmissionRefusal? {
        let parsed: EmailAddress?
        if address.isEmpty { parsed = nil } else {
            guard let valid = try? EmailAddress(address) else {
                return SubmissionRefusal(.invalid(path: nil), "'\(address.prefix(200).escapingControlCharacters)' is not an address")
            }
            parsed = valid
        }
        return authorization.envelopeRefusal(tenant: principal.tenant, scope: scope(of: principal), address: parsed)
            .map { SubmissionRefusal(.forbiddenSender, $0) }
    }

    // MARK: Taking messages

    public func submit(raw: [UInt8], mailFrom: String, recipients: [String], principal: Principal) async -> Result<[MessageID], SubmissionRefusal> {
        let result = await takeRaw(raw, recipients: recipients, principal: principal, path: nil)
        count(result.map { _ in () }, listener: "smtp")
        return result
    }

    func takeRaw(_ raw: [UInt8], recipients: [String], principal: Principal, path: String?) async -> Result<[MessageID], SubmissionRefusal> {
        let message: SubmittedMessage
        do {
            message = try SubmittedMessage(raw: raw, uniqueID: engine.makeUniqueToken(), date: engine.currentTime())
        } catch { return .failure(error) }
        if let refusal = authorize(from: message.from, configurationSet: message.configurationSet, principal: principal) {
            return .failure(refusal)
        }
        var addresses: [EmailAddress] = []
        for (index, recipient) in recipients.enumerated() {
            guard let address = try? EmailAddress(recipient) else {
                return .failure(SubmissionRefusal(.invalid(path: path.map { "\($0)[\(index)]" }), "'\(recipient.prefix(200).escapingControlCharacters)' is not an address"))
            }
            addresses.append(address)
        }
        if let refusal = takeQuota(addresses.count, tenant: principal.tenant) { return .failure(refusal) }
        var outgoing = OutgoingMessage(raw: message.data, from: message.from, recipients: addresses, configurationSet: message.configurationSet)
        outgoing.tenant = principal.tenant
        if message.transactional { outgoing.transactional = true }
        do {
            return .success(try await engine.submit(outgoing))
        } catch {
            return .failure(Self.refusal(for: error))
        }
    }

    public func submit(message: APIMessage, principal: Principal) async -> Result<APIAcceptance, SubmissionRefusal> {
        let result = await takeAPI(message, principal: principal)
        count(result.map { _ in () }, listener: "http")
        return result
    }

    func takeAPI(_ message: APIMessage, principal: Principal) async -> Result<APIAcceptance, SubmissionRefusal> {
        guard message.recipients.count <= maxRecipientsPerCall else {
            return .failure(SubmissionRefusal(.tooManyRecipients, "\(message.recipients.count) recipients; at most \(maxRecipientsPerCall) a call"))
        }
        var rejected: [APIAcceptance.Rejected] = []
        var accepted: [(index: Int, address: EmailAddress)] = []
        for (index, recipient) in message.recipients.enumerated() {
            if let address = try? EmailAddress(recipient.email) {
                accepted.append((index, address))
            } else {
                rejected.append(.init(email: recipient.email, reason: "invalid address"))
            }
        }
        // Suppressed addresses are refused by line here (the engine would store them as suppressed).
        if !accepted.isEmpty {
            let scope = message.configurationSet ?? engine.configuration.defaultConfigurationSet ?? engine.configuration.configurationSets.first?.name ?? ""
            do {
                let suppressed = try await engine.store.suppressions(of: accepted.map(\.address.description), scope: scope)
                if !suppressed.isEmpty {
                    accepted.removeAll { entry in
                        guard let reason = suppressed[entry.address.description] else { return false }
                        rejected.append(.init(email: message.recipients[entry.index].email, reason: "suppressed (\(reason.rawValue))"))
                        return true
                    }
                }
            } catch {
                return .failure(Self.refusal(for: error))
            }
        }
        guard !accepted.isEmpty else { return .success(APIAcceptance(accepted: 0, messages: [], rejected: rejected)) }
        var outgoing: OutgoingMessage
        switch message.content {
        case .raw(let bytes):
            let submitted: SubmittedMessage
            do { submitted = try SubmittedMessage(raw: bytes, uniqueID: engine.makeUniqueToken(), date: engine.currentTime()) } catch { return .failure(error) }
            if let from = message.from, (try? EmailAddress(from)) != submitted.from {
                return .failure(SubmissionRefusal(.invalid(path: "from"), "from is \(from) but the raw message's From is \(submitted.from)"))
            }
            let set = message.configurationSet ?? submitted.configurationSet
            if let refusal = authorize(from: submitted.from, configurationSet: set, principal: principal) { return .failure(refusal) }
            outgoing = OutgoingMessage(raw: submitted.data, from: submitted.from, recipients: accepted.map(\.address), configurationSet: set)
            if submitted.transactional { outgoing.transactional = true }
        case .template(let subject, let text, let html):
            guard let from = message.from else { return .failure(SubmissionRefusal(.invalid(path: "from"), "from is required")) }
            guard let sender = try? EmailAddress(from) else {
                return .failure(SubmissionRefusal(.invalid(path: "from"), "'\(from.prefix(200).escapingControlCharacters)' is not an address"))
            }
            if let refusal = authorize(from: sender, configurationSet: message.configurationSet, principal: principal) { return .failure(refusal) }
            let template = MessageTemplate(from: from, fromName: message.fromName, subject: subject, text: text, html: html,
                                           tags: message.tags.isEmpty ? nil : message.tags, headers: message.headers.isEmpty ? nil : message.headers)
            let variables = accepted.map { entry -> [String: String] in
                let recipient = message.recipients[entry.index]
                var values = recipient.substitutions
                if values["email"] == nil { values["email"] = recipient.email }
                if values["name"] == nil, let name = recipient.name { values["name"] = name }
                return values
            }
            do {
                // Every recipient's variables are checked before anything is stored.
                let compiled = try template.compile()
                for (entry, values) in zip(accepted, variables) {
                    for name in compiled.required where values[name] == nil {
                        return .failure(SubmissionRefusal(.invalid(path: "recipients[\(entry.index)].substitutions.\(name)"),
                                                          "the template needs '\(name)', which this recipient lacks"))
                    }
                }
                outgoing = try OutgoingMessage(template: template, recipients: zip(accepted, variables).map { ($0.address, $1) },
                                               configurationSet: message.configurationSet)
            } catch {
                return .failure(SubmissionRefusal(.invalid(path: error.location.map { $0.replacingOccurrences(of: "template.", with: "") }), error.message))
            }
        }
        if message.transactional { outgoing.transactional = true }
        outgoing.tenant = principal.tenant
        outgoing.metadata = accepted.map { message.recipients[$0.index].metadata }
        if let refusal = takeQuota(accepted.count, tenant: principal.tenant) { return .failure(refusal) }
        do {
            let ids = try await engine.submit(outgoing)
            let messages = zip(accepted, ids).map { APIAcceptance.Accepted(email: message.recipients[$0.index].email, messageId: $1.description) }
            return .success(APIAcceptance(accepted: messages.count, messages: messages, rejected: rejected))
        } catch {
            return .failure(Self.refusal(for: error))
        }
    }

    public func status(of id: MessageID, principal: Principal) async -> Result<APIMessageStatus?, SubmissionRefusal> {
        do {
            guard let record = try await engine.store.messages(ids: [id]).first, record.tenant == principal.tenant else { return .success(nil) }
            let events = try await credentialStore.events(ofMessage: id, limit: 200)
            let metadata = record.metadata.flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0)) } ?? [:]
            return .success(APIMessageStatus(
                messageId: id.description, email: record.recipient, tenant: record.tenant, state: record.state.description, attempts: record.attempts,
                metadata: metadata,
                events: events.map { event in
                    APIMessageStatus.Event(time: EventRecord.rfc3339(event.time), kind: event.kind.rawValue, detail: event.detail, code: event.reply?.code,
                                           status: event.reply?.enhancedStatus, text: event.reply?.text)
                }))
        } catch {
            return .failure(Self.refusal(for: error))
        }
    }

    // MARK: Parts

    func authorize(from: EmailAddress, configurationSet: String?, principal: Principal) -> SubmissionRefusal? {
        if let set = configurationSet, !engine.configuration.configurationSets.contains(where: { $0.name == set }) {
            return SubmissionRefusal(.invalid(path: "configurationSet"), "no configuration set named '\(set.prefix(100).escapingControlCharacters)'")
        }
        return authorization.refusal(tenant: principal.tenant, scope: scope(of: principal), from: from, configurationSet: configurationSet)
            .map { SubmissionRefusal(.forbiddenSender, $0) }
    }

    func takeQuota(_ count: Int, tenant: String) -> SubmissionRefusal? {
        let now = engine.currentTime()
        guard let wait = state.withLock({ $0.quota.take(count, tenant: tenant, now: now) }) else { return nil }
        Metrics.Counter(label: "kiln_submission_quota_refusals_total", dimensions: [("tenant", tenant)]).increment()
        return SubmissionRefusal(.overQuota(retryAfter: wait), "Tenant \(tenant) is over its quota; try again in \(wait) s")
    }

    /// The credential's narrowing (none for a trusted network's client).
    func scope(of principal: Principal) -> SendingAuthorization.Scope {
        guard let name = principal.credential, let record = state.withLock({ $0.records[name] }) else { return .unrestricted }
        return SendingAuthorization.Scope(identities: record.identities, fromAddresses: record.fromAddresses)
    }

    /// The credentials, read again when the last read is `refreshInterval` old.
    func currentCredentials() async throws(KilnError) -> [String: CredentialRecord] {
        let now = engine.currentTime()
        if let (records, loadedAt) = state.withLock({ state in state.loadedAt.map { (state.records, $0) } }),
           now.nanoseconds - loadedAt.nanoseconds < refreshInterval.nanoseconds, now >= loadedAt {
            return records
        }
        let fresh = Dictionary(try await credentialStore.credentials().map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        state.withLock { state in
            state.records = fresh
            state.loadedAt = now
            // Forget verifications of hashes that no longer exist.
            let live = Set(fresh.values.flatMap { [$0.secretHash, $0.previousHash].compactMap { $0 } })
            state.verified = state.verified.filter { live.contains($0.value) }
        }
        return fresh
    }

    /// Whether `secret` is the credential's current secret, or its previous one within
    /// the rotation's grace period.
    func verify(_ secret: String, record: CredentialRecord, now: Timestamp) async -> Bool {
        var candidates = [record.secretHash]
        if let previous = record.previousHash, let until = record.previousUntil, until > now { candidates.append(previous) }
        let key = SHA256.hash(data: Array((record.name + "\u{0}" + secret).utf8)).map { String(format: "%02x", $0) }.joined()
        if let known = state.withLock({ $0.verified[key] }), candidates.contains(known) { return true }
        for candidate in candidates {
            // The slow hash runs off Swift's cooperative pool.
            let matched = await withCheckedContinuation { continuation in
                DispatchQueue.global().async { continuation.resume(returning: CredentialSecret.verify(secret, against: candidate)) }
            }
            if matched {
                state.withLock { $0.verified[key] = candidate }
                return true
            }
        }
        return false
    }

    func count(_ result: Result<Void, SubmissionRefusal>, listener: String) {
        let outcome: String
        switch result {
        case .success: outcome = "accepted"
        case .failure: outcome = "refused"
        }
        Metrics.Counter(label: "kiln_submission_messages_total", dimensions: [("listener", listener), ("result", outcome)]).increment()
    }

    /// The refusal for an engine's error: what the client did wrong, or a store that failed.
    static func refusal(for error: KilnError) -> SubmissionRefusal {
        switch error.code {
        case .notAllowedSender: SubmissionRefusal(.forbiddenSender, error.message)
        case .storeFailure: SubmissionRefusal(.unavailable, "The queue cannot take mail now; try again later")
        case .secretUnavailable: SubmissionRefusal(.unavailable, "Kiln cannot sign or send mail now; try again later")
        default: SubmissionRefusal(.invalid(path: error.location), error.message)
        }
    }

    /// An IPv4 or IPv6 address's bytes (an IPv4-mapped IPv6 address as IPv4).
    static func addressBytes(_ text: String) -> [UInt8]? {
        var host = text
        if let percent = host.firstIndex(of: "%") { host = String(host[..<percent]) }
        guard let bytes = IPAddressBytes.parse(host) else { return nil }
        if bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff { return Array(bytes[12...]) }
        return bytes
    }
}
