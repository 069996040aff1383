/// SentencePiece BPE encoding (`bpe_model.cc`): split the normalized text into characters (user-defined
/// symbols stay whole and never merge), then repeatedly merge the adjacent pair whose concatenation is the
/// highest-scoring piece (ties: leftmost pair), using a priority queue over a linked list of symbols.
/// Unknown results become byte pieces (byte fallback) or one unknown id per run of unknown symbols.
extension SentencePieceModel {
    /// Encodes `text` into piece ids, without BOS or EOS.
    public func encode(_ text: String) -> [Int] {
        var ids: [Int] = []
        encode(text, into: &ids)
        return ids
    }

    /// Appends the piece ids of `text` to `ids`, without BOS or EOS.
    public func encode(_ text: String, into ids: inout [Int]) {
        var text = text
        text.withUTF8 { utf8 in
            var normalized: [UInt8] = []
            normalized.reserveCapacity(utf8.count + utf8.count / 2 + 3)
            normalize(utf8, into: &normalized)
            normalized.withUnsafeBufferPointer { encodeNormalized($0, into: &ids) }
        }
    }

    /// The piece strings of `text` (what the Python API returns with `out_type=str`).
    public func encodeToPieces(_ text: String) -> [String] {
        encode(text).map { pieceStrings[$0] }
    }

    private struct Symbol {
        var previous: Int32
        var next: Int32
        var start: Int32
        var length: Int32
        var frozen: Bool
    }

    /// Runs BPE over already-normalized UTF-8 and appends the resulting ids.
    func encodeNormalized(_ text: UnsafeBufferPointer<UInt8>, into ids: inout [Int]) {
        guard !text.isEmpty else { return }
        var symbols: [Symbol] = []
        symbols.reserveCapacity(text.count)
        var offset = 0
        while offset < text.count {
            let (length, isUserDefined) = userDefinedSymbols.match(text, at: offset)
            let index = Int32(symbols.count)
            symbols.append(
                Symbol(
                    previous: index - 1, next: offset + length < text.count ? index + 1 : -1,
                    start: Int32(offset), length: Int32(length), frozen: isUserDefined))
            offset += length
        }

        var queue = MergeQueue()
        queue.reserve(symbols.count)
        var reverseMerges: [[UInt8]: ([UInt8], [UInt8])] = [:]

        func addCandidate(_ left: Int32, _ right: Int32) {
            guard left >= 0, right >= 0 else { return }
            let leftSymbol = symbols[Int(left)], rightSymbol = symbols[Int(right)]
            if leftSymbol.frozen || rightSymbol.frozen { return }
            let start = Int(leftSymbol.start)
            let length = Int(leftSymbol.length + rightSymbol.length)
            let span = UnsafeBufferPointer(rebasing: text[start..<(start + length)])
            guard let id = mergeablePieces.lookup(span) else { return }
            queue.push(MergeCandidate(score: scores[Int(id)], left: left, right: right, length: Int32(length)))
            if hasUnusedPieces && types[Int(id)] == .unused {
                let leftEnd = start + Int(leftSymbol.length)
                reverseMerges[Array(span)] = (Array(text[start..<leftEnd]), Array(text[leftEnd..<(start + length)]))
            }
        }

        for index in 1..<symbols.count { addCandidate(Int32(index - 1), Int32(index)) }

        while let top = queue.pop() {
            let left = Int(top.left), right = Int(top.right)
            let leftLength = symbols[left].length, rightLength = symbols[right].length
            // Stale entry: one side was merged away or grew since this pair was queued.
            if leftLength == 0 || rightLength == 0 || leftLength + rightLength != top.length { continue }
            symbols[left].length = leftLength + rightLength
            let after = symbols[right].next
            symbols[left].next = after
            if after >= 0 { symbols[Int(after)].previous = top.left }
            symbols[right].length = 0
            addCandidate(symbols[left].previous, top.left)
            addCandidate(top.left, after)
        }

        var previousWasUnknown = false
        func emit(_ span: UnsafeBufferPointer<UInt8>) {
            let id = pieceID(utf8: span)
            if hasUnusedPieces && types[id] == .unused, let parts = reverseMerges[Array(span)] {
                parts.0.withUnsafeBufferPointer { emit($0) }
                parts.1.withUnsafeBufferPointer { emit($0) }
                return
            }
            let isUnknown = types[id] == .unknown
            if types[id] == .control {
                ids.append(id)
            } else if isUnknown && byteFallback {
                for byte in span { ids.append(Int(byteIDs[Int(byte)])) }
            } else if !(isUnknown && previousWasUnknown) {
                ids.append(id)
            }
            previousWasUnknown = isUnknown
        }
        var index: Int32 = 0
        while index >= 0 {
            let symbol = symbols[Int(index)]
            let start = Int(symbol.start)
            emit(UnsafeBufferPointer(rebasing: text[start..<(start + Int(symbol.length))]))
            index = symbol.next
        }
    }
}

/// One queued merge: the pair (`left`, `right`) whose concatenation (`length` bytes) is a piece with `score`.
struct MergeCandidate {
    var score: Float
    var left: Int32
    var right: Int32
    var length: Int32

    /// SentencePiece's order: higher score first; on equal scores the leftmost pair first.
    @inline(__always)
    func comesBefore(_ other: MergeCandidate) -> Bool {
        score > other.score || (score == other.score && left < other.left)
    }
}

/// A binary max-heap of merge candidates in SentencePiece's order.
struct MergeQueue {
    private var heap: [MergeCandidate] = []

    mutating func reserve(_ capacity: Int) { heap.reserveCapacity(capacity) }

    mutating func push(_ candidate: MergeCandidate) {
        heap.append(candidate)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) >> 1
            if !heap[child].comesBefore(heap[parent]) { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> MergeCandidate? {
        guard let first = heap.first else { return nil }
        let last = heap.removeLast()
        if heap.isEmpty { return first }
        heap[0] = last
        var parent = 0
        let count = heap.count
        while true {
            let left = 2 * parent + 1
            if left >= count { break }
            var best = left
            let right = left + 1
            if right < count && heap[right].comesBefore(heap[left]) { best = right }
            if !heap[best].comesBefore(heap[parent]) { break }
            heap.swapAt(best, parent)
            parent = best
        }
        return first
    }
}
