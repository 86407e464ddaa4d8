import Glibc
import KilnCore

/// Whether this machine can send from an address: a pool IP that is not configured on
/// any interface makes every transfer from it fail at connect time, after messages are
/// queued. Checked at start by binding a UDP socket to the address, port 0 (nothing is
/// sent; the kernel only checks that the address is local).
public enum SourceAddressCheck {
    /// Nil when `address` can be bound, else why not (`strerror`).
    public static func bindError(_ address: String) -> String? {
        guard !address.utf8.contains(0) else { return "not an IP address" }
        var v4 = sockaddr_in()
        var v6 = sockaddr_in6()
        if inet_pton(AF_INET, address, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            return withUnsafePointer(to: &v4) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { tryBind(AF_INET, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        if inet_pton(AF_INET6, address, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            return withUnsafePointer(to: &v6) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { tryBind(AF_INET6, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
        return "not an IP address"
    }

    static func tryBind(_ family: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> String? {
        let fd = socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return String(cString: strerror(errno)) }
        defer { close(fd) }
        return bind(fd, address, length) == 0 ? nil : String(cString: strerror(errno))
    }
}
