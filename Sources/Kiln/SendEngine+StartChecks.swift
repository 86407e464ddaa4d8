import KilnConfiguration
import KilnCore
import KilnSMTP

extension SendEngine {
    /// Throws `.invalidConfiguration` naming every pool IP this machine cannot send from
    /// (`SourceAddressCheck`), so that `kiln run` refuses to start rather than fail each
    /// transfer.
    public func checkSourceAddresses() throws(KilnError) {
        let problems = Self.sourceAddressProblems(sendingConfiguration)
        if !problems.isEmpty { throw Configuration.invalid(problems, source: "configuration (source addresses)") }
    }

    /// The pool IPs of `configuration` this machine cannot send from, with their paths.
    public static func sourceAddressProblems(_ configuration: Configuration) -> [ConfigurationProblem] {
        var problems: [ConfigurationProblem] = []
        for (i, pool) in configuration.pools.enumerated() {
            for (j, ip) in pool.ips.enumerated() {
                if let why = SourceAddressCheck.bindError(ip) {
                    problems.append(ConfigurationProblem(path: "pools[\(i)].ips[\(j)]", message: "this machine cannot send from \(ip) (bind: \(why))"))
                }
            }
        }
        return problems
    }
}
