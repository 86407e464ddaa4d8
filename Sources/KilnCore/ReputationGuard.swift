/// Where a scope (the account, or one configuration set) stands with its bounce and
/// complaint rates, as mailbox providers and shared-pool operators judge a sender.
public enum ReputationStatus: String, Sendable, Codable, CaseIterable {
    case healthy
    case underReview
    case sendingPaused
}

/// The review and pause lines, as fractions (0.05 is 5%).
public struct ReputationThresholds: Sendable, Hashable, Codable {
    public var bounceReview = 0.05
    public var bouncePause = 0.10
    public var complaintReview = 0.001
    public var complaintPause = 0.005
    /// The guard judges only once the window holds this many sends: three complaints in
    /// the first hundred messages say little.
    public var minimumVolume = 1_000
    /// The window: the most recent hours back to this many sends (at most `windowHours`).
    public var windowVolume = 50_000
    public var windowHours = 30 * 24
    public init() {}
}

/// Sends, hard bounces and complaints counted in one hour.
public struct ReputationHour: Sendable, Hashable {
    public var hour: Int64
    public var sent: Int
    public var bounces: Int
    public var complaints: Int
    public init(hour: Int64, sent: Int, bounces: Int, complaints: Int) {
        self.hour = hour
        self.sent = sent
        self.bounces = bounces
        self.complaints = complaints
    }
}

public struct ReputationSnapshot: Sendable, Hashable, Codable {
    public var status: ReputationStatus
    public var bounceRate: Double
    public var complaintRate: Double
    public var sent: Int
    public var bounces: Int
    public var complaints: Int
    /// Why the status is what it is, for events and `kiln status`.
    public var reason: String
}

/// Rolling bounce and complaint rates over a representative recent volume.
public enum ReputationGuard {
    /// - Parameter hours: the scope's counters, any order; hours before `since` are ignored
    ///   (an operator's resume starts a new window).
    public static func evaluate(_ hours: [ReputationHour], now: Timestamp, since: Int64? = nil,
                                thresholds: ReputationThresholds) -> ReputationSnapshot {
        let currentHour = now.nanoseconds / 3_600_000_000_000
        var sent = 0, bounces = 0, complaints = 0
        for hour in hours.sorted(by: { $0.hour > $1.hour }) {
            if let since, hour.hour < since { break }
            if currentHour - hour.hour >= Int64(thresholds.windowHours) { break }
            sent += hour.sent
            bounces += hour.bounces
            complaints += hour.complaints
            if sent >= thresholds.windowVolume { break }
        }
        let bounceRate = sent > 0 ? Double(bounces) / Double(sent) : 0
        let complaintRate = sent > 0 ? Double(complaints) / Double(sent) : 0
        var snapshot = ReputationSnapshot(status: .healthy, bounceRate: bounceRate, complaintRate: complaintRate,
                                          sent: sent, bounces: bounces, complaints: complaints, reason: "")
        guard sent >= thresholds.minimumVolume else {
            snapshot.reason = "\(sent) sends in the window, \(thresholds.minimumVolume) needed to judge"
            return snapshot
        }
        func percent(_ value: Double) -> String {
            let scaled = (value * 10_000).rounded() / 100
            return "\(scaled)%"
        }
        if complaintRate >= thresholds.complaintPause {
            snapshot.status = .sendingPaused
            snapshot.reason = "complaint rate \(percent(complaintRate)) at or over the pause line \(percent(thresholds.complaintPause))"
        } else if bounceRate >= thresholds.bouncePause {
            snapshot.status = .sendingPaused
            snapshot.reason = "bounce rate \(percent(bounceRate)) at or over the pause line \(percent(thresholds.bouncePause))"
        } else if complaintRate >= thresholds.complaintReview {
            snapshot.status = .underReview
            snapshot.reason = "complaint rate \(percent(complaintRate)) at or over the review line \(percent(thresholds.complaintReview))"
        } else if bounceRate >= thresholds.bounceReview {
            snapshot.status = .underReview
            snapshot.reason = "bounce rate \(percent(bounceRate)) at or over the review line \(percent(thresholds.bounceReview))"
        } else {
            snapshot.reason = "bounce rate \(percent(bounceRate)), complaint rate \(percent(complaintRate)) over \(sent) sends"
        }
        return snapshot
    }
}
