import Foundation
import Models
import Checkpoint
import TestSupport

/// Largest |a[i] - b[i]|; infinity when the counts differ.
func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count else { return .infinity }
    var worst: Float = 0
    for i in a.indices { worst = max(worst, abs(a[i] - b[i])) }
    return worst
}

/// Largest |value|.
func maxAbs(_ a: [Float]) -> Float { a.reduce(0) { max($0, abs($1)) } }

/// A golden array of the tiny fixture set, by its path relative to the set (e.g. `arrays/x.npy`).
func golden(_ relativePath: String) throws -> NumpyArray {
    try NumpyArray(url: Fixtures.tiny.appendingPathComponent(relativePath))
}

/// The decoded `manifest.json` of the tiny set.
func goldenManifest() throws -> [String: Any] { try Fixtures.manifest() }

/// The tiny model, loaded fresh (a model is not shared between concurrently running tests).
func loadTinyModel() throws -> InternVLModel {
    try InternVLModel(directory: Fixtures.tinyModel)
}

/// One sequence the LLM goldens describe: a chat round, or one row of the left-padded batch case with its padding
/// removed (positions then start at 0 at its first real token, as in the reference).
struct GoldenSequence {
    var tag: String
    var inputIDs: [Int]
    /// The vit_embeds rows spliced into this sequence, in order.
    var imageEmbeddings: [Float]
    var prefillLogitsLast: [Float]
    /// [n, vocab] when the golden has every prompt position.
    var prefillLogitsAll: [Float]?
    /// Per generated token, the logits that produced it.
    var stepLogits: [[Float]]
    var generatedIDs: [Int]
    var stepTop1: [Int]
    var stepMargin: [Double]
}

/// The golden constants every LLM test needs.
struct GoldenVocabulary {
    var imageContext: Int
    var chatEOS: Int
    var vocabularySize: Int

    static func load() throws -> GoldenVocabulary {
        let vocab = try goldenManifest()["vocab"] as! [String: Any]
        return GoldenVocabulary(imageContext: vocab["img_context"] as! Int, chatEOS: vocab["chat_eos"] as! Int,
                                vocabularySize: vocab["total"] as! Int)
    }
}

/// Every chat round and batch row of the manifest, by tag (`<case>`, `<case>_r<round>`, `<case>_row<b>`).
func goldenSequences() throws -> [String: GoldenSequence] {
    let manifest = try goldenManifest()
    let vocabulary = try GoldenVocabulary.load()
    let vocab = vocabulary.vocabularySize
    var result: [String: GoldenSequence] = [:]
    for chatCase in manifest["chat_cases"] as! [[String: Any]] {
        let name = chatCase["name"] as! String
        let caseArrays = chatCase["arrays"] as? [String: String] ?? [:]
        let rounds = (chatCase["rounds"] as? [[String: Any]]) ?? [chatCase]
        for round in rounds {
            let arrays = round["arrays"] as! [String: String]
            let inputRows = round["input_ids"] as! [[Int]]
            let masks = round["attention_mask"] as! [[Int]]
            let generatedRows = round["generated_ids"] as! [[Int]]
            let top1 = round["step_top1"] as! [[Int]]
            let margins = round["step_margin"] as! [[Double]]
            let prefillLast = try golden(arrays["prefill_logits_last"]!).values
            let steps = try golden(arrays["step_logits"]!)
            let prefillAll = try arrays["prefill_logits_all"].map { try golden($0).values }
            let vitPath = arrays["vit_embeds"] ?? caseArrays["vit_embeds"]
            let vitEmbeds = try vitPath.map { try golden($0) }
            let hidden = vitEmbeds?.shape.last ?? 0
            var vitRow = 0
            let batch = inputRows.count
            for b in 0..<batch {
                let ids = zip(inputRows[b], masks[b]).filter { $0.1 == 1 }.map(\.0)
                let contextCount = ids.filter { $0 == vocabulary.imageContext }.count
                var images: [Float] = []
                if contextCount > 0, let vitEmbeds {
                    images = Array(vitEmbeds.values[(vitRow * hidden)..<((vitRow + contextCount) * hidden)])
                    vitRow += contextCount
                }
                let generated = generatedRows[b]
                let stepCount = generated.count
                let tag: String
                if batch > 1 { tag = "\(name)_row\(b)" } else if rounds.count > 1 { tag = round["tag"] as! String } else { tag = name }
                let stepLogits = (0..<stepCount).map { k in
                    Array(steps.values[((k * batch + b) * vocab)..<((k * batch + b + 1) * vocab)])
                }
                result[tag] = GoldenSequence(
                    tag: tag, inputIDs: ids, imageEmbeddings: images,
                    prefillLogitsLast: Array(prefillLast[(b * vocab)..<((b + 1) * vocab)]),
                    prefillLogitsAll: batch == 1 ? prefillAll : nil,
                    stepLogits: stepLogits, generatedIDs: generated,
                    stepTop1: top1.prefix(stepCount).map { $0[b] }, stepMargin: margins.prefix(stepCount).map { $0[b] })
            }
        }
    }
    return result
}

/// `goldenSequences()` read once per test process (global lets are initialised lazily and thread-safely).
private let cachedGoldenSequences = Result { try goldenSequences() }

/// The golden sequence `tag`, from the shared cache.
func goldenSequence(_ tag: String) throws -> GoldenSequence? {
    try cachedGoldenSequences.get()[tag]
}
