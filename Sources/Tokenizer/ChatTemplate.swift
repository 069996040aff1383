/// A conversation template in InternVL's "MPT" separator style (`internvl/conversation.py`):
/// `system + sep`, then for every message `role + text + sep`, or just `role` for the open reply.
public struct ChatTemplate: Sendable, Equatable {
    /// The template name used in model configs (`"template"` in `config.json`).
    public var name: String
    /// The system part; `{system_message}` is replaced by the system message.
    public var systemTemplate: String
    /// The user role prefix.
    public var userRole: String
    /// The assistant role prefix.
    public var assistantRole: String
    /// The separator written after the system part and after every message.
    public var separator: String

    /// Creates a template.
    public init(name: String, systemTemplate: String, userRole: String, assistantRole: String, separator: String) {
        self.name = name
        self.systemTemplate = systemTemplate
        self.userRole = userRole
        self.assistantRole = assistantRole
        self.separator = separator
    }

    /// InternVL2-2B/8B/26B (InternLM2 chat): note there is no newline after `<|im_end|>`.
    public static let internLM2Chat = ChatTemplate(
        name: "internlm2-chat", systemTemplate: "<|im_start|>system\n{system_message}",
        userRole: "<|im_start|>user\n", assistantRole: "<|im_start|>assistant\n", separator: "<|im_end|>")
    /// InternVL2-1B/40B: the same strings as `internLM2Chat`.
    public static let hermes2 = ChatTemplate(
        name: "Hermes-2", systemTemplate: "<|im_start|>system\n{system_message}",
        userRole: "<|im_start|>user\n", assistantRole: "<|im_start|>assistant\n", separator: "<|im_end|>")
    /// InternVL2-4B (Phi-3).
    public static let phi3Chat = ChatTemplate(
        name: "phi3-chat", systemTemplate: "<|system|>\n{system_message}",
        userRole: "<|user|>\n", assistantRole: "<|assistant|>\n", separator: "<|end|>")

    /// The template registered under `name`, if known.
    public static func named(_ name: String) -> ChatTemplate? {
        [internLM2Chat, hermes2, phi3Chat].first { $0.name == name }
    }

    /// InternVL2's default system message (`InternVLChatModel.system_message`).
    public static let internVLSystemMessage =
        "你是由上海人工智能实验室联合商汤科技开发的书生多模态大模型，英文名叫InternVL, 是一个有用无害的人工智能助手。"

    /// The token that ends a reply in `chat()`: the separator without surrounding whitespace.
    public var stopToken: String { PythonStringSemantics.strip(separator) }

    /// Renders a conversation. `messages` alternate user and assistant turns starting with the user; a nil
    /// or empty text writes only the role (an empty string is "no message" in the reference, too).
    public func render(systemMessage: String, messages: [(role: Role, text: String?)]) -> String {
        var prompt = PythonStringSemantics.replaceFirst("{system_message}", with: systemMessage, in: systemTemplate)
            + separator
        for (role, text) in messages {
            let prefix = role == .user ? userRole : assistantRole
            if let text, !text.isEmpty {
                prompt += prefix + text + separator
            } else {
                prompt += prefix
            }
        }
        return prompt
    }

    /// Who speaks a message.
    public enum Role: Sendable, Equatable {
        /// The user.
        case user
        /// The model.
        case assistant
    }

    /// The reply as `chat()` returns it: the decoded text (special tokens skipped) cut at the first stop token
    /// and stripped with Python `str.strip()` whitespace rules.
    public func extractResponse(fromDecoded text: String) -> String {
        let stop = stopToken
        let head = stop.isEmpty ? text : PythonStringSemantics.prefix(before: stop, in: text)
        return PythonStringSemantics.strip(head)
    }
}
