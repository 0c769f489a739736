//! Removing secrets (API keys, tokens, proxy passwords) from text before it reaches a log or an error.

/// What replaces a secret.
pub const REDACTED: &str = "[REDACTED]";

/// Secrets shorter than this are not searched for: replacing them would shred ordinary words.
pub const MIN_SECRET_LEN: usize = 6;

/// Longest provider message kept in an error, in characters.
pub const MAX_MESSAGE_CHARS: usize = 500;

/// Replaces known secrets in text.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor").field("count", &self.secrets.len()).finish()
    }
}

impl Redactor {
    /// A redactor for the given secrets (blank and very short ones are ignored).
    pub fn new<I, S>(secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut redactor = Self::default();
        for secret in secrets {
            redactor.add(secret.as_ref());
        }
        redactor
    }

    /// Adds a secret to hide.
    pub fn add(&mut self, secret: &str) {
        let secret = secret.trim();
        if secret.chars().count() >= MIN_SECRET_LEN && !self.secrets.iter().any(|s| s == secret) {
            self.secrets.push(secret.to_owned());
            // Longest first, so a secret containing another is replaced whole.
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// The text with every known secret and every `Bearer <token>` replaced by [`REDACTED`].
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        redact_bearer_tokens(&out)
    }

    /// [`Redactor::redact`], then cut to [`MAX_MESSAGE_CHARS`] characters.
    pub fn redact_and_truncate(&self, text: &str) -> String {
        truncate(&self.redact(text), MAX_MESSAGE_CHARS)
    }
}

/// Replaces the token after every `Bearer ` (case-insensitive) with [`REDACTED`].
fn redact_bearer_tokens(text: &str) -> String {
    const PREFIX: &str = "bearer ";
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut rest_start = 0;
    let mut search_from = 0;
    while let Some(found) = lower[search_from..].find(PREFIX) {
        let token_start = search_from + found + PREFIX.len();
        let token_len = text[token_start..]
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == ',')
            .unwrap_or(text.len() - token_start);
        out.push_str(&text[rest_start..token_start]);
        if token_len > 0 && &text[token_start..token_start + token_len] != REDACTED {
            out.push_str(REDACTED);
        } else {
            out.push_str(&text[token_start..token_start + token_len]);
        }
        rest_start = token_start + token_len;
        search_from = rest_start;
    }
    out.push_str(&text[rest_start..]);
    out
}

/// Cuts text to at most `max_chars` characters, marking the cut with `…`.
pub fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        None => text.to_owned(),
        Some((cut, _)) => format!("{}…", &text[..cut]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_bearer_tokens_are_replaced() {
        let redactor = Redactor::new(["sk-very-secret-key", "abc"]);
        let text = "Incorrect API key provided: sk-very-secret-key. Authorization: Bearer xyz123, abc";
        let out = redactor.redact(text);
        assert_eq!(out, "Incorrect API key provided: [REDACTED]. Authorization: Bearer [REDACTED], abc");
        assert_eq!(redactor.redact("bearer"), "bearer");
        assert_eq!(redactor.redact("BEARER tok"), "BEARER [REDACTED]");
    }

    #[test]
    fn longer_secrets_win_and_duplicates_are_ignored() {
        let mut redactor = Redactor::new(["secret-one", "secret-one-two"]);
        redactor.add("secret-one");
        assert_eq!(redactor.redact("x secret-one-two y"), "x [REDACTED] y");
        assert!(!format!("{redactor:?}").contains("secret"));
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "hé…");
        assert_eq!(truncate("hi", 2), "hi");
        let redactor = Redactor::new(["key-123456"]);
        let long = format!("key-123456 {}", "x".repeat(2 * MAX_MESSAGE_CHARS));
        let out = redactor.redact_and_truncate(&long);
        assert!(out.starts_with(REDACTED) && out.chars().count() == MAX_MESSAGE_CHARS + 1);
    }
}
