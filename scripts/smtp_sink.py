#!/usr/bin/env python3
"""A loopback SMTP sink for measurements: accepts every message and appends one line per
delivered recipient to LOG (after the final "."), so a message counts once it is accepted.
Prints "listening on 127.0.0.1:PORT" once it takes connections.

    smtp_sink.py PORT LOG [DELAY_SECONDS]
"""
import asyncio
import sys

port, log_path = int(sys.argv[1]), sys.argv[2]
delay = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
log = open(log_path, "a", buffering=1)


async def session(reader, writer):
    def reply(line):
        writer.write((line + "\r\n").encode())

    reply("220 sink.invalid ESMTP")
    recipients = []
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            command = line.decode("utf-8", "replace").strip()
            verb = command[:4].upper()
            if verb in ("EHLO", "HELO"):
                reply("250-sink.invalid\r\n250-8BITMIME\r\n250 SMTPUTF8" if verb == "EHLO" else "250 sink.invalid")
            elif verb == "MAIL":
                recipients = []
                reply("250 OK")
            elif verb == "RCPT":
                recipients.append(command[command.find("<") + 1:command.rfind(">")])
                reply("250 OK")
            elif verb == "DATA":
                reply("354 go ahead")
                await writer.drain()
                while (await reader.readline()) not in (b".\r\n", b".\n", b""):
                    pass
                if delay:
                    await asyncio.sleep(delay)
                for r in recipients:
                    log.write(r + "\n")
                reply("250 accepted")
            elif verb == "QUIT":
                reply("221 bye")
                await writer.drain()
                break
            else:
                reply("250 OK")
            await writer.drain()
    except ConnectionError:
        pass
    writer.close()


async def main():
    server = await asyncio.start_server(session, "127.0.0.1", port)
    print(f"listening on 127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()

asyncio.run(main())
