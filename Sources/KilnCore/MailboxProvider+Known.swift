extension MailboxProvider {
    /// Every provider id Kiln can give a recipient by its built-in tables (`gmail`,
    /// `microsoft`, `yahoo`, `apple`, `gmx`, `comcast`, ...) and `other`. An id beyond
    /// these in `providers` or `delivery.routes` would never match a recipient (a typo).
    public static let knownIDs: Set<String> = {
        var ids: Set<String> = [other.id]
        ids.formUnion(DomainTable.exact.values.map(\.id))
        ids.formUnion(DomainTable.countryVariantBrands.values.map(\.id))
        ids.formUnion(DomainTable.mxSuffixes.map(\.1.id))
        return ids
    }()

    /// Whether `id` may key `providers` or `delivery.routes`: a known id, or the MX site
    /// of an unlisted operator (`mx:example.net`).
    public static func isConfigurable(_ id: String) -> Bool {
        if knownIDs.contains(id) { return true }
        guard id.hasPrefix("mx:") else { return false }
        return EmailAddress.isValidDomain(String(id.dropFirst(3))) && id == id.lowercased()
    }

    /// "one of apple, comcast, ... or mx:<domain>" for a problem message.
    public static var configurableDescription: String {
        "expected one of " + knownIDs.sorted().joined(separator: ", ") + ", or mx:<MX domain>"
    }
}
