#!/usr/bin/env python3
"""A real SMTP submission client (Python's smtplib) for Kiln's tests and scripts.

  submission-client.py send --port P --user U --password S --count N [--ca CA.pem]
      STARTTLS, AUTH, N messages on one session; prints {"codes": [...], "ids": [...]}.
  submission-client.py refusals --port P --ca CA.pem --user U --password S
      --narrow-user U2 --narrow-password S2 --tiny-user U3 --tiny-password S3
      Each refusal the front door makes; prints {"case": code, ...}.
  submission-client.py blast --port P --sessions K --count N --out FILE [--sent FILE2]
      From a trusted network (no AUTH), K sessions in parallel; appends each id
      acknowledged with 250 to FILE at once (flushed), one per line as "ID RECIPIENT".
      With --sent, appends each message's recipient to FILE2 (flushed) before its MAIL:
      what was sent but never acknowledged was in flight when the server went away.
      Recipients are unique: b{session}x{i}@DOMAIN.
  submission-client.py http --port P --user U --password S --threads T --calls C
      --recipients R
      T threads, each making C calls of POST /v1/messages with R recipients (one
      substitution each, unique addresses) on one keep-alive connection; prints
      {"accepted", "rejected", "calls", "errors", "seconds", "recipientsPerSecond",
      "clientCpuSeconds"} (bodies are built before the clock starts).
"""
import argparse, base64, http.client, json, resource, smtplib, ssl, sys, threading, time


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
    sent = open(args.sent, "a") if args.sent else None
    counts = {"acked": 0, "errors": 0}
    per = args.count // args.sessions

    def worker(n):
        try:
            s = session(args.port)
            for i in range(per):
                to = f"b{n}x{i}@{args.domain}"
                if sent:
                    with lock:
                        sent.write(to + "\n")
                        sent.flush()
                code, ident = transaction(s, args.sender, [to], message(args.sender, to, f"Blast {n}/{i}", body="z" * args.body + "\r\n"))
                with lock:
                    if code == 250 and ident:
                        out.write(f"{ident} {to}\n")
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


def http_blast(args):
    token = base64.b64encode(f"{args.user}:{args.password}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}
    bodies = [[json.dumps({
        "from": args.sender, "subject": "Hello {{first}}", "text": "Hello {{first}}, this week's news.\n" + "z" * args.body + "\n",
        "recipients": [{"email": f"h{t}x{c}x{r}@{args.domain}", "substitutions": {"first": f"Name{r}"}} for r in range(args.recipients)],
    }).encode() for c in range(args.calls)] for t in range(args.threads)]
    lock = threading.Lock()
    totals = {"accepted": 0, "rejected": 0, "calls": 0, "errors": 0, "status": {}}

    def worker(t):
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=120)
        for body in bodies[t]:
            try:
                conn.request("POST", "/v1/messages", body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=120)
                status, data = 0, b""
            with lock:
                totals["calls"] += 1
                totals["status"][status] = totals["status"].get(status, 0) + 1
                if status == 200:
                    answer = json.loads(data)
                    totals["accepted"] += answer["accepted"]
                    totals["rejected"] += len(answer.get("rejected", []))
                else:
                    totals["errors"] += 1
        conn.close()

    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.time()
    threads = [threading.Thread(target=worker, args=(t,)) for t in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(json.dumps({**totals, "seconds": round(elapsed, 3), "recipientsPerSecond": round(totals["accepted"] / elapsed),
                      "clientCpuSeconds": round(cpu, 3)}))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("scenario", choices=["send", "refusals", "blast", "http"])
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
    p.add_argument("--sent")
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--calls", type=int, default=15)
    p.add_argument("--recipients", type=int, default=1000)
    args = p.parse_args()
    {"send": send, "refusals": refusals, "blast": blast, "http": http_blast}[args.scenario](args)


if __name__ == "__main__":
    main()
