import NIOCore

/// One line from the client, without its line end.
enum SubmissionLine {
    case line(ByteBuffer)
    /// A line longer than the decoder's limit; its bytes were dropped up to its line end.
    case tooLong
}

/// Splits the input into lines at LF (a CR before it is dropped), holding at most
/// `maxLength` octets of a line: a longer one is discarded as it arrives and reported as
/// `.tooLong` at its end, so a client cannot make the server buffer without bound.
///
/// `Control.discardBuffered` (RFC 3207 §4.2): on STARTTLS the session sets it, and the
/// decoder drops what the client had sent after the command in clear — the bytes it held
/// when it last returned, never bytes that came later through the TLS handler put at the
/// front of the pipeline.
struct SubmissionLineDecoder: ByteToMessageDecoder {
    typealias InboundOut = SubmissionLine

    /// Set by the session handler, read by the decoder, both on the channel's event loop.
    final class Control {
        var discardBuffered = false
    }

    let maxLength: Int
    let control: Control
    /// Inside an over-long line: drop bytes until its LF.
    var skipping = false
    /// The bytes left in the buffer when `decode` last returned: all of them came before
    /// anything that arrives after.
    var heldAtReturn = 0

    init(maxLength: Int, control: Control) {
        self.maxLength = maxLength
        self.control = control
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if control.discardBuffered {
            control.discardBuffered = false
            skipping = false
            buffer.moveReaderIndex(forwardBy: min(heldAtReturn, buffer.readableBytes))
        }
        let state = try nextLine(context: context, buffer: &buffer)
        heldAtReturn = buffer.readableBytes
        return state
    }

    mutating func nextLine(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > maxLength + 1 {
                skipping = true
                buffer.moveReaderIndex(to: buffer.writerIndex)
            }
            return .needMoreData
        }
        let length = newline - buffer.readerIndex
        if skipping || length > maxLength + 1 {
            skipping = false
            buffer.moveReaderIndex(forwardBy: length + 1)
            heldAtReturn = buffer.readableBytes
            context.fireChannelRead(wrapInboundOut(.tooLong))
            return .continue
        }
        var line = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 1)
        heldAtReturn = buffer.readableBytes
        if line.readableBytesView.last == UInt8(ascii: "\r") {
            line.moveWriterIndex(to: line.writerIndex - 1)
        } else if line.readableBytes > maxLength {
            context.fireChannelRead(wrapInboundOut(.tooLong))
            return .continue
        }
        context.fireChannelRead(wrapInboundOut(.line(line)))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // A last line without its line end is not a command: drop it.
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }
}
