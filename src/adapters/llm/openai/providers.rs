//! The chat providers that speak OpenAI's `/chat/completions` through a base URL, with Mem0's defaults.

use crate::ports::llm::StructuredOutput;

/// How far a provider's `/chat/completions` can hold an answer to a schema: `json_schema` for
/// OpenAI and the servers that implement it (OpenRouter, xAI, Together, vLLM, LM Studio, LiteLLM,
/// and llama.cpp's or Ollama's OpenAI endpoints reached as `openai` with a base URL); JSON mode only
/// for DeepSeek, MiniMax and Groq (schemas on some models only); nothing for Sarvam.
pub(super) fn structured_output(provider: &ChatProvider) -> StructuredOutput {
    match provider.name {
        "deepseek" | "minimax" | "groq" => StructuredOutput::JsonMode,
        "sarvam" => StructuredOutput::PromptOnly,
        _ => StructuredOutput::Schema,
    }
}

/// Request quirks of a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// Plain OpenAI-compatible.
    Standard,
    /// OpenAI itself: may send `store`.
    OpenAi,
    /// OpenRouter: `models` + `route` fallbacks, `HTTP-Referer` / `X-Title` headers.
    OpenRouter,
    /// LM Studio: `lmstudio_response_format` replaces `{"type":"json_object"}`.
    LmStudio,
    /// Groq: `compound*` models reject `response_format` (dropped with a warning, as Mem0 does).
    Groq,
    /// Sarvam: no JSON mode (`response_format` dropped, as Mem0 does; the prompts ask for JSON).
    Sarvam,
}

/// One provider: its config keys, defaults and environment fallbacks (as Mem0 names them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatProvider {
    /// The `provider` value.
    pub name: &'static str,
    /// Model when `model` is not set.
    pub default_model: &'static str,
    /// The config key holding the base URL.
    pub base_url_key: &'static str,
    /// Environment variables consulted, in order, when the key is not set.
    pub base_url_env: &'static [&'static str],
    /// Base URL when neither is set.
    pub default_base_url: &'static str,
    /// Environment variable holding the API key when `api_key` is not set.
    pub api_key_env: Option<&'static str>,
    /// API key when neither is set (local servers accept anything).
    pub default_api_key: Option<&'static str>,
    /// True when a missing API key is a configuration error.
    pub api_key_required: bool,
    /// Keys this provider accepts beyond the common ones.
    pub extra_keys: &'static [&'static str],
    /// Request quirks.
    pub flavour: Flavour,
}

const OPENAI_KEYS: &[&str] =
    &["openai_base_url", "openrouter_base_url", "models", "route", "site_url", "app_name", "store"];
const OPENROUTER_KEYS: &[&str] = &["openrouter_base_url", "models", "route", "site_url", "app_name"];

const OPENAI: ChatProvider = ChatProvider {
    name: "openai",
    default_model: "gpt-5-mini",
    base_url_key: "openai_base_url",
    base_url_env: &["OPENAI_BASE_URL"],
    default_base_url: "https://api.openai.com/v1",
    api_key_env: Some("OPENAI_API_KEY"),
    default_api_key: None,
    api_key_required: true,
    extra_keys: OPENAI_KEYS,
    flavour: Flavour::OpenAi,
};

/// OpenRouter, also used by `openai` when only `OPENROUTER_API_KEY` is available (as Mem0 does).
pub(super) const OPENROUTER: ChatProvider = ChatProvider {
    name: "openrouter",
    default_model: "openai/gpt-5-mini",
    base_url_key: "openrouter_base_url",
    base_url_env: &["OPENROUTER_API_BASE"],
    default_base_url: "https://openrouter.ai/api/v1",
    api_key_env: Some("OPENROUTER_API_KEY"),
    default_api_key: None,
    api_key_required: true,
    extra_keys: OPENROUTER_KEYS,
    flavour: Flavour::OpenRouter,
};

