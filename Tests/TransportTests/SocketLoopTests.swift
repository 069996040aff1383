import Foundation
import Testing
import Transport
import Wire

/// Real ZeroMQ sockets over TCP loopback.
@Suite struct SocketLoopTests {
    /// A ROUTER bound on an ephemeral loopback port and a DEALER connected to it, each on its own I/O loop.
    func makePair() throws -> (router: SocketLoop, dealer: SocketLoop) {
        let router = try ZMQSocket(.router)
        try router.bind("tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint()
        let dealer = try ZMQSocket(.dealer)
        try dealer.setRoutingID("worker-a")
        try dealer.connect(endpoint)
        return (SocketLoop(socket: router, name: "test-router"), SocketLoop(socket: dealer, name: "test-dealer"))
    }

    @Test func dealerToRouterCarriesEnvelopeAndTensorFrames() async throws {
        let (router, dealer) = try makePair()
        defer { router.stop(); dealer.stop() }

        let hidden: [Float] = (0..<(3 * 5)).map { Float($0) * 0.5 - 3 }
        var frames: [ZMQFrame] = []
        let reference = hidden.withUnsafeBufferPointer { TensorFrames.append($0.baseAddress!, rows: 3, columns: 5, to: &frames) }
        var batch = Internvl_V1_ForwardBatch()
        batch.batchID = 42
        batch.hiddenStates = reference
        var chunk = Internvl_V1_SequenceChunk()
        chunk.sequenceID = 7
        chunk.tokenIds = [1, 2, 3]
        batch.chunks = [chunk]
        dealer.send(try WireMessage(.forwardBatch(batch), tensorFrames: frames).frames())

        var iterator = router.incoming.makeAsyncIterator()
        let received = try #require(await iterator.next())
        #expect(String(decoding: received[0].bytes, as: UTF8.self) == "worker-a", "ROUTER prepends the routing id")
        let message = try WireMessage.decode(received, skip: 1)
        guard case .forwardBatch(let got) = message.envelope.body else {
            Issue.record("wrong body \(String(describing: message.envelope.body))")
            return
        }
        #expect(got.batchID == 42 && got.chunks.first?.tokenIds == [1, 2, 3])
        var decoded = [Float](repeating: .nan, count: hidden.count)
        try decoded.withUnsafeMutableBufferPointer {
            try TensorFrames.read(got.hiddenStates, from: message.tensorFrames, into: $0.baseAddress!)
        }
        #expect(decoded == hidden)

        // And back: the router answers through the routing id.
        var tokens = Internvl_V1_SampledTokens()
        tokens.batchID = 42
        router.send([received[0]] + (try WireMessage(.sampledTokens(tokens)).frames()))
        var dealerIterator = dealer.incoming.makeAsyncIterator()
        let reply = try WireMessage.decode(try #require(await dealerIterator.next()))
        guard case .sampledTokens(let answer) = reply.envelope.body else {
            Issue.record("wrong reply")
            return
        }
        #expect(answer.batchID == 42)
    }

    @Test func manyMessagesArriveInOrder() async throws {
        let (router, dealer) = try makePair()
        defer { router.stop(); dealer.stop() }
        let count = 2000
        for i in 0..<count {
            var heartbeat = Internvl_V1_Heartbeat()
            heartbeat.activeSequences = UInt32(i)
            dealer.send(try WireMessage(.heartbeat(heartbeat)).frames())
        }
        var seen = 0
        for await frames in router.incoming {
            let message = try WireMessage.decode(frames, skip: 1)
            guard case .heartbeat(let heartbeat) = message.envelope.body else { break }
            #expect(heartbeat.activeSequences == UInt32(seen))
            seen += 1
            if seen == count { break }
        }
        #expect(seen == count)
    }

    @Test func stopReturnsPromptlyWithoutAPeer() throws {
        let dealer = try ZMQSocket(.dealer)
        try dealer.connect("tcp://127.0.0.1:1") // nobody listens there
        let loop = SocketLoop(socket: dealer)
        loop.send([ZMQFrame(Array("queued but undeliverable".utf8))])
        let start = Date()
        loop.stop()
        #expect(Date().timeIntervalSince(start) < 5, "LINGER 0: stop does not wait for the unreachable peer")
    }
}
