import Foundation
import Testing
import TestSupport

/// `internvl run` against the reference goldens, exactly as outside tests drive it (DESIGN.md section 6).
@Suite struct RunCLITests {
    struct Case {
        var name: String
        var question: String
        var images: [String]
        var maxTiles: Int?
        var maxNewTokens: Int
        var promptIDs: [Int]
        var generatedIDs: [Int]
        /// Steps before the first golden near-tie (margin < 1e-3): tokens must match up to here.
        var decisiveSteps: Int
    }

    /// The single-round cases `run` can express (the same selection as shared/tools/check_cli.py).
    static func cases() throws -> [Case] {
        let manifest = try Fixtures.manifest()
        var result: [Case] = []
        for raw in manifest["chat_cases"] as! [[String: Any]] {
            let kind = raw["kind"] as! String
            guard kind == "chat" || kind == "video" else { continue }
            let images = raw["images"] as! [[String: Any]]
            let maxNums = Set(images.map { $0["max_num"] as! Int })
            guard maxNums.count <= 1 else { continue }
            if images.count > 1 && kind == "chat" && raw["num_patches_list_arg"] is NSNull { continue }
            let paths = images.map { image in
                Fixtures.tiny.appendingPathComponent((image["frame_file"] as? String) ?? "images/\(image["image"] as! String).png").path
            }
            let margins = (raw["step_margin"] as! [Any]).map { ($0 as? [Double])?.first ?? ($0 as! Double) }
            let promptIDs = raw["input_ids"] as! [Any]
            result.append(Case(
                name: raw["name"] as! String, question: raw["question"] as! String, images: paths,
                maxTiles: maxNums.first, maxNewTokens: (raw["generation_config"] as! [String: Any])["max_new_tokens"] as! Int,
                promptIDs: (promptIDs.first as? [Int]) ?? (promptIDs as! [Int]),
                generatedIDs: (raw["generated_ids"] as! [[Int]])[0],
                decisiveSteps: margins.firstIndex { $0 < 1e-3 } ?? margins.count))
        }
        return result
    }

    func run(_ arguments: [String]) throws -> [String: Any] {
        let result = try CLIRunner.run(["run", "-m", Fixtures.tinyModel.path, "--greedy", "--json"] + arguments)
        #expect(result.status == 0, "\(result.stderr)")
        let line = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
        return try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
    }

