import KilnCore
import Testing

/// One reply as a provider or an MTA writes it, with what it must mean. Sources: the
/// providers' postmaster pages named in `ReplyRules`, and the repository's bounce corpus.
struct ReplyCase: CustomTestStringConvertible, Sendable {
    let provider: String?
    let reply: String
    let replyClass: ReplyClass
    let scope: ReplyScope
    let reason: ReplyReason
    /// Not English (the common phrasings of Europe's and Asia's large providers).
    let foreign: Bool
    /// About the sender's address or authentication: never `permanent-user`.
    let sender: Bool

    init(_ provider: String?, _ reply: String, _ replyClass: ReplyClass, _ scope: ReplyScope, _ reason: ReplyReason,
         foreign: Bool = false, sender: Bool = false) {
        self.provider = provider
        self.reply = reply
        self.replyClass = replyClass
        self.scope = scope
        self.reason = reason
        self.foreign = foreign
        self.sender = sender
    }

    var testDescription: String { "\(provider ?? "-"): \(reply.prefix(90))" }
}

enum ReplyTable {
    static let cases: [ReplyCase] = gmail + microsoft + yahoo + apple + orange + gmx + tonline + european + russian + asian + sender + mtas

    static let gmail: [ReplyCase] = [
        ReplyCase("gmail", "421-4.3.0 Temporary System Problem. Try again later.", .throttle, .ip, .systemError),
        ReplyCase("gmail", "421-4.4.5 Server busy, try again later.", .throttle, .ip, .rateLimited),
        ReplyCase("gmail", "421-4.7.0 IP not in whitelist for RCPT domain, closing connection.", .throttle, .ip, .policy),
        ReplyCase("gmail", "421-4.7.0 Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily blocked.", .throttle, .ip, .rateLimited),
        ReplyCase("gmail", ProviderReplies.gmailThrottle, .throttle, .ip, .rateLimited),
        ReplyCase("gmail", "421-4.7.0 TLS required for RCPT domain, closing connection.", .temporary, .connection, .failedStartTLS),
        ReplyCase("gmail", "421-4.7.0 Try again later, closing connection.", .throttle, .ip, .systemError),
        ReplyCase("gmail", "450-4.2.1 The user you are trying to contact is receiving mail too quickly. Please resend your message at a later time.", .temporary, .recipient, .recipientRate),
        ReplyCase("gmail", ProviderReplies.gmailRateLimit, .temporary, .recipient, .recipientRate),
        ReplyCase("gmail", "450-4.2.1 Peak SMTP relay limit exceeded for customer. This is a temporary error.", .throttle, .ip, .rateLimited),
        ReplyCase("gmail", "451-4.3.0 Mail server temporarily rejected message.", .throttle, .ip, .systemError),
        ReplyCase("gmail", "451-4.3.0 Multiple destination domains per transaction is unsupported. Please try again.", .throttle, .ip, .systemError),
        ReplyCase("gmail", "451-4.4.2 Timeout - closing connection.", .throttle, .ip, .networkError),
        ReplyCase("gmail", "451-4.5.0 SMTP protocol violation, see RFC 2821.", .temporary, .message, .syntaxError),
        ReplyCase("gmail", "452-4.2.2 The email account that you tried to reach is over quota.", .temporary, .recipient, .mailboxFull),
        ReplyCase("gmail", "452-4.5.3 Domain policy size per transaction exceeded, please try this recipient in a separate transaction.", .temporary, .session, .sessionLimit),
        ReplyCase("gmail", "452-4.5.3 Your message has too many recipients.", .temporary, .session, .sessionLimit),
        ReplyCase("gmail", "454-4.5.0 SMTP protocol violation, no commands allowed to pipeline after STARTTLS, see RFC 3207.", .temporary, .message, .syntaxError),
        ReplyCase("gmail", ProviderReplies.gmailUserUnknown, .permanentUser, .recipient, .userUnknown),
        ReplyCase("gmail", "550-5.2.1 The email account that you tried to reach is disabled.", .permanentUser, .recipient, .userUnknown),
        ReplyCase("gmail", "550-5.4.5 Daily SMTP relay limit exceeded for user.", .throttle, .ip, .rateLimited),
        ReplyCase("gmail", "550-5.7.0 Mail relay denied.", .permanentPolicy, .message, .noRelaying),
        ReplyCase("gmail", "550-5.7.1 Our system has detected that this message is likely unsolicited mail. To reduce the amount of spam sent to Gmail, this message has been blocked.", .permanentMessage, .message, .spamDetected),
        ReplyCase("gmail", "550-5.7.1 The IP you're using to send mail is not authorized to send email directly to our servers. Please use the SMTP relay at your service provider instead.", .permanentPolicy, .ip, .blocked),
        ReplyCase("gmail", ProviderReplies.gmailBlock, .permanentPolicy, .ip, .blocked),
        ReplyCase("gmail", "550-5.7.1 Our system has detected that this message is likely suspicious due to the very low reputation of the sending domain.", .permanentPolicy, .ip, .blocked),
        ReplyCase("gmail", "550-5.7.1 Messages missing a valid address in From: header, or having no From: header, are not accepted.", .permanentMessage, .message, .contentError),
        ReplyCase("gmail", "421-4.7.28 Gmail has detected an unusual rate of unsolicited mail originating from your DKIM domain. To protect our users from spam, mail sent from your domain has been temporarily rate limited.", .throttle, .ip, .rateLimited),
        ReplyCase("gmail", "550-5.7.28 Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been blocked.", .permanentPolicy, .ip, .blocked),
        ReplyCase("gmail", "552-5.2.2 The email account that you tried to reach is over quota and inactive.", .permanentMessage, .recipient, .mailboxFull),
        ReplyCase("gmail", "552-5.2.3 Your message exceeded Google's message size limits.", .permanentMessage, .message, .messageTooBig),
        ReplyCase("gmail", "553-5.1.2 We weren't able to find the recipient domain. Please check for any spelling errors.", .permanentUser, .recipient, .hostUnknown),
        ReplyCase("gmail", "554-5.6.0 Mail message is malformed. Not accepted.", .permanentMessage, .message, .contentError),
        ReplyCase("gmail", "450 4.2.1 O usuário com quem você está tentando entrar em contato está recebendo e-mails muito rápido. Reenvie sua mensagem mais tarde.", .temporary, .recipient, .recipientRate, foreign: true),
    ]

