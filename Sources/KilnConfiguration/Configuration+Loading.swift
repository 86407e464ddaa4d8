import Foundation
import KilnCore
import KilnDNS

/// One problem in a configuration, with the JSON path where it is (`pools[0].ips[1]`).
public struct ConfigurationProblem: Hashable, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }
    public var description: String { "\(path.isEmpty ? "(top level)" : path): \(message)" }
}

extension Configuration {
    /// Decodes and validates a configuration. Throws a `KilnError` with code
    /// `.invalidConfiguration` listing every problem (syntax, types, unknown keys,
    /// duplicate keys, validation), each with its JSON path (and line and column for
    /// syntax).
    public static func load(json data: Data, source: String = "configuration") throws(KilnError) -> Configuration {
        let data = CheckedJSON.withoutBOM(data)
        // Internationalized domains in A-label form from here on (see `withASCIIDomains`).
        let configuration = try CheckedJSON.decode(Configuration.self, from: data, source: source).withASCIIDomains()
        var problems = unknownKeys(in: data, decoded: configuration)
        problems += configuration.validate()
        if !problems.isEmpty { throw invalid(problems, source: source) }
        return configuration
    }

    public static func invalid(_ problems: [ConfigurationProblem], source: String) -> KilnError {
        let lines = problems.map { "  \($0)" }.joined(separator: "\n")
        return KilnError(.invalidConfiguration, "\(problems.count) problem(s) in \(source):\n\(lines)", location: source)
    }

