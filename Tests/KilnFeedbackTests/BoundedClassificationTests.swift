import Foundation
import KilnFeedback
import Testing

/// Classification stays linear on hostile input: binary junk, and reports that name a
/// great many recipients. Time is measured by hand (docs/command-line.md), not asserted here.
@Suite struct BoundedClassificationTests {
    /// Bytes from a 64-bit linear congruential generator (Knuth's MMIX constants): the
    /// same junk every run.
    static func random(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
    }

    @Test func fiveMegabytesOfRandomBytesClassifyAsUnknown() {
        let report = FeedbackClassifier.classify(Self.random(5 * 1024 * 1024, seed: 20))
        #expect(report.type == .unknown)
        #expect(report.recipients.isEmpty)
    }

    @Test(arguments: ["addresses", "groups", "failed"])
    func aReportNamingManyRecipientsIsCutAtOneHundred(shape: String) {
        var text = "From: MAILER-DAEMON@mx.example.net\nSubject: Undelivered Mail Returned to Sender\n"
        switch shape {
        case "addresses":
            text += "\nThis message could not be delivered to the following recipients:\n\n"
                + (0..<50_000).map { "user\($0)@example.net: 550 5.1.1 user unknown\n" }.joined()
        case "groups":
            text += "Content-Type: multipart/report; report-type=delivery-status; boundary=B\n\n--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx\n\n"
                + (0..<50_000).map { "Final-Recipient: rfc822; user\($0)@example.net\nAction: failed\nStatus: 5.1.1\n\n" }.joined() + "--B--\n"
        default:
            text += "X-Failed-Recipients: " + (0..<50_000).map { "user\($0)@example.net" }.joined(separator: ", ") + "\n\nunable to deliver\n"
        }
        let report = FeedbackClassifier.classify(Array(text.utf8))
        #expect(report.type == .bounce)
        #expect(report.recipients.count == 100)
    }
}
