/// The built-in reply table, checked in order: the first rule that matches decides. A
/// reply no rule matches is read from its enhanced status by RFC 3463 (rule `status`),
/// else from its code (rule `fallback`). Text patterns are lower-case substrings of the
/// lower-cased reply, in any language.
///
/// Order: provider-specific and single-meaning statuses first; then what the engine must
/// tell apart (a recipient's rate, a session's or the connections' limit, the IP's rate,
/// the sender's authentication); then an address that is bad, blocks, content, a full
/// mailbox, user-unknown words, and last the vague policy and "try later" words.
///
/// Whatever a rule says, `SMTPReply.classification` keeps two promises: a 4xx reply is
/// never `permanent-*`, and an X.7.x reply is never `permanent-user`.
///
/// A new rule is a line here (with its source) and a line in the reply table test.
public enum ReplyRules {
    /// Bumped whenever a rule is added, removed or changed.
    public static let version = "2026-12-06.1"

    static let gmail = "Gmail SMTP errors and codes, support.google.com/a/answer/3726730"
    static let yahoo = "Yahoo Sender Hub, SMTP error codes, senders.yahooinc.com/smtp-error-codes"
    static let microsoft = "Microsoft Outlook.com postmaster and Exchange Online NDR reference (learn.microsoft.com, 'Fix NDR error 550 5.7.515')"
    static let apple = "Apple iCloud Mail postmaster, support.apple.com/en-us/HT204137"
    static let orange = "Orange postmaster, postmaster.orange.fr (OFR codes, bilingual French/English replies)"
    static let gmx = "GMX / WEB.DE postmaster, error messages (postmaster.gmx.net/en/error-messages, postmaster.web.de/de/fehlermeldungen)"
    static let tonline = "T-Online postmaster replies (BL)/(NOWL), as reported by several unrelated senders (spamresource.com 2020-06)"
    static let libero = "Libero / Virgilio help, 'Messaggi di errore più frequenti' (aiuto.libero.it)"
    static let yandex = "Yandex Mail help, bounces (yandex.com/support/mail/bounces)"
    static let mailru = "Mail.ru help on delivery errors (help.mail.ru) and replies seen from mxs.mail.ru"
    static let tencent = "Tencent QQ / Exmail return codes (service.mail.qq.com, exmail.qq.com)"
    static let netease = "NetEase 163.com return codes (help.mail.163.com: HL:ICC, HL:IFC, MI:DMC, RP:DRC, DT:SPM)"
    static let japan = "docomo, au (KDDI) and SoftBank reply codes as published for senders (sendmagic SMTP code notes, NTT support)"
    static let twoMTAs = "the same wording from at least two MTAs (Postfix, Exim, Sendmail, Exchange, qmail; sisimai set-of-emails)"

    /// Every rule, in the order they are checked.
    public static let all: [ReplyRule] = providerRules + senderStatusRules + statusRules + distinctionRules + addressRules + blockRules
        + contentRules + fullRules + userRules + vagueRules

    // MARK: The sender's address (whatever the words, never the recipient's: see `guarded`)

    static let senderStatusRules: [ReplyRule] = [
        ReplyRule("rfc3463.sender-syntax", status: "X.1.7", [], .permanentPolicy, .sender, .rejected, source: "RFC 3463 §3.2 X.1.7 Bad sender's mailbox address syntax"),
        ReplyRule("rfc3463.sender-system", status: "X.1.8", [], .permanentPolicy, .sender, .rejected, source: "RFC 3463 §3.2 X.1.8 Bad sender's system address"),
    ]

    // MARK: Providers' own codes and wordings