    public static func problem(from error: DecodingError) -> ConfigurationProblem {
        switch error {
        case .keyNotFound(let key, let context):
            return ConfigurationProblem(path: jsonPath(context.codingPath + [key]), message: "required key is missing")
        case .typeMismatch(let type, let context):
            return ConfigurationProblem(path: jsonPath(context.codingPath), message: "expected \(typeName(type))")
        case .valueNotFound(let type, let context):
            return ConfigurationProblem(path: jsonPath(context.codingPath), message: "expected \(typeName(type)), found null")
        case .dataCorrupted(let context):
            let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return ConfigurationProblem(path: jsonPath(context.codingPath), message: underlying ?? context.debugDescription)
        @unknown default:
            return ConfigurationProblem(path: "", message: "\(error)")
        }
    }

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type: "an integer"
        case is Double.Type: "a number"
        case is Bool.Type: "true or false"
        default: "\(type)".hasPrefix("Array") ? "an array" : (("\(type)".hasPrefix("Dictionary")) ? "an object" : "\(type)")
        }
    }

    /// `a.b[0].c` from a coding path.
    public static func jsonPath(_ path: [any CodingKey]) -> String {
        var text = ""
        for key in path {
            if let index = key.intValue { text += "[\(index)]" } else { text += text.isEmpty ? key.stringValue : ".\(key.stringValue)" }
        }
        return text
    }

    /// Keys in the JSON that the configuration does not know (typos): every key of the
    /// input that is absent from the decoded configuration encoded again.
    public static func unknownKeys(in data: Data, decoded: some Encodable) -> [ConfigurationProblem] {
        guard let raw = try? JSONSerialization.jsonObject(with: data),
              let encoded = try? JSONEncoder().encode(decoded),
              let known = try? JSONSerialization.jsonObject(with: encoded) else { return [] }
        var problems: [ConfigurationProblem] = []
        // `value` is the decoded value at this level: its stored properties are every key
        // the type knows, set or not (the encoded form leaves out the unset ones).
        func walk(_ raw: Any, _ known: Any, _ path: String, _ value: Any?) {
            if let rawObject = raw as? [String: Any] {
                let knownObject = known as? [String: Any] ?? [:]
                let properties = value.map(Self.properties) ?? [:]
                for (key, child) in rawObject.sorted(by: { $0.key < $1.key }) {
                    let childPath = path.isEmpty ? key : "\(path).\(key)"
                    if let knownValue = knownObject[key] {
                        walk(child, knownValue, childPath, properties[key] ?? nil)
                    } else if !(child is NSNull) {
                        let hint = closest(to: key, among: Array(properties.keys)).map { " (did you mean '\($0)'?)" } ?? ""
                        problems.append(ConfigurationProblem(path: childPath, message: "unknown key" + hint))
                    }
                }
            } else if let rawArray = raw as? [Any], let knownArray = known as? [Any] {
                let elements = value.map { Mirror(reflecting: Self.unwrapped($0)).children.map(\.value) }
                for (index, child) in rawArray.enumerated() where index < knownArray.count {
                    walk(child, knownArray[index], "\(path)[\(index)]", elements.flatMap { index < $0.count ? $0[index] : nil })
                }
            }
        }
        walk(raw, known, "", decoded)
        return problems
    }

    /// The stored properties of a struct value (an optional unwrapped), by name; empty for
    /// a dictionary or anything without labelled children.
    static func properties(of value: Any) -> [String: Any?] {
        let mirror = Mirror(reflecting: unwrapped(value))
        guard mirror.displayStyle == .struct || mirror.displayStyle == .class else { return [:] }
        var result: [String: Any?] = [:]
        for child in mirror.children {
            guard let label = child.label else { continue }
            result[label.hasPrefix("_") ? String(label.dropFirst()) : label] = unwrapped(child.value)
        }
        return result
    }

    static func unwrapped(_ value: Any) -> Any {
        let mirror = Mirror(reflecting: value)
        guard mirror.displayStyle == .optional else { return value }
        return mirror.children.first.map { unwrapped($0.value) } ?? value
    }

    /// The candidate closest to `key`: the same but for case, else at most two edits
    /// away (and fewer than half the key's length); nil when none is.
    public static func closest(to key: String, among candidates: [String]) -> String? {
        let lowered = key.lowercased()
        if let same = candidates.first(where: { $0 != key && $0.lowercased() == lowered }) { return same }
        let scored = candidates.filter { $0 != key }.map { ($0, editDistance(lowered, $0.lowercased())) }
            .filter { $0.1 <= min(2, max(1, key.count / 2 - 1)) }
        return scored.min { ($0.1, $0.0) < ($1.1, $1.0) }?.0
    }

    /// Levenshtein distance, transpositions counted as one edit.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var d = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
            }
        }
        return d[a.count][b.count]
    }

    /// Every problem in the configuration, each with its JSON path; empty when valid.
    public func validate() -> [ConfigurationProblem] {
        var problems: [ConfigurationProblem] = []
        func check(_ condition: Bool, _ path: String, _ message: String) {
            if !condition { problems.append(ConfigurationProblem(path: path, message: message)) }
        }
        problems += storeProblems()
        problems += eventDestinationProblems()
        problems += numericProblems()
        problems += secretAndPathProblems()
        problems += submissionProblems()
        check(!senderId.isEmpty, "senderId", "must not be empty")
        check(!senderId.contains(":") && !senderId.contains(where: \.isNewline), "senderId", "must not contain ':' or a line break")
        check(!identities.isEmpty, "identities", "at least one identity is required")
        for (i, identity) in identities.enumerated() {
            let path = "identities[\(i)]"
            check(EmailAddress.isValidDomain(identity.domain), "\(path).domain", Self.domainProblem(identity.domain))
            if let rp = identity.returnPathDomain {
                check(EmailAddress.isValidDomain(rp), "\(path).returnPathDomain", Self.domainProblem(rp))
            }
            for (j, address) in (identity.allowedFromAddresses ?? []).enumerated() {
                do {
                    let parsed = try EmailAddress(address)
                    check(parsed.domain == identity.asciiDomain || parsed.domain.hasSuffix("." + identity.asciiDomain),
                          "\(path).allowedFromAddresses[\(j)]", "'\(address)' is not in the domain \(identity.domain)")
                } catch {
                    check(false, "\(path).allowedFromAddresses[\(j)]", error.message)
                }
            }
            for (j, key) in (identity.dkim ?? []).enumerated() {
                let keyPath = "\(path).dkim[\(j)]"
                check(["rsa-sha256", "ed25519-sha256"].contains(key.algorithm), "\(keyPath).algorithm", "must be rsa-sha256 or ed25519-sha256")
                check(!key.selector.isEmpty && key.selector.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." || $0 == "_" },
                      "\(keyPath).selector", "must be a DNS label")
                check(!key.privateKeyFile.isEmpty, "\(keyPath).privateKeyFile", "must not be empty")
            }
        }
        check(Set(identities.map(\.asciiDomain)).count == identities.count, "identities", "domains must be distinct")

        check(!pools.isEmpty, "pools", "at least one pool is required")
        for (i, pool) in pools.enumerated() {
            let path = "pools[\(i)]"
            check(!pool.name.isEmpty, "\(path).name", "must not be empty")
            check(!pool.ips.isEmpty, "\(path).ips", "at least one IP is required")
            for (j, ip) in pool.ips.enumerated() {
                check(IPAddress.isValid(ip), "\(path).ips[\(j)]", "'\(ip)' is not an IPv4 or IPv6 address")
            }
            check(Set(pool.ips).count == pool.ips.count, "\(path).ips", "addresses must be distinct")
            let minIPs = pool.minIPs ?? 1
            let maxIPs = pool.maxIPs ?? pool.ips.count
            check(maxIPs >= minIPs, "\(path).maxIPs", "must be at least minIPs (\(minIPs))")
            if let warmup = pool.warmup {
                check(["adaptive", "ses45", "stages30", "custom"].contains(warmup), "\(path).warmup", "must be adaptive, ses45, stages30 or custom")
                if warmup == "custom" {
                    check(!(pool.warmupSchedule ?? []).isEmpty, "\(path).warmupSchedule", "warmup 'custom' needs a non-empty list of daily volumes")
                }
            }
            if let spillover = pool.spillover, spillover != .never {
                check(sharedPool != nil, "\(path).spillover", "'\(spillover.rawValue)' needs a sharedPool")
            }
        }
        check(Set(pools.map(\.name)).count == pools.count, "pools", "names must be distinct")

        if let shared = sharedPool {
            check(SMTPURL(shared.url) != nil, "sharedPool.url", "'\(shared.url)' is not smtp://host:port or smtps://host:port")
            check(!(shared.passwordEnv != nil && shared.passwordFile != nil), "sharedPool", "give passwordEnv or passwordFile, not both")
        }

        check(!delivery.heloName.isEmpty && EmailAddress.isValidDomain(delivery.heloName), "delivery.heloName", "must be a domain name")
        for (provider, list) in (delivery.routes ?? [:]).sorted(by: { $0.key < $1.key }) {
            check(!list.urls.isEmpty, "delivery.routes.\(provider)", "needs at least one URL")
            for (index, url) in list.urls.enumerated() {
                check(SMTPURL(url) != nil, "delivery.routes.\(provider)" + (list.urls.count > 1 ? "[\(index)]" : ""),
                      "'\(url)' is not smtp://host:port or smtps://host:port")
            }
            check(provider == "*" || provider == provider.lowercased(), "delivery.routes.\(provider)", "provider ids are lower-case")
            check(provider == "*" || MailboxProvider.isConfigurable(provider), "delivery.routes.\(provider)",
                  "unknown provider id '\(provider)': \(MailboxProvider.configurableDescription) or *")
        }
        for (index, server) in (delivery.nameservers ?? []).enumerated() {
            check(DNSServerAddress(server) != nil, "delivery.nameservers[\(index)]", "'\(server)' is not an IP address with an optional port (127.0.0.1:5353, [::1]:53)")
        }
        if let port = delivery.mxPort { check((1...65535).contains(port), "delivery.mxPort", "must be 1 to 65,535") }
        if delivery.mode == .routes {
            check(delivery.routes?["*"] != nil, "delivery.routes", "mode 'routes' needs a '*' route for unlisted providers")
        }

        for (name, profile) in (providers ?? [:]).sorted(by: { $0.key < $1.key }) {
            let path = "providers.\(name)"
            check(name == name.lowercased(), path, "provider ids are lower-case")
            check(MailboxProvider.isConfigurable(name), path, "unknown provider id '\(name)': \(MailboxProvider.configurableDescription)")
            let resolved = ProviderProfile.resolve(MailboxProvider(name), overrides: providers)
            check(!(resolved.warmHourly < resolved.coldHourly), "\(path).warmHourly", "must be at least coldHourly (\(resolved.coldHourly))")
        }

        check(!configurationSets.isEmpty, "configurationSets", "at least one configuration set is required")
        for (i, set) in configurationSets.enumerated() {
            check(!set.name.isEmpty, "configurationSets[\(i)].name", "must not be empty")
            check(pool(named: set.pool) != nil, "configurationSets[\(i)].pool", "no pool named '\(set.pool)'")
            if let fields = set.feedbackId {
                for (name, value) in [("campaign", fields.campaign), ("category", fields.category), ("stream", fields.stream)] {
                    guard let value else { continue }
                    check(!value.isEmpty && !value.contains(":") && value.unicodeScalars.allSatisfy { $0.value > 32 && $0.value < 127 },
                          "configurationSets[\(i)].feedbackId.\(name)", "must be printable ASCII without spaces or colons")
                }
            }
            for (key, value) in [("bounceReviewRate", set.bounceReviewRate), ("bouncePauseRate", set.bouncePauseRate),
                                 ("complaintReviewRate", set.complaintReviewRate), ("complaintPauseRate", set.complaintPauseRate)] {
                if let value { check(value > 0 && value <= 1, "configurationSets[\(i)].\(key)", "must be a fraction in (0, 1], e.g. 0.05 for 5%") }
            }
            let lines = set.reputationThresholds
            check(lines.bounceReview <= lines.bouncePause, "configurationSets[\(i)].bounceReviewRate", "must not be above bouncePauseRate")
            check(lines.complaintReview <= lines.complaintPause, "configurationSets[\(i)].complaintReviewRate", "must not be above complaintPauseRate")
            if let u = set.unsubscribe {
                let path = "configurationSets[\(i)].unsubscribe"
                check(u.url != nil || u.mailto != nil, path, "needs a url or a mailto")
                if let url = u.url {
                    check(url.hasPrefix("https://") || url.hasPrefix("http://"), "\(path).url", "must be an http(s) URL (https for real mail: RFC 8058)")
                    check(!url.contains(where: { $0 == "<" || $0 == ">" || $0 == "," || $0.isWhitespace }), "\(path).url", "must not contain spaces, commas or angle brackets")
                }
                if let mailto = u.mailto {
                    check((try? EmailAddress(mailto)) != nil, "\(path).mailto", "'\(mailto.escapingControlCharacters)' is not an email address")
                }
                check(u.secretEnv != nil || u.secretFile != nil, path, "needs secretEnv or secretFile (the token's HMAC key)")
                check(u.secretEnv == nil || u.secretFile == nil, path, "give secretEnv or secretFile, not both")
            }
        }
        check(Set(configurationSets.map(\.name)).count == configurationSets.count, "configurationSets", "names must be distinct")
        if let name = defaultConfigurationSet {
            check(configurationSets.contains { $0.name == name }, "defaultConfigurationSet", "no configuration set named '\(name)'")
        }
        problems += feedback?.validate() ?? []
        problems += replyRuleProblems()
        return problems
    }
}

