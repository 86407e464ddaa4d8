/// Held-out pools of SMTP reply texts that simulated mailbox providers use
/// when they throttle (temporary, 4xx) or block (permanent, 5xx) a sending IP.
///
/// These wordings are written independently of the engine's reply rules so
/// that a simulation can check whether the engine protects its IPs from
/// refusals it has never seen before. Every entry is a single-line SMTP reply
/// (no CR/LF): a three-digit code, usually an enhanced status code, then text.
///
/// - `paraphrase*`: the meaning real providers and common MTAs convey
///   (volume too high, rate exceeded, poor reputation, blocklisted, spam),
///   reworded with new vocabulary.
/// - `generic*`: bare codes with generic, uninformative texts.
/// - `foreign*`: the same meanings in other languages.
///
/// Throttle entries only use 421, 450, 451 or 452 and never mention a single
/// recipient, greylisting or concurrency, so they always read as an IP-level
/// slow-down. Block entries only use 550, 553, 554 or 521.
public enum ReplyWordingPools {
    /// Reworded throttle replies (4xx): same code and enhanced status kinds as real providers, new words.
    public static let paraphraseThrottle: [String] = [
        "421 4.7.0 Our systems noticed an unusual rate of mail coming from your IP address; please slow down and try again later",
        "421 4.7.28 Sending volume from this IP is too high right now, messages deferred, try again later",
        "421 4.7.0 Mail from this host is temporarily deferred because of excessive volume and a low reputation score",
        "451 4.7.1 Hourly quota exceeded for your sending IP, please retry later",
        "452 4.3.2 Message rate limit exceeded for this session, reduce your sending speed",
        "450 4.7.1 Too many messages from your IP within a short period, please try again later",
        "421 4.7.0 Server busy: your IP has exceeded its allowed sending frequency, try again later",
        "451 4.3.0 Delivery temporarily suspended, the volume of mail from your address block is too high",
        "421 4.4.5 System congested by the amount of mail from your network, deferring, come back later",
        "421 4.7.1 Mail from your IP is being rate limited due to suspicious traffic, retry after a while",
        "450 4.7.0 Daily sending limit reached for this IP address, try again tomorrow",
        "451 4.7.1 Excessive message frequency detected from your server, deferred for now",
        "421 Sending rate too high for this IP, delivery deferred, please try again later",
        "450 Your IP has sent too many messages recently, please retry later",
        "451 Temporarily deferred: message volume from your host exceeds our limits",
        "421 Poor reputation for your IP, incoming mail throttled, slow down and retry later",
        "452 4.3.2 Per-hour message quota exceeded for this sending IP, resubmit later",
        "421 4.7.28 Unusual spike in mail volume from your IP range detected, delivery temporarily limited",
        "451 4.7.0 IP reputation too low for this volume, please lower your sending rate and try again later",
        "450 4.7.1 Rate limit exceeded, mail from this address is deferred",
        "421 4.3.0 Too much mail from your network at this time, try again later",
    ]

    /// Reworded block replies (5xx): same code and enhanced status kinds as real providers, new words.
    public static let paraphraseBlock: [String] = [
        "550 5.7.1 Mail from your IP address has been blocked because it was identified as a source of spam",
        "554 5.7.1 Connection refused, your IP is listed on our blocklist",
        "550 5.7.606 Access denied, the sending IP is banned due to poor reputation",
        "554 5.7.0 Message rejected for policy reasons: unsolicited bulk mail from this IP",
        "550 5.7.1 Your IP has a poor reputation and mail from it is refused",
        "553 5.7.1 Sending host is blacklisted for abuse, contact your provider",
        "521 5.7.1 This server does not accept mail from your IP address due to spam complaints",
        "554 5.7.1 Delivery not authorized, your IP is denied access due to abuse reports",
        "550 5.7.0 Policy rejection: mail from this network is blocked",
        "554 Your IP address is on our banned list for sending unsolicited mail",
        "550 Message refused: the sending IP has been blocked for spam",
        "554 5.0.0 Service unavailable, client host blocked using a reputation list",
        "550 5.7.606 Messages from your IP range are rejected because the range is listed",
        "553 Mail from this IP is refused because of suspicious traffic and abuse",
        "554 5.7.1 Permanently rejected: high spam score for your sending IP",
        "550 5.7.1 Service denied to your IP due to a history of unsolicited email",
        "521 5.0.0 Host banned, too much spam has originated from your address",
        "554 5.7.0 Reputation of the sending IP is too low, mail permanently refused",
        "550 5.0.0 Your mail server is listed on a DNS blocklist, message rejected",
        "554 5.7.1 Access denied: IP blocked by policy due to spam complaints",
        "550 Blocked: excessive abuse reports for mail from this IP",
    ]