    static let providerRules: [ReplyRule] = [
        ReplyRule("gmail.relay-peak", provider: "gmail", ["peak smtp relay limit", "smtp relay limit"], .throttle, .ip, .rateLimited, source: gmail),
        ReplyRule("gmail.recipient-rate", provider: "gmail", codes: .transient, status: "4.2.1", [], .temporary, .recipient, .recipientRate, source: gmail),
        ReplyRule("gmail.unusual-rate", provider: "gmail", ["unusual rate of unsolicited mail"], .throttle, .ip, .rateLimited, source: gmail),
        ReplyRule("gmail.low-reputation", provider: "gmail", ["very low reputation of the sending ip", "very low reputation of the sending domain", "low reputation of the sending"], .permanentPolicy, .ip, .blocked, source: gmail),
        ReplyRule("gmail.not-authorized-ip", provider: "gmail", ["not authorized to send email directly to our servers"], .permanentPolicy, .ip, .blocked, source: gmail),
        ReplyRule("gmail.likely-unsolicited", provider: "gmail", status: "X.7.1", ["this message is likely unsolicited", "likely suspicious due to"], .permanentMessage, .message, .spamDetected, source: gmail),
        ReplyRule("gmail.rfc5322", provider: "gmail", ["not rfc 5322 compliant", "valid address in from: header", "multiple addresses in from: header", "message is malformed"], .permanentMessage, .message, .contentError, source: gmail),
        ReplyRule("gmail.auth-rate", provider: "gmail", status: "X.7.*", ["unauthenticated", "not aligned", "authentication", "spf", "dkim", "dmarc"], .permanentPolicy, .sender, .authFailure, source: gmail),
        ReplyRule("yahoo.tss", provider: "yahoo", ["[tss04]", "[tss01]", "[tss03]", "[ts01]", "[ts02]", "[ts03]", "temporarily deferred due to unexpected volume"], .throttle, .ip, .rateLimited, source: yahoo),
        ReplyRule("yahoo.tss09", provider: "yahoo", ["[tss09]", "[ts04]", "permanently deferred"], .throttle, .ip, .blocked, source: yahoo),
        ReplyRule("yahoo.bl", provider: "yahoo", ["[bl21]", "[bl22]", "[bl23]", "connections will not be accepted from"], .permanentPolicy, .ip, .blocked, source: yahoo),
        ReplyRule("yahoo.unknown-recipients", provider: "yahoo", ["excessive unknown recipients"], .throttle, .ip, .blocked, source: yahoo),
        ReplyRule("yahoo.from-domain", provider: "yahoo", ["unresolvable rfc.5321 from domain", "unresolvable rfc5321 from domain"], .temporary, .sender, .rejected, source: yahoo),
        ReplyRule("yahoo.policy", provider: "yahoo", ["not accepted for policy reasons"], .permanentPolicy, .ip, .policy, source: yahoo),
        ReplyRule("yahoo.user", provider: "yahoo", ["this user doesn't have a", "no such user here"], .permanentUser, .recipient, .userUnknown, source: yahoo),
        ReplyRule("yahoo.disabled", provider: "yahoo", ["user account is unavailable", "account has been disabled"], .permanentUser, .recipient, .suspend, source: yahoo),
        ReplyRule("microsoft.as-rate", provider: "microsoft", status: "4.7.*", ["server busy", "rate limited", "(as8", "(as7"], .throttle, .ip, .rateLimited, source: microsoft),
        ReplyRule("microsoft.block-list", provider: "microsoft", ["on our block list", "(s3150)", "(s3140)", "(s3114)", "(s3115)"], .permanentPolicy, .ip, .blocked, source: microsoft),
        ReplyRule("microsoft.auth-level", status: "5.7.515", [], .permanentPolicy, .sender, .authFailure, source: microsoft),
        ReplyRule("microsoft.dmarc", status: "5.7.509", [], .permanentPolicy, .sender, .authFailure, source: microsoft),
        ReplyRule("microsoft.recipient-not-found", provider: "microsoft", ["requested action not taken: mailbox unavailable", "recipientnotfound", "recipient not found by smtp address lookup"], .permanentUser, .recipient, .userUnknown, source: microsoft),
        ReplyRule("microsoft.directory-block", status: "5.4.1", ["recipient address rejected: access denied", "access denied"], .permanentUser, .recipient, .userUnknown, source: microsoft),
        ReplyRule("apple.cs", provider: "apple", codes: .transient, ["[cs01]", "[cs02]", "[cs03]", "[hm08]"], .throttle, .ip, .rateLimited, source: apple),
        ReplyRule("apple.cs-permanent", provider: "apple", codes: .permanent, ["[cs01]", "[cs02]", "[cs03]"], .permanentPolicy, .ip, .blocked, source: apple),
        ReplyRule("orange.connections", ["ofr004_104", "ofr_104", "trop de connexions"], .throttle, .connection, .tooManyConnections, source: orange),
        ReplyRule("orange.refused", ["ofr_108", "ofr004_108", "ofr004_105", "service refuse", "service refusé"], .throttle, .ip, .rateLimited, source: orange),
        ReplyRule("orange.invalid-recipient", ["destinataire invalide", "adresse d au moins un destinataire invalide"], .permanentUser, .recipient, .userUnknown, source: orange),
        ReplyRule("orange.full", ["boite du destinataire pleine", "boîte du destinataire pleine"], .permanentMessage, .recipient, .mailboxFull, source: orange),
        ReplyRule("orange.rejected", ["mail rejete", "mail rejeté", "ofr_999", "ofr004_999"], .permanentPolicy, .ip, .blocked, source: orange),
        ReplyRule("tonline.bl", ["(bl)", "(nowl)", "tosa@rx.t-online.de", "none/bad reputation"], .permanentPolicy, .ip, .blocked, source: tonline),
        ReplyRule("gmx.ptr", ["bad dns ptr resource record"], .permanentPolicy, .ip, .requirePTR, source: gmx),
        ReplyRule("gmx.block-listed", ["ip address is block listed", "nemesis esmtp service not available", "reject due to policy restrictions", "reject due to policy violations"], .permanentPolicy, .ip, .blocked, source: gmx),
        ReplyRule("gmx.spf", ["reject due to spf policy"], .permanentPolicy, .sender, .authFailure, source: gmx),
        ReplyRule("gmx.rate", ["rate limit reached", "zu viele e-mails in zu kurzer zeit"], .throttle, .ip, .rateLimited, source: gmx),
        ReplyRule("yandex.target-blocked", ["policy rejection on the target address"], .permanentMessage, .recipient, .suspend, source: yandex),
        ReplyRule("yandex.spam-statistics", ["blocked by spam statistics"], .permanentPolicy, .ip, .blocked, source: yandex),
        ReplyRule("yandex.spam", ["rejected under suspicion of spam", "message looks like spam", "looks like spam"], .permanentMessage, .message, .spamDetected, source: yandex),
        ReplyRule("mailru.spam", ["spam message rejected", "message rejected as spam", "spam message discarded"], .permanentMessage, .message, .spamDetected, source: mailru),
        ReplyRule("tencent.connection-frequency", ["connection frequency limited"], .throttle, .connection, .tooManyConnections, source: tencent),
        ReplyRule("tencent.ip-frequency", ["ip frequency limited", "domain frequency limited", "frequency limited"], .throttle, .ip, .rateLimited, source: tencent),
        ReplyRule("tencent.content", ["mail content denied", "content denied"], .permanentMessage, .message, .spamDetected, source: tencent),
        ReplyRule("tencent.user", ["mailbox not found or access denied", "mailbox unavailable or access denied"], .permanentUser, .recipient, .userUnknown, source: tencent),
        ReplyRule("netease.connections", ["hl:icc"], .throttle, .connection, .tooManyConnections, source: netease),
        ReplyRule("netease.frequency", ["hl:ifc", "hl:ifq", "hl:rep", "hl:mep", "hl:ihu"], .throttle, .ip, .rateLimited, source: netease),
        ReplyRule("netease.session", ["mi:dmc", "rp:drc"], .temporary, .session, .sessionLimit, source: netease),
        ReplyRule("netease.rbl", ["dt:rbl", "hl:ipb"], .permanentPolicy, .ip, .blocked, source: netease),
        ReplyRule("netease.spam", ["dt:spm"], .permanentMessage, .message, .spamDetected, source: netease),
        ReplyRule("japan.docomo-full", ["too much mail data"], .permanentMessage, .recipient, .mailboxFull, source: japan),
        ReplyRule("japan.line-too-long", ["line too long"], .permanentMessage, .message, .contentError, source: japan),
    ]

