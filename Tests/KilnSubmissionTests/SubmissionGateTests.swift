import Foundation
import Kiln
import KilnCore
import KilnStore
import KilnSubmission
import KilnTesting
import Testing

/// The gate between the front door and the engine: credentials from the store, sending
/// authorization for owners and delegates, quotas, and what reaches the queue.
@Suite struct SubmissionGateTests {
    @Test func aCredentialLogsInAsItsTenantAndAWrongSecretOrARevokedOneIsRefused() async throws {
        let h = try GateHarness()
        defer { h.finish() }
        let secret = try await h.credential("app", tenant: "acme")
        #expect(try await h.gate.authenticate(name: "app", secret: secret, peer: "127.0.0.1").get() == Principal(tenant: "acme", credential: "app"))
        guard case .failure(let wrong) = await h.gate.authenticate(name: "app", secret: secret + "x", peer: "127.0.0.1") else { Issue.record("accepted"); return }
        #expect(wrong.smtpReply.hasPrefix("535 5.7.8"))
        guard case .failure = await h.gate.authenticate(name: "nobody", secret: secret, peer: "127.0.0.1") else { Issue.record("accepted"); return }
        #expect(try await h.engine.store.revokeCredential(name: "app", now: h.clock.now()))
        // The gate reads credentials again within its refresh interval (2 s).
        h.clock.advance(by: .seconds(2))
        guard case .failure(let revoked) = await h.gate.authenticate(name: "app", secret: secret, peer: "127.0.0.1") else { Issue.record("accepted"); return }
        #expect(revoked.kind == .badCredentials)
    }