    static let microsoft: [ReplyCase] = [
        ReplyCase("microsoft", ProviderReplies.microsoftBusy, .throttle, .ip, .rateLimited),
        ReplyCase("microsoft", ProviderReplies.microsoftRateLimited, .throttle, .ip, .rateLimited),
        ReplyCase("microsoft", "451 4.7.651 The mail server [192.0.2.10] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://postmaster.live.com (S775)", .throttle, .ip, .rateLimited),
        ReplyCase("microsoft", ProviderReplies.microsoftBlock, .permanentPolicy, .ip, .blocked),
        ReplyCase("microsoft", "550 5.7.1 Unfortunately, messages from [192.0.2.10] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3140).", .permanentPolicy, .ip, .blocked),
        ReplyCase("microsoft", ProviderReplies.microsoftUserUnknown, .permanentUser, .recipient, .userUnknown),
        ReplyCase("microsoft", "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", .permanentUser, .recipient, .userUnknown),
        ReplyCase("microsoft", "550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [BN8NAM12FT015.eop-nam12.prod.protection.outlook.com]", .permanentUser, .recipient, .userUnknown),
        ReplyCase("microsoft", "550 5.7.606 Access denied, banned sending IP [192.0.2.10]. To request removal from this list please visit https://sender.office.com/", .permanentPolicy, .ip, .blocked),
        ReplyCase("microsoft", "452 4.5.3 Too many recipients (AS780090)", .temporary, .session, .sessionLimit),
        ReplyCase("microsoft", "550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.", .permanentPolicy, .ip, .blocked),
        ReplyCase("microsoft", "421 4.3.2 The maximum number of concurrent server connections has exceeded a limit, closing transmission channel", .throttle, .connection, .tooManyConnections),
        ReplyCase("microsoft", "554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded", .permanentMessage, .recipient, .mailboxFull),
        ReplyCase("microsoft", "552 5.3.4 Message size exceeds fixed maximum message size", .permanentMessage, .message, .messageTooBig),
    ]