    // MARK: Statuses with one meaning (RFC 3463, RFC 7372, RFC 7505, RFC 8689)

    static let statusRules: [ReplyRule] = [
        ReplyRule("rfc3463.mailbox-full", status: "X.2.2", [], .permanentMessage, .recipient, .mailboxFull, source: "RFC 3463 §3.3 X.2.2 Mailbox full"),
        ReplyRule("rfc3463.too-big", status: "X.3.4", [], .permanentMessage, .message, .messageTooBig, source: "RFC 3463 §3.4 X.3.4 Message too big for system"),
        ReplyRule("rfc3463.length", status: "X.2.3", [], .permanentMessage, .message, .messageTooBig, source: "RFC 3463 §3.3 X.2.3 Message length exceeds administrative limit"),
        ReplyRule("rfc7505.null-mx", status: "X.1.10", [], .permanentUser, .recipient, .hostUnknown, source: "RFC 7505 §4.2 X.1.10 recipient domain has a null MX"),
        ReplyRule("rfc7505.sender-null-mx", status: "X.7.27", [], .permanentPolicy, .sender, .rejected, source: "RFC 7505 §4.2 X.7.27 sender address has null MX"),
        ReplyRule("rfc7372.ptr", status: "X.7.25", [], .permanentPolicy, .ip, .requirePTR, source: "RFC 7372 §3.3 X.7.25 reverse DNS validation failed"),
        ReplyRule("rfc7372.auth", status: "X.7.20|X.7.21|X.7.22|X.7.23|X.7.24|X.7.26", [], .permanentPolicy, .sender, .authFailure, source: "RFC 7372 §3 X.7.20-X.7.26 DKIM, SPF, DMARC failures"),
        ReplyRule("rfc8617.arc", status: "X.7.29", [], .permanentPolicy, .sender, .authFailure, source: "RFC 8617 §5.2 X.7.29 ARC validation failure"),
        ReplyRule("rfc3463.tls", status: "X.7.10", [], .permanentPolicy, .connection, .failedStartTLS, source: "RFC 5248 registry X.7.10 encryption needed"),
        ReplyRule("rfc3463.congestion-connections", codes: .transient, status: "4.4.5", ["connection", "concurrent", "session"], .throttle, .connection, .tooManyConnections, source: "RFC 3463 §3.5 X.4.5 Mail system congestion, naming the connections; " + gmail),
        ReplyRule("rfc3463.congestion", codes: .transient, status: "4.4.5", [], .throttle, .ip, .rateLimited, source: "RFC 3463 §3.5 X.4.5 Mail system congestion: the receiving system is congested, the sender slows down; " + gmail),
        ReplyRule("rfc3463.expired", status: "X.4.7", [], .temporary, .message, .expired, source: "RFC 3463 §3.5 X.4.7 Delivery time expired"),
        ReplyRule("rfc7293.owner-changed", status: "X.7.17", [], .permanentMessage, .recipient, .hasMoved, source: "RFC 7293 §3.3 X.7.17 mailbox owner has changed"),
        ReplyRule("rfc3463.sender-address-other", status: "X.1.0", ["sender", "mail from", "from address", "envelope from", "return path"], .permanentPolicy, .sender, .rejected, source: "RFC 3463 §3.2 X.1.0 about the sender's address (MAIL FROM)"),
    ]

