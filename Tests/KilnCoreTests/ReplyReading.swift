import KilnCore

extension SMTPReply {
    /// The reply as the Dispatcher reads it (`ReplyReader`, no operator rules, provider unknown).
    var reading: ReplyClassification { ReplyReader().read(self, provider: nil).classification }
}