    static let yahoo: [ReplyCase] = [
        ReplyCase("yahoo", ProviderReplies.yahooThrottle, .throttle, .ip, .rateLimited),
        ReplyCase("yahoo", "421 4.7.0 [TS01] Messages from 192.0.2.10 temporarily deferred due to user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes", .throttle, .ip, .rateLimited),
        ReplyCase("yahoo", "421 4.7.0 [TSS09] All messages from 192.0.2.10 will be permanently deferred; Retrying will NOT succeed. See https://postmaster.yahooinc.com/error-codes", .throttle, .ip, .blocked),
        ReplyCase("yahoo", "553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.10, because the ip is in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes", .permanentPolicy, .ip, .blocked),
        ReplyCase("yahoo", ProviderReplies.yahooBlock, .permanentPolicy, .ip, .policy),
        ReplyCase("yahoo", ProviderReplies.yahooUserUnknown, .permanentUser, .recipient, .userUnknown),
        ReplyCase("yahoo", "554 delivery error: dd Sorry your message to someone@yahoo.com cannot be delivered. This mailbox is disabled (554.30). - mta1234.mail.ne1.yahoo.com", .permanentUser, .recipient, .userUnknown),
        ReplyCase("yahoo", "451 VS1-IP Excessive unknown recipients - possible Open Relay (#4.1.8)", .throttle, .ip, .blocked),
    ]

    static let apple: [ReplyCase] = [
        ReplyCase("apple", ProviderReplies.appleThrottle, .throttle, .ip, .rateLimited),
        ReplyCase("apple", ProviderReplies.appleBlock, .permanentPolicy, .ip, .blocked),
        ReplyCase("apple", "421 4.7.0 [HM08] Message rejected due to local policy. Please visit https://support.apple.com/en-us/HT204137", .throttle, .ip, .rateLimited),
        ReplyCase("apple", "550 5.1.1 <someone@icloud.com>: user does not exist", .permanentUser, .recipient, .userUnknown),
        ReplyCase("apple", "552 5.2.2 <someone@icloud.com>: user is over quota", .permanentMessage, .recipient, .mailboxFull),
    ]

    static let orange: [ReplyCase] = [
        ReplyCase("orange", "421 mwinf5c10 ME Trop de connexions, veuillez verifier votre configuration. Too many connections, slow down. OFR004_104 [104]", .throttle, .connection, .tooManyConnections, foreign: true),
        ReplyCase("orange", "421 mwinf5c04 ME Service refuse. Veuillez essayer plus tard. Service refused, please try later. OFR_108 [108]", .throttle, .ip, .rateLimited, foreign: true),
        ReplyCase("orange", "550 5.1.1 Adresse d au moins un destinataire invalide. Invalid recipient. OFR_416 [416]", .permanentUser, .recipient, .userUnknown, foreign: true),
        ReplyCase("orange", "552 5.1.1 Boite du destinataire pleine. Recipient mailbox full. OFR_417 [417]", .permanentMessage, .recipient, .mailboxFull, foreign: true),
        ReplyCase("orange", "554 5.7.1 Mail rejete. Mail rejected. OFR_999 [999]", .permanentPolicy, .ip, .blocked, foreign: true),
        ReplyCase("orange", "501 5.1.0 Emetteur invalide. Invalid Sender. OFR_401 [401]", .permanentPolicy, .sender, .rejected, foreign: true, sender: true),
        ReplyCase("orange", "421 mwinf5c79 ME Adresse IP source bloquee pour incident de spam. Client host blocked for spamming issues. OFR006_102", .throttle, .ip, .blocked, foreign: true),
    ]

    static let gmx: [ReplyCase] = [
        ReplyCase("gmx", "554-gmx.net (mxgmx104) Nemesis ESMTP Service not available\r\n554-No SMTP service\r\n554-IP address is block listed.\r\n554 For explanation visit https://postmaster.gmx.net/en/case?c=r0201&i=ip&v=198.51.100.42", .permanentPolicy, .ip, .blocked),
        ReplyCase("gmx", "554-web.de (mxweb112) Nemesis ESMTP Service not available\r\n554-No SMTP service\r\n554-Bad DNS PTR resource record.\r\n554 For explanation visit https://postmaster.web.de/en/case?c=r0230", .permanentPolicy, .ip, .requirePTR),
        ReplyCase("gmx", "550 Requested action not taken: mailbox unavailable", .permanentUser, .recipient, .userUnknown),
        ReplyCase("gmx", "450 Requested mail action not taken: mailbox unavailable", .temporary, .recipient, .userUnknown),
        ReplyCase("gmx", "550 <someone@gmx.de>: Reject due to SPF policy. The originating IP of the message is not permitted by the domain owner", .permanentPolicy, .sender, .authFailure, sender: true),
        ReplyCase("gmx", "421 gmx.net (mxgmx015) Nemesis ESMTP Service not available; Reject due to policy restrictions.", .throttle, .ip, .blocked),
        ReplyCase("gmx", "421 Rate limit reached. Please try again later", .throttle, .ip, .rateLimited),
        ReplyCase("gmx", "421 Reject due to policy violations", .throttle, .ip, .blocked),
    ]

