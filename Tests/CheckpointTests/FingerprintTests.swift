import Checkpoint
import Foundation
import Testing
import TestSupport

@Suite struct FingerprintTests {
    @Test func sha256MatchesTheStandardVectors() {
        #expect(SHA256.hex(Array("".utf8)) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex([UInt8](repeating: 0x61, count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func fingerprintFollowsConfigAndLayout() throws {
        let first = try ModelFingerprint.compute(directory: Fixtures.tinyModel)
        #expect(first.count == 64)
        #expect(try ModelFingerprint.compute(directory: Fixtures.tinyModel) == first)
        let copy = try Fixtures.temporaryDirectory().appendingPathComponent("model")
        try FileManager.default.copyItem(at: Fixtures.tinyModel, to: copy)
        #expect(try ModelFingerprint.compute(directory: copy) == first, "same files, same fingerprint")
        let config = copy.appendingPathComponent("config.json")
        let text = try String(contentsOf: config, encoding: .utf8).replacingOccurrences(of: "\"rms_norm_eps\": 1e-05", with: "\"rms_norm_eps\": 1e-06")
        try text.write(to: config, atomically: true, encoding: .utf8)
        #expect(try ModelFingerprint.compute(directory: copy) != first)
    }
}
