import Foundation
import Synchronization

/// Threads of their own, one per core, that render and sign messages: never the
/// dispatcher's task, never Swift's cooperative pool (a 2048-bit RSA signature takes
/// about a third of a millisecond of one core). Work runs in the order submitted, on
/// whichever thread is free; `Sequencer` puts the results back in order.
final class FinishingPool: @unchecked Sendable {
    private let condition = NSCondition()
    /// Guarded by `condition`.
    private var queue: [@Sendable () -> Void] = []
    private var head = 0
    private var stopped = false
    let threadCount: Int

    /// - Parameter threads: the number of threads (default: the active processors).
    init(threads: Int = ProcessInfo.processInfo.activeProcessorCount, name: String = "kiln-finish") {
        threadCount = max(1, threads)
        for index in 0..<threadCount {
            let thread = Thread { [self] in work() }
            thread.name = "\(name)-\(index)"
            thread.start()
        }
    }

    /// Queues `task` for the next free thread.
    func submit(_ task: @escaping @Sendable () -> Void) {
        condition.lock()
        queue.append(task)
        condition.signal()
        condition.unlock()
    }

    /// Lets the threads finish what is queued, then end.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    private func work() {
        while true {
            condition.lock()
            while head == queue.count && !stopped { condition.wait() }
            if head == queue.count {
                condition.unlock()
                return
            }
            let task = queue[head]
            head += 1
            if head == queue.count {
                queue.removeAll(keepingCapacity: true)
                head = 0
            }
            condition.unlock()
            task()
        }
    }
}

/// Hands out the results of numbered pieces of work in their numbers' order, whatever
/// order they finish in: the transport gets messages in the order they were leased.
final class Sequencer<Value: Sendable>: Sendable {
    private struct State {
        var issued = 0
        var next = 0
        var done: [Int: Value] = [:]
    }

    private let state = Mutex(State())
    private let deliver: @Sendable (Value) -> Void

    /// - Parameter deliver: called with each value in order, one call at a time.
    init(deliver: @escaping @Sendable (Value) -> Void) {
        self.deliver = deliver
    }

    /// The number of the next piece of work.
    func issue() -> Int {
        state.withLock { state in
            defer { state.issued += 1 }
            return state.issued
        }
    }

    /// Records piece `number`'s value and delivers every value now in order.
    func complete(_ number: Int, _ value: Value) {
        state.withLock { state in
            state.done[number] = value
            while let ready = state.done.removeValue(forKey: state.next) {
                state.next += 1
                deliver(ready)
            }
        }
    }
}
