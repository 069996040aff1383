import CImageCodecs
import COpenBLAS
import CKernels
import CZeroMQ

/// Versions and build facts of the native libraries this binary links, for `internvl version --verbose`
/// and for start-up logs.
public enum SystemInfo {
    /// The libzmq version, as "major.minor.patch".
    public static var zeroMQVersion: String {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }

    /// The OpenBLAS kernel family chosen for this CPU (set `OPENBLAS_CORETYPE` to override it).
    public static var openBLASCore: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// The OpenBLAS build configuration string.
    public static var openBLASConfig: String {
        guard let config = openblas_get_config() else { return "unknown" }
        return String(cString: config)
    }

    /// The libpng version string.
    public static var pngVersion: String {
        let v = png_access_version_number()
        return "\(v / 10000).\((v / 100) % 100).\(v % 100)"
    }

    /// Whether libjpeg-turbo's TurboJPEG API is usable (a decompressor can be created).
    public static var turboJPEGAvailable: Bool {
        guard let handle = tjInitDecompress() else { return false }
        tjDestroy(handle)
        return true
    }
}

extension SystemInfo {
    /// The kernel dispatch level in force (after any `INTERNVL_CPU` cap) and the machine's maximum.
    public static var kernelLevel: (active: String, maximum: String) {
        (String(cString: ck_level_name(ck_active_level())), String(cString: ck_level_name(ck_cpu_max_level())))
    }
}
