/// Whether a transfer uses STARTTLS (`delivery.tls`, and a route's own).
public enum TLSPolicy: String, Codable, Sendable {
    /// STARTTLS when the server offers it, else in clear (like Postfix `may`).
    case opportunistic
    /// STARTTLS required: a receiver that does not offer it is passed over (the next MX
    /// host, or a deferral); nothing is sent in clear (like Postfix `encrypt`).
    case required
    /// Never TLS (loopback tests).
    case none
}
