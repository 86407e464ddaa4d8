/// An error raised by Kiln, with a code that can be matched, a message for people, and
/// where it happened (a JSON path, a file and line, a field name).
///
/// ```swift
/// catch let error as KilnError where error.code == .invalidConfiguration { ... }
/// ```
public struct KilnError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case invalidConfiguration, invalidMessage, invalidAddress, notAllowedSender
            case storeFailure, transportFailure, secretUnavailable, headerInjection
            case renderingFailure, notFound, invalidInput, deliveryLockHeld
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        public static let invalidConfiguration = Code(.invalidConfiguration)
        public static let invalidMessage = Code(.invalidMessage)
        public static let invalidAddress = Code(.invalidAddress)
        public static let notAllowedSender = Code(.notAllowedSender)
        public static let storeFailure = Code(.storeFailure)
        public static let transportFailure = Code(.transportFailure)
        public static let secretUnavailable = Code(.secretUnavailable)
        public static let headerInjection = Code(.headerInjection)
        public static let renderingFailure = Code(.renderingFailure)
        public static let notFound = Code(.notFound)
        public static let invalidInput = Code(.invalidInput)
        /// Another engine is delivering from the same store.
        public static let deliveryLockHeld = Code(.deliveryLockHeld)

        public var description: String { String(describing: value) }
    }

    public var code: Code
    public var message: String
    /// Where the problem is: a JSON path, `file:line`, a header or field name.
    public var location: String?
    public var underlying: (any Error)?
    /// The same call may succeed later without anyone changing anything: a store whose
    /// disk is full, an I/O error, a database that cannot be reached now. Delivery waits
    /// and tries again instead of stopping.
    public var isTemporary: Bool

    public init(_ code: Code, _ message: String, location: String? = nil, underlying: (any Error)? = nil, isTemporary: Bool = false) {
        self.code = code
        self.message = message
        self.location = location
        self.underlying = underlying
        self.isTemporary = isTemporary
    }

    public var description: String {
        var text = location.map { "\($0): \(message)" } ?? message
        if let underlying { text += " (\(underlying))" }
        return text
    }
}
