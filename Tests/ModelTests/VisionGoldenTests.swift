import Foundation
import Models
import Testing
import TestSupport

@Suite("InternViT and projector goldens")
struct VisionGoldenTests {
    /// Hidden-state / vit_embeds tolerance from the fixture README.
    func tolerance(_ reference: [Float]) -> Float { 2e-4 * max(1, maxAbs(reference)) }

    @Test("single_image: every ViT hidden state, last_hidden_state and vit_embeds")
    func singleImage() throws {
        let model = try loadTinyModel()
        let pixels = try golden("arrays/grace_hopper_mn6_pixel_values.npy")
        #expect(pixels.shape == [1, 3, 448, 448])
        let output = try model.vision.forward(pixelValues: pixels.values, tiles: 1, height: 448, width: 448,
                                              selectLayer: model.configuration.selectLayer, keepHiddenStates: true)
        let hiddenStates = try #require(output.hiddenStates)
        let reference = try golden("arrays/single_image_vision_hidden_states.npy")
        #expect(reference.shape == [hiddenStates.count, 1, 1025, 64])
        let size = 1025 * 64
        for (index, state) in hiddenStates.enumerated() {
            let expected = Array(reference.values[(index * size)..<((index + 1) * size)])
            let difference = maxAbsDifference(state, expected)
            #expect(difference <= tolerance(expected), "vision hidden state \(index): max |Δ| \(difference)")
        }
        let last = try golden("arrays/single_image_vision_last_hidden.npy").values
        #expect(maxAbsDifference(output.selected, last) <= tolerance(last))

        let vitEmbeds = try golden("arrays/single_image_vit_embeds.npy")
        #expect(vitEmbeds.shape == [1, 256, 128])
        let projected = try model.projector.forward(output.selected, tiles: 1, gridRows: output.gridRows, gridCols: output.gridCols)
        let difference = maxAbsDifference(projected, vitEmbeds.values)
        #expect(difference <= tolerance(vitEmbeds.values), "vit_embeds max |Δ| \(difference)")
        // The one-call path gives the same result.
        let encoded = try model.encodeImages(pixelValues: pixels.values, tiles: 1, height: 448, width: 448)
        #expect(encoded == projected)
    }

    @Test("vision_interp: 168x252 input, position embedding bicubic-resized 32x32 -> 12x18")
    func interpolatedPositions() throws {
        let model = try loadTinyModel()
        let input = try golden("arrays/vision_interp_input.npy")
        #expect(input.shape == [1, 3, 168, 252])
        let output = try model.vision.forward(pixelValues: input.values, tiles: 1, height: 168, width: 252)
        #expect(output.gridRows == 12 && output.gridCols == 18)
        let reference = try golden("arrays/vision_interp_last_hidden.npy")
        #expect(reference.shape == [1, 217, 64])
        let difference = maxAbsDifference(output.selected, reference.values)
        #expect(difference <= 5e-4, "vision_interp_last_hidden max |Δ| \(difference)")
    }

    @Test("the bicubic resize of the position table is the identity at the native 32x32 grid")
    func nativeGridIdentity() throws {
        let model = try loadTinyModel()
        let side = model.configuration.vision.patchesPerSide
        let store = try CheckpointStoreLoader.store()
        let stored = try store.tensor("vision_model.embeddings.position_embedding").floats()
        let resized = model.vision.resizedPositionTable(gridRows: side, gridCols: side)
        #expect(resized == stored)
    }

    @Test("pixel values with a size that is not a multiple of the patch are refused with the shape in the message")
    func badPixelShape() throws {
        let model = try loadTinyModel()
        #expect(throws: ModelError.self) {
            _ = try model.vision.forward(pixelValues: [Float](repeating: 0, count: 3 * 20 * 28), tiles: 1, height: 20, width: 28)
        }
        do {
            _ = try model.encodeImages(pixelValues: [Float](repeating: 0, count: 10), tiles: 1, height: 448, width: 448)
            Issue.record("expected an error")
        } catch let error as ModelError {
            #expect(error.description.contains("pixel_values"))
        }
    }
}
