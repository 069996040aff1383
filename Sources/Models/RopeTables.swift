import Kernels

/// The RoPE tables a decoder stage rotates queries and keys with.
///
/// Calls whose total key length stays within `max_position_embeddings` all use the unscaled base, so one table of
/// that base is kept and grown (doubling) as longer sequences arrive. A call beyond it has its own dynamic-NTK
/// base, and gets a table built for that call only.
final class RopeTables {
    let rotary: RotaryEmbedding
    private var unscaled: RopeTable?

    init(rotary: RotaryEmbedding) { self.rotary = rotary }

    /// The table for a forward call whose keys span `kvLength` positions (past + new), covering `0..<kvLength`.
    func table(kvLength: Int) throws -> RopeTable {
        let base = rotary.base(kvLength: kvLength)
        guard base == rotary.theta else { return try rotary.ropeTable(positions: kvLength, base: base) }
        if let unscaled, unscaled.positions >= kvLength { return unscaled }
        let grown = min(max(kvLength, 2 * (unscaled?.positions ?? 128)), max(kvLength, rotary.maxPositionEmbeddings))
        let table = try rotary.ropeTable(positions: grown, base: base)
        unscaled = table
        return table
    }
}
