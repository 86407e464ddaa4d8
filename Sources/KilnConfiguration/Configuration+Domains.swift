import KilnCore

/// Internationalized domains in the configuration: converted to their A-label form
/// (`IDNA.asciiDomain`) where the configuration enters, so that what Kiln sends under
/// them (the return path, the Message-ID, DKIM's `d=`, the unsubscribe mailto) is ASCII.
///
/// | field | `bücher.de` becomes |
/// |---|---|
/// | `identities[].domain`, `returnPathDomain` | `xn--bcher-kva.de` |
/// | `identities[].allowedFromAddresses`, `authorizations[].fromAddresses` | `news@xn--bcher-kva.de` |
/// | `configurationSets[].unsubscribe.mailto` | `unsubscribe@xn--bcher-kva.de` |
/// | `configurationSets[].unsubscribe.url` (its host) | `https://xn--bcher-kva.de/u` |
/// | `delivery.heloName` | `mta.xn--bcher-kva.de` |
///
/// A value with no A-label form is left as written: `validate()` refuses it, naming the
/// field and why (a label over 63 octets as an A-label, a character IDNA2008 does not
/// allow).
extension Configuration {
    /// This configuration with every domain above in A-label form.
    public func withASCIIDomains() -> Configuration {
        var c = self
        c.identities = identities.map(\.withASCIIDomains)
        for i in c.configurationSets.indices {
            guard var unsubscribe = c.configurationSets[i].unsubscribe else { continue }
            unsubscribe.mailto = unsubscribe.mailto.map(Self.asciiAddress)
            unsubscribe.url = unsubscribe.url.map(Self.asciiURL)
            c.configurationSets[i].unsubscribe = unsubscribe
        }
        if !c.delivery.heloName.utf8.allSatisfy({ $0 < 0x80 }), let helo = try? IDNA.asciiDomain(c.delivery.heloName) {
            c.delivery.heloName = helo
        }
        return c
    }

    /// An address with its domain in A-label form (as `EmailAddress` parses it); as
    /// written when it does not parse.
    static func asciiAddress(_ text: String) -> String {
        guard !text.utf8.allSatisfy({ $0 < 0x80 }) else { return text }
        return (try? EmailAddress(text))?.description ?? text
    }

    /// An http(s) URL with its host in A-label form; as written otherwise.
    static func asciiURL(_ url: String) -> String {
        guard !url.utf8.allSatisfy({ $0 < 0x80 }), let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        let hostEnd = rest.firstIndex { "/?#:".contains($0) } ?? rest.endIndex
        guard let host = try? IDNA.asciiDomain(String(rest[..<hostEnd])) else { return url }
        return String(url[..<scheme.upperBound]) + host + rest[hostEnd...]
    }

    /// Why a configured domain is not one, for `validate()`'s message.
    static func domainProblem(_ domain: String) -> String {
        var message = "'\(domain.escapingControlCharacters)' is not a domain name"
        if !domain.utf8.allSatisfy({ $0 < 0x80 }) {
            do { _ = try IDNA.asciiDomain(domain) } catch { message += ": \(error.description)" }
        }
        return message
    }
}

extension Configuration.Identity {
    /// The identity with its domains and addresses in A-label form.
    public var withASCIIDomains: Configuration.Identity {
        var identity = self
        identity.domain = IDNA.asciiDomainOrSame(domain)
        identity.returnPathDomain = returnPathDomain.map(IDNA.asciiDomainOrSame)
        identity.allowedFromAddresses = allowedFromAddresses?.map(Configuration.asciiAddress)
        if let authorizations {
            identity.authorizations = authorizations.map { grant in
                var grant = grant
                grant.fromAddresses = grant.fromAddresses?.map(Configuration.asciiAddress)
                return grant
            }
        }
        return identity
    }

    /// `domain` in A-label form, lower-cased: what an `EmailAddress`'s domain is compared with.
    public var asciiDomain: String { IDNA.asciiDomainOrSame(domain) }
}
