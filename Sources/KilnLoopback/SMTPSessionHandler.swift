import Foundation
import KilnCore
import NIOCore

/// One SMTP session: EHLO/HELO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT.
final class SMTPSessionHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let box: ServerBox
    var clientAddress = ""
    var mailFrom: String?
    /// The MAIL command line of the transaction.
    var mailCommand = ""
    var recipients: [String] = []
    var inData = false
    var data: [UInt8] = []
    var messagesOnConnection = 0
    var overTLS: Bool
    /// The user this session authenticated as.
    var authenticatedAs: String?
    /// An `AUTH PLAIN` without an initial response, waiting for the client's next line
    /// (RFC 4954 §4).
    var awaitingPlainResponse = false

    init(box: ServerBox, overTLS: Bool = false) {
        self.box = box
        self.overTLS = overTLS
    }

    var server: LoopbackSMTPServer? { box.server.withLock { $0 } }

    func channelActive(context: ChannelHandlerContext) {
        clientAddress = context.remoteAddress?.ipAddress ?? "?"
        server?.state.withLock { $0.connections += 1 }
        let reply = ask(.connect) ?? SMTPReply(code: 220, text: "kiln-testing ESMTP ready")
        send(reply, context: context)
        if reply.code >= 400 { context.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data input: NIOAny) {
        var line = unwrapInboundIn(input)
        let bytes = line.readBytes(length: line.readableBytes) ?? []
        if inData {
            if bytes == [UInt8(ascii: ".")] {
                inData = false
                finishMessage(context: context)
            } else {
                data.append(contentsOf: bytes.first == UInt8(ascii: ".") ? bytes.dropFirst() : bytes[...])
                data.append(contentsOf: [13, 10])
            }
            return
        }
        let text = String(decoding: bytes, as: UTF8.self)
        if awaitingPlainResponse {
            awaitingPlainResponse = false
            return checkPlain(response: text, context: context)
        }
        let verb = text.prefix(while: { $0 != " " && $0 != ":" }).uppercased()
        switch verb {
        case "EHLO", "HELO":
            resetTransaction()
            if let reply = ask(.hello(String(text.dropFirst(5)))) { return send(reply, context: context) }
            if verb == "EHLO" {
                let startTLS = server?.tls?.mode == .startTLS && !overTLS ? "250-STARTTLS\r\n" : ""
                let auth = server?.login != nil ? "250-AUTH PLAIN\r\n" : ""
                let utf8 = server?.offersSMTPUTF8 == false ? "" : "250-SMTPUTF8\r\n"
                write("250-kiln-testing\r\n250-PIPELINING\r\n\(startTLS)\(auth)250-8BITMIME\r\n\(utf8)250 SIZE 52428800\r\n", context: context)
            } else {
                send(SMTPReply(code: 250, text: "kiln-testing"), context: context)
            }
        case "AUTH":
            startAuth(text, context: context)
        case "MAIL":
            if server?.login != nil, authenticatedAs == nil {
                return send(SMTPReply(code: 530, enhancedStatus: "5.7.0", text: "Authentication required"), context: context)
            }
            server?.state.withLock { $0.envelopeCommands.append(text) }
            let address = Self.angleAddress(text)
            if let refusal = utf8Refusal(text, address: address, mail: true) { return send(refusal, context: context) }
            if let reply = ask(.mailFrom(address)), reply.code >= 400 { return send(reply, context: context) }
            resetTransaction()
            mailFrom = address
            mailCommand = text
            send(SMTPReply(code: 250, enhancedStatus: "2.1.0", text: "OK"), context: context)
        case "RCPT":
            server?.state.withLock { $0.envelopeCommands.append(text) }
            guard mailFrom != nil else { return send(SMTPReply(code: 503, enhancedStatus: "5.5.1", text: "MAIL first"), context: context) }
            let address = Self.angleAddress(text)
            if let refusal = utf8Refusal(text, address: address, mail: false) { return send(refusal, context: context) }
            if let reply = ask(.recipient(address)), reply.code >= 400 { return send(reply, context: context) }
            recipients.append(address)
            send(SMTPReply(code: 250, enhancedStatus: "2.1.5", text: "OK"), context: context)
        case "DATA":
            guard !recipients.isEmpty else { return send(SMTPReply(code: 503, enhancedStatus: "5.5.1", text: "RCPT first"), context: context) }
            inData = true
            data.removeAll(keepingCapacity: true)
            send(SMTPReply(code: 354, text: "End data with <CR><LF>.<CR><LF>"), context: context)
        case "STARTTLS":
            guard let tls = server?.tls, tls.mode == .startTLS, !overTLS else {
                return send(SMTPReply(code: 502, enhancedStatus: "5.5.1", text: "STARTTLS not offered"), context: context)
            }
            // The 220 goes out in clear; everything after it through TLS (RFC 3207 §4.2:
            // the session starts over, so the client says EHLO again).
            send(SMTPReply(code: 220, enhancedStatus: "2.0.0", text: "Ready to start TLS"), context: context)
            do {
                try tls.upgrade(context.channel)
                overTLS = true
                authenticatedAs = nil
                resetTransaction()
            } catch {
                context.close(promise: nil)
            }
        case "RSET":
            resetTransaction()
            send(SMTPReply(code: 250, enhancedStatus: "2.0.0", text: "OK"), context: context)
        case "NOOP":
            send(SMTPReply(code: 250, enhancedStatus: "2.0.0", text: "OK"), context: context)
        case "QUIT":
            write("221 2.0.0 Bye\r\n", context: context)
            context.close(mode: .output, promise: nil)
        default:
            send(SMTPReply(code: 502, enhancedStatus: "5.5.2", text: "command not recognized"), context: context)
        }
    }

    func finishMessage(context: ChannelHandlerContext) {
        let message = data
        if let reply = ask(.message(message)), reply.code >= 400 {
            resetTransaction()
            return send(reply, context: context)
        }
        let received = LoopbackSMTPServer.ReceivedMessage(mailFrom: mailFrom ?? "", recipients: recipients, data: message, clientAddress: clientAddress,
                                                          overTLS: overTLS, authenticatedAs: authenticatedAs, mailCommand: mailCommand)
        let number = server?.accept(received) ?? 0
        messagesOnConnection += 1
        resetTransaction()
        send(SMTPReply(code: 250, enhancedStatus: "2.0.0", text: "OK queued as \(number)"), context: context)
    }

    /// `AUTH PLAIN [initial-response]` (RFC 4954, RFC 4616), the one mechanism offered.
    func startAuth(_ command: String, context: ChannelHandlerContext) {
        let words = command.split(separator: " ").map(String.init)
        guard server?.login != nil else {
            return send(SMTPReply(code: 502, enhancedStatus: "5.5.1", text: "AUTH not offered"), context: context)
        }
        guard words.count >= 2 else {
            return send(SMTPReply(code: 501, enhancedStatus: "5.5.4", text: "Syntax: AUTH mechanism [initial-response]"), context: context)
        }
        guard authenticatedAs == nil else { return send(SMTPReply(code: 503, enhancedStatus: "5.5.1", text: "Already authenticated"), context: context) }
        guard words[1].uppercased() == "PLAIN" else {
            return send(SMTPReply(code: 504, enhancedStatus: "5.5.4", text: "Unrecognized authentication type"), context: context)
        }
        if words.count > 2 {
            checkPlain(response: words[2], context: context)
        } else {
            awaitingPlainResponse = true
            write("334 \r\n", context: context)
        }
    }

    /// The PLAIN response: base64 of authzid NUL authcid NUL passwd (RFC 4616 §2); `*` cancels.
    func checkPlain(response: String, context: ChannelHandlerContext) {
        guard response != "*", let decoded = Data(base64Encoded: response).map({ String(decoding: $0, as: UTF8.self) }) else {
            return send(SMTPReply(code: 501, enhancedStatus: "5.5.2", text: "Cannot decode response"), context: context)
        }
        let parts = decoded.split(separator: "\u{0}", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3 else { return send(SMTPReply(code: 501, enhancedStatus: "5.5.2", text: "Malformed PLAIN response"), context: context) }
        check(username: parts[1], password: parts[2], context: context)
    }

    func check(username: String, password: String, context: ChannelHandlerContext) {
        guard let login = server?.login, login.username == username, login.password == password else {
            return send(SMTPReply(code: 535, enhancedStatus: "5.7.8", text: "Authentication credentials invalid"), context: context)
        }
        authenticatedAs = username
        send(SMTPReply(code: 235, enhancedStatus: "2.7.0", text: "Authentication successful"), context: context)
    }

    /// A server without SMTPUTF8 refuses the parameter (RFC 5321 §4.1.1.11: 555) and a
    /// non-ASCII address (RFC 6531 §3.7.4.1: 553 5.6.7).
    func utf8Refusal(_ command: String, address: String, mail: Bool) -> SMTPReply? {
        guard server?.offersSMTPUTF8 == false else { return nil }
        if mail, command.uppercased().split(separator: " ").dropFirst().contains("SMTPUTF8") {
            return SMTPReply(code: 555, enhancedStatus: "5.5.4", text: "SMTPUTF8 not offered")
        }
        if !address.utf8.allSatisfy({ $0 < 0x80 }) {
            return SMTPReply(code: 553, enhancedStatus: "5.6.7", text: "Non-ASCII addresses not permitted for that \(mail ? "sender" : "recipient")")
        }
        return nil
    }

    func resetTransaction() {
        mailFrom = nil
        mailCommand = ""
        recipients.removeAll()
        data.removeAll(keepingCapacity: true)
    }

    func ask(_ kind: LoopbackSMTPServer.Command.Kind) -> SMTPReply? {
        guard let server else { return nil }
        return server.script(.init(kind: kind, clientAddress: clientAddress, messagesOnConnection: messagesOnConnection, messagesTotal: server.total))
    }

    func send(_ reply: SMTPReply, context: ChannelHandlerContext) {
        let status = reply.enhancedStatus.map { "\($0) " } ?? ""
        // A reply text may hold several lines: "421-..." continuation lines, "421 " last.
        let lines = reply.text.split(separator: "\n", omittingEmptySubsequences: false)
        var out = ""
        for (index, line) in lines.enumerated() {
            out += "\(reply.code)\(index == lines.count - 1 ? " " : "-")\(status)\(line)\r\n"
        }
        write(out, context: context)
    }

    func write(_ text: String, context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text)), promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    static func angleAddress(_ command: String) -> String {
        guard let open = command.firstIndex(of: "<"), let close = command[open...].firstIndex(of: ">") else {
            return command.split(separator: ":").dropFirst().joined(separator: ":").trimmingCharacters(in: " ")
        }
        return String(command[command.index(after: open)..<close])
    }
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        String(drop(while: { $0 == set }).reversed().drop(while: { $0 == set }).reversed())
    }
}
