/// How the Dispatcher reads a reply, in one place: the operator rules (`replyRules`) first,
/// then the built-in table (`ReplyClassifier`); and the orders that reading gives the lane
/// the reply came on (`LaneOrder`). The engine reads each reply once, as it arrives, and
/// hands the orders to the transport; the transport itself reads nothing.
///
/// | reading | orders for the lane |
/// |---|---|
/// | a throttle of the IP, or a policy block of the IP (`Dispatcher.withdrawsLane(after:)`) | `withdraw`, `hold(laneHold)` |
/// | scope `session` (a session's message limit), the reply to the n-th message on its connection | `capMessagesPerConnection(max(1, n - 1))` |
/// | anything else | none |
public struct ReplyReader: Sendable {
    /// Operator rules, then the built-in table.
    public var classifier: ReplyClassifier
    /// How long a withdrawn lane refuses new jobs: longer than the engine takes to record
    /// the reply and stop routing to that (IP, destination).
    public var laneHold: Duration

    public init(classifier: ReplyClassifier = .builtIn, laneHold: Duration = .seconds(2)) {
        self.classifier = classifier
        self.laneHold = laneHold
    }

    /// A reply's meaning and the orders for its lane.
    public struct Reading: Hashable, Sendable {
        public var classification: ReplyClassification
        public var orders: [LaneOrder]

        public init(classification: ReplyClassification, orders: [LaneOrder] = []) {
            self.classification = classification
            self.orders = orders
        }
    }

    /// Reads `reply` from `provider` (nil: not known).
    /// - Parameter messagesOnConnection: the message's place on its connection (1 for the
    ///   first), when the reply came over one; a session limit caps the lane below it.
    public func read(_ reply: SMTPReply, provider: MailboxProvider?, messagesOnConnection: Int? = nil) -> Reading {
        let classification = classifier.classify(reply, provider: provider)
        return Reading(classification: classification, orders: orders(after: classification, messagesOnConnection: messagesOnConnection))
    }

    /// The orders for the lane a reply read as `classification` came on.
    public func orders(after classification: ReplyClassification, messagesOnConnection: Int?) -> [LaneOrder] {
        if Dispatcher.withdrawsLane(after: classification) { return [.withdraw, .hold(laneHold)] }
        if classification.scope == .session, let placed = messagesOnConnection {
            // The receiver took `placed - 1` messages on that connection before it refused one.
            return [.capMessagesPerConnection(max(1, placed - 1))]
        }
        return []
    }
}
