import Foundation
import Tokenizer

/// Builds a working SentencePiece BPE `tokenizer.model` of a given size with the InternLM2 layout: `<unk>`, `<s>`,
/// `</s>`, the 256 byte-fallback pieces, single characters, whole English words reachable by left-to-right merges
/// (every prefix of "▁word" is a piece), unused filler pieces up to the size, and the 6 chat tokens last.
/// Normalizer settings are InternLM2's (identity, no dummy prefix, whitespace kept).
enum TokenizerModelBuilder {
    static let characters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?'\"()[]{}-_/\\@#$%&*+=<>|~`^")
        .map(String.init)

    static let words = """
        the of and to in is was for that with as on by it at from this be are an or which his not but had have he
        they were their one all has more been its also first new other who two her can after there some into time
        would only most over when these many then such them may she made year where about up out than between years
        used under city states world during later known part united people while state both well through three
        before high however being since including school war because each several same around early national
        image picture photo shows showing shown left right top bottom front back center middle small large big
        little red green blue yellow black white gray brown orange purple pink color colors man woman person people
        child dog cat bird car tree sky water sun light dark street building house room table chair window door
        road field grass flower animal standing sitting walking holding wearing looking near next behind above
        below inside outside background foreground describe description detail details what how why who caption
        answer question text read sign number letter word page book screen logo rocket coffee cup camera hat
        scientist officer woman uniform portrait tall wide frame video scene first second third final please
        thank you hello yes no good bad very really just like make see look give take
        """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)

    /// A serialized ModelProto with exactly `pieceCount` pieces (the last 6 being the chat tokens).
    static func build(pieceCount: Int) throws -> Data {
        precondition(pieceCount >= 3 + 256 + 6 + characters.count + 1, "too few pieces for a working tokenizer")
        var model = Sentencepiece_ModelProto()
        var seen = Set<String>()
        func add(_ text: String, score: Float, type: Sentencepiece_ModelProto.SentencePiece.TypeEnum) {
            guard seen.insert(text).inserted else { return }
            var piece = Sentencepiece_ModelProto.SentencePiece()
            piece.piece = text
            piece.score = score
            piece.type = type
            model.pieces.append(piece)
        }
        add("<unk>", score: 0, type: .unknown)
        add("<s>", score: 0, type: .control)
        add("</s>", score: 0, type: .control)
        for byte in 0..<256 { add(String(format: "<0x%02X>", byte), score: 0, type: .byte) }
        let normalBudget = pieceCount - 6
        var score: Float = -1
        func addNormal(_ text: String) {
            guard model.pieces.count < normalBudget else { return }
            add(text, score: score, type: .normal)
            score -= 1
        }
        addNormal("▁")
        for character in characters { addNormal(character) }
        for word in words {
            let full = Array("▁" + word)
            for length in 2...full.count { addNormal(String(full[0..<length])) }
        }
        var filler = 0
        while model.pieces.count < normalBudget {
            add("<unused\(filler)>", score: 0, type: .unused)
            filler += 1
        }
        for token in ModelConfigWriter.chatTokens { add(token, score: 0, type: .userDefined) }

        var trainer = Sentencepiece_TrainerSpec()
        trainer.modelType = .bpe
        trainer.vocabSize = Int32(pieceCount)
        trainer.byteFallback = true
        trainer.unkID = 0
        trainer.bosID = 1
        trainer.eosID = 2
        trainer.padID = -1
        model.trainerSpec = trainer
        var normalizer = Sentencepiece_NormalizerSpec()
        normalizer.name = "identity"
        normalizer.addDummyPrefix = false
        normalizer.removeExtraWhitespaces = false
        normalizer.escapeWhitespaces = true
        model.normalizerSpec = normalizer
        return try model.serializedData()
    }
}