    /// A bare throttle code with a generic text.
    public static let genericThrottle: [String] = [
        "421 4.3.2 Service not available",
        "451 4.3.0 Temporary failure",
        "421 Service temporarily unavailable",
        "450 4.7.1 Requested action aborted",
        "421 4.7.0 Try again later",
        "451 Local error in processing",
        "450 4.7.0 Temporary local problem",
        "421 4.4.5 System busy, try again later",
        "451 4.7.1 Please try again later",
        "450 Requested action not taken, try later",
        "452 4.3.0 Insufficient system resources",
    ]

    /// A bare block code with a generic text.
    public static let genericBlock: [String] = [
        "554 5.7.1 Rejected",
        "550 5.7.0 Message refused",
        "554 Transaction failed",
        "550 Administrative prohibition",
        "554 5.7.1 Access denied",
        "550 5.7.1 Policy violation",
        "553 5.0.0 Request rejected",
        "521 Service not available",
        "554 5.0.0 Permanent failure",
        "550 5.7.1 Not accepted",
        "550 Denied",
    ]

    /// Throttle replies in other languages.
    public static let foreignThrottle: [String] = [
        "421 4.7.0 Zu viele Nachrichten von Ihrer IP-Adresse, bitte versuchen Sie es später erneut",
        "451 Sendevolumen überschritten, Zustellung vorübergehend zurückgestellt",
        "421 4.7.0 Trop de messages envoyés depuis votre adresse IP, veuillez réessayer plus tard",
        "450 4.7.1 Limite d'envoi dépassée, message différé",
        "421 4.7.0 Demasiados mensajes desde su IP, inténtelo de nuevo más tarde",
        "452 Cuota de envío excedida, reintente más tarde",
        "451 4.7.1 Limite di invio superato per il tuo indirizzo IP, riprova più tardi",
        "421 4.7.0 Volume de envio excessivo a partir do seu IP, tente novamente mais tarde",
        "450 4.7.1 Te veel berichten van uw IP-adres, probeer het later opnieuw",
        "421 4.7.0 Przekroczono limit wysyłania z Twojego adresu IP, spróbuj ponownie później",
        "421 4.7.0 Слишком много писем с вашего IP-адреса, повторите попытку позже",
        "451 Превышен лимит отправки, доставка временно отложена",
        "421 4.7.0 送信量が多すぎます。しばらくしてから再試行してください",
        "450 4.7.1 您的IP发送频率过高，请稍后重试",
        "421 Gönderim sınırı aşıldı, lütfen daha sonra tekrar deneyin",
        "451 4.7.1 Příliš mnoho zpráv z vaší IP adresy, zkuste to později",
        "421 4.7.0 För många meddelanden från din IP-adress, försök igen senare",
    ]

    /// Block replies in other languages.
    public static let foreignBlock: [String] = [
        "550 5.7.1 Ihre IP-Adresse wurde wegen Spam gesperrt",
        "554 Nachricht abgelehnt: IP-Adresse steht auf einer Sperrliste",
        "550 5.7.1 Adresse IP bloquée pour envoi de spam",
        "554 5.7.0 Message refusé : votre IP figure sur une liste noire",
        "550 5.7.1 Su dirección IP ha sido bloqueada por envío de correo no deseado",
        "554 5.7.1 Messaggio rifiutato: il tuo indirizzo IP è in lista nera",
        "553 Accesso negato: indirizzo IP bannato per abuso",
        "550 5.7.1 Seu endereço IP foi bloqueado por envio de spam",
        "550 5.7.1 Uw IP-adres is geblokkeerd wegens spam",
        "554 5.7.1 Wiadomość odrzucona, adres IP znajduje się na czarnej liście",
        "550 5.7.1 Ваш IP-адрес заблокирован за рассылку спама",
        "554 Отказано в доступе: IP-адрес в черном списке",
        "550 5.7.1 お使いのIPアドレスはスパム送信のためブロックされています",
        "554 5.7.1 您的IP已被列入黑名单，邮件被拒绝",
        "550 IP adresiniz spam nedeniyle engellendi",
        "554 5.7.1 Vaše IP adresa je zablokována kvůli spamu",
        "550 5.7.1 Din IP-adress är blockerad på grund av skräppost",
    ]
}
