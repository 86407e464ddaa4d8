import Foundation
import KilnConfiguration
import KilnCore
import KilnStore

/// The configuration of two in-process nodes on one test database: a pool of four loopback
/// IPs (a: .2 and .3, b: .4 and .5), every provider routed to `route`; `pool` and
/// `settings` add or replace keys (of the pool, and at the top).
func twoNodeConfiguration(_ db: TestDatabase, route: String, leaseSeconds: Int, pool: [String: Any] = [:],
                          _ settings: [String: Any]) throws -> Configuration {
    var json: [String: Any] = [
        "store": ["url": db.url, "passwordEnv": "KILN_TEST_POSTGRES_PASSWORD", "tls": "disable", "leaseSeconds": leaseSeconds],
        "senderId": "Test",
        "identities": [["domain": "example.com", "returnPathDomain": "bounce.example.com"]],
        "pools": [(["name": "p", "ips": ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"], "scaling": "fixed"] as [String: Any])
            .merging(pool) { $1 }],
        "nodes": [["name": "a", "ips": ["127.0.0.2", "127.0.0.3"]], ["name": "b", "ips": ["127.0.0.4", "127.0.0.5"]]],
        "delivery": ["mode": "routes", "routes": ["*": route], "heloName": "mta.example.com", "tls": "none",
                     "connectTimeoutSeconds": 5, "transferTimeoutSeconds": 30],
        "configurationSets": [["name": "bulk", "pool": "p"]],
        "defaultConfigurationSet": "bulk",
        "feedback": ["returnPathSecretEnv": "KILN_TEST_RETURN_PATH"],
    ]
    json.merge(settings) { $1 }
    return try Configuration.load(json: try JSONSerialization.data(withJSONObject: json), source: "kiln.json")
}
