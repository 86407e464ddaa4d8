// The README's embedding example, built by CI so that it keeps compiling.
// Run: swift run KilnEmbeddingExample path/to/kiln.json
import Foundation
import Kiln

let arguments = CommandLine.arguments
guard arguments.count == 2 else {
    print("usage: KilnEmbeddingExample CONFIG.json")
    exit(2)
}

// --- README: Embedding ---
let engine = try SendEngine(configurationFile: arguments[1], logger: Logger(label: "app"))

// Returns once the message is durably stored, one id per recipient.
let ids = try await engine.submit(OutgoingMessage(MessageDraft(
    from: try EmailAddress("news@example.com"),
    to: [try EmailAddress("ada@gmail.com"), try EmailAddress("grace@outlook.com")],
    subject: "November news",
    text: "Hello!\n",
    html: "<p>Hello!</p>")))

// Outcomes as they happen, while the engine delivers until nothing is due.
try await withThrowingTaskGroup(of: Void.self) { group in
    let events = engine.events()
    group.addTask {
        for await event in events {
            print(event.kind, event.recipient ?? "", event.reply?.description ?? "")
        }
    }
    try await engine.runUntilIdle()
    engine.closeEvents()
    try await group.waitForAll()
}
// --- end ---
print("submitted \(ids.count) messages")
