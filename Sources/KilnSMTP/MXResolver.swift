import CCurl
import Foundation
import KilnCore
import Synchronization

/// MX lookups with the system resolver (libresolv), cached, with the domain itself as
/// the implicit MX when it has none (RFC 5321 §5.1: fall back to its A record). Lookups
/// block, so they run on a dispatch queue, never on the cooperative pool.
public final class MXResolver: Sendable {
    public enum Answer: Sendable, Hashable {
        /// Hosts by preference, most preferred first.
        case hosts([String])
        /// The domain does not exist (NXDOMAIN) or has a null MX (RFC 7505).
        case noSuchDomain
        /// A temporary failure: try again later.
        case temporaryFailure
    }

    private let cache = Mutex<[String: (answer: Answer, expires: ContinuousClock.Instant)]>([:])
    private let queue = DispatchQueue(label: "kiln-mx", attributes: .concurrent)
    private let ttl: Duration

    public init(ttl: Duration = .seconds(3600)) { self.ttl = ttl }

    public func lookup(_ domain: String) async -> Answer {
        let now = ContinuousClock.now
        if let cached = cache.withLock({ $0[domain] }), cached.expires > now { return cached.answer }
        let answer = await withCheckedContinuation { (continuation: CheckedContinuation<Answer, Never>) in
            queue.async { continuation.resume(returning: Self.query(domain)) }
        }
        let lifetime: Duration = answer == .temporaryFailure ? .seconds(60) : ttl
        cache.withLock { $0[domain] = (answer, ContinuousClock.now + lifetime) }
        return answer
    }

    static func query(_ domain: String) -> Answer {
        var buffer = [CChar](repeating: 0, count: 8192)
        var herr: Int32 = 0
        let count = kiln_mx_lookup(domain, &buffer, buffer.count, &herr)
        if count < 0 {
            switch herr {
            case HOST_NOT_FOUND: return .noSuchDomain
            case NO_DATA: return .hosts([domain])  // no MX: the domain's address record
            default: return .temporaryFailure
            }
        }
        if count == 0 { return .hosts([domain]) }
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let records: [(Int, String)] = text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ")
            guard parts.count == 2, let preference = Int(parts[0]) else { return nil }
            return (preference, String(parts[1]))
        }
        if records.count == 1, records[0].1.isEmpty || records[0].1 == "." { return .noSuchDomain }
        return .hosts(records.sorted { $0.0 < $1.0 }.map(\.1))
    }
}