    @Test func everyChatCaseIsTokenExact() throws {
        let cases = try Self.cases()
        #expect(cases.count >= 5, "text, single image, auto prefix, two images, video")
        for golden in cases {
            var arguments = ["-p", golden.question, "-n", String(golden.maxNewTokens)]
            for image in golden.images { arguments += ["--image", image] }
            if let maxTiles = golden.maxTiles { arguments += ["--max-tiles", String(maxTiles)] }
            let output = try run(arguments)
            #expect(output["prompt_ids"] as? [Int] == golden.promptIDs, "\(golden.name): prompt ids")
            let ids = output["ids"] as? [Int] ?? []
            #expect(Array(ids.prefix(golden.decisiveSteps)) == Array(golden.generatedIDs.prefix(golden.decisiveSteps)),
                    "\(golden.name): tokens")
        }
    }

    /// Writes a 40-frame, 10 fps lossless video whose frames 2, 7, 12, ..., 36 are the golden frames of the video
    /// case (the rest repeat the nearest one) and returns its path. Fails the test if ffmpeg cannot build it.
    static func makeVideoOfTheVideoCase(_ golden: Case) throws -> String {
        let directory = try Fixtures.temporaryDirectory("video")
        let sources = [2, 7, 12, 17, 22, 26, 31, 36]
        for frame in 0..<40 {
            let nearest = sources.enumerated().min { abs($0.element - frame) < abs($1.element - frame) }!.offset
            try FileManager.default.copyItem(atPath: golden.images[nearest],
                                             toPath: directory.appendingPathComponent(String(format: "f%02d.png", frame)).path)
        }
        let video = directory.appendingPathComponent("clip.mkv").path
        let ffmpeg = Process()
        ffmpeg.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        ffmpeg.arguments = ["ffmpeg", "-loglevel", "error", "-y", "-framerate", "10", "-i",
                            directory.appendingPathComponent("f%02d.png").path, "-c:v", "ffv1", "-pix_fmt", "bgr0", video]
        try ffmpeg.run()
        ffmpeg.waitUntilExit()
        #expect(ffmpeg.terminationStatus == 0, "ffmpeg (Debian package ffmpeg, installed by Scripts/install-deps.sh) must build the test video")
        return video
    }

    /// `--video` on that video must sample exactly the golden frames with the model card's get_index and reproduce
    /// the video case.
    @Test func videoFileReproducesTheVideoCase() throws {
        let golden = try #require(try Self.cases().first { $0.name == "video_8_frames" })
        let video = try Self.makeVideoOfTheVideoCase(golden)
        let question = golden.question.components(separatedBy: "\n").last!
        let output = try run(["--video", video, "--frames", "8", "-p", question, "-n", String(golden.maxNewTokens)])
        #expect(output["prompt_ids"] as? [Int] == golden.promptIDs)
        let ids = output["ids"] as? [Int] ?? []
        #expect(Array(ids.prefix(golden.decisiveSteps)) == Array(golden.generatedIDs.prefix(golden.decisiveSteps)))
    }

    func expectInputError(_ arguments: [String], mentioning words: [String]) throws {
        let result = try CLIRunner.run(["run", "-m", Fixtures.tinyModel.path, "-p", "Describe.", "-n", "2"] + arguments)
        #expect(result.status == 2, "\(arguments): \(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "one line: \(result.stderr)")
        for word in words { #expect(result.stderr.contains(word), "\(word) in \(result.stderr)") }
    }

    @Test func badInputExitsTwoWithOneLine() throws {
        let directory = try Fixtures.temporaryDirectory("bad-images")
        let corrupt = directory.appendingPathComponent("corrupt.png")
        var bytes = [UInt8](try Data(contentsOf: Fixtures.tiny.appendingPathComponent("images/chelsea.png")))
        bytes = Array(bytes.prefix(bytes.count / 3))
        try Data(bytes).write(to: corrupt)
        let empty = directory.appendingPathComponent("empty.jpg")
        try Data().write(to: empty)
        let grace = Fixtures.tiny.appendingPathComponent("images/grace_hopper.png").path
        try expectInputError(["--image", corrupt.path], mentioning: ["corrupt.png"])
        try expectInputError(["--image", empty.path], mentioning: ["empty.jpg"])
        try expectInputError(["--image", directory.appendingPathComponent("missing.png").path], mentioning: ["missing.png"])
        try expectInputError(["--image", grace, "--max-image-pixels", "1000"], mentioning: ["grace_hopper.png", "1000"])
        try expectInputError(["--image", grace, "--max-prompt-tokens", "100"], mentioning: ["100", "max_prompt_tokens"])
        try expectInputError(["--max-tiles", "41"], mentioning: ["--max-tiles"])
        try expectInputError(["--video", directory.appendingPathComponent("none.mp4").path], mentioning: ["none.mp4"])
        try expectInputError(["--precision", "bf16"], mentioning: ["--precision", "bf16", "exact, fast"])
    }

    /// `--precision fast` (activations rounded where faster) answers an image case: the prompt is the reference's to
    /// the token (tokenization and tiling do not depend on it) and generation runs to its limit or an end token.
    @Test func fastPrecisionAnswersAnImageCase() throws {
        let golden = try #require(try Self.cases().first { !$0.images.isEmpty })
        var arguments = ["-p", golden.question, "-n", String(golden.maxNewTokens), "--precision", "fast"]
        for image in golden.images { arguments += ["--image", image] }
        if let maxTiles = golden.maxTiles { arguments += ["--max-tiles", String(maxTiles)] }
        let output = try run(arguments)
        #expect(output["prompt_ids"] as? [Int] == golden.promptIDs)
        let ids = output["ids"] as? [Int] ?? []
        #expect(!ids.isEmpty && ids.count <= golden.maxNewTokens + 1, "\(ids)")
    }
}