    static let tonline: [ReplyCase] = [
        ReplyCase("tonline", "554 IP=192.0.2.10 - A problem occurred. (Ask your postmaster for help or to contact tosa@rx.t-online.de to clarify.) (BL)", .permanentPolicy, .ip, .blocked),
        ReplyCase("tonline", "554 IP=192.0.2.10 - None/bad reputation. Ask your postmaster for help or to contact <postmaster@rx.t-online.de> for reset. (NOWL)", .permanentPolicy, .ip, .blocked),
        ReplyCase("tonline", "550 5.1.1 <someone@t-online.de>: Recipient address rejected: User unknown", .permanentUser, .recipient, .userUnknown),
    ]

    /// German, Italian, Spanish, Portuguese and French phrasings.
    static let european: [ReplyCase] = [
        ReplyCase("other", "422 4.2.2 Quota limit exceeded (Speicherplatz des Kontos ueberschritten)", .temporary, .recipient, .mailboxFull, foreign: true),
        ReplyCase("other", "571 5.7.1 message classified as spam (Nachricht als Spam eingestuft)", .permanentMessage, .message, .spamDetected, foreign: true),
        ReplyCase("tonline", "550 5.1.1 Benutzer unbekannt", .permanentUser, .recipient, .userUnknown, foreign: true),
        ReplyCase("gmx", "452 4.2.2 Postfach voll", .temporary, .recipient, .mailboxFull, foreign: true),
        ReplyCase("other", "421 4.7.0 Zu viele Verbindungen von Ihrer IP-Adresse", .throttle, .connection, .tooManyConnections, foreign: true),
        ReplyCase("other", "450 4.7.1 Bitte versuchen Sie es später erneut", .throttle, .ip, .systemError, foreign: true),
        ReplyCase("libero", "550 5.1.1 <someone@libero.it>: utente inesistente", .permanentUser, .recipient, .userUnknown, foreign: true),
        ReplyCase("libero", "552 5.2.2 casella piena", .permanentMessage, .recipient, .mailboxFull, foreign: true),
        ReplyCase("libero", "421 4.7.0 troppe connessioni, riprova più tardi", .throttle, .connection, .tooManyConnections, foreign: true),
        ReplyCase("libero", "550 5.1.1 Bad destination mailbox address - user unknown", .permanentUser, .recipient, .userUnknown),
        ReplyCase("libero", "552 5.2.2 Mailbox full (User quota exceeded)", .permanentMessage, .recipient, .mailboxFull),
        ReplyCase("other", "550 5.1.1 Usuario desconocido", .permanentUser, .recipient, .userUnknown, foreign: true),
        ReplyCase("other", "552 5.2.2 Buzón lleno", .permanentMessage, .recipient, .mailboxFull, foreign: true),
        ReplyCase("other", "421 4.7.0 Demasiadas conexiones, inténtelo más tarde", .throttle, .connection, .tooManyConnections, foreign: true),
        ReplyCase("other", "550 5.1.1 Usuário desconhecido", .permanentUser, .recipient, .userUnknown, foreign: true),
        ReplyCase("other", "552 5.2.2 Caixa postal cheia", .permanentMessage, .recipient, .mailboxFull, foreign: true),
        ReplyCase("other", "451 4.3.0 Tente novamente mais tarde", .throttle, .ip, .systemError, foreign: true),
        ReplyCase("free", "550 5.1.1 Utilisateur inconnu", .permanentUser, .recipient, .userUnknown, foreign: true),
        ReplyCase("laposte", "452 4.2.2 Boîte aux lettres pleine", .temporary, .recipient, .mailboxFull, foreign: true),
        ReplyCase("sfr", "451 4.7.1 Greylisting en cours, veuillez réessayer plus tard", .temporary, .message, .greylisted, foreign: true),
    ]

