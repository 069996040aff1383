/// Several prompts tokenized together and left-padded to one length, as `batch_chat()` does with
/// `padding_side='left'`.
public struct PaddedBatch: Sendable, Equatable {
    /// One row of ids per prompt, padded on the left with the pad id.
    public var inputIDs: [[Int]]
    /// 0 over the padding, 1 over the prompt.
    public var attentionMask: [[Int]]
}

extension InternLM2Tokenizer {
    /// Encodes `texts` (with BOS) and left-pads them with `padID` to the longest.
    public func encodeBatch(_ texts: [String]) -> PaddedBatch {
        let rows = texts.map { encode($0) }
        let length = rows.map(\.count).max() ?? 0
        return PaddedBatch(
            inputIDs: rows.map { [Int](repeating: padID, count: length - $0.count) + $0 },
            attentionMask: rows.map { [Int](repeating: 0, count: length - $0.count) + [Int](repeating: 1, count: $0.count) })
    }

    /// The reply text `chat()` returns for generated ids: decoded with special tokens skipped, cut at the
    /// template's stop token and stripped.
    public func chatResponse(generatedIDs: [Int], template: ChatTemplate = .internLM2Chat) throws -> String {
        template.extractResponse(fromDecoded: try decode(generatedIDs, skipSpecialTokens: true))
    }
}
