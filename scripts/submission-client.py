#!/usr/bin/env python3
"""A real SMTP submission client (Python's smtplib) for Kiln's tests and scripts.

  submission-client.py send --port P --user U --password S --count N [--ca CA.pem]
      STARTTLS, AUTH, N messages on one session; prints {"codes": [...], "ids": [...]}.
  submission-client.py refusals --port P --ca CA.pem --user U --password S
      --narrow-user U2 --narrow-password S2 --tiny-user U3 --tiny-password S3
      Each refusal the front door makes; prints {"case": code, ...}.
  submission-client.py blast --port P --sessions K --count N --out FILE
      From a trusted network (no AUTH), K sessions in parallel; appends each id
      acknowledged with 250 to FILE at once (flushed), one per line.
"""
import argparse, json, smtplib, ssl, sys, threading, time


def context(ca):
    ctx = ssl.create_default_context(cafile=ca) if ca else ssl._create_unverified_context()
    ctx.check_hostname = False
    return ctx


def message(sender, to, subject, extra="", body="Hello from the submission client.\r\n"):
    return (f"From: Sender <{sender}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n{extra}\r\n{body}").encode()


def session(port, ca=None, user=None, password=None, source=None):
    s = smtplib.SMTP("127.0.0.1", port, timeout=30, source_address=(source, 0) if source else None)
    s.ehlo("client.test")
    if ca is not None or user is not None:
        s.starttls(context=context(ca))
        s.ehlo("client.test")
    if user is not None:
        s.login(user, password)
    return s


def transaction(s, sender, recipients, data, mail_options=()):
    code, _ = s.mail(sender, list(mail_options))
    if code != 250:
        return code, None
    accepted = 0
    for r in recipients:
        code, _ = s.rcpt(r)
        if code == 250:
            accepted += 1
        else:
            last = code
    if accepted == 0:
        s.rset()
        return last, None
    code, reply = s.data(data)
    text = reply.decode(errors="replace")
    ident = text.split("queued as ", 1)[1].split()[0] if code == 250 and "queued as " in text else None
    return code, ident


def send(args):
    s = session(args.port, args.ca, args.user, args.password)
    codes, ids = [], []
    for i in range(args.count):
        to = f"user{i}@{args.domain}"
        code, ident = transaction(s, args.sender, [to], message(args.sender, to, f"Message {i}"))
        codes.append(code)
        ids.append(ident)
    s.quit()
    print(json.dumps({"codes": codes, "ids": ids}))


def refusals(args):
    out = {}
    # AUTH before STARTTLS.
    s = smtplib.SMTP("127.0.0.1", args.port, timeout=30)
    s.ehlo("client.test")
    out["authBeforeTLS"] = s.docmd("AUTH", "PLAIN AGFwcABzZWNyZXQ=")[0]
    s.close()
    # MAIL without AUTH, from outside the trusted networks.
    s = session(args.port, args.ca)
    out["noAuth"] = s.mail(args.sender)[0]
    s.close()
    # A wrong password.
    try:
        session(args.port, args.ca, args.user, args.password + "x")
        out["badPassword"] = 235
    except smtplib.SMTPAuthenticationError as e:
        out["badPassword"] = e.smtp_code
    # A MAIL FROM the credential may not use.
    s = session(args.port, args.ca, args.user, args.password)
    out["forbiddenMailFrom"] = s.mail("someone@other.example")[0]
    s.rset()
    # Too big, said in advance (SIZE) and found at the end of DATA.
    out["tooBigBySize"] = s.mail(args.sender, ["SIZE=999999999"])[0]
    s.rset()
    out["tooBigData"] = transaction(s, args.sender, ["big@gmail.com"], message(args.sender, "big@gmail.com", "Big", body=("y" * 990 + "\r\n") * 40))[0]
    # Too many recipients: the one over the limit is refused, the others go.
    s.mail(args.sender)
    codes = [s.rcpt(f"r{i}@gmail.com")[0] for i in range(args.max_recipients + 1)]
    out["tooManyRecipients"] = codes[-1]
    out["recipientsAccepted"] = codes.count(250)
    s.rset()
    s.quit()
    # A header From the credential may not use (the narrow credential, from its network).
    s = session(args.port, args.ca, args.narrow_user, args.narrow_password, source="127.0.0.8")
    out["forbiddenHeaderFrom"] = transaction(s, args.sender, ["h@gmail.com"], message("billing@" + args.sender.split("@")[1], "h@gmail.com", "Hi"))[0]
    s.quit()
    # The narrow credential from a network it may not be used from.
    try:
        session(args.port, args.ca, args.narrow_user, args.narrow_password, source="127.0.0.9")
        out["forbiddenSource"] = 235
    except smtplib.SMTPAuthenticationError as e:
        out["forbiddenSource"] = e.smtp_code
    # Over the tenant's quota.
    s = session(args.port, args.ca, args.tiny_user, args.tiny_password)
    codes = [transaction(s, args.tiny_sender, [f"q{i}@gmail.com"], message(args.tiny_sender, f"q{i}@gmail.com", "Q"))[0] for i in range(args.tiny_quota + 1)]
    out["withinQuota"] = codes[:-1]
    out["overQuota"] = codes[-1]
    s.quit()
    print(json.dumps(out))


def blast(args):
    lock = threading.Lock()
    out = open(args.out, "a")
    counts = {"acked": 0, "errors": 0}
    per = args.count // args.sessions

    def worker(n):
        try:
            s = session(args.port)
            for i in range(per):
                to = f"b{n}x{i}@{args.domain}"
                code, ident = transaction(s, args.sender, [to], message(args.sender, to, f"Blast {n}/{i}", body="z" * args.body + "\r\n"))
                with lock:
                    if code == 250 and ident:
                        out.write(ident + "\n")
                        out.flush()
                        counts["acked"] += 1
                    else:
                        counts["errors"] += 1
            s.quit()
        except Exception as e:  # the server was killed: stop this session
            with lock:
                counts["errors"] += 1

    start = time.time()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(args.sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - start
    print(json.dumps({"acked": counts["acked"], "errors": counts["errors"], "seconds": round(elapsed, 3)}))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("scenario", choices=["send", "refusals", "blast"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ca")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--sender", default="news@example.com")
    p.add_argument("--domain", default="gmail.com")
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--narrow-user")
    p.add_argument("--narrow-password")
    p.add_argument("--tiny-user")
    p.add_argument("--tiny-password")
    p.add_argument("--tiny-sender", default="news@tiny.test")
    p.add_argument("--tiny-quota", type=int, default=2)
    p.add_argument("--max-recipients", type=int, default=5)
    p.add_argument("--sessions", type=int, default=16)
    p.add_argument("--body", type=int, default=1000)
    p.add_argument("--out")
    args = p.parse_args()
    {"send": send, "refusals": refusals, "blast": blast}[args.scenario](args)


if __name__ == "__main__":
    main()