    // MARK: What the engine acts on differently

    static let distinctionRules: [ReplyRule] = [
        ReplyRule("greylisting", codes: .transient, ["greylist", "graylist", "grey-list", "gray-list", "greylisting"], .temporary, .message, .greylisted, source: "RFC 6647 §2.1 greylisting; Postgrey, Exim and Postfix wordings"),
        ReplyRule("recipient-rate", ["receiving mail too quickly", "receiving mail at a rate", "is receiving mail too", "recipient is receiving too", "recebendo e-mails muito rápido", "too many messages for this recipient", "ratelimit exceeded for mailbox", "rate limit exceeded for mailbox", "too many mails for this recipient", "mailbox is receiving too many"], .temporary, .recipient, .recipientRate, source: gmail + "; " + twoMTAs),
        ReplyRule("session-limit", ["messages per connection", "messages per session", "too many messages in this connection", "too many messages in one connection", "too many messages on this connection", "too many messages in this session", "too many mails per session", "messages in a single session", "recipients this session", "recipients per session", "max number of messages per connection", "too many transactions"], .temporary, .session, .sessionLimit, source: "Exim smtp_accept_max_per_connection, Postfix smtpd limits, NetEase MI:DMC; " + twoMTAs),
        ReplyRule("rfc3463.too-many-recipients", status: "X.5.3", [], .temporary, .session, .sessionLimit, source: "RFC 3463 §3.6 X.5.3 Too many recipients: Kiln sends one recipient per transaction, so the count is the session's"),
        ReplyRule("too-many-connections", ["too many connections", "too many concurrent", "connection limit", "too many sessions", "too many simultaneous", "concurrent connections", "concurrent server connections", "zu viele verbindungen", "troppe connessioni", "demasiadas conexiones", "muitas conexões", "слишком много соединений", "слишком много подключений", "并发连接"], .throttle, .connection, .tooManyConnections, source: gmx + "; " + orange + "; " + twoMTAs),
        ReplyRule("rate-limit", ["rate limit", "rate-limit", "ratelimit", "rate limited", "unusual rate", "sending rate", "too many messages", "too many emails", "too many mails", "sent too many", "has sent too many", "unexpected volume", "volume limit", "throttl", "slow down", "try to reduce", "messages per hour", "messages per minute", "per hour exceeded", "message submission rate", "too fast", "excessive volume", "high volume", "volume of mail", "volume of email", "volume of messages", "mail volume", "sending volume", "message volume", "sending quota", "sending limit", "hourly limit", "daily limit", "frequency", "too much mail", "too much email", "excessive mail", "excessive traffic", "too many requests", "trop de messages", "trop de mails", "zu viele nachrichten", "zu viele e-mails", "troppi messaggi", "demasiados mensajes", "muitas mensagens", "слишком много писем", "слишком много сообщений", "превышен лимит", "发信频率", "发送频率"], .throttle, .ip, .rateLimited, source: gmail + "; " + gmx + "; " + twoMTAs),
        ReplyRule("auth-failure", ["spf", "dkim", "dmarc", "sender policy framework", "unauthenticated", "authentication check", "failed authentication", "message failed authentication", "authentication level", "not pass authentication", "arc validation"], .permanentPolicy, .sender, .authFailure, source: "RFC 7208 (SPF), RFC 6376 (DKIM), RFC 7489 (DMARC) rejections; " + gmail + "; " + gmx),
        ReplyRule("sender-rejected", ["sender address rejected", "sender rejected", "sender verify failed", "sender verification failed", "domain of sender address", "sender domain", "sender address domain", "invalid sender", "sender unknown", "unroutable sender", "sender's domain", "rejected sender", "bad sender", "expéditeur", "absender", "mittente", "remitente", "отправител", "发件人"], .permanentPolicy, .sender, .rejected, source: "RFC 5321 §3.3 MAIL FROM rejections; Postfix reject_unknown_sender_domain, Exim sender verify; " + twoMTAs),
    ]

