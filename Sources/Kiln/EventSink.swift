import CCurl
import Crypto
import Foundation
import KilnCore

/// Where a destination's batches go. `deliver` returns once the batch is durably taken
/// (a 2xx answer, or written and fsynced), or throws saying why not.
protocol EventSink: Sendable {
    func deliver(_ body: EventBatchBody) async throws(KilnError)
}

/// One batch, encoded once: the webhook's JSON array and the file's JSON lines.
struct EventBatchBody: Sendable {
    var records: [EventRecord]

    /// `[{...},{...}]`: the webhook's body.
    var jsonArray: [UInt8] { Self.join(records, open: "[", separator: ",", close: "]") }
    /// One object per line, each line ending in `\n`.
    var jsonLines: [UInt8] { Self.join(records, open: "", separator: "\n", close: records.isEmpty ? "" : "\n") }

    static func join(_ records: [EventRecord], open: String, separator: String, close: String) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var bytes = Array(open.utf8)
        for (index, record) in records.enumerated() {
            if index > 0 { bytes += separator.utf8 }
            // An EventRecord is strings and integers: it always encodes.
            bytes += (try? encoder.encode(record)).map { [UInt8]($0) } ?? Array("{}".utf8)
        }
        bytes += close.utf8
        return bytes
    }
}

/// Posts batches to a webhook with libcurl (the transport's HTTP client too: no second
/// one), each on a thread of its own queue, never the cooperative pool. The body is
/// signed: `X-Kiln-Signature: sha256=<hex HMAC-SHA256 of the body with the secret>`.
/// Any answer but 2xx, a timeout or a refused connection is an error (the caller retries).
final class WebhookSink: EventSink {
    let url: String
    private let secret: [UInt8]
    let timeout: Int
    private let queue: DispatchQueue

    init(url: String, secret: [UInt8], timeoutSeconds: Int) {
        self.url = url
        self.secret = secret
        timeout = timeoutSeconds
        queue = DispatchQueue(label: "kiln.webhook")
    }

    /// `sha256=<hex>` of `body` under `secret`.
    static func signature(_ body: [UInt8], secret: [UInt8]) -> String {
        "sha256=" + HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: secret)).map { String(format: "%02x", $0) }.joined()
    }

    func deliver(_ batch: EventBatchBody) async throws(KilnError) {
        let body = batch.jsonArray
        let signature = Self.signature(body, secret: secret)
        let result: Result<Void, KilnError> = await withCheckedContinuation { continuation in
            queue.async { [url, timeout] in
                continuation.resume(returning: Self.post(body, url: url, signature: signature, timeout: timeout))
            }
        }
        try result.get()
    }

    /// One blocking POST (on the sink's queue).
    static func post(_ body: [UInt8], url: String, signature: String, timeout: Int) -> Result<Void, KilnError> {
        guard let handle = curl_easy_init() else { return .failure(KilnError(.transportFailure, "libcurl could not make a handle", location: url)) }
        defer { curl_easy_cleanup(handle) }
        // The answer's body is not needed: it goes to /dev/null (libcurl writes to stdout otherwise).
        guard let sink = fopen("/dev/null", "w") else { return .failure(KilnError(.transportFailure, "cannot open /dev/null", location: url)) }
        defer { fclose(sink) }
        var headers: UnsafeMutablePointer<curl_slist>?
        for header in ["Content-Type: application/json", "X-Kiln-Signature: \(signature)", "User-Agent: kiln", "Expect:"] {
            headers = curl_slist_append(headers, header)
        }
        defer { curl_slist_free_all(headers) }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let code: CURLcode = body.withUnsafeBufferPointer { bytes in
            errorBuffer.withUnsafeMutableBufferPointer { errors in
                _ = kiln_easy_setopt_string(handle, CURLOPT_URL, url)
                _ = kiln_easy_setopt_long(handle, CURLOPT_POST, 1)
                _ = kiln_easy_setopt_offset(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count))
                _ = kiln_easy_setopt_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress))
                _ = kiln_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, headers)
                _ = kiln_easy_setopt_pointer(handle, CURLOPT_WRITEDATA, UnsafeMutableRawPointer(sink))
                _ = kiln_easy_setopt_long(handle, CURLOPT_TIMEOUT, timeout)
                _ = kiln_easy_setopt_long(handle, CURLOPT_CONNECTTIMEOUT, min(timeout, 10))
                _ = kiln_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
                _ = kiln_easy_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
                _ = kiln_easy_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https")
                _ = kiln_easy_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errors.baseAddress)
                return curl_easy_perform(handle)
            }
        }
        guard code == CURLE_OK else {
            let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return .failure(KilnError(.transportFailure, "webhook: \(detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail)", location: url))
        }
        var status = 0
        _ = kiln_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        guard (200..<300).contains(status) else {
            return .failure(KilnError(.transportFailure, "webhook: HTTP \(status)", location: url))
        }
        return .success(())
    }
}

/// Appends batches to a file as JSON lines, with an fsync per batch.
final class FileSink: EventSink {
    let path: String
    private let queue = DispatchQueue(label: "kiln.event-file")

    init(path: String) { self.path = path }

    func deliver(_ batch: EventBatchBody) async throws(KilnError) {
        let lines = batch.jsonLines
        let result: Result<Void, KilnError> = await withCheckedContinuation { continuation in
            queue.async { [path] in continuation.resume(returning: Self.append(lines, to: path)) }
        }
        try result.get()
    }

    /// One blocking append and fsync (on the sink's queue). A write or fsync that fails
    /// takes the file back to its length before the batch, so that a torn line is never
    /// followed by more lines (the retry appends the whole batch again). Only a regular
    /// file is written: a FIFO, a device or a directory is refused, and the open never
    /// blocks (`O_NONBLOCK`).
    static func append(_ bytes: [UInt8], to path: String) -> Result<Void, KilnError> {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0o600)
        guard fd >= 0 else { return .failure(KilnError(.storeFailure, "cannot open the event file: \(String(cString: strerror(errno)))", location: path)) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            return .failure(KilnError(.storeFailure, "the event file is not a regular file (a FIFO, a device or a directory)", location: path))
        }
        let start = status.st_size
        func fail(_ what: String) -> Result<Void, KilnError> {
            let reason = String(cString: strerror(errno))
            _ = ftruncate(fd, start)
            return .failure(KilnError(.storeFailure, "cannot \(what) the event file: \(reason) (the batch was taken back; it is retried)", location: path))
        }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, bytes.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                return fail("write")
            }
            written += n
        }
        guard fsync(fd) == 0 else { return fail("fsync") }
        return .success(())
    }
}
