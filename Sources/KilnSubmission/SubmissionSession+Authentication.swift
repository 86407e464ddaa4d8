import Foundation
import KilnCore

/// AUTH PLAIN (RFC 4616) and LOGIN, over TLS only (RFC 4954).
///
/// | client | server |
/// |---|---|
/// | `AUTH PLAIN <base64 authzid NUL name NUL secret>` | `authenticate` |
/// | `AUTH PLAIN`, then the response | `334 `, then `authenticate` |
/// | `AUTH LOGIN [<base64 name>]` | `334 VXNlcm5hbWU6` ("Username:"), `334 UGFzc3dvcmQ6` ("Password:") |
/// | `*` instead of a response | `501 5.0.0` |
/// | a response that is not base64 of UTF-8 | `501 5.5.2` |
extension SubmissionSession {
    static let usernamePrompt = SMTPReply(code: 334, text: "VXNlcm5hbWU6")
    static let passwordPrompt = SMTPReply(code: 334, text: "UGFzc3dvcmQ6")

    mutating func authenticate(_ argument: Substring) -> Action {
        guard tlsActive else { return refuse(SubmissionRefusal(.tlsRequired, "Must issue a STARTTLS command first")) }
        guard greeted else { return refuse(503, "5.5.1", "Send EHLO first") }
        guard authenticated == nil else { return refuse(503, "5.5.1", "Already authenticated") }
        guard transaction == nil else { return refuse(503, "5.5.1", "AUTH not permitted during a mail transaction") }
        let words = argument.split(separator: " ")
        guard (1...2).contains(words.count) else { return refuse(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]") }
        let initial = words.count == 2 ? words[1] : nil
        switch words[0].uppercased() {
        case "PLAIN":
            guard let initial else {
                phase = .authPlainResponse
                return .reply(SMTPReply(code: 334, text: ""))
            }
            return plain(initial)
        case "LOGIN":
            guard let initial else {
                phase = .authLoginName
                return .reply(Self.usernamePrompt)
            }
            guard let name = Self.decodeResponse(initial) else { return refuse(501, "5.5.2", "Cannot decode response") }
            phase = .authLoginSecret(name: name)
            return .reply(Self.passwordPrompt)
        default:
            return refuse(504, "5.5.4", "Unrecognized authentication type")
        }
    }

    /// The client's answer to a `334` prompt.
    mutating func continueAuthentication(_ input: SubmissionLine) -> Action {
        let waiting = phase
        phase = .command
        guard case .line(let line) = input, line.readableBytes <= limits.maxCommandLineLength else {
            return refuse(500, "5.5.6", "Line too long")
        }
        let text = String(decoding: line.readableBytesView, as: UTF8.self)
        guard text != "*" else { return refuse(501, "5.0.0", "Authentication cancelled") }
        switch waiting {
        case .authPlainResponse:
            return plain(Substring(text))
        case .authLoginName:
            guard let name = Self.decodeResponse(Substring(text)) else { return refuse(501, "5.5.2", "Cannot decode response") }
            phase = .authLoginSecret(name: name)
            return .reply(Self.passwordPrompt)
        case .authLoginSecret(let name):
            guard let secret = Self.decodeResponse(Substring(text)) else { return refuse(501, "5.5.2", "Cannot decode response") }
            return .authenticate(name: name, secret: secret)
        case .command, .data:
            return refuse(503, "5.5.1", "Bad sequence of commands")
        }
    }

    /// authzid NUL authcid NUL passwd (RFC 4616 §2). An authorization identity other than
    /// the name itself (acting for another user) is refused.
    mutating func plain(_ response: Substring) -> Action {
        guard let decoded = Self.decodeResponse(response) else { return refuse(501, "5.5.2", "Cannot decode response") }
        let parts = decoded.split(separator: "\u{0}", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return refuse(501, "5.5.2", "Malformed PLAIN response") }
        guard parts[0].isEmpty || parts[0] == parts[1] else {
            return refuse(SubmissionRefusal(.badCredentials, "Authorization identity not allowed"))
        }
        return .authenticate(name: String(parts[1]), secret: String(parts[2]))
    }

    /// The backend's answer to `authenticate`.
    mutating func authenticationFinished(_ result: Result<Principal, SubmissionRefusal>) -> Action {
        switch result {
        case .success(let principal):
            authenticated = principal
            return .reply(SMTPReply(code: 235, enhancedStatus: "2.7.0", text: "Authentication successful"))
        case .failure(let refusal):
            return refuse(refusal)
        }
    }

    /// A base64 response as UTF-8 text; `=` is the empty response (RFC 4954 §4).
    static func decodeResponse(_ response: Substring) -> String? {
        if response == "=" { return "" }
        guard let data = Data(base64Encoded: String(response)) else { return nil }
        return String(validating: Array(data), as: UTF8.self)
    }
}