    static let russian: [ReplyCase] = [
        ReplyCase("mailru", "550 spam message rejected. Please visit http://help.mail.ru/notspam-support/id?c=abc or report details to abuse@corp.mail.ru. Error code: 123.", .permanentMessage, .message, .spamDetected),
        ReplyCase("mailru", "550 Message was not accepted -- invalid mailbox. Local mailbox someone@mail.ru is unavailable: user not found", .permanentUser, .recipient, .userUnknown),
        ReplyCase("mailru", "550 Message was not accepted -- invalid mailbox. Local mailbox someone@mail.ru is unavailable: account is disabled", .permanentUser, .recipient, .userUnknown),
        ReplyCase("mailru", "451 Ratelimit exceeded for mailbox someone@mail.ru. Try again later.", .temporary, .recipient, .recipientRate),
        ReplyCase("yandex", "550 5.7.1 Policy rejection on the target address", .permanentMessage, .recipient, .suspend),
        ReplyCase("yandex", "554 5.7.1 [2] Message rejected under suspicion of SPAM; https://ya.cc/1IrBc", .permanentMessage, .message, .spamDetected),
        ReplyCase("yandex", "550 5.7.1 Blocked by spam statistics - see https://yandex.ru/support/mail/spam/honest-mailers.html", .permanentPolicy, .ip, .blocked),
        ReplyCase("yandex", "550 5.7.1 No such user!", .permanentMessage, .recipient, .userUnknown),
        ReplyCase("yandex", "451 4.7.1 Sorry, the service is currently unavailable. Please come back later.", .throttle, .ip, .systemError),
        ReplyCase("mailru", "550 Пользователь не найден", .permanentUser, .recipient, .userUnknown, foreign: true),
        ReplyCase("mailru", "552 Почтовый ящик переполнен", .permanentMessage, .recipient, .mailboxFull, foreign: true),
        ReplyCase("rambler", "421 Слишком много соединений, попробуйте позже", .throttle, .connection, .tooManyConnections, foreign: true),
        ReplyCase("yandex", "451 Временная ошибка, повторите попытку позже", .throttle, .ip, .systemError, foreign: true),
        ReplyCase("mailru", "550 Сообщение отклонено как спам", .permanentMessage, .message, .spamDetected, foreign: true),
    ]

    /// Japanese carriers, QQ and NetEase.
    static let asian: [ReplyCase] = [
        ReplyCase(nil, "550 5.1.1 宛先不明のため配送できません", .permanentUser, .recipient, .userUnknown, foreign: true),
        ReplyCase(nil, "452 4.2.2 メールボックスが一杯です", .temporary, .recipient, .mailboxFull, foreign: true),
        ReplyCase(nil, "550 5.7.1 迷惑メールと判定されたため受信を拒否しました", .permanentMessage, .message, .spamDetected, foreign: true),
        ReplyCase(nil, "451 4.3.0 しばらくしてから再送してください", .throttle, .ip, .systemError, foreign: true),
        ReplyCase(nil, "550 Unknown user someone@docomo.ne.jp", .permanentUser, .recipient, .userUnknown),
        ReplyCase(nil, "552 Too much mail data someone@docomo.ne.jp", .permanentMessage, .recipient, .mailboxFull),
        ReplyCase(nil, "500 Line Too Long", .permanentMessage, .message, .contentError),
        ReplyCase(nil, "550 <someone@ezweb.ne.jp>: User unknown", .permanentUser, .recipient, .userUnknown),
        ReplyCase(nil, "554 <someone@@ezweb.ne.jp>: Relay access denied", .permanentPolicy, .message, .noRelaying),
        ReplyCase(nil, "550 Invalid recipient: <someone@i.softbank.jp>", .permanentUser, .recipient, .userUnknown),
        ReplyCase("netease", "550 5.1.1 收件人不存在", .permanentUser, .recipient, .userUnknown, foreign: true),
        ReplyCase("netease", "552 5.2.2 邮箱已满", .permanentMessage, .recipient, .mailboxFull, foreign: true),
        ReplyCase("netease", "554 DT:SPM 发送的邮件内容包含了未被许可的信息,或被系统识别为垃圾邮件。", .permanentMessage, .message, .spamDetected, foreign: true),
        ReplyCase("netease", "421 HL:ICC 该IP同时并发连接数过大,超过了网易的限制,被临时禁止连接。", .throttle, .connection, .tooManyConnections, foreign: true),
        ReplyCase("netease", "450 MI:DMC 当前连接发送的邮件数量超出限制。请减少每次连接中投递的邮件数量", .temporary, .session, .sessionLimit, foreign: true),
        ReplyCase("netease", "421 HL:IFC 该IP短期内发送了大量信件,超过了网易的限制,被临时禁止连接。", .throttle, .ip, .rateLimited, foreign: true),
        ReplyCase("netease", "554 HL:IPB 该IP不在网易允许的发送地址列表里", .permanentPolicy, .ip, .blocked, foreign: true),
        ReplyCase("netease", "450 RP:DRC 当前连接发送的收件人数量超出限制。", .temporary, .session, .sessionLimit, foreign: true),
        ReplyCase("qq", "550 Ip frequency limited [http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=20022&&no=1000725]", .throttle, .ip, .rateLimited),
        ReplyCase("qq", "550 Domain frequency limited [http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=20022&&no=1000726]", .throttle, .ip, .rateLimited),
        ReplyCase("qq", "550 Connection frequency limited [http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=20022&&no=1000727]", .throttle, .connection, .tooManyConnections),
        ReplyCase("qq", "550 Mail content denied. http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=20022&&no=1000726", .permanentMessage, .message, .spamDetected),
        ReplyCase("qq", "550 Mailbox not found or access denied", .permanentUser, .recipient, .userUnknown),
        ReplyCase("qq", "550 Mailbox unavailable or access denied [http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=20022&&no=1000728]", .permanentUser, .recipient, .userUnknown),
        ReplyCase("qq", "451 4.3.0 发信频率过快,请稍后再试", .throttle, .ip, .rateLimited, foreign: true),
        ReplyCase("qq", "550 5.1.1 邮箱不存在", .permanentUser, .recipient, .userUnknown, foreign: true),
    ]

