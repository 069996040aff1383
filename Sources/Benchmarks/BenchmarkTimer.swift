/// Times a piece of work: one warm-up run, then repeats until both a minimum count and a minimum total time
/// are reached (or a maximum count), and reports the median and the best run.
struct BenchmarkTimer {
    var minRuns = 3
    var maxRuns = 50
    var minTotalSeconds = 0.25

    /// Median and fastest seconds per run of `body`.
    func measure(_ body: () -> Void) -> (median: Double, best: Double) {
        let (times, _) = runs(body, beside: {})
        return (times[times.count / 2], times[0])
    }

    /// Median seconds per run of `body` (repeated as `measure` does) and of `other`, which runs once after each
    /// run of `body` (its time not counted towards the limits), so both meet the same load on the machine.
    func measureAlternating(_ body: () -> Void, _ other: () -> Void) -> (median: Double, otherMedian: Double) {
        let (times, others) = runs(body, beside: other)
        return (times[times.count / 2], others[others.count / 2])
    }

    /// Sorted seconds of the timed runs of `body` and of `other`, after one warm-up run of each.
    private func runs(_ body: () -> Void, beside other: () -> Void) -> (body: [Double], other: [Double]) {
        body()
        other()
        let clock = ContinuousClock()
        func seconds(_ work: () -> Void) -> Double {
            let elapsed = clock.measure(work)
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        }
        var times: [Double] = [], others: [Double] = []
        var total = 0.0
        while times.count < maxRuns && (times.count < minRuns || total < minTotalSeconds) {
            let time = seconds(body)
            times.append(time)
            total += time
            others.append(seconds(other))
        }
        return (times.sorted(), others.sorted())
    }
}
