import Foundation
import Kiln
import KilnCore
import KilnMessage
import KilnTesting
import Logging
import Testing

/// A message that no delivery run could send is refused at submit, before anything is
/// stored: a retry then cannot send it twice.
@Suite struct SubmitReadinessTests {
    enum Missing: String, CaseIterable, Sendable {
        case dkimKey, unsubscribeSecret, returnPathSecret, shortReturnPathSecret, sharedPoolPassword
    }

    @Test(arguments: Missing.allCases)
    func aMissingSecretOrKeyRefusesTheSubmitAndStoresNothing(missing: Missing) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-ready-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var environment = ["UNSUB": "an-unsubscribe-secret-0123", "RETURN": "a-return-path-secret-0123", "RELAY_USER": "u", "RELAY_PASSWORD": "p"]
        var identity = Configuration.Identity(domain: "example.com", returnPathDomain: "bounce.example.com")
        var location = ""
        switch missing {
        case .dkimKey:
            identity.dkim = [.init(selector: "s1", algorithm: "rsa-sha256", privateKeyFile: "missing.pem")]
            location = "identities[0].dkim[0].privateKeyFile"
        case .unsubscribeSecret:
            environment["UNSUB"] = nil
            location = "configurationSets[0].unsubscribe.secretEnv"
        case .returnPathSecret:
            environment["RETURN"] = nil
            location = "feedback.returnPathSecretEnv"
        case .shortReturnPathSecret:
            environment["RETURN"] = "short"
            location = "feedback.returnPathSecretEnv"
        case .sharedPoolPassword:
            environment["RELAY_PASSWORD"] = nil
            location = "sharedPool.passwordEnv"
        }
        let configuration = Configuration(
            store: .init(path: "kiln.sqlite"), senderId: "ExampleCo", identities: [identity],
            pools: [.init(name: "p", ips: ["127.0.0.2"], scaling: .fixed)],
            sharedPool: .init(url: "smtp://127.0.0.1:1", usernameEnv: "RELAY_USER", passwordEnv: "RELAY_PASSWORD"),
            delivery: .init(mode: .routes, routes: ["*": "smtp://127.0.0.1:1"], heloName: "mta.example.com"),
            configurationSets: [.init(name: "newsletter", pool: "p", unsubscribe: .init(url: "https://example.com/u", secretEnv: "UNSUB"))],
            defaultConfigurationSet: "newsletter", feedback: .init(returnPathSecretEnv: "RETURN"))
        let engine = try SendEngine(configuration: configuration, baseDirectory: directory,
                                    secrets: SecretSource(environment: environment, baseDirectory: directory), logger: Logger.test())
        let message = OutgoingMessage(MessageDraft(from: try EmailAddress("news@example.com"), to: [try EmailAddress("a@gmail.com")], subject: "x", text: "y"))
        do {
            _ = try await engine.submit(message)
            Issue.record("accepted a message that no run could send")
        } catch {
            #expect(error.location == location)
        }
        #expect(try await engine.status().byState.isEmpty)
    }
}

/// A header rendered from template variables is folded, and refused past
/// `feedback.maxHeaderBytes` for that recipient only.
@Suite struct RenderedHeaderTests {
    @Test(arguments: [
        (String(repeating: "x", count: 1_048_576), false),
        (String(repeating: "word ", count: 4000), false),
        (String(repeating: "é", count: 9000), false),
        (String(repeating: "y", count: 5000), true),
        (String(repeating: "ü ", count: 1000), true),
    ])
    func aLongSubjectIsFoldedOrFailsOnlyItsRecipient(subject: String, fits: Bool) async throws {
        let h = try await EngineHarness()
        let events = h.engine.events()
        let template = MessageTemplate(from: "news@example.com", subject: "{{subject}}", text: "Hi.\n")
        let ids = try await h.engine.submit(OutgoingMessage(template: template, recipients: [
            (try EmailAddress("ada@gmail.com"), ["subject": subject]),
            (try EmailAddress("bob@yahoo.com"), ["subject": "Hello"]),
        ]))
        try await h.engine.runUntilIdle()
        h.engine.closeEvents()
        let states = try await h.engine.store.messages(ids: ids).map(\.state)
        #expect(states == [fits ? .delivered : .failed, .delivered])
        var failures: [DeliveryEvent] = []
        for await event in events where event.kind == .renderingFailure { failures.append(event) }
        #expect(failures.map(\.recipient) == (fits ? [] : ["ada@gmail.com"]))
        for message in h.network.messages {
            let head = message.text.components(separatedBy: "\r\n\r\n")[0]
            let longest = head.components(separatedBy: "\r\n").map(\.utf8.count).max() ?? 0
            #expect(longest <= 998, "a header line of \(longest) octets")
        }
        await h.finish()
    }
}
