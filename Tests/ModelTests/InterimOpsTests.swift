import Models
import Testing

@Suite("interim ops")
struct InterimOpsTests {
    @Test("pixel shuffle v2 puts x[2i,2j] | x[2i,2j+1] | x[2i+1,2j] | x[2i+1,2j+1] in cell (i, j), row-major, on a non-square grid")
    func pixelShuffleOrder() {
        let rows = 4, cols = 6, channels = 3
        // Value encodes (row, column, channel) so every output element can be traced back.
        let input = (0..<(rows * cols * channels)).map { index -> Float in
            let channel = index % channels, cell = index / channels
            return Float((cell / cols) * 100 + (cell % cols) * 10 + channel)
        }
        var output = [Float](repeating: -1, count: input.count)
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { pixelShuffleV2(x.baseAddress!, gridRows: rows, gridCols: cols, channels: channels, $0.baseAddress!) }
        }
        for i in 0..<(rows / 2) {
            for j in 0..<(cols / 2) {
                let cell = (i * (cols / 2) + j) * 4 * channels
                let sources = [(2 * i, 2 * j), (2 * i, 2 * j + 1), (2 * i + 1, 2 * j), (2 * i + 1, 2 * j + 1)]
                for (block, (row, column)) in sources.enumerated() {
                    for channel in 0..<channels {
                        #expect(output[cell + block * channels + channel] == Float(row * 100 + column * 10 + channel))
                    }
                }
            }
        }
    }

    @Test("bicubic resize: identity at equal size; constant stays constant when shrinking and growing")
    func bicubic() {
        let grid: [Float] = (0..<(5 * 7 * 2)).map { Float($0 % 13) - 6 }
        func resize(_ x: [Float], _ inRows: Int, _ inCols: Int, _ outRows: Int, _ outCols: Int) -> [Float] {
            var out = [Float](repeating: 0, count: outRows * outCols * 2)
            x.withUnsafeBufferPointer { source in
                out.withUnsafeMutableBufferPointer {
                    bicubicResize(source.baseAddress!, inRows: inRows, inCols: inCols, channels: 2, outRows: outRows, outCols: outCols, $0.baseAddress!)
                }
            }
            return out
        }
        #expect(resize(grid, 5, 7, 5, 7) == grid)
        let constant = [Float](repeating: 2.5, count: 5 * 7 * 2)
        for (rows, cols) in [(3, 4), (9, 11)] {
            #expect(resize(constant, 5, 7, rows, cols).allSatisfy { abs($0 - 2.5) <= 1e-5 })
        }
    }

    @Test("causal attention with an offset: query i sees keys 0...offset+i only")
    func causalOffset() {
        // One head of width 1; values are the key index, so the output is a softmax-weighted mean of visible indices.
        let keys: [Float] = [0, 0, 0, 0], values: [Float] = [0, 1, 2, 3], queries: [Float] = [0, 0]
        var out = [Float](repeating: 0, count: 2)
        var scores = [Float](repeating: 0, count: 4)
        let layout = AttentionLayout(heads: 1, kvHeads: 1, headDim: 1, queryStride: 1, keyStride: 1)
        queries.withUnsafeBufferPointer { q in keys.withUnsafeBufferPointer { k in values.withUnsafeBufferPointer { v in
            scores.withUnsafeMutableBufferPointer { s in out.withUnsafeMutableBufferPointer { o in
                attention(q: q.baseAddress!, k: k.baseAddress!, v: v.baseAddress!, queryCount: 2, keyCount: 4, layout: layout,
                          causalOffset: 2, scores: s.baseAddress!, out: o.baseAddress!)
            } }
        } } }
        #expect(abs(out[0] - 1) <= 1e-6)     // mean of 0, 1, 2
        #expect(abs(out[1] - 1.5) <= 1e-6)   // mean of 0, 1, 2, 3
    }
}