    /// The sender's address or authentication: never `permanent-user`.
    static let sender: [ReplyCase] = [
        ReplyCase("gmail", "550-5.7.26 This mail has been blocked because the sender is unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM.", .permanentPolicy, .sender, .authFailure, sender: true),
        ReplyCase("gmail", "550-5.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC policy.", .permanentPolicy, .sender, .authFailure, sender: true),
        ReplyCase("gmail", "421-4.7.26 This mail has been rate limited because it is unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM.", .temporary, .sender, .authFailure, sender: true),
        ReplyCase("gmail", "421-4.7.27 Your email has been rate limited because SPF authentication didn't pass for this message.", .temporary, .sender, .authFailure, sender: true),
        ReplyCase("gmail", "550-5.7.27 This mail has been blocked because the sender is unauthenticated. SPF authentication didn't pass.", .permanentPolicy, .sender, .authFailure, sender: true),
        ReplyCase("gmail", "421-4.7.30 Your email has been rate limited because DKIM authentication didn't pass for this message.", .temporary, .sender, .authFailure, sender: true),
        ReplyCase("gmail", "550-5.7.30 This mail has been blocked because DKIM does not pass.", .permanentPolicy, .sender, .authFailure, sender: true),
        ReplyCase("gmail", "421-4.7.32 Your email has been rate limited because the From: header (RFC5322) in this message isn't aligned with either the authenticated SPF or DKIM organizational domain.", .temporary, .sender, .authFailure, sender: true),
        ReplyCase("gmail", "550-5.7.32 Your email has been blocked because the From: header (RFC5322) in this message isn't aligned with either the authenticated SPF or DKIM organizational domain.", .permanentPolicy, .sender, .authFailure, sender: true),
        ReplyCase("microsoft", "550 5.7.515 Access denied, sending domain example.com does not meet the required authentication level.", .permanentPolicy, .sender, .authFailure, sender: true),
        ReplyCase("microsoft", "550 5.7.509 Access denied, sending domain example.com does not pass DMARC verification and has a DMARC policy of reject.", .permanentPolicy, .sender, .authFailure, sender: true),
        ReplyCase("yahoo", "451 Message temporarily deferred due to unresolvable RFC.5321 from domain; see https://postmaster.yahooinc.com/error-codes", .temporary, .sender, .rejected, sender: true),
        ReplyCase("libero", "550 5.7.1 Messaggio rifiutato: mittente non valido", .permanentPolicy, .sender, .rejected, foreign: true, sender: true),
        ReplyCase("other", "550 5.7.1 Mensaje rechazado: remitente no autorizado", .permanentPolicy, .sender, .rejected, foreign: true, sender: true),
        ReplyCase("orange", "550 5.7.1 Expéditeur refusé", .permanentPolicy, .sender, .rejected, foreign: true, sender: true),
        ReplyCase("other", "550 5.1.7 <bad..sender>: Sender address rejected: invalid address syntax", .permanentPolicy, .sender, .rejected, sender: true),
        ReplyCase("other", "553 5.1.8 <someone@nowhere.invalid>: Sender address rejected: Domain not found", .permanentPolicy, .sender, .rejected, sender: true),
        ReplyCase("other", "450 4.1.8 <someone@nowhere.example>: Sender address rejected: Domain not found", .temporary, .sender, .rejected, sender: true),
        ReplyCase("other", "550 5.7.23 SPF validation failed", .permanentPolicy, .sender, .authFailure, sender: true),
        ReplyCase("other", "550 5.7.20 No passing DKIM signature found", .permanentPolicy, .sender, .authFailure, sender: true),
        ReplyCase("other", "550 5.7.27 Sender address has null MX", .permanentPolicy, .sender, .rejected, sender: true),
        ReplyCase("yandex", "550 5.7.1 SPF check failed: 192.0.2.10 is not authorized to send in the name of example.com", .permanentPolicy, .sender, .authFailure, sender: true),
        ReplyCase("other", "550 5.7.1 Sender verify failed", .permanentPolicy, .sender, .rejected, sender: true),
        ReplyCase("other", "550 5.1.0 <someone@example.com> sender rejected", .permanentPolicy, .sender, .rejected, sender: true),
        ReplyCase("other", "550 5.7.1 Message rejected: DMARC policy violation", .permanentPolicy, .sender, .authFailure, sender: true),
        ReplyCase("other", "550 5.7.1 Email rejected per DMARC policy for example.com", .permanentPolicy, .sender, .authFailure, sender: true),
        ReplyCase("other", "550 5.7.1 Rejected by DKIM verification: signature did not verify", .permanentPolicy, .sender, .authFailure, sender: true),
        ReplyCase("other", "550 5.7.29 ARC validation failure", .permanentPolicy, .sender, .authFailure, sender: true),
        ReplyCase("other", "421 4.7.24 SPF validation error: DNS timeout", .temporary, .sender, .authFailure, sender: true),
        ReplyCase("other", "550 5.1.0 Domain of sender address someone@example.com does not exist", .permanentPolicy, .sender, .rejected, sender: true),
    ]

