import Foundation

/// The `kiln` executable built next to the running test bundle (or `.build/debug/kiln`).
public let kilnExecutable: String = {
    let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for candidate in [bundle, bundle.deletingLastPathComponent()] {
        let path = candidate.appendingPathComponent("kiln").path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/debug/kiln").path
}()
