import KilnCore

/// Where a configuration set's events go, durably: each destination keeps a cursor in the
/// store and resumes from it after a restart. Delivery is at least once.
///
/// ```json
/// "eventDestinations": [
///   {"name": "hooks", "type": "webhook", "url": "https://hooks.example.com/kiln", "secretEnv": "KILN_HOOK_SECRET",
///    "events": ["delivery", "bounce"]},
///   {"name": "log", "type": "file", "path": "events.jsonl"}]
/// ```
public struct EventDestination: Codable, Sendable, Equatable {
    /// Unique within the configuration set; the store keys the cursor by `set/name`.
    public var name: String
    /// `webhook` (HTTP POST of a JSON array) or `file` (JSON lines, fsync per batch).
    public var type: String
    /// The webhook's `http://` or `https://` URL.
    public var url: String?
    /// The webhook's HMAC-SHA256 key, in this environment variable or file (at least 16 bytes).
    public var secretEnv: String?
    public var secretFile: String?
    /// The event kinds sent (`DeliveryEvent.Kind` names); absent: every kind.
    public var events: [String]?
    /// The file destination's path; relative paths are relative to the configuration file.
    public var path: String?
    /// Seconds a webhook request may take (default 10).
    public var timeoutSeconds: Int?

    public init(name: String, type: String, url: String? = nil, secretEnv: String? = nil, secretFile: String? = nil, events: [String]? = nil,
                path: String? = nil, timeoutSeconds: Int? = nil) {
        self.name = name
        self.type = type
        self.url = url
        self.secretEnv = secretEnv
        self.secretFile = secretFile
        self.events = events
        self.path = path
        self.timeoutSeconds = timeoutSeconds
    }

    /// The kinds this destination takes.
    public var kinds: Set<DeliveryEvent.Kind> {
        guard let events else { return Set(DeliveryEvent.Kind.allCases) }
        return Set(events.compactMap(DeliveryEvent.Kind.init(rawValue:)))
    }

    /// The events each webhook request carries at most.
    public static let batchLimit = 100
}

extension Configuration {
    /// Every event destination, with its configuration set and the JSON path of its entry.
    public var eventDestinations: [(set: String, destination: EventDestination, path: String)] {
        configurationSets.enumerated().flatMap { i, set in
            (set.eventDestinations ?? []).enumerated().map { j, d in (set.name, d, "configurationSets[\(i)].eventDestinations[\(j)]") }
        }
    }

    func eventDestinationProblems() -> [ConfigurationProblem] {
        var problems: [ConfigurationProblem] = []
        func check(_ condition: Bool, _ path: String, _ message: String) {
            if !condition { problems.append(ConfigurationProblem(path: path, message: message)) }
        }
        var seen = Set<String>()
        for (set, d, path) in eventDestinations {
            check(!d.name.isEmpty && d.name.utf8.count <= 100 && !d.name.contains("/") && !d.name.contains(where: \.isNewline),
                  "\(path).name", "must be 1 to 100 characters without '/' or a line break")
            check(seen.insert("\(set)/\(d.name)").inserted, "\(path).name", "'\(d.name.escapingControlCharacters)' is already a destination of this configuration set")
            for (k, kind) in (d.events ?? []).enumerated() {
                check(DeliveryEvent.Kind(rawValue: kind) != nil, "\(path).events[\(k)]",
                      "unknown event kind '\(kind.escapingControlCharacters)': \(DeliveryEvent.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if let events = d.events { check(!events.isEmpty, "\(path).events", "must name at least one kind (leave it out for every kind)") }
            if let seconds = d.timeoutSeconds { check((1...300).contains(seconds), "\(path).timeoutSeconds", "must be between 1 and 300") }
            switch d.type {
            case "webhook":
                let lower = (d.url ?? "").lowercased()
                check(lower.hasPrefix("http://") || lower.hasPrefix("https://"), "\(path).url", "a webhook needs an http:// or https:// url")
                check(!(d.url ?? "").contains(where: { $0.isWhitespace || $0.isNewline }), "\(path).url", "must not contain spaces or line breaks")
                check((d.secretEnv == nil) != (d.secretFile == nil), "\(path).secretEnv", "a webhook needs secretEnv or secretFile (one of them) to sign its requests")
                check(d.path == nil, "\(path).path", "applies to a file destination, not a webhook")
            case "file":
                check(!(d.path ?? "").isEmpty, "\(path).path", "a file destination needs a path")
                check(d.url == nil && d.secretEnv == nil && d.secretFile == nil && d.timeoutSeconds == nil, path,
                      "a file destination takes name, type, path and events only")
            default:
                check(false, "\(path).type", "must be webhook or file")
            }
        }
        if let days = store.retentionDays { check((1...3_650).contains(days), "store.retentionDays", "must be between 1 and 3650") }
        return problems
    }
}
