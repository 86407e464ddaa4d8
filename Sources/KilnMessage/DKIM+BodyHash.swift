import Crypto
import Foundation
import Synchronization

/// The `bh=` values (base64 SHA-256 of the relaxed body) of the last few bodies signed.
/// A message sent as is to many recipients, or a template whose body has no per-recipient
/// part, has one body: it is canonicalized and hashed once, and each later message costs
/// one comparison of the bytes. Personalized bodies miss and cost one copy more.
final class BodyHashCache: Sendable {
    /// Bodies kept: enough for the few contents a delivery batch interleaves.
    static let capacity = 4
    /// Bodies larger than this are hashed every time rather than kept.
    static let maxBodyBytes = 1 << 20

    private struct Entry {
        var body: [UInt8]
        var hash: String
    }

    private let entries = Mutex<[Entry]>([])

    /// The relaxed/SHA-256 body hash of `body`, in base64.
    func hash(of body: ArraySlice<UInt8>) -> String {
        if let hit = entries.withLock({ list in list.first { Self.same($0.body, body) }?.hash }) { return hit }
        let hash = Data(SHA256.hash(data: DKIMCanonical.relaxedBody(body))).base64EncodedString()
        guard body.count <= Self.maxBodyBytes else { return hash }
        let entry = Entry(body: Array(body), hash: hash)
        entries.withLock { list in
            if list.count >= Self.capacity { list.removeFirst() }
            list.append(entry)
        }
        return hash
    }

    private static func same(_ a: [UInt8], _ b: ArraySlice<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        return a.withUnsafeBytes { x in b.withUnsafeBytes { y in x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 } }
    }
}