    /// Postfix, Sendmail, Exim, qmail, Exchange and appliance wordings (corpus and MTA docs).
    static let mtas: [ReplyCase] = [
        ReplyCase("other", "550 5.1.1 <someone@example.com>: Recipient address rejected: User unknown in virtual mailbox table", .permanentUser, .recipient, .userUnknown),
        ReplyCase("other", "550 5.1.1 <someone@example.com>... User unknown", .permanentUser, .recipient, .userUnknown),
        ReplyCase("other", "550 #5.1.0 Address rejected.", .permanentMessage, .recipient, .undefined),
        ReplyCase("other", "554 5.7.1 <someone@example.com>: Relay access denied", .permanentPolicy, .message, .noRelaying),
        ReplyCase("other", "554 Message rejected [5.7.1] due to content filter", .permanentMessage, .message, .spamDetected),
        ReplyCase("other", "550 Message rejected due to spam content (#5.7.1)", .permanentMessage, .message, .spamDetected),
        ReplyCase("other", ProviderReplies.greylisted, .temporary, .message, .greylisted),
        ReplyCase("other", "450 4.2.0 <someone@example.com>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.com.html", .temporary, .message, .greylisted),
        ReplyCase("other", "421 4.7.0 mx.example.com Error: too many connections from 192.0.2.10", .throttle, .connection, .tooManyConnections),
        ReplyCase("other", "421 Too many connections from your IP", .throttle, .connection, .tooManyConnections),
        ReplyCase("other", "452 4.5.3 Error: too many recipients", .temporary, .session, .sessionLimit),
        ReplyCase("other", "421 mx.example.com Too many messages in this connection", .temporary, .session, .sessionLimit),
        ReplyCase("other", "451 4.7.1 Too many recipients this session, reconnect", .temporary, .session, .sessionLimit),
        ReplyCase("other", "550 5.7.1 Service unavailable; Client host [192.0.2.10] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.10", .permanentPolicy, .ip, .blocked),
        ReplyCase("other", "554 Service unavailable; Client host [192.0.2.1] blocked using bl.spamcop.net", .permanentPolicy, .ip, .blocked),
        ReplyCase("other", "450 4.7.1 Client host rejected: cannot find your hostname, [192.0.2.10]", .throttle, .ip, .requirePTR),
        ReplyCase("other", "550 5.7.25 Reverse DNS validation failed", .permanentPolicy, .ip, .requirePTR),
        ReplyCase("other", "552 5.3.4 Message size exceeds fixed limit", .permanentMessage, .message, .messageTooBig),
        ReplyCase("other", "554 5.6.0 Message contains invalid header", .permanentMessage, .message, .contentError),
        ReplyCase("other", "550 5.7.1 Message rejected because it contains a virus", .permanentMessage, .message, .virusDetected),
        ReplyCase("other", "421 4.4.2 Timeout exceeded", .throttle, .ip, .networkError),
        ReplyCase("other", "550 5.1.2 <someone@nonexistent.example>: Recipient address rejected: Domain not found", .permanentUser, .recipient, .hostUnknown),
        ReplyCase("other", "556 5.1.10 Recipient address has null MX", .permanentUser, .recipient, .hostUnknown),
        ReplyCase("other", "550 5.1.6 Recipient mailbox has moved", .permanentUser, .recipient, .hasMoved),
        ReplyCase("other", "550 5.2.1 Mailbox disabled, not accepting messages", .permanentMessage, .recipient, .suspend),
        ReplyCase("other", "550 5.2.0 <someone@example.com>: user does not exist", .permanentUser, .recipient, .userUnknown),
        ReplyCase("other", "451 4.3.0 <someone@example.com>: Temporary lookup failure", .throttle, .ip, .systemError),
        ReplyCase("other", "550 5.7.1 This IP has sent too many messages this hour. Please slow down.", .throttle, .ip, .rateLimited),
        ReplyCase("other", "554 5.7.1 Your access to this mail system has been rejected due to the sending MTA's poor reputation.", .permanentPolicy, .ip, .blocked),
        ReplyCase("other", "550 5.7.0 Local policy violation", .permanentPolicy, .ip, .policy),
        ReplyCase("other", "421 Service not available, closing transmission channel", .throttle, .ip, .systemError),
        ReplyCase("other", "450 4.2.0 Mailbox temporarily unavailable", .temporary, .recipient, .systemError),
        ReplyCase("other", "554 5.4.14 Hop count exceeded - possible mail loop", .permanentMessage, .message, .networkError),
        ReplyCase("other", "250 2.0.0 OK 1700000000 x1si", .success, .message, .accepted),
    ]
}

