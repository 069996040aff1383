/// A hash table from UTF-8 byte strings to piece ids that is queried straight from a byte buffer, so the BPE
/// merge loop can ask "is this span a piece?" without building a `String` or an `Array` per query.
///
/// Open addressing with linear probing over a power-of-two slot array; keys live concatenated in one buffer.
struct PieceLookupTable: Sendable {
    private var keyBytes: [UInt8] = []
    private var keyStarts: [Int32] = []
    private var keyLengths: [Int32] = []
    private var values: [Int32] = []
    private var slots: [Int32]
    private let slotMask: Int

    /// Builds a table with room for `capacity` keys (the slot array is at least twice as large).
    init(capacity: Int) {
        var slotCount = 16
        while slotCount < capacity * 2 { slotCount <<= 1 }
        slots = [Int32](repeating: -1, count: slotCount)
        slotMask = slotCount - 1
    }

    /// The number of keys stored.
    var count: Int { values.count }

    /// Inserts `key` with `value`; returns false (and changes nothing) when the key is already present.
    @discardableResult
    mutating func insert(_ key: [UInt8], value: Int32) -> Bool {
        let found = key.withUnsafeBufferPointer { lookup($0) }
        if found != nil { return false }
        let entry = Int32(values.count)
        keyStarts.append(Int32(keyBytes.count))
        keyLengths.append(Int32(key.count))
        keyBytes.append(contentsOf: key)
        values.append(value)
        var slot = Int(truncatingIfNeeded: Self.hash(key.withUnsafeBufferPointer { $0 })) & slotMask
        while slots[slot] >= 0 { slot = (slot + 1) & slotMask }
        slots[slot] = entry
        return true
    }

    /// The value stored for the bytes in `key`, or nil.
    func lookup(_ key: UnsafeBufferPointer<UInt8>) -> Int32? {
        var slot = Int(truncatingIfNeeded: Self.hash(key)) & slotMask
        return keyBytes.withUnsafeBufferPointer { stored -> Int32? in
            while true {
                let entry = slots[slot]
                if entry < 0 { return nil }
                let length = Int(keyLengths[Int(entry)])
                if length == key.count {
                    let start = Int(keyStarts[Int(entry)])
                    var equal = true
                    var index = 0
                    while index < length {
                        if stored[start + index] != key[index] { equal = false; break }
                        index += 1
                    }
                    if equal { return values[Int(entry)] }
                }
                slot = (slot + 1) & slotMask
            }
        }
    }

    /// The value stored for `key`, or nil.
    func lookup(_ key: [UInt8]) -> Int32? {
        key.withUnsafeBufferPointer { lookup($0) }
    }

    /// FNV-1a, 64 bit, with a final avalanche so the low bits used for the slot index are well mixed.
    private static func hash(_ key: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key {
            value ^= UInt64(byte)
            value = value &* 0x0000_0100_0000_01b3
        }
        value ^= value >> 29
        value = value &* 0xbf58_476d_1ce4_e5b9
        value ^= value >> 32
        return value
    }
}
