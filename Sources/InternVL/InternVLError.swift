/// A request the pipeline cannot serve; one line naming the setting or limit.
public enum InternVLError: Error, Equatable, CustomStringConvertible {
    case promptTooLong(tokens: Int, limit: Int)
    case invalidSetting(name: String, value: String, rule: String)
    case tokenizerLacks(String)

    public var description: String {
        switch self {
        case let .promptTooLong(tokens, limit):
            return "prompt has \(tokens) tokens (images included), over the limit of \(limit) (max_prompt_tokens)"
        case let .invalidSetting(name, value, rule):
            return "\(name) = \(value): \(rule)"
        case let .tokenizerLacks(token):
            return "the tokenizer has no token \(token); is this an InternVL2 checkpoint?"
        }
    }
}
