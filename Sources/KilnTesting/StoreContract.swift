import KilnCore
import KilnStore

/// What every `MessageStore` must do alike: one list of named checks, run by each store's
/// suite on a fresh store of its own (`@Test(arguments: StoreContract.checks)`), so that
/// a behaviour is written once and a failure names it.
///
/// A check gets a `StoreContract.Context`: `open()` gives a handle on the check's store,
/// and every further call another handle on the same data (a second node on a shared
/// database, the same file reopened). A check records what it found wrong with
/// `expect`; `StoreContract.Check.run` returns those problems (empty: it passed).
public enum StoreContract: Sendable {
    /// Every check, in the order of the protocol's parts.
    public static let checks: [Check] = queue + leases + fencing + lists + campaigns + inspection + outbox + tenants + [
        Check("slices of a cluster-wide limit never add up past it", quotaSlices)
    ]

    /// Opens a handle on the store a check runs on: the same data at every call.
    public typealias Opener = @Sendable () async throws -> any MessageStore

    /// One behaviour of the contract.
    public struct Check: Sendable, CustomStringConvertible {
        public let name: String
        let body: @Sendable (Context) async throws -> Void

        init(_ name: String, _ body: @escaping @Sendable (Context) async throws -> Void) {
            self.name = name
            self.body = body
        }

        public var description: String { name }

        /// Runs the check on the store `open` gives; returns the problems it found.
        public func run(_ open: @escaping Opener) async throws -> [String] {
            let context = Context(open)
            try await body(context)
            return context.problems
        }
    }

    /// What a check works with: its store, a time to start from, and the problems found.
    public final class Context {
        /// The time the checks start at (2027-01-15).
        public let t0 = Timestamp(nanoseconds: 1_800_000_000_000_000_000)
        private let opener: Opener
        private(set) var problems: [String] = []

        init(_ opener: @escaping Opener) { self.opener = opener }

        /// A handle on the check's store (another one at every call, on the same data).
        public func open() async throws -> any MessageStore { try await opener() }

        /// Records `what` as a problem unless `passed`.
        public func expect(_ passed: Bool, _ what: @autoclosure () -> String, line: Int = #line, file: String = #fileID) {
            if !passed { problems.append("\(file.split(separator: "/").last ?? ""):\(line): \(what())") }
        }

        /// `value`, or a problem and an error that ends the check when it is nil.
        public func require<T>(_ value: T?, _ what: @autoclosure () -> String, line: Int = #line, file: String = #fileID) throws -> T {
            guard let value else {
                expect(false, what(), line: line, file: file)
                throw KilnError(.invalidInput, "the store contract check cannot go on: \(what())")
            }
            return value
        }
    }
}

extension StoreContract {
    /// A submission of one content to `recipients` (their provider from their domain).
    static func submission(_ recipients: [String], set: String = "bulk", tenant: String = "default", campaign: String? = nil,
                           suppressed: Set<String> = [], metadata: [UInt8]? = nil, priority: Int = 0) -> Submission {
        Submission(
            content: StoredContent(data: Array("Subject: hi\r\n\r\nbody\r\n".utf8), envelopeDomain: "bounce.example.com", configurationSet: set,
                                   campaign: campaign, fromDomain: "example.com", tenant: tenant),
            recipients: recipients.map { address in
                Submission.Recipient(address: address, provider: MailboxProvider.classify(domain: String(address.split(separator: "@").last ?? "")) ?? .other,
                                     suppressed: suppressed.contains(address) ? .manual : nil, metadata: metadata)
            },
            priority: priority)
    }

    /// Leases up to `limit` due messages for `owner` for a minute (or until `until`).
    static func lease(_ store: any MessageStore, owner: String = "n/1", limit: Int = 10, now: Timestamp, until: Timestamp? = nil,
                      excluding: Set<MailboxProvider> = [], pausedSets: Set<String> = []) async throws -> [LeasedMessage] {
        try await store.lease(limit: limit, owner: owner, now: now, leaseUntil: until ?? now + .seconds(60), excluding: excluding, pausedSets: pausedSets)
    }

    /// The event log after `position` once it holds `count` events. A shared store shows
    /// an event only once every transaction begun before it has ended (`EventPosition`):
    /// another client's open transaction holds the log back for a moment, up to 30 s of
    /// wall time. Other stores answer at once.
    public static func eventLog(_ store: any MessageStore, after position: EventPosition = .start, count: Int) async throws -> [StoredEvent] {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let events = try await store.outboxEvents(after: position, limit: 100)
            if events.count >= count { return events }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await store.outboxEvents(after: position, limit: 100)
    }

    static let ok = SMTPReply(code: 250, enhancedStatus: "2.0.0", text: "ok")
    static let unknown = SMTPReply(code: 550, enhancedStatus: "5.1.1", text: "user unknown")
    static let later = SMTPReply(code: 451, enhancedStatus: "4.3.0", text: "try later")
}