    // MARK: The address is bad (with its status)

    /// Words that the mailbox itself is unknown, in the languages of the large providers.
    static let userWords: [String] = [
        "user unknown", "unknown user", "no such user", "no such mailbox", "no such recipient", "no such account", "does not exist",
        "doesn't exist", "not exist", "mailbox not found", "recipient not found", "invalid recipient", "unknown recipient", "user not found",
        "no mailbox here", "not a valid mailbox", "invalid mailbox", "mailbox unavailable", "address rejected: undeliverable",
        "bad destination mailbox", "address unknown", "unknown address", "no such address", "recipient unknown", "addressee unknown",
        "does not have an account", "doesn't have a", "account disabled", "account has been disabled", "is disabled", "deactivated",
        "mailbox is inactive", "account is inactive", "no longer available", "unknown local part", "unknown mailbox",
        // French, German, Italian, Spanish, Portuguese
        "utilisateur inconnu", "destinataire inconnu", "adresse inconnue", "adresse invalide", "n'existe pas", "n existe pas", "boîte inexistante",
        "unbekannt", "existiert nicht", "ungültige empfänger", "ungültiger empfänger", "empfänger ungültig",
        "utente sconosciuto", "utente inesistente", "indirizzo inesistente", "casella inesistente", "destinatario inesistente",
        "usuario desconocido", "usuario no existe", "destinatario desconocido", "buzón no existe", "no existe",
        "usuário desconhecido", "utilizador desconhecido", "não existe", "destinatário desconhecido",
        // Russian, Japanese, Chinese
        "пользователь не найден", "нет такого пользователя", "не существует", "неизвестный пользователь", "адрес не найден",
        "宛先不明", "存在しない", "存在しません", "ユーザが見つかりません", "ユーザーが存在",
        "用户不存在", "收件人不存在", "邮箱不存在", "地址不存在", "帐号不存在", "账号不存在",
    ]

