/// Reproduces the iteration order of a CPython (3.8 ... 3.13) `set` of `(int, int)` tuples built by
/// inserting keys one by one, so that the reference's
/// `sorted(set((i, j) for ...), key=lambda x: x[0] * x[1])` order can be rebuilt for any `min_num`.
///
/// Emulated: the xxHash-based tuple hash (hash of a small non-negative int is the int), `set_add_entry`
/// (linear probing of 9 slots, then perturbed probing), and table growth (`fill * 5 >= mask * 3` ->
/// resize to the smallest power of two above `used * 4`, re-inserting in slot order).
struct PythonSetOrder {
    private static let linearProbes = 9
    private static let perturbShift = 5

    private var slots: [(key: (Int, Int), hash: UInt64)?] = Array(repeating: nil, count: 8)
    private var used = 0

    /// CPython's `hash((first, second))` for non-negative ints below 2^61 - 1, as an unsigned 64-bit word.
    static func tupleHash(_ first: Int, _ second: Int) -> UInt64 {
        let prime1: UInt64 = 11_400_714_785_074_694_791
        let prime2: UInt64 = 14_029_467_366_897_019_727
        let prime5: UInt64 = 2_870_177_450_012_600_261
        var accumulator = prime5
        for lane in [UInt64(first), UInt64(second)] {
            accumulator &+= lane &* prime2
            accumulator = (accumulator << 31) | (accumulator >> 33)
            accumulator &*= prime1
        }
        accumulator &+= UInt64(2) ^ (prime5 ^ 3_527_539)
        if accumulator == UInt64.max { return 1_546_275_796 }
        return accumulator
    }

    /// Adds `key` unless present (Python `set.add`).
    mutating func insert(_ key: (Int, Int)) {
        let hash = Self.tupleHash(key.0, key.1)
        let mask = slots.count - 1
        var index = Int(hash & UInt64(mask))
        var perturb = hash
        while true {
            var probes = index + Self.linearProbes <= mask ? Self.linearProbes : 0
            var slot = index
            while true {
                guard let entry = slots[slot] else {
                    slots[slot] = (key, hash)
                    used += 1
                    if used * 5 >= mask * 3 { grow(minimumUsed: used * 4) }
                    return
                }
                if entry.hash == hash && entry.key == key { return }
                if probes == 0 { break }
                probes -= 1
                slot += 1
            }
            perturb >>= UInt64(Self.perturbShift)
            index = Int((UInt64(index) &* 5 &+ 1 &+ perturb) & UInt64(mask))
        }
    }

    /// The keys in iteration (slot) order.
    var iterationOrder: [(Int, Int)] { slots.compactMap { $0?.key } }

    private mutating func grow(minimumUsed: Int) {
        var size = 8
        while size <= minimumUsed { size <<= 1 }
        let old = slots
        slots = Array(repeating: nil, count: size)
        let mask = size - 1
        for case let entry? in old {
            var index = Int(entry.hash & UInt64(mask))
            var perturb = entry.hash
            placed: while true {
                if slots[index] == nil { slots[index] = entry; break placed }
                if index + Self.linearProbes <= mask {
                    for offset in 1...Self.linearProbes where slots[index + offset] == nil {
                        slots[index + offset] = entry
                        break placed
                    }
                }
                perturb >>= UInt64(Self.perturbShift)
                index = Int((UInt64(index) &* 5 &+ 1 &+ perturb) & UInt64(mask))
            }
        }
    }
}
