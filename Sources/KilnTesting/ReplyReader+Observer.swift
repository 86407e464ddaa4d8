import KilnCore
import KilnSMTP

extension ReplyReader {
    /// A transport's `onReply` that reads each reply as the engine does and returns the
    /// reading's orders for its lane: for driving a transport without an engine.
    public var observer: ReplyObserver {
        { result in
            guard let reply = result.reply else { return [] }
            return read(reply, provider: result.provider, messagesOnConnection: result.messagesOnConnection).orders
        }
    }
}
