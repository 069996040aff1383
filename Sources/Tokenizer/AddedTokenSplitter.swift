/// Splits text on added-token strings before SentencePiece sees it, like transformers' slow tokenizer
/// (`tokens_trie.split` then the `lstrip`/`rstrip`/`single_word` fix-ups of `PreTrainedTokenizer.tokenize`).
///
/// Matching is leftmost, and longest among the tokens that start at the same position.
struct AddedTokenSplitter: Sendable {
    /// A piece of the input: plain text for SentencePiece, or an added token.
    enum Fragment: Equatable {
        case text(String)
        case token(AddedToken)
    }

    private let tokens: [AddedToken]
    private let tokenUTF8: [[UInt8]]
    /// Token indices grouped by first byte, longest first.
    private let candidatesByFirstByte: [[Int]]

    init(tokens: [AddedToken]) {
        let usable = tokens.filter { !$0.content.isEmpty }
        self.tokens = usable
        let utf8 = usable.map { Array($0.content.utf8) }
        tokenUTF8 = utf8
        var groups = [[Int]](repeating: [], count: 256)
        for (index, bytes) in utf8.enumerated() { groups[Int(bytes[0])].append(index) }
        for slot in groups.indices {
            groups[slot].sort { (utf8[$0].count, $1) > (utf8[$1].count, $0) }
        }
        candidatesByFirstByte = groups
    }

    /// Splits `text` into fragments; empty text fragments are dropped.
    func split(_ text: String) -> [Fragment] {
        guard !tokens.isEmpty else { return text.isEmpty ? [] : [.text(text)] }
        var pieces: [Fragment] = []
        var text = text
        text.withUTF8 { utf8 in
            var fragmentStart = 0
            var position = 0
            while position < utf8.count {
                if let match = longestMatch(utf8, at: position) {
                    if position > fragmentStart {
                        pieces.append(.text(String(decoding: utf8[fragmentStart..<position], as: UTF8.self)))
                    }
                    pieces.append(.token(tokens[match]))
                    position += tokenUTF8[match].count
                    fragmentStart = position
                } else {
                    position += 1
                }
            }
            if fragmentStart < utf8.count {
                pieces.append(.text(String(decoding: utf8[fragmentStart...], as: UTF8.self)))
            }
        }
        return Self.applyStripping(pieces)
    }

    private func longestMatch(_ utf8: UnsafeBufferPointer<UInt8>, at position: Int) -> Int? {
        let remaining = utf8.count - position
        for index in candidatesByFirstByte[Int(utf8[position])] {
            let bytes = tokenUTF8[index]
            guard bytes.count <= remaining else { continue }
            var equal = true
            var offset = 1
            while offset < bytes.count {
                if utf8[position + offset] != bytes[offset] { equal = false; break }
                offset += 1
            }
            if equal { return index }
        }
        return nil
    }

    /// transformers' whitespace handling around added tokens with `lstrip`, `rstrip` or `single_word`.
    private static func applyStripping(_ input: [Fragment]) -> [Fragment] {
        guard input.contains(where: {
            if case .token(let token) = $0 { return token.lstrip || token.rstrip || token.singleWord }
            return false
        }) else { return input }
        // Work on (text, token?) pairs so a token can be merged into its neighbour like the reference does.
        var items: [(text: String, token: AddedToken?)] = input.map {
            switch $0 {
            case .text(let text): return (text, nil)
            case .token(let token): return (token.content, token)
            }
        }
        for index in items.indices {
            guard let token = items[index].token else { continue }
            let hasLeft = index > 0 && !items[index - 1].text.isEmpty
            let hasRight = index + 1 < items.count && !items[index + 1].text.isEmpty
            if token.rstrip && hasRight {
                items[index + 1].text = PythonStringSemantics.lstrip(items[index + 1].text)
            }
            if token.lstrip && hasLeft {
                items[index - 1].text = PythonStringSemantics.rstrip(items[index - 1].text)
            }
            let leftText = index > 0 ? items[index - 1].text : ""
            let rightText = index + 1 < items.count ? items[index + 1].text : ""
            if token.singleWord && !leftText.isEmpty && leftText.last != " " {
                items[index - 1].text += items[index].text
                items[index - 1].token = nil
                items[index].text = ""
            } else if token.singleWord && !rightText.isEmpty && rightText.first != " " {
                items[index].text += rightText
                items[index].token = nil
                items[index + 1].text = ""
            }
        }
        return items.compactMap { item in
            guard !item.text.isEmpty else { return nil }
            if let token = item.token, token.content == item.text { return .token(token) }
            return .text(item.text)
        }
    }
}
