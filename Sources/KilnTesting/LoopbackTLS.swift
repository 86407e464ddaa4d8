import Crypto
import Foundation
import KilnLoopback
import NIOCore
import NIOSSL
import X509

/// A throwaway certificate authority for TLS tests: made in memory when a test starts
/// (P-256 keys, valid for a day), never written anywhere but the test's own directory.
///
/// ```swift
/// let ca = try TestCertificateAuthority()
/// let server = try await LoopbackSMTPServer.start(tls: try ca.issue(for: "mx.kiln.test").tls(.startTLS))
/// try ca.certificatePEM.write(toFile: caFile, atomically: true, encoding: .utf8)  // delivery.caFile
/// ```
public struct TestCertificateAuthority: Sendable {
    public let certificatePEM: String
    let name: DistinguishedName
    let key: P256.Signing.PrivateKey

    public init(name commonName: String = "Kiln Test CA") throws {
        key = P256.Signing.PrivateKey()
        name = try DistinguishedName { CommonName(commonName) }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now - 3600, notValidAfter: now + 86400, issuer: name, subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(keyCertSign: true))
            },
            issuerPrivateKey: .init(key))
        certificatePEM = try certificate.serializeAsPEM().pemString
    }

    /// A server certificate for `host` (its subjectAltName), signed by this authority.
    public func issue(for host: String) throws -> TestServerIdentity {
        let serverKey = P256.Signing.PrivateKey()
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(serverKey.publicKey),
            notValidBefore: now - 3600, notValidAfter: now + 86400, issuer: name,
            subject: try DistinguishedName { CommonName(host) },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                SubjectAlternativeNames([.dnsName(host)])
                try ExtendedKeyUsage([.serverAuth])
            },
            issuerPrivateKey: .init(key))
        return TestServerIdentity(certificatePEM: try certificate.serializeAsPEM().pemString, keyPEM: serverKey.pemRepresentation)
    }
}

/// A server's certificate and key, as PEM.
public struct TestServerIdentity: Sendable {
    public let certificatePEM: String
    public let keyPEM: String

    /// TLS for a `LoopbackSMTPServer` with this identity (swift-nio-ssl).
    public func tls(_ mode: LoopbackSMTPServer.TLS.Mode) throws -> LoopbackSMTPServer.TLS {
        let certificate = try NIOSSLCertificate(bytes: Array(certificatePEM.utf8), format: .pem)
        let key = try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem)
        let context = try NIOSSLContext(configuration: .makeServerConfiguration(certificateChain: [.certificate(certificate)], privateKey: .privateKey(key)))
        return LoopbackSMTPServer.TLS(mode: mode) { channel in
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context), position: .first)
        }
    }
}
