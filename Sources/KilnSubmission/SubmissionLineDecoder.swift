import NIOCore

/// One line from the client, without its line end.
enum SubmissionLine {
    case line(ByteBuffer)
    /// Complete lines of a message's DATA, line ends included, none of them the final `.`
    /// nor longer than the limit: handed over at once (one pipeline trip for many lines).
    case dataLines(ByteBuffer)
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
        /// The session is between DATA's `354` and the final dot: complete lines may be
        /// handed over as blocks.
        var receivingData = false
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
        if control.receivingData, !skipping, let block = dataLines(in: &buffer) {
            heldAtReturn = buffer.readableBytes
            context.fireChannelRead(wrapInboundOut(.dataLines(block)))
            return .continue
        }
        let state = try nextLine(context: context, buffer: &buffer)
        heldAtReturn = buffer.readableBytes
        return state
    }

    /// The lines of a `.dataLines` block, without their line ends.
    static func lines(of block: ByteBuffer) -> [ByteBuffer] {
        var block = block
        var lines: [ByteBuffer] = []
        while let newline = block.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            var line = block.readSlice(length: newline - block.readerIndex)!
            block.moveReaderIndex(forwardBy: 1)
            if line.readableBytesView.last == UInt8(ascii: "\r") { line.moveWriterIndex(to: line.writerIndex - 1) }
            lines.append(line)
        }
        return lines
    }

    /// The complete lines at the front of `buffer` before the final `.` line, an over-long
    /// line or the first incomplete one (nil: none); those are left to `nextLine`.
    func dataLines(in buffer: inout ByteBuffer) -> ByteBuffer? {
        let view = buffer.readableBytesView
        var start = view.startIndex
        var end = start
        while let newline = view[start...].firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - start
            if length > maxLength + 1 { break }
            if view[start] == UInt8(ascii: "."), length == 1 || (length == 2 && view[start + 1] == UInt8(ascii: "\r")) { break }
            start = newline + 1
            end = start
        }
        guard end > view.startIndex else { return nil }
        return buffer.readSlice(length: end - view.startIndex)
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