    static let addressRules: [ReplyRule] = [
        ReplyRule("rfc3463.x7-user-words", status: "X.7.*", userWords, .permanentMessage, .recipient, .userUnknown, source: "RFC 3463 §3.8: X.7.x is security or policy, never the address; bounce this message, suppress nothing"),
        ReplyRule("rfc3463.bad-mailbox", status: "X.1.1", [], .permanentUser, .recipient, .userUnknown, source: "RFC 3463 §3.2 X.1.1 Bad destination mailbox address"),
        ReplyRule("rfc3463.bad-system", status: "X.1.2", [], .permanentUser, .recipient, .hostUnknown, source: "RFC 3463 §3.2 X.1.2 Bad destination system address"),
        ReplyRule("rfc3463.bad-syntax", status: "X.1.3", [], .permanentUser, .recipient, .userUnknown, source: "RFC 3463 §3.2 X.1.3 Bad destination mailbox address syntax"),
        ReplyRule("rfc3463.ambiguous", status: "X.1.4", [], .permanentUser, .recipient, .userUnknown, source: "RFC 3463 §3.2 X.1.4 Destination mailbox address ambiguous"),
        ReplyRule("rfc3463.moved", status: "X.1.6", [], .permanentUser, .recipient, .hasMoved, source: "RFC 3463 §3.2 X.1.6 Destination mailbox has moved, no forwarding address"),
        ReplyRule("rfc3463.disabled-user-words", status: "X.2.*", userWords, .permanentUser, .recipient, .userUnknown, source: "RFC 3463 §3.3 X.2.0/X.2.1 with words that the mailbox is gone"),
        ReplyRule("rfc3463.x1-user-words", status: "X.1.0", userWords, .permanentUser, .recipient, .userUnknown, source: "RFC 3463 §3.2 X.1.0 with words about the recipient"),
        ReplyRule("rfc3463.disabled", status: "X.2.1", [], .permanentMessage, .recipient, .suspend, source: "RFC 3463 §3.3 X.2.1 Mailbox disabled, not accepting messages (may come back)"),
        ReplyRule("rfc3463.route", status: "5.4.4", [], .permanentUser, .recipient, .hostUnknown, source: "RFC 3463 §3.5 X.4.4 Unable to route (the recipient's domain)"),
    ]

    // MARK: Blocks of the IP or the sending domain

    /// The words that an IP is blocked (block lists, reputation, banned).
    static let blockList = blockRules.first { $0.id == "block-list" }!

    static let blockRules: [ReplyRule] = [
        ReplyRule("ptr", ["reverse dns", "reverse lookup", "no ptr", "ptr record", "cannot find your hostname", "cannot find your reverse hostname", "rdns", "does not resolve to your ip", "逆引き"], .permanentPolicy, .ip, .requirePTR, source: "RFC 7372 §3.3 (X.7.25); Postfix reject_unknown_client_hostname; " + twoMTAs),
        ReplyRule("tls-required", ["tls required", "tls is required", "must issue a starttls", "requires tls", "encryption required", "starttls required"], .permanentPolicy, .connection, .failedStartTLS, source: gmail + "; RFC 3207"),
        ReplyRule("no-relaying", ["relay access denied", "relaying denied", "not permitted to relay", "unable to relay", "relay not permitted", "we do not relay", "relaying not allowed", "relay disabled", "relay denied"], .permanentPolicy, .message, .noRelaying, source: "RFC 5321 §3.6.2; Postfix and Sendmail relay refusals"),
        ReplyRule("block-list", ["blacklist", "blocklist", "block list", "black list", "block listed", "blocklisted", "spamhaus", "spamcop", "sorbs", "barracuda", "dnsbl", " rbl", "rbl ", "blocked using", "listed at", "listed in", "is listed", "client host rejected", "client host blocked", "your ip", "ip address", "sending ip", "from this ip", "bad reputation", "poor reputation", "low reputation", "reputation", "has been blocked", "been blocked", "is blocked", "blocked by", "banned", "dynamic ip", "dial-up", "residential", "not allowed to send", "blockiert", "gesperrt", "bloqué", "bloquée", "bloccato", "bloqueado", "заблокирован", "ブロック", "封禁", "黑名单"], .permanentPolicy, .ip, .blocked, source: "Spamhaus/SpamCop DNSBL replies (RFC 5782); " + gmx + "; " + yandex + "; " + twoMTAs),
    ]

    // MARK: Content: the message, not the IP

