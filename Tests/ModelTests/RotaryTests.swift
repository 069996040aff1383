import Checkpoint
import Foundation
import Models
import Testing
import TestSupport

@Suite("RoPE and dynamic NTK")
struct RotaryTests {
    @Test("inv_freq follows the float32 exponent / double power rule and the table holds cos/sin of float32 angles")
    func tableIsFloat32Angles() throws {
        let llm = try CheckpointStoreLoader.configuration().llm
        let rotary = try RotaryEmbedding(configuration: llm)
        let dim = llm.headDim
        let frequencies = rotary.inverseFrequencies(base: rotary.theta)
        #expect(frequencies.count == dim / 2)
        #expect(frequencies[0] == 1)
        for i in 0..<(dim / 2) {
            let exponent = Double(Float(2 * i) / Float(dim))
            #expect(frequencies[i] == Float(1) / Float(Foundation.pow(1_000_000.0, exponent)))
        }
        // The kernel table the decoder rotates with: cos/sin of the float32 angles Float(t) * invFreq[i].
        let table = try rotary.ropeTable(positions: 30_004, base: rotary.theta)
        #expect(table.positions == 30_004 && table.headDim == dim)
        for t in Array(0..<8) + Array(30_000..<30_004) {
            for i in 0..<(dim / 2) {
                let angle = Float(t) * frequencies[i]   // rounded to float32 before cos/sin, like the reference
                #expect(abs(table.cos[t * dim / 2 + i] - Float(Foundation.cos(Double(angle)))) <= 2e-7)
                #expect(abs(table.sin[t * dim / 2 + i] - Float(Foundation.sin(Double(angle)))) <= 2e-7)
            }
        }
    }

    @Test("dynamic NTK base: unchanged up to max_position_embeddings, then theta * ((f L / max) - (f - 1))^(d/(d-2))")
    func ntkBase() throws {
        var llm = try CheckpointStoreLoader.configuration().llm
        llm.maxPositionEmbeddings = 16
        let rotary = try RotaryEmbedding(configuration: llm)
        #expect(llm.ropeScaling == .dynamic(factor: 2))
        #expect(rotary.base(kvLength: 1) == 1_000_000)
        #expect(rotary.base(kvLength: 16) == 1_000_000)
        for length in [17, 20, 100] {
            let expected = 1_000_000 * Foundation.pow(2.0 * Double(length) / 16.0 - 1.0, 32.0 / 30.0)
            #expect(abs(rotary.base(kvLength: length) - expected) <= 1e-9 * expected)
        }
        #expect(rotary.base(kvLength: 20) > rotary.base(kvLength: 17))
    }

    /// Layer-0 keys computed straight from the checkpoint: RMSNorm of the token embedding, the key rows of the
    /// packed wqkv for each KV group, then rotate-half RoPE at `position` with `base` (all in Double).
    struct ReferenceKeys {
        let embeddings: [Float], norm: [Float], wqkv: [Float]
        let configuration: LanguageModelConfiguration

        init(configuration: LanguageModelConfiguration) throws {
            let store = try CheckpointStoreLoader.store()
            embeddings = try store.tensor("language_model.model.tok_embeddings.weight").floats()
            norm = try store.tensor("language_model.model.layers.0.attention_norm.weight").floats()
            wqkv = try store.tensor("language_model.model.layers.0.attention.wqkv.weight").floats()
            self.configuration = configuration
        }

        func key(token: Int, position: Int, base: Double) -> [Float] {
            let c = configuration
            let h = c.hiddenSize, hd = c.headDim, group = c.groupSize
            let x = (0..<h).map { Double(embeddings[token * h + $0]) }
            let meanSquare = x.reduce(0) { $0 + $1 * $1 } / Double(h)
            let normed = (0..<h).map { x[$0] / (meanSquare + c.rmsNormEpsilon).squareRoot() * Double(norm[$0]) }
            var result: [Float] = []
            for g in 0..<c.kvHeadCount {
                let firstRow = g * (group + 2) * hd + group * hd
                let raw = (0..<hd).map { d in (0..<h).reduce(0.0) { $0 + Double(wqkv[(firstRow + d) * h + $1]) * normed[$1] } }
                for d in 0..<hd {
                    let i = d % (hd / 2)
                    let angle = Double(position) / Foundation.pow(base, Double(2 * i) / Double(hd))
                    let partner = d < hd / 2 ? -raw[d + hd / 2] : raw[d - hd / 2]
                    result.append(Float(raw[d] * Foundation.cos(angle) + partner * Foundation.sin(angle)))
                }
            }
            return result
        }
    }

    @Test("keys get the base of the call that computed them; cached keys keep it; no state carries across requests")
    func ntkRuleOnCachedKeys() throws {
        var llm = try CheckpointStoreLoader.configuration().llm
        llm.maxPositionEmbeddings = 16
        let theta = llm.ropeTheta
        func base(_ kvLength: Int) -> Double {
            kvLength > 16 ? theta * Foundation.pow(2.0 * Double(kvLength) / 16.0 - 1.0, 32.0 / 30.0) : theta
        }
        let stage = try DecoderStage(store: CheckpointStoreLoader.store(), configuration: llm, layers: 0..<1)
        let reference = try ReferenceKeys(configuration: llm)
        let ids = Array(try #require(try goldenSequence("text_only")).inputIDs.prefix(20))
        func check(_ cache: KVCache, position: Int, base: Double, _ label: String) {
            let expected = reference.key(token: ids[position], position: position, base: base)
            let tolerance = 1e-4 * max(1, maxAbs(expected))
            #expect(maxAbsDifference(cache.key(layer: 0, position: position), expected) <= tolerance, "\(label) position \(position)")
        }

        // Request A: prefill 12 (total 12 <= 16: theta), then one token at a time up to 20 positions.
        let incremental = stage.makeCache(capacity: 20)
        _ = try stage.forward(stage.embed(Array(ids.prefix(12))), cache: incremental)
        for p in 12..<20 { _ = try stage.forward(stage.embed([ids[p]]), cache: incremental) }
        for p in 0..<12 { check(incremental, position: p, base: theta, "incremental prompt") }
        for p in 12..<20 { check(incremental, position: p, base: base(p + 1), "incremental decode") }

        // Request B: all 20 at once: every key uses base(20).
        let whole = stage.makeCache(capacity: 20)
        _ = try stage.forward(stage.embed(ids), cache: whole)
        for p in 0..<20 { check(whole, position: p, base: base(20), "one prefill") }
        // The rule matters: the same key differs between the two requests.
        #expect(maxAbsDifference(whole.key(layer: 0, position: 10), incremental.key(layer: 0, position: 10)) > 1e-2)

        // Request C after B on the same stage: short again, so theta again (no sticky scaled table).
        let fresh = stage.makeCache(capacity: 12)
        _ = try stage.forward(stage.embed(Array(ids.prefix(12))), cache: fresh)
        for p in 0..<12 { check(fresh, position: p, base: theta, "fresh request") }
    }
}
