import Foundation
import Kiln
import KilnCore
import KilnStore
import KilnSubmission
import KilnTesting
import Logging
import Testing

/// The front door on the shared store: a credential created through one node logs in on
/// the other, a revocation on one is refused on the other within 5 s, and the tenant and
/// metadata of a message submitted on one node are read on the other.
@Suite(.enabled(if: PostgresTestServer.enabled, "set KILN_TEST_POSTGRES_URL (make test does)"), .serialized)
struct ClusterFrontDoorTests {
    @Test func aCredentialRevokedOnNodeAIsRefusedOnNodeBWithinFiveSeconds() async throws {
        let cluster = try await ClusterTests.Cluster()
        let a = try cluster.engine(node: "a")
        let b = try cluster.engine(node: "b")
        let gateA = try SubmissionGate(engine: a, logger: Logger.test())
        let gateB = try SubmissionGate(engine: b, logger: Logger.test())
        let secret = CredentialSecret.generate()
        try await a.store.createCredential(CredentialRecord(name: "app", tenant: "default", secretHash: try CredentialSecret.hash(secret),
                                                            createdAt: a.currentTime()))
        #expect(try await gateB.authenticate(name: "app", secret: secret, peer: "127.0.0.1").get() == Principal(tenant: "default", credential: "app"))
        #expect(try await gateA.authenticate(name: "app", secret: secret, peer: "127.0.0.1").get().tenant == "default")
        // Submitted through node b's gate, read through node a's.
        let accepted = try await gateB.submit(message: APIMessage(from: "news@example.com", content: .template(subject: "Hi", text: "Hello.", html: nil),
                                                                  recipients: [.init(email: "ann@gmail.com", metadata: ["order": "7"])]),
                                              principal: Principal(tenant: "default", credential: "app")).get()
        let id = MessageID(Int64(accepted.messages[0].messageId)!)
        let status = try await gateA.status(of: id, principal: Principal(tenant: "default", credential: "app")).get()
        #expect(status?.metadata == ["order": "7"] && status?.tenant == "default")
        // Revoked through node a: node b refuses it within 5 s (its credentials are read every 2 s).
        let revokedAt = ContinuousClock.now
        #expect(try await a.store.revokeCredential(name: "app", now: a.currentTime()))
        var refusedAfter: Duration?
        while ContinuousClock.now - revokedAt < .seconds(6) {
            if case .failure(let refusal) = await gateB.authenticate(name: "app", secret: secret, peer: "127.0.0.1"), refusal.kind == .badCredentials {
                refusedAfter = ContinuousClock.now - revokedAt
                break
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(refusedAfter != nil && refusedAfter! < .seconds(5), "refused after \(String(describing: refusedAfter))")
        await cluster.finish()
    }
}
