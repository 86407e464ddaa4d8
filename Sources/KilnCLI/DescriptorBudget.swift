import Foundation
import Kiln
import Glibc

/// How `kiln run` shares its open-file descriptors, so that no flood of inbound
/// connections can take the ones delivery, the store and the event files need: the soft
/// limit is raised to the hard one, a reserve is kept for the store, logs, event files,
/// DNS and the event loops, the transfers get theirs (in-flight transfers and their cached
/// connections), and what is left is split between the HTTP server and the SMTP listener,
/// which stop accepting (HTTP: new connections wait in the backlog; SMTP: `421`) at their share.
///
/// | part | descriptors |
/// |---|---|
/// | reserve | 128 + 4 per event destination |
/// | transfers | `delivery.maxInFlight` (256) active + as many cached |
/// | HTTP (`--listen`) | half of the rest (all of it without SMTP), at most 4,096 |
/// | SMTP listener | the other half, at most `submission.smtp.maxConnections` (1,000) |
struct DescriptorBudget: CustomStringConvertible {
    var limit: Int
    var reserve: Int
    var transfers: Int
    var http: Int
    var smtp: Int

    /// The budget for `engine`'s configuration, after raising the soft limit.
    static func make(for engine: SendEngine, http: Bool, smtp: Bool) -> DescriptorBudget {
        let limit = raiseOpenFileLimit()
        let configuration = engine.configuration
        let destinations = configuration.configurationSets.reduce(0) { $0 + ($1.eventDestinations?.count ?? 0) }
        let reserve = 128 + 4 * destinations
        let transfers = 2 * (configuration.delivery.maxInFlight ?? 256)
        let inbound = max(16, limit - reserve - transfers)
        let httpShare = http ? (smtp ? inbound / 2 : inbound) : 0
        let smtpShare = smtp ? inbound - httpShare : 0
        return DescriptorBudget(limit: limit, reserve: reserve, transfers: transfers, http: min(4_096, httpShare),
                                smtp: min(configuration.submission?.smtp?.maxConnections ?? 1_000, smtpShare))
    }

    /// Whether the parts fit in the limit (when not, the inbound caps are at their floor).
    var fits: Bool { reserve + transfers + http + smtp <= limit }

    var description: String {
        "limit \(limit): reserve \(reserve), transfers \(transfers), HTTP connections \(http), SMTP sessions \(smtp)"
    }

    /// Raises the soft open-file limit to the hard one (at most 2^20); returns the soft limit.
    static func raiseOpenFileLimit() -> Int {
        var files = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &files) == 0 else { return 1_024 }
        if files.rlim_cur < files.rlim_max {
            var raised = files
            raised.rlim_cur = min(files.rlim_max, 1 << 20)
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { files = raised }
        }
        return Int(min(files.rlim_cur, 1 << 20))
    }
}
