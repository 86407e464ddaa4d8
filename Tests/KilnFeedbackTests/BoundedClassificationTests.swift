import Foundation
import KilnFeedback
import Testing

/// Classification stays linear on hostile input (issue 20): binary junk, and reports that
/// name a great many recipients. Time is measured by hand (README), not asserted here.
@Suite struct BoundedClassificationTests {
    /// SplitMix64: the same bytes every run.
    struct SeededBytes: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func random(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SeededBytes(state: seed)
        var bytes = [UInt8](repeating: 0, count: count)
        for i in stride(from: 0, to: count, by: 8) {
            var word = generator.next()
            for j in i..<min(i + 8, count) { bytes[j] = UInt8(truncatingIfNeeded: word); word >>= 8 }
        }
        return bytes
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
