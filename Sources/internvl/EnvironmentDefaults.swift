import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// Gives every option and flag an `INTERNVL_*` environment variable (`--model-dir` is `INTERNVL_MODEL_DIR`).
///
/// Before parsing, the values of set variables are inserted right after the subcommand path, ahead of the user's
/// own arguments, so a flag on the command line wins (single-value options keep the last occurrence). Names come
/// from the property names by ArgumentParser's own rule (camelCase to kebab-case); a command whose flag is spelled
/// differently lists it in `EnvironmentNamed.longNameOverrides`. Array options and positional arguments have no
/// variable.
enum EnvironmentDefaults {
    /// The arguments with environment-provided options inserted.
    static func expand(_ arguments: [String], root: ParsableCommand.Type,
                       environment: [String: String] = currentEnvironment()) -> [String] {
        var command: ParsableCommand.Type = root
        var index = 0
        while index < arguments.count,
              let next = command.configuration.subcommands.first(where: { $0._commandName == arguments[index] }) {
            command = next
            index += 1
        }
        let inserted = options(of: command).flatMap { option -> [String] in
            guard let value = environment[option.variable] else { return [] }
            if option.isFlag {
                return ["1", "true", "yes", "on"].contains(value.lowercased()) ? ["--\(option.longName)"] : []
            }
            return ["--\(option.longName)", value]
        }
        return Array(arguments[..<index]) + inserted + Array(arguments[index...])
    }

    /// One option or flag that has an environment variable.
    struct EnvironmentOption: Equatable {
        var longName: String
        var isFlag: Bool
        var variable: String { "INTERNVL_" + longName.uppercased().replacingOccurrences(of: "-", with: "_") }
    }

    /// The environment-capable options of a command (including its option groups).
    static func options(of command: ParsableArguments.Type) -> [EnvironmentOption] {
        let overrides = (command as? EnvironmentNamed.Type)?.longNameOverrides ?? [:]
        var result: [EnvironmentOption] = []
        for child in Mirror(reflecting: command.init()).children {
            guard var label = child.label, label.hasPrefix("_") else { continue }
            label.removeFirst()
            if let group = child.value as? OptionGroupIntrospection {
                result += options(of: type(of: group).groupType)
                continue
            }
            let typeName = String(describing: type(of: child.value))
            let isFlag = typeName == "Flag<Bool>"
            let isSingleOption = typeName.hasPrefix("Option<") && !typeName.hasPrefix("Option<Array<")
                && !typeName.hasPrefix("Option<[")
            guard isFlag || isSingleOption else { continue }
            result.append(EnvironmentOption(longName: overrides[label] ?? kebabCase(label), isFlag: isFlag))
        }
        return result
    }

    /// `maxNewTokens` -> `max-new-tokens`, as ArgumentParser names options.
    static func kebabCase(_ name: String) -> String {
        var result = ""
        for character in name {
            if character.isUppercase {
                if !result.isEmpty { result.append("-") }
                result.append(contentsOf: character.lowercased())
            } else {
                result.append(character)
            }
        }
        return result
    }

    static func currentEnvironment() -> [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "="), text.hasPrefix("INTERNVL_") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }
}

/// A command whose long option names differ from its property names (e.g. `temperature` spelled `--temp`).
protocol EnvironmentNamed {
    /// Property name -> long option name.
    static var longNameOverrides: [String: String] { get }
}

/// Lets `EnvironmentDefaults` see through `@OptionGroup`.
protocol OptionGroupIntrospection {
    static var groupType: ParsableArguments.Type { get }
}

extension OptionGroup: OptionGroupIntrospection {
    static var groupType: ParsableArguments.Type { Value.self }
}
