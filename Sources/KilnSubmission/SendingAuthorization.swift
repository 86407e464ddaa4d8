import KilnConfiguration
import KilnCore

/// Who may send from which identity: the one place that decides it, for the SMTP
/// listener, the HTTP API and anything else that hands Kiln mail for a tenant.
///
/// A tenant may use an identity it owns (`identities[].owner`, default `default`), or one
/// whose `authorizations` name it, within that authorization's From addresses and
/// configuration sets when they are given. A credential narrows its tenant's rights to
/// its own identities and From addresses when it has them.
public struct SendingAuthorization: Sendable {
    /// A credential's own narrowing (empty lists: no narrowing).
    public struct Scope: Sendable, Hashable {
        public var identities: [String]
        public var fromAddresses: [String]
        public init(identities: [String] = [], fromAddresses: [String] = []) {
            self.identities = identities
            self.fromAddresses = fromAddresses
        }
        public static let unrestricted = Scope()
    }

    public let configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Why `tenant` (through `scope`) may not send From `from` with `configurationSet`
    /// (nil: the default set); nil when it may.
    public func refusal(tenant: String, scope: Scope, from: EmailAddress, configurationSet: String?) -> String? {
        guard let identity = configuration.identity(for: from) else {
            return "\(from) is not in a configured identity"
        }
        if !scope.identities.isEmpty, !scope.identities.contains(where: { IDNA.asciiDomainOrSame($0) == identity.asciiDomain }) {
            return "this credential may not send from \(identity.domain)"
        }
        if !scope.fromAddresses.isEmpty, !scope.fromAddresses.contains(where: { (try? EmailAddress($0)) == from }) {
            return "this credential may not send From \(from)"
        }
        let setName = configurationSet ?? configuration.defaultConfigurationSet ?? configuration.configurationSets.first?.name
        if (identity.owner ?? Configuration.defaultTenant) == tenant { return nil }
        let grants = (identity.authorizations ?? []).filter { $0.tenant == tenant }
        guard !grants.isEmpty else {
            return "tenant \(tenant) may not send from \(identity.domain)"
        }
        for grant in grants {
            let addresses = grant.fromAddresses ?? [], sets = grant.configurationSets ?? []
            let fromAllowed = addresses.isEmpty || addresses.contains { (try? EmailAddress($0)) == from }
            let setAllowed = sets.isEmpty || setName.map(sets.contains) == true
            if fromAllowed && setAllowed { return nil }
        }
        return "tenant \(tenant) is authorized on \(identity.domain) only for other From addresses or configuration sets"
    }

    /// Why `tenant` (through `scope`) may not use `address` as the envelope sender; nil
    /// when it may: an address in (or under) an identity the tenant may use, or in its
    /// return-path domain, and one of the credential's From addresses when it lists them.
    public func envelopeRefusal(tenant: String, scope: Scope, address: EmailAddress?) -> String? {
        guard let address else { return "a null reverse-path (MAIL FROM:<>) is not accepted for submission" }
        if !scope.fromAddresses.isEmpty, !scope.fromAddresses.contains(where: { (try? EmailAddress($0)) == address }) {
            return "this credential may not use \(address) as the envelope sender"
        }
        let usable = configuration.identities.filter { identity in
            (scope.identities.isEmpty || scope.identities.contains { IDNA.asciiDomainOrSame($0) == identity.asciiDomain })
                && ((identity.owner ?? Configuration.defaultTenant) == tenant || (identity.authorizations ?? []).contains { $0.tenant == tenant })
        }
        for identity in usable {
            for domain in [identity.domain, identity.returnPathDomain].compactMap({ $0.map(IDNA.asciiDomainOrSame) })
            where address.domain == domain || address.domain.hasSuffix("." + domain) {
                return nil
            }
        }
        return "tenant \(tenant) may not use \(address) as the envelope sender"
    }
}
