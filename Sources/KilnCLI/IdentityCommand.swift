import ArgumentParser
import Foundation
import Kiln
import KilnCore

struct Identity: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check the sending domains' authentication in DNS.", subcommands: [Check.self])

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