public enum IPAddress {
    /// True for a dotted-quad IPv4 address or an IPv6 address.
    public static func isValid(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 4 {
            return parts.allSatisfy { part in
                guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII), let n = Int(part) else { return false }
                return n <= 255 && (part.count == 1 || part.first != "0")
            }
        }
        guard text.contains(":") else { return false }
        let groups = text.components(separatedBy: ":")
        guard groups.count >= 3, groups.count <= 8 else { return false }
        return groups.allSatisfy { $0.count <= 4 && $0.allSatisfy(\.isHexDigit) } && text.components(separatedBy: "::").count <= 2
    }
}

extension Configuration {
    /// Latin look-alikes of common Cyrillic and Greek letters (a small part of Unicode's
    /// confusables, UTS #39): enough to show which Latin name a mixed label imitates.
    static let confusables: [Character: Character] = [
        "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "һ": "h", "ԁ": "d", "ӏ": "l",
        "α": "a", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x",
    ]

    /// Warnings for identity domains whose labels mix Latin letters with Cyrillic or Greek
    /// ones (UTS #39 mixed-script): a look-alike of another domain (`exаmple.com` with a
    /// Cyrillic `а`), which receivers and users distrust.
    public func lookAlikeWarnings() -> [ConfigurationProblem] {
        var warnings: [ConfigurationProblem] = []
        for (index, identity) in identities.enumerated() {
            // Read as U-labels: a loaded configuration holds the A-label form.
            let domain = IDNA.unicodeDomain(identity.domain)
            for label in domain.split(separator: ".") {
                var scripts = Set<String>()
                for scalar in label.unicodeScalars where scalar.properties.isAlphabetic {
                    switch scalar.value {
                    case 0x41...0x5A, 0x61...0x7A, 0xC0...0x24F: scripts.insert("Latin")
                    case 0x370...0x3FF: scripts.insert("Greek")
                    case 0x400...0x52F: scripts.insert("Cyrillic")
                    default: break
                    }
                }
                guard scripts.count > 1 else { continue }
                let latin = String(domain.map { Self.confusables[$0] ?? $0 })
                warnings.append(ConfigurationProblem(
                    path: "identities[\(index)].domain",
                    message: "'\(domain)' mixes \(scripts.sorted().joined(separator: " and ")) letters in one label: a look-alike of '\(latin)'?"))
                break
            }
        }
        return warnings
    }
}