/// Every supported provider.
pub(super) const ALL: &[ChatProvider] = &[
    OPENAI,
    ChatProvider { name: "openai_structured", ..OPENAI },
    OPENROUTER,
    ChatProvider {
        name: "deepseek",
        default_model: "deepseek-chat",
        base_url_key: "deepseek_base_url",
        base_url_env: &["DEEPSEEK_API_BASE"],
        default_base_url: "https://api.deepseek.com",
        api_key_env: Some("DEEPSEEK_API_KEY"),
        default_api_key: None,
        api_key_required: true,
        extra_keys: &["deepseek_base_url"],
        flavour: Flavour::Standard,
    },
    ChatProvider {
        name: "xai",
        default_model: "grok-4.3",
        base_url_key: "xai_base_url",
        base_url_env: &["XAI_API_BASE"],
        default_base_url: "https://api.x.ai/v1",
        api_key_env: Some("XAI_API_KEY"),
        default_api_key: None,
        api_key_required: true,
        extra_keys: &["xai_base_url"],
        flavour: Flavour::Standard,
    },
    ChatProvider {
        name: "minimax",
        default_model: "MiniMax-M2.7",
        base_url_key: "minimax_base_url",
        base_url_env: &["MINIMAX_API_BASE"],
        default_base_url: "https://api.minimax.io/v1",
        api_key_env: Some("MINIMAX_API_KEY"),
        default_api_key: None,
        api_key_required: true,
        extra_keys: &["minimax_base_url"],
        flavour: Flavour::Standard,
    },
    ChatProvider {
        name: "groq",
        default_model: "llama-3.3-70b-versatile",
        base_url_key: "groq_base_url",
        base_url_env: &["GROQ_BASE_URL"],
        default_base_url: "https://api.groq.com/openai/v1",
        api_key_env: Some("GROQ_API_KEY"),
        default_api_key: None,
        api_key_required: true,
        extra_keys: &["groq_base_url"],
        flavour: Flavour::Groq,
    },
    ChatProvider {
        name: "together",
        default_model: "MiniMaxAI/MiniMax-M3",
        base_url_key: "together_base_url",
        base_url_env: &["TOGETHER_BASE_URL"],
        default_base_url: "https://api.together.xyz/v1",
        api_key_env: Some("TOGETHER_API_KEY"),
        default_api_key: None,
        api_key_required: true,
        extra_keys: &["together_base_url"],
        flavour: Flavour::Standard,
    },
    ChatProvider {
        name: "vllm",
        default_model: "Qwen/Qwen2.5-32B-Instruct",
        base_url_key: "vllm_base_url",
        base_url_env: &["VLLM_BASE_URL"],
        default_base_url: "http://localhost:8000/v1",
        api_key_env: Some("VLLM_API_KEY"),
        default_api_key: Some("vllm-api-key"),
        api_key_required: false,
        extra_keys: &["vllm_base_url"],
        flavour: Flavour::Standard,
    },
    ChatProvider {
        name: "lmstudio",
        default_model: "lmstudio-community/Meta-Llama-3.1-70B-Instruct-GGUF/Meta-Llama-3.1-70B-Instruct-IQ2_M.gguf",
        base_url_key: "lmstudio_base_url",
        base_url_env: &[],
        default_base_url: "http://localhost:1234/v1",
        api_key_env: None,
        default_api_key: Some("lm-studio"),
        api_key_required: false,
        extra_keys: &["lmstudio_base_url", "lmstudio_response_format"],
        flavour: Flavour::LmStudio,
    },
    ChatProvider {
        name: "litellm",
        default_model: "gpt-5-mini",
        base_url_key: "litellm_base_url",
        base_url_env: &["LITELLM_PROXY_API_BASE"],
        default_base_url: "http://localhost:4000/v1",
        api_key_env: Some("LITELLM_PROXY_API_KEY"),
        default_api_key: None,
        api_key_required: false,
        extra_keys: &["litellm_base_url"],
        flavour: Flavour::Standard,
    },
    ChatProvider {
        name: "sarvam",
        default_model: "sarvam-m",
        base_url_key: "sarvam_base_url",
        base_url_env: &["SARVAM_API_BASE"],
        default_base_url: "https://api.sarvam.ai/v1",
        api_key_env: Some("SARVAM_API_KEY"),
        default_api_key: None,
        api_key_required: true,
        extra_keys: &["sarvam_base_url"],
        flavour: Flavour::Sarvam,
    },
];

/// The provider with this name.
pub(super) fn find(name: &str) -> Option<&'static ChatProvider> {
    ALL.iter().find(|p| p.name == name)
}

/// The keys a provider accepts.
pub(super) fn allowed_keys(provider: &ChatProvider) -> Vec<&'static str> {
    crate::adapters::llm::base::allowed_keys(provider.extra_keys)
}

/// Mem0's reasoning-model test, plus the GPT-5 family members (`gpt-5-mini`, `gpt-5-nano`, dated
/// snapshots) that OpenAI serves as reasoning models but Mem0 misclassifies (it sends them a
/// `temperature` they reject). `gpt-5.x` and `gpt-5-chat*` models are not reasoning models.
pub fn is_reasoning_model(model: &str) -> bool {
    let lower = model.to_ascii_lowercase();
    let base = lower.rsplit('/').next().unwrap_or(&lower);
    const EXACT: &[&str] =
        &["o1", "o1-preview", "o3-mini", "o3", "o4-mini", "gpt-5", "gpt-5o", "gpt-5o-mini", "gpt-5o-micro"];
    EXACT.contains(&base)
        || ["o1-", "o1.", "o3-", "o3.", "o4-"].iter().any(|p| base.starts_with(p))
        || (base.starts_with("gpt-5-") && !base.starts_with("gpt-5-chat"))
}

/// True for models that take `max_completion_tokens` instead of `max_tokens` (the GPT-5 family).
pub fn uses_max_completion_tokens(model: &str) -> bool {
    let lower = model.to_ascii_lowercase();
    lower.rsplit('/').next().unwrap_or(&lower).starts_with("gpt-5")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasoning_models_are_recognised() {
        for model in
            ["o1", "o3-mini", "o1-2024-12-17", "openai/o3", "gpt-5", "gpt-5-mini", "gpt-5-nano-2025-08-07", "o4-mini"]
        {
            assert!(is_reasoning_model(model), "{model}");
        }
        for model in ["gpt-4o-mini", "gpt-5.4-mini", "gpt-5-chat-latest", "deepseek-chat", "o1x"] {
            assert!(!is_reasoning_model(model), "{model}");
        }
        assert!(uses_max_completion_tokens("gpt-5.4-mini") && !uses_max_completion_tokens("gpt-4.1"));
    }

    #[test]
    fn every_provider_has_its_base_url_key_allowed() {
        for provider in ALL {
            assert!(allowed_keys(provider).contains(&provider.base_url_key), "{}", provider.name);
            assert!(find(provider.name).is_some());
            assert!(provider.api_key_required || provider.default_api_key.is_some() || provider.name == "litellm");
        }
    }
}
