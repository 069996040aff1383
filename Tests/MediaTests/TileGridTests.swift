import Foundation
import Testing
@testable import Media

/// Grid choice (`find_closest_aspect_ratio`) and candidate order.
@Suite struct TileGridTests {
    @Test func everyAspectRatioGridEntryMatches() throws {
        let cases = FixtureFiles.manifest.aspect_ratio_grid
        #expect(cases.count > 1000)
        var mismatches: [String] = []
        for entry in cases {
            let tiling = try DynamicTiling(minTiles: entry.min_num, maxTiles: entry.max_num, imageSize: entry.image_size)
            let grid = tiling.closestGrid(width: entry.width, height: entry.height)
            if grid != TileGrid(columns: entry.chosen[0], rows: entry.chosen[1]) || grid.tileCount != entry.chosen[0] * entry.chosen[1] {
                mismatches.append("\(entry.width)x\(entry.height) max \(entry.max_num): got \(grid), want \(entry.chosen)")
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches: \(mismatches.prefix(5))")
    }

    @Test func candidateOrderEqualsManifestTable() throws {
        for maxTiles in 1...40 {
            let want = try #require(FixtureFiles.manifest.target_ratio_order[String(maxTiles)])
            let got = try DynamicTiling(maxTiles: maxTiles).candidateGrids.map { [$0.columns, $0.rows] }
            #expect(got == want, "max_num \(maxTiles)")
        }
    }

    @Test func pythonSetEmulationReproducesManifestTable() throws {
        for maxTiles in 1...40 {
            let want = try #require(FixtureFiles.manifest.target_ratio_order[String(maxTiles)])
            let got = DynamicTiling.pythonCandidateOrder(minTiles: 1, maxTiles: maxTiles).map { [$0.0, $0.1] }
            #expect(got == want, "max_num \(maxTiles)")
        }
    }

    struct SetOrderCases: Decodable {
        struct Case: Decodable {
            let min_num: Int
            let max_num: Int
            let order: [[Int]]
        }
        let python: String
        let cases: [Case]
    }

    /// min_num > 1 orders recorded from CPython 3.11 (Scripts/generate_python_set_orders.py).
    @Test func pythonSetEmulationMatchesCPythonForLargerMinimum() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: FixtureFiles.resource("python_set_orders.json")))
        let recorded = try JSONDecoder().decode(SetOrderCases.self, from: data)
        #expect(recorded.python.hasPrefix("3.11"))
        #expect(recorded.cases.count > 50)
        for entry in recorded.cases {
            let got = try DynamicTiling(minTiles: entry.min_num, maxTiles: entry.max_num).candidateGrids
                .map { [$0.columns, $0.rows] }
            #expect(got == entry.order, "min \(entry.min_num) max \(entry.max_num)")
        }
    }

    @Test func modelSpecExamples() throws {
        let twelve = try DynamicTiling(maxTiles: 12)
        let six = try DynamicTiling(maxTiles: 6)
        #expect(twelve.closestGrid(width: 448, height: 448) == TileGrid(columns: 1, rows: 1))
        #expect(twelve.closestGrid(width: 1000, height: 1000) == TileGrid(columns: 3, rows: 3))
        #expect(six.closestGrid(width: 1000, height: 1000) == TileGrid(columns: 2, rows: 2))
        #expect(six.closestGrid(width: 600, height: 90) == TileGrid(columns: 6, rows: 1))
        #expect(twelve.closestGrid(width: 600, height: 90) == TileGrid(columns: 7, rows: 1))
        #expect(six.closestGrid(width: 512, height: 600) == TileGrid(columns: 1, rows: 1))
        #expect(twelve.closestGrid(width: 512, height: 600) == TileGrid(columns: 3, rows: 4))
    }

    @Test func thumbnailOnlyWhenMoreThanOneTile() throws {
        let image = RGBImage(width: 448, height: 448)
        #expect(try DynamicTiling(maxTiles: 12).tiles(of: image).tiles.count == 1)
        let wide = RGBImage(width: 900, height: 448)
        let (grid, tiles) = try DynamicTiling(maxTiles: 12).tiles(of: wide)
        #expect(grid == TileGrid(columns: 2, rows: 1))
        #expect(tiles.count == 3)
        #expect(try DynamicTiling(maxTiles: 12, useThumbnail: false).tiles(of: wide).tiles.count == 2)
    }

    @Test func modelCardDefaults() {
        let tiling = DynamicTiling.modelCard
        #expect(tiling.minTiles == 1 && tiling.maxTiles == 12 && tiling.imageSize == 448 && tiling.useThumbnail)
    }

    @Test func parametersOutsideRangeAreRejected() {
        #expect(throws: MediaError.invalidParameter(name: "maxTiles", value: 0, allowed: 1...40)) {
            try DynamicTiling(maxTiles: 0)
        }
        #expect(throws: MediaError.invalidParameter(name: "maxTiles", value: 41, allowed: 1...40)) {
            try DynamicTiling(maxTiles: 41)
        }
        #expect(throws: MediaError.invalidParameter(name: "minTiles", value: 7, allowed: 1...6)) {
            try DynamicTiling(minTiles: 7, maxTiles: 6)
        }
        let message = MediaError.invalidParameter(name: "maxTiles", value: 41, allowed: 1...40).description
        #expect(message == "maxTiles = 41 is outside 1...40")
    }
}
