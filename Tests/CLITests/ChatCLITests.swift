import Foundation
import Testing
import TestSupport

/// `internvl chat` driven through stdin, as a person types.
@Suite struct ChatCLITests {
    @Test func twoRoundsWithAnImageMatchTheGoldenPrompt() throws {
        // The image_two_round case: round 1 asks about the image, round 2 follows up; greedy.
        let manifest = try Fixtures.manifest()
        let golden = (manifest["chat_cases"] as! [[String: Any]]).first { $0["name"] as? String == "image_two_round" }!
        let rounds = golden["rounds"] as! [[String: Any]]
        let image = (golden["images"] as! [[String: Any]])[0]
        let path = Fixtures.tiny.appendingPathComponent("images/\(image["image"] as! String).png").path
        let maxTiles = image["max_num"] as! Int
        // chat() prepends "<image>\n" itself on the first round with an image; a typed line has no newline.
        let questions = rounds.map { ($0["question"] as! String).replacingOccurrences(of: "<image>\n", with: "") }
        let maxNew = (golden["generation_config"] as! [String: Any])["max_new_tokens"] as! Int
        let input = "/image \(path)\n" + questions.joined(separator: "\n") + "\n/quit\n"
        let result = try CLIRunner.run(["chat", "-m", Fixtures.tinyModel.path, "--max-tiles", String(maxTiles), "-n", String(maxNew)],
                                       stdin: Data(input.utf8))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("(attached \(path)"))
        // Each reply is printed on its own line, equal to the reference chat() response of that round.
        for round in rounds {
            let response = round["response"] as! String
            #expect(result.stdout.contains(response), "round reply \(response.debugDescription) in \(result.stdout.debugDescription)")
        }
        #expect(result.stderr.components(separatedBy: "prompt tokens").count == 3, "two rounds answered")
    }

    @Test func badImageFailsTheTurnOnly() throws {
        let directory = try Fixtures.temporaryDirectory("chat")
        let bad = directory.appendingPathComponent("bad.png")
        try Data([0x89, 0x50, 0x4E, 0x47, 1, 2, 3]).write(to: bad)
        let input = "/image \(bad.path)\nWhat is this?\nHello\n"
        let result = try CLIRunner.run(["chat", "-m", Fixtures.tinyModel.path, "-n", "3"], stdin: Data(input.utf8))
        #expect(result.status == 0)
        #expect(result.stdout.contains("(error: ") && result.stdout.contains("bad.png"))
        #expect(result.stderr.contains("prompt tokens"), "the next question is still answered")
    }
}