    @Test func aRotatedCredentialsOldSecretWorksUntilItsGracePeriodEnds() async throws {
        let h = try GateHarness()
        defer { h.finish() }
        let old = try await h.credential("app", tenant: "acme")
        let new = CredentialSecret.generate()
        let store = h.engine.store
        #expect(try await store.rotateCredential(name: "app", secretHash: try CredentialSecret.hash(new, rounds: 1_000),
                                                 previousUntil: h.clock.now() + .seconds(3_600), now: h.clock.now()))
        h.clock.advance(by: .seconds(3))
        #expect((try? await h.gate.authenticate(name: "app", secret: old, peer: "127.0.0.1").get()) != nil)
        #expect((try? await h.gate.authenticate(name: "app", secret: new, peer: "127.0.0.1").get()) != nil)
        h.clock.advance(by: .seconds(3_600))
        #expect((try? await h.gate.authenticate(name: "app", secret: old, peer: "127.0.0.1").get()) == nil)
        #expect((try? await h.gate.authenticate(name: "app", secret: new, peer: "127.0.0.1").get()) != nil)
    }

    @Test func aCredentialIsRefusedOutsideItsSourceNetworks() async throws {
        let h = try GateHarness()
        defer { h.finish() }
        let secret = try await h.credential("app", tenant: "acme", sources: ["127.0.0.8/32"])
        #expect((try? await h.gate.authenticate(name: "app", secret: secret, peer: "127.0.0.8").get()) != nil)
        guard case .failure(let refusal) = await h.gate.authenticate(name: "app", secret: secret, peer: "127.0.0.9") else { Issue.record("accepted"); return }
        #expect(refusal.kind == .forbiddenSource)
        #expect(refusal.message.contains("127.0.0.9"))
    }

    @Test func repeatedFailedLoginsFromOneAddressAreLockedOutButOtherAddressesAreNot() async throws {
        var throttle = LoginThrottle()
        throttle.slowAfter = 100  // no waiting in this test; the lockout is what it checks
        throttle.lockAfter = 5
        let h = try GateHarness(throttle: throttle)
        defer { h.finish() }
        let secret = try await h.credential("app", tenant: "acme")
        for _ in 0..<5 { _ = await h.gate.authenticate(name: "app", secret: "guess", peer: "127.0.0.66") }
        guard case .failure(let locked) = await h.gate.authenticate(name: "app", secret: secret, peer: "127.0.0.66") else { Issue.record("accepted"); return }
        #expect(locked.smtpReply.hasPrefix("454 4.7.0") && locked.httpStatus == 429 && (locked.retryAfter ?? 0) > 0)
        #expect((try? await h.gate.authenticate(name: "app", secret: secret, peer: "127.0.0.1").get()) != nil)
        h.clock.advance(by: .seconds(15 * 60 + 1))
        #expect((try? await h.gate.authenticate(name: "app", secret: secret, peer: "127.0.0.66").get()) != nil)
    }

    @Test func theOwnerSendsFromItsIdentityAndADelegateOnlyWithinItsAuthorization() async throws {
        let h = try GateHarness()
        defer { h.finish() }
        let owner = Principal(tenant: "default", credential: nil)
        let partner = Principal(tenant: "partner", credential: nil)
        let acme = Principal(tenant: "acme", credential: nil)
        #expect(try await h.gate.submit(raw: GateHarness.raw(from: "news@example.com"), mailFrom: "news@example.com", recipients: ["ann@gmail.com"],
                                        principal: owner).get().count == 1)
        #expect(try await h.gate.submit(raw: GateHarness.raw(from: "partner@example.com"), mailFrom: "partner@example.com", recipients: ["ann@gmail.com"],
                                        principal: partner).get().count == 1)
        // The delegate: another From, another configuration set, or an identity it has no authorization on.
        for (raw, who) in [(GateHarness.raw(from: "news@example.com"), partner),
                           (GateHarness.raw(from: "partner@example.com", extra: "X-Kiln-Configuration-Set: other\r\n"), partner),
                           (GateHarness.raw(from: "news@acme.test"), partner), (GateHarness.raw(from: "news@example.com"), acme)] {
            guard case .failure(let refusal) = await h.gate.submit(raw: raw, mailFrom: "x@example.com", recipients: ["ann@gmail.com"], principal: who) else {
                Issue.record("accepted for \(who.tenant)"); continue
            }
            #expect(refusal.smtpReply.hasPrefix("550 5.7.1"))
        }
        #expect(h.gate.checkEnvelopeSender("bounces@example.com", principal: partner) == nil)
        #expect(h.gate.checkEnvelopeSender("x@acme.test", principal: partner)?.kind == .forbiddenSender)
        #expect(h.gate.checkEnvelopeSender("", principal: owner)?.kind == .forbiddenSender)
    }

    @Test func aCredentialNarrowsItsTenantsIdentitiesAndFromAddresses() async throws {
        let h = try GateHarness()
        defer { h.finish() }
        let secret = try await h.credential("news-only", tenant: "default", from: ["news@example.com"])
        let principal = try await h.gate.authenticate(name: "news-only", secret: secret, peer: "127.0.0.1").get()
        #expect(h.gate.checkEnvelopeSender("news@example.com", principal: principal) == nil)
        #expect(h.gate.checkEnvelopeSender("billing@example.com", principal: principal)?.kind == .forbiddenSender)
        guard case .failure(let refusal) = await h.gate.submit(raw: GateHarness.raw(from: "billing@example.com"), mailFrom: "news@example.com",
                                                               recipients: ["ann@gmail.com"], principal: principal) else { Issue.record("accepted"); return }
        #expect(refusal.message.contains("billing@example.com"))
    }

    @Test func kilnHeadersAreObeyedAndRemovedAndMessageIDAndDateAdded() async throws {
        let h = try GateHarness()
        defer { h.finish() }
        let raw = GateHarness.raw(from: "news@example.com", extra: "X-Kiln-Configuration-Set: other\r\nX-Kiln-Transactional: 1\r\n")
        let ids = try await h.gate.submit(raw: raw, mailFrom: "news@example.com", recipients: ["ann@gmail.com"], principal: Principal(tenant: "default", credential: nil)).get()
        try await h.engine.runUntilIdle()
        let sent = try #require(h.network.messages.first)
        let text = String(decoding: sent.data, as: UTF8.self)
        #expect(!text.lowercased().contains("x-kiln-"))
        #expect(text.contains("Message-ID: <") && text.contains("Date: "))
        #expect(text.contains("Feedback-ID: ") && text.contains("List-Unsubscribe") == false || text.contains("Feedback-ID: "))
        let stored = try await h.engine.store.outboxEvents(after: EventPosition(minor: 0), limit: 10).first { $0.event.messageID == ids[0] }
        #expect(stored?.configurationSet == "other")
        #expect(stored?.tenant == "default")
    }

    @Test func aTenantOverItsQuotaIsToldToWaitAndNothingIsStored() async throws {
        let h = try GateHarness(tenants: [.init(name: "acme", quota: .init(maxPerSecond: 2, maxPer24Hours: 5)), .init(name: "partner")])
        defer { h.finish() }
        let acme = Principal(tenant: "acme", credential: nil)
        let raw = GateHarness.raw(from: "news@acme.test")
        #expect(try await h.gate.submit(raw: raw, mailFrom: "news@acme.test", recipients: ["a@gmail.com", "b@gmail.com"], principal: acme).get().count == 2)
        guard case .failure(let perSecond) = await h.gate.submit(raw: raw, mailFrom: "news@acme.test", recipients: ["c@gmail.com"], principal: acme) else {
            Issue.record("accepted over the per-second quota"); return
        }
        #expect(perSecond.smtpReply.hasPrefix("451 4.7.1") && perSecond.httpStatus == 429 && perSecond.retryAfter == 1)
        h.clock.advance(by: .seconds(1))
        #expect(try await h.gate.submit(raw: raw, mailFrom: "news@acme.test", recipients: ["c@gmail.com", "d@gmail.com"], principal: acme).get().count == 2)
        h.clock.advance(by: .seconds(5))
        #expect(try await h.gate.submit(raw: raw, mailFrom: "news@acme.test", recipients: ["e@gmail.com"], principal: acme).get().count == 1)
        h.clock.advance(by: .seconds(5))
        guard case .failure(let perDay) = await h.gate.submit(raw: raw, mailFrom: "news@acme.test", recipients: ["f@gmail.com"], principal: acme) else {
            Issue.record("accepted over the daily quota"); return
        }
        #expect(perDay.kind == .overQuota(retryAfter: perDay.retryAfter!) && perDay.retryAfter! > 3_600)
        #expect(try await h.engine.store.counts().reduce(0) { $0 + $1.count } == 5)
        // Another tenant is not held by acme's quota.
        #expect(try await h.gate.submit(raw: GateHarness.raw(from: "news@example.com"), mailFrom: "news@example.com", recipients: ["g@gmail.com"],
                                        principal: Principal(tenant: "default", credential: nil)).get().count == 1)
    }

    @Test func anAPIMessageIsRenderedPerRecipientWithItsMetadataAndSuppressedOrInvalidAddressesAreRejectedByLine() async throws {
        let h = try GateHarness()
        defer { h.finish() }
        try await h.engine.store.suppress([SuppressionEntry(address: "gone@gmail.com", reason: .manual, source: "test", createdAt: h.clock.now())])
        let message = APIMessage(
            from: "news@example.com", content: .template(subject: "Hi {{first}}", text: "Hello {{first}}, see {{email}}.", html: nil),
            headers: ["X-Campaign-Ref": "spring"], recipients: [
                .init(email: "ann@gmail.com", substitutions: ["first": "Ann"], metadata: ["user": "42"]),
                .init(email: "not an address", substitutions: ["first": "X"]),
                .init(email: "gone@gmail.com", substitutions: ["first": "Gone"]),
            ])
        let acceptance = try await h.gate.submit(message: message, principal: Principal(tenant: "default", credential: nil)).get()
        #expect(acceptance.accepted == 1 && acceptance.messages.map(\.email) == ["ann@gmail.com"])
        #expect(Set(acceptance.rejected.map(\.email)) == ["not an address", "gone@gmail.com"])
        try await h.engine.runUntilIdle()
        let text = String(decoding: try #require(h.network.messages.first).data, as: UTF8.self)
        #expect(text.contains("Subject: Hi Ann") && text.contains("Hello Ann, see ann@gmail.com.") && text.contains("X-Campaign-Ref: spring"))
        let id = MessageID(Int64(acceptance.messages[0].messageId)!)
        let events = try await h.engine.store.outboxEvents(after: EventPosition(minor: 0), limit: 50).filter { $0.event.messageID == id }
        #expect(events.count >= 2)
        #expect(events.allSatisfy { $0.metadata.flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0)) } == ["user": "42"] })
        let status = try #require(try await h.gate.status(of: id, principal: Principal(tenant: "default", credential: nil)).get())
        #expect(status.state == "delivered" && status.metadata == ["user": "42"] && status.events.map(\.kind).contains("delivery"))
        // Another tenant does not see it.
        #expect(try await h.gate.status(of: id, principal: Principal(tenant: "acme", credential: nil)).get() == nil)
    }

    @Test func aTemplateVariableMissingForOneRecipientRefusesTheCallNamingIt() async throws {
        let h = try GateHarness()
        defer { h.finish() }
        let message = APIMessage(from: "news@example.com", content: .template(subject: "Hi {{first}}", text: "x", html: nil), recipients: [
            .init(email: "ann@gmail.com", substitutions: ["first": "Ann"]), .init(email: "bob@gmail.com"),
        ])
        guard case .failure(let refusal) = await h.gate.submit(message: message, principal: Principal(tenant: "default", credential: nil)) else {
            Issue.record("accepted"); return
        }
        #expect(refusal.kind == .invalid(path: "recipients[1].substitutions.first"))
        #expect(try await h.engine.store.counts().isEmpty)
    }

    @Test func aTrustedNetworkRelaysAsItsTenant() throws {
        let h = try GateHarness(trusted: [.init(network: "10.0.0.0/8", tenant: "acme"), .init(network: "127.0.0.1")])
        defer { h.finish() }
        #expect(h.gate.trustedPrincipal(peer: "10.1.2.3") == Principal(tenant: "acme", credential: nil))
        #expect(h.gate.trustedPrincipal(peer: "::ffff:127.0.0.1") == Principal(tenant: "default", credential: nil))
        #expect(h.gate.trustedPrincipal(peer: "127.0.0.2") == nil)
        #expect(h.gate.trustedPrincipal(peer: "11.0.0.1") == nil)
    }
}
