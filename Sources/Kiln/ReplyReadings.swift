import KilnCore
import KilnSMTP
import Synchronization

/// The engine's one reading of each reply. The transport calls `observe` as a reply
/// arrives, on its own thread (`ReplyObserver`): the reply is read there by the
/// Dispatcher's `ReplyReader` (operator rules, then the built-in table), the reading is
/// kept for when the result is recorded, and the reading's lane orders go straight back
/// to the transport, so a throttle withdraws its lane before the lane starts another job,
/// without waiting for a batch.
final class ReplyReadings: Sendable {
    let reader: ReplyReader
    private let readings = Mutex<[MessageID: ReplyClassification]>([:])

    init(reader: ReplyReader) {
        self.reader = reader
    }

    /// Reads a result's reply as it arrives and returns the orders for its lane.
    func observe(_ result: SMTPResult) -> [LaneOrder] {
        guard let reply = result.reply else { return [] }
        let reading = reader.read(reply, provider: result.provider, messagesOnConnection: result.messagesOnConnection)
        readings.withLock { $0[result.id] = reading.classification }
        return reading.orders
    }

    /// The reading of a result's reply: the one made as it arrived, or (from a transport
    /// that did not report it) one made now.
    func take(_ result: SMTPResult, reply: SMTPReply) -> ReplyClassification {
        readings.withLock { $0.removeValue(forKey: result.id) }
            ?? reader.read(reply, provider: result.provider, messagesOnConnection: result.messagesOnConnection).classification
    }

    /// Reads a reply Kiln made up before anything left (no such domain, a DNS failure).
    func read(local reply: SMTPReply, provider: MailboxProvider) -> ReplyClassification {
        reader.read(reply, provider: provider).classification
    }
}
