import ArgumentParser
import Foundation
import Kiln
import KilnCore
import KilnMessage

struct Identity: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check the sending domains' authentication in DNS; make DKIM keys.", subcommands: [Check.self, Keygen.self])

    struct Keygen: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a DKIM key: write it (mode 600, never over an existing file) and print the DNS record to publish and the configuration entry.")
        @Option(help: "The signing domain (d=), an identity's domain.") var domain: String
        @Option(help: "The selector (s=), e.g. k1 or 2026a.") var selector: String
        @Option(help: "rsa-sha256 (2048 bits, verified everywhere; the default) or ed25519-sha256 (RFC 8463).") var algorithm = "rsa-sha256"
        @Option(help: "Where to write the private key (PEM).") var out: String
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard EmailAddress.isValidDomain(domain) else { throw ValidationError("--domain: '\(domain)' is not a domain name") }
            guard !selector.isEmpty, selector.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") }) else {
                throw ValidationError("--selector: letters, digits, '-' and '.' only")
            }
        }

        func run() throws {
            let key = try DKIMKey.generate(algorithm: algorithm)
            let fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                throw KilnError(.invalidInput, "cannot create the key file: \(String(cString: strerror(errno))) (an existing key is never overwritten)", location: out)
            }
            let bytes = Array(key.pem.utf8)
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            let synced = fsync(fd) == 0
            close(fd)
            guard written == bytes.count, synced else { throw KilnError(.invalidInput, "cannot write the key file", location: out) }
            let name = "\(selector)._domainkey.\(domain)"
            if output.json {
                printJSON(["name": name, "type": "TXT", "value": key.dnsRecord, "privateKeyFile": out, "algorithm": key.algorithm])
                return
            }
            print("wrote \(out) (mode 600)")
            print("publish:  \(name) TXT \"\(key.dnsRecord)\"")
            print("configure: \"dkim\": [{\"selector\": \"\(selector)\", \"algorithm\": \"\(key.algorithm)\", \"privateKeyFile\": \"\(out)\"}] in the identity \(domain)")
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check DKIM, SPF, DMARC and forward-confirmed reverse DNS of every identity and pool IP (through delivery.nameservers when set). Exit 0 when all pass, 1 when one fails.")
        @OptionGroup var options: ConfigOption
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let engine = try SendEngine(configurationFile: options.config, logger: makeLogger())
            let findings = await engine.checkIdentities()
            if output.json {
                printJSON(findings)
            } else {
                for f in findings {
                    print("\(f.passed ? "PASS" : "FAIL")\t\(f.check.rawValue)\t\(f.subject)\t\(f.message)\(f.fix.map { "\n\t\tfix: \($0)" } ?? "")")
                }
            }
            if findings.contains(where: { !$0.passed }) { throw ExitCode(1) }
        }
    }
}
