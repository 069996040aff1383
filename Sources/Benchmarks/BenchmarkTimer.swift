/// Times a piece of work: one warm-up run, then repeats until both a minimum count and a minimum total time
/// are reached (or a maximum count), and reports the median and the best run.
struct BenchmarkTimer {
    var minRuns = 3
    var maxRuns = 50
    var minTotalSeconds = 0.25

    /// Median and fastest seconds per run of `body`.
    func measure(_ body: () -> Void) -> (median: Double, best: Double) {
        body()
        let clock = ContinuousClock()
        var times: [Double] = []
        var total = 0.0
        while times.count < maxRuns && (times.count < minRuns || total < minTotalSeconds) {
            let elapsed = clock.measure(body)
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            times.append(seconds)
            total += seconds
        }
        times.sort()
        return (times[times.count / 2], times[0])
    }
}
