import Benchmarks
import Testing

/// The records `internvl bench kernels` prints: the roofline of decode matmuls and the JSON line shape.
@Suite("Benchmark records")
struct BenchmarkRecordTests {
    @Test("roofline: the slower of bandwidth time and GEMM-ceiling time is the bound")
    func roofline() {
        // 1 GB at 10 GB/s = 0.1 s; 2 GFLOP at 100 GFLOP/s = 0.02 s: memory-bound, run at 0.2 s = half the bound.
        let memory = BenchmarkRecord.Roofline(bytes: 1e9, flops: 2e9, seconds: 0.2, bandwidthGBs: 10, gemmGFLOPs: 100)
        #expect(memory.bound == "memory")
        #expect(abs(memory.boundFraction - 0.5) < 1e-12)
        #expect(abs(memory.gflops - 10) < 1e-9)
        #expect(abs(memory.gemmFraction - 0.1) < 1e-12)
        // 20 GFLOP at 100 GFLOP/s = 0.2 s > 0.1 s: compute-bound, run at 0.25 s.
        let compute = BenchmarkRecord.Roofline(bytes: 1e9, flops: 2e10, seconds: 0.25, bandwidthGBs: 10, gemmGFLOPs: 100)
        #expect(compute.bound == "compute")
        #expect(abs(compute.boundFraction - 0.8) < 1e-12)
    }

    @Test("JSON keeps the kernel fields in order and appends the roofline fields")
    func jsonShape() {
        let plain = BenchmarkRecord.kernel(op: "prefill", format: "bf16", m: 512, k: 64, n: 32, seconds: 0.002,
                                           rate: 1.5, unit: "GFLOP/s", fraction: 0.25)
        #expect(plain.json == "{\"kind\":\"kernel\",\"op\":\"prefill\",\"format\":\"bf16\",\"m\":512,\"k\":64,\"n\":32,"
                + "\"ms\":2.0000,\"rate\":1.500,\"unit\":\"GFLOP/s\",\"fraction\":0.2500}")
        let roofline = BenchmarkRecord.Roofline(bytes: 1e9, flops: 2e9, seconds: 0.2, bandwidthGBs: 10, gemmGFLOPs: 100)
        let decode = BenchmarkRecord.kernel(op: "decode", format: "q8_0", m: 4, k: 64, n: 32, seconds: 0.2, rate: 5,
                                            unit: "GB/s", fraction: 0.5, roofline: roofline)
        #expect(decode.json == "{\"kind\":\"kernel\",\"op\":\"decode\",\"format\":\"q8_0\",\"m\":4,\"k\":64,\"n\":32,"
                + "\"ms\":200.0000,\"rate\":5.000,\"unit\":\"GB/s\",\"fraction\":0.5000,\"gflops\":10.000,"
                + "\"gemm_fraction\":0.1000,\"bound\":\"memory\",\"bound_fraction\":0.5000}")
        #expect(decode.text.hasSuffix("memory    0.50"))
    }
}
