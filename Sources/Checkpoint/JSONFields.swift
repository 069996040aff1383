import Foundation

/// Typed reads from a decoded JSON object, with errors that name the file and the full key path.
struct JSONFields {
    let file: String
    let path: String
    let object: [String: Any]

    init(file: String, path: String = "", object: [String: Any]) {
        self.file = file
        self.path = path
        self.object = object
    }

    private func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    private func missing(_ key: String) -> CheckpointError {
        CheckpointError(file: file, "missing key '\(keyPath(key))'")
    }

    private func wrongType(_ key: String, _ expected: String) -> CheckpointError {
        CheckpointError(file: file, "key '\(keyPath(key))' is \(describe(object[key])), expected \(expected)")
    }

    private func describe(_ value: Any?) -> String {
        switch value {
        case nil, is NSNull: return "null"
        case let text as String: return "the string \"\(text)\""
        case let flag where Self.isBoolean(flag): return "\((flag as? Bool) == true ? "true" : "false")"
        case let number as NSNumber: return "the number \(number)"
        case is [Any]: return "an array"
        case is [String: Any]: return "an object"
        default: return "\(value!)"
        }
    }

    /// JSON `true`/`false` (Foundation bridges them to NSNumber with objCType "c", and `is Bool` also matches 0/1).
    static func isBoolean(_ value: Any?) -> Bool {
        guard let number = value as? NSNumber else { return false }
        return String(cString: number.objCType) == "c"
    }

    func has(_ key: String) -> Bool {
        guard let value = object[key] else { return false }
        return !(value is NSNull)
    }

    func int(_ key: String) throws -> Int {
        guard has(key) else { throw missing(key) }
        guard let number = object[key] as? NSNumber, !Self.isBoolean(object[key]),
              let value = Int(exactly: number.doubleValue) else { throw wrongType(key, "an integer") }
        return value
    }

    func int(_ key: String, default fallback: Int) throws -> Int { has(key) ? try int(key) : fallback }

    func double(_ key: String) throws -> Double {
        guard has(key) else { throw missing(key) }
        guard let number = object[key] as? NSNumber, !Self.isBoolean(object[key]) else { throw wrongType(key, "a number") }
        return number.doubleValue
    }

    func double(_ key: String, default fallback: Double) throws -> Double { has(key) ? try double(key) : fallback }

    func bool(_ key: String) throws -> Bool {
        guard has(key) else { throw missing(key) }
        guard Self.isBoolean(object[key]), let value = object[key] as? Bool else {
            throw wrongType(key, "true or false")
        }
        return value
    }

    func bool(_ key: String, default fallback: Bool) throws -> Bool { has(key) ? try bool(key) : fallback }

    func string(_ key: String) throws -> String {
        guard has(key) else { throw missing(key) }
        guard let value = object[key] as? String else { throw wrongType(key, "a string") }
        return value
    }

    func string(_ key: String, default fallback: String) throws -> String { has(key) ? try string(key) : fallback }

    func strings(_ key: String) throws -> [String] {
        guard has(key) else { throw missing(key) }
        guard let value = object[key] as? [String] else { throw wrongType(key, "an array of strings") }
        return value
    }

    func object(_ key: String) throws -> JSONFields {
        guard has(key) else { throw missing(key) }
        guard let value = object[key] as? [String: Any] else { throw wrongType(key, "an object") }
        return JSONFields(file: file, path: keyPath(key), object: value)
    }

    func optionalObject(_ key: String) throws -> JSONFields? { has(key) ? try object(key) : nil }

    /// An error about the value at `key` (range or unsupported choice).
    func invalid(_ key: String, _ problem: String) -> CheckpointError {
        CheckpointError(file: file, "key '\(keyPath(key))' \(problem)")
    }

    /// Reads a JSON object from a file.
    static func load(_ url: URL) throws -> JSONFields {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw CheckpointError(file: url.path, "cannot read: no such file or not readable")
        }
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: data) } catch {
            throw CheckpointError(file: url.path, "not valid JSON")
        }
        guard let object = json as? [String: Any] else { throw CheckpointError(file: url.path, "not a JSON object") }
        return JSONFields(file: url.path, object: object)
    }
}
