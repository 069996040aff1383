import Testing
@testable import Kernels

@Suite("ThreadPool")
struct ThreadPoolTests {
    @Test("runs every task exactly once, on a valid thread index", arguments: [1, 2, 3])
    func everyTaskOnce(threads: Int) throws {
        let pool = try ThreadPool(threads: threads)
        #expect(pool.threadCount == threads)
        for tasks in [1, 2, 3, 5, 64, 1000] {
            for _ in 0..<20 {
                var counts = [Int](repeating: 0, count: tasks)
                var threadOf = [Int](repeating: -1, count: tasks)
                counts.withUnsafeMutableBufferPointer { c in
                    threadOf.withUnsafeMutableBufferPointer { t in
                        pool.run(tasks: tasks) { task, thread in
                            c[task] += 1
                            t[task] = thread
                        }
                    }
                }
                #expect(counts.allSatisfy { $0 == 1 }, "tasks = \(tasks): counts \(Set(counts))")
                #expect(threadOf.allSatisfy { (0..<threads).contains($0) })
            }
        }
    }

    @Test("returns only after every task has finished")
    func waitsForAllTasks() throws {
        let pool = try ThreadPool(threads: 3)
        for round in 0..<50 {
            var sums = [Int](repeating: 0, count: 37)
            sums.withUnsafeMutableBufferPointer { s in
                pool.run(tasks: 37) { task, _ in
                    var acc = 0
                    for i in 0..<(1000 * (task % 5 + 1)) { acc &+= i ^ round }
                    s[task] = acc
                }
            }
            for task in 0..<37 {
                var acc = 0
                for i in 0..<(1000 * (task % 5 + 1)) { acc &+= i ^ round }
                #expect(sums[task] == acc)
            }
        }
    }

    @Test("zero tasks is a no-op; a bad thread count is a typed error")
    func edgeCases() throws {
        let pool = try ThreadPool(threads: 2)
        var called = false
        pool.run(tasks: 0) { _, _ in called = true }
        #expect(!called)
        #expect(throws: ThreadPoolError.invalidThreadCount(0)) { try ThreadPool(threads: 0) }
    }
}