@Suite struct ReplyTableTests {
    @Test(arguments: ReplyTable.cases)
    func providerReply(_ row: ReplyCase) throws {
        let reply = try #require(SMTPReply(parsing: row.reply))
        let c = reply.classification(provider: row.provider.map { MailboxProvider($0) })
        #expect(c.replyClass == row.replyClass, "class \(c.replyClass), rule \(c.rule)")
        #expect(c.scope == row.scope, "scope \(c.scope), rule \(c.rule)")
        #expect(c.reason == row.reason, "reason \(c.reason), rule \(c.rule)")
        if row.sender { #expect(c.replyClass != .permanentUser) }
    }

    @Test func tableIsLargeAndCoversLanguagesAndSenders() {
        #expect(ReplyTable.cases.count >= 150)
        #expect(ReplyTable.cases.filter(\.foreign).count >= 25)
        #expect(ReplyTable.cases.filter(\.sender).count >= 20)
    }

    @Test func everyRuleHasAnIDASourceAndIsUnique() {
        let ids = ReplyRules.all.map(\.id)
        #expect(Set(ids).count == ids.count)
        for rule in ReplyRules.all {
            #expect(!rule.source.isEmpty, "\(rule.id)")
            #expect(rule.text.allSatisfy { $0 == $0.lowercased() }, "\(rule.id) has a pattern that is not lower-case")
        }
    }
}
