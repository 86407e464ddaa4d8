/// An order for the lane a reply came on (its source IP and host), given by the
/// Dispatcher's reading of the reply (`ReplyReader`) and carried out by the transport
/// before that lane starts another job. The transport decides nothing: it withdraws,
/// holds and caps when told to.
///
/// | order | the transport |
/// |---|---|
/// | `withdraw` | gives back every job waiting on the lane, unsent (a nil reply) |
/// | `hold(d)` | gives back every job that reaches the lane in the next `d`, unsent, on every transfer thread |
/// | `capMessagesPerConnection(n)` | closes each of the lane's connections after `n` messages from now on; the message after the reply starts on a fresh connection |
public enum LaneOrder: Hashable, Sendable {
    case withdraw
    case hold(Duration)
    case capMessagesPerConnection(Int)
}