    static let contentRules: [ReplyRule] = [
        ReplyRule("virus", ["virus", "malware", "infected", "ウイルス", "病毒"], .permanentMessage, .message, .virusDetected, source: twoMTAs),
        ReplyRule("spam-content", ["spam", "unsolicited", "junk mail", "bulk mail", "content rejected", "message content", "content filter", "suspicious", "спам", "indésirable", "pourriel", "迷惑メール", "垃圾邮件"], .permanentMessage, .message, .spamDetected, source: yandex + "; " + mailru + "; " + twoMTAs),
        ReplyRule("too-big", ["message too large", "message is too large", "message size exceeds", "size exceeds", "exceeds size", "too big", "message length exceeds", "exceeds the maximum size", "taille du message", "zu groß", "troppo grande", "demasiado grande"], .permanentMessage, .message, .messageTooBig, source: "RFC 1870 (SIZE) and RFC 5321 552 replies; " + twoMTAs),
    ]

    // MARK: A full mailbox: bounce, keep the recipient

    static let fullRules: [ReplyRule] = [
        ReplyRule("mailbox-full", ["mailbox full", "mailbox is full", "mail box full", "over quota", "overquota", "quota exceeded", "exceeded storage", "insufficient storage", "storage limit", "is over its", "user is over", "account is full", "box is full", "mailbox has exceeded",
                                   "boîte pleine", "boite pleine", "boîte aux lettres pleine", "boite aux lettres pleine", "postfach voll", "postfach ist voll", "mailbox voll", "speicherplatz", "casella piena", "casella postale piena", "buzón lleno", "buzon lleno", "caixa postal cheia", "caixa de correio cheia", "caixa cheia",
                                   "ящик переполнен", "переполнен", "превышена квота", "容量超過", "メールボックスが一杯", "容量オーバー", "邮箱已满", "邮箱空间不足", "空间不足"], .permanentMessage, .recipient, .mailboxFull, source: libero + "; " + mailru + "; " + japan + "; " + twoMTAs),
    ]

    // MARK: User-unknown words without a status

    static let userRules: [ReplyRule] = [
        ReplyRule("moved", ["has moved", "has been moved", "no longer at this address", "address has changed"], .permanentUser, .recipient, .hasMoved, source: "RFC 5321 §3.4 551 user not local; " + twoMTAs),
        ReplyRule("host-unknown", ["host unknown", "domain not found", "no such domain", "domain does not exist", "unrouteable mail domain", "unroutable mail domain", "null mx", "domain does not accept mail", "unknown domain", "dns: no such domain", "routing server failure"], .permanentUser, .recipient, .hostUnknown, source: "RFC 7505 (null MX); " + libero + "; " + twoMTAs),
        ReplyRule("user-unknown", userWords, .permanentUser, .recipient, .userUnknown, source: yandex + "; " + libero + "; " + japan + "; " + twoMTAs),
        ReplyRule("mailbox-disabled", ["disabled", "suspended", "inactive", "account closed", "has been closed", "locked", "gesperrtes konto", "désactivé", "disattivat", "заблокирован ящик"], .permanentMessage, .recipient, .suspend, source: twoMTAs),
    ]

    // MARK: Vague words: try later, or a policy of some kind

    static let vagueRules: [ReplyRule] = [
        ReplyRule("try-later", ["try again later", "try later", "come back later", "please retry", "temporarily", "temporary", "réessayer plus tard", "reessayer plus tard", "essayer plus tard", "später erneut", "später noch einmal", "vorübergehend", "riprova più tardi", "riprovare più tardi", "temporaneamente", "inténtelo más tarde", "intente más tarde", "más tarde", "tente novamente mais tarde", "mais tarde", "попробуйте позже", "повторите попытку позже", "временно", "しばらくしてから", "一時的", "稍后再试", "稍后重试", "暂时"], .temporary, .message, .systemError, source: twoMTAs, vague: true),
        ReplyRule("policy", ["policy", "not authorized", "denied", "refused", "rejected due to", "prohibited", "not allowed", "abuse", "politique", "richtlinie", "politica", "política", "политик", "ポリシー", "策略"], .permanentPolicy, .ip, .policy, source: "RFC 3463 §3.8 X.7.1 Delivery not authorized, message refused; " + twoMTAs, vague: true),
    ]
}
