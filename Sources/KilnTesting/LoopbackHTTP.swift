#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A free TCP port on 127.0.0.1 (bound and released).
public func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// An HTTP GET to loopback with curl's command line (the test's own client, not Kiln's);
/// status 0 when nothing answered within 5 s.
public func httpGet(_ url: String) async -> (status: Int, body: String) {
    guard let output = try? await ChildProcess.run("/usr/bin/curl", ["-s", "-m", "5", "-w", "\n%{http_code}", url]) else { return (0, "") }
    var text = output.stdout
    let status = Int(text.split(separator: "\n").last ?? "") ?? 0
    if let cut = text.lastIndex(of: "\n") { text = String(text[..<cut]) }
    return (status, text)
}
