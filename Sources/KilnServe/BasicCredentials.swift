/// The name and secret of an `Authorization: Basic` header (RFC 7617): the scheme in any
/// case, then padded base64 of `name:secret` in UTF-8; the name is not empty and holds no
/// colon, the secret may.
struct BasicCredentials: Sendable, Hashable {
    var name: String
    var secret: String

    /// nil when `header` is not Basic credentials of that form.
    init?(authorization header: String) {
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "basic" else { return nil }
        let token = parts[1].drop(while: { $0 == " " })
        guard let bytes = Base64.decode(String(token)), let text = String(validating: bytes, as: UTF8.self),
              let colon = text.unicodeScalars.firstIndex(of: ":"), colon != text.startIndex
        else { return nil }
        name = String(text.unicodeScalars[..<colon])
        secret = String(text.unicodeScalars[text.unicodeScalars.index(after: colon)...])
    }
}
