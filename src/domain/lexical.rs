//! The keyword side of hybrid search: the terms a text is indexed and searched by, and a BM25
//! scorer for stores without a lexical index of their own.
//!
//! Terms are the same for every store, so a memory matches the same queries wherever it is kept:
//! - words of letters and digits, lowercased, English stop words dropped, English words stemmed
//!   (Snowball / Porter 2: "hiking", "hikes" → "hike");
//! - Chinese, Japanese and Korean text, written without spaces, as overlapping character pairs
//!   ("长期记忆" → "长期", "期记", "记忆"; a lone character is its own term), so any two-character
//!   word of a query finds the memories that contain it.

use rust_stemmers::{Algorithm, Stemmer};
use std::collections::HashMap;
use std::sync::LazyLock;

/// English words too common to tell memories apart.
const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be", "been", "before", "being",
    "but", "by", "can", "could", "did", "do", "does", "doing", "for", "from", "had", "has", "have", "having", "he",
    "her", "hers", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "just", "me", "my", "of", "on",
    "or", "our", "she", "so", "some", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this",
    "those", "to", "too", "us", "was", "we", "were", "what", "when", "where", "which", "who", "whom", "why", "will",
    "with", "would", "you", "your",
];

static ENGLISH: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));

/// True for the scripts written without spaces between words (indexed as character pairs).
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x3400..=0x4DBF    // CJK Extension A
        | 0x4E00..=0x9FFF    // CJK Unified Ideographs
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0xF900..=0xFAFF    // CJK Compatibility Ideographs
        | 0x20000..=0x2FFFF) // CJK Extensions B–F
}

/// The search terms of a text, in order (repeats kept: they count for term frequency).
pub fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut cjk: Vec<char> = Vec::new();
    for c in text.chars() {
        if is_cjk(c) {
            flush_word(&mut word, &mut out);
            cjk.push(c);
        } else if c.is_alphanumeric() {
            flush_cjk(&mut cjk, &mut out);
            word.extend(c.to_lowercase());
        } else {
            flush_word(&mut word, &mut out);
            flush_cjk(&mut cjk, &mut out);
        }
    }
    flush_word(&mut word, &mut out);
    flush_cjk(&mut cjk, &mut out);
    out
}

fn flush_word(word: &mut String, out: &mut Vec<String>) {
    if word.is_empty() {
        return;
    }
    if !STOP_WORDS.contains(&word.as_str()) {
        out.push(ENGLISH.stem(word).into_owned());
    }
    word.clear();
}

fn flush_cjk(run: &mut Vec<char>, out: &mut Vec<String>) {
    match run.len() {
        0 => {}
        1 => out.push(run[0].to_string()),
        _ => out.extend(run.windows(2).map(|pair| pair.iter().collect::<String>())),
    }
    run.clear();
}

/// The distinct terms of a query (the order of first appearance).
pub fn query_terms(text: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    terms(text).into_iter().filter(|t| seen.insert(t.clone())).collect()
}

/// Okapi BM25 with the usual `k1 = 1.2`, `b = 0.75`, over a given set of documents: what a store
/// without a lexical index uses, over its vector candidates. Higher is better; 0 = no shared term.
pub fn bm25_over(query: &[String], documents: &[Vec<String>]) -> Vec<f32> {
    bm25_among(query, documents, documents.len())
}

/// BM25 of `documents`, which are every document of a collection of `collection_size` that shares
/// a term with the query (so document frequencies counted among them are the collection's).
pub fn bm25_among(query: &[String], documents: &[Vec<String>], collection_size: usize) -> Vec<f32> {
    const K1: f32 = 1.2;
    const B: f32 = 0.75;
    let n = collection_size.max(documents.len()) as f32;
    if documents.is_empty() || query.is_empty() {
        return vec![0.0; documents.len()];
    }
    let average = documents.iter().map(Vec::len).sum::<usize>() as f32 / n;
    let mut df: HashMap<&str, f32> = HashMap::new();
    for doc in documents {
        let mut seen = std::collections::HashSet::new();
        for t in doc.iter().filter(|t| query.contains(t)) {
            if seen.insert(t.as_str()) {
                *df.entry(t.as_str()).or_default() += 1.0;
            }
        }
    }
    documents
        .iter()
        .map(|doc| {
            let length_norm = 1.0 - B + B * doc.len() as f32 / average.max(1.0);
            query
                .iter()
                .map(|q| {
                    let tf = doc.iter().filter(|t| *t == q).count() as f32;
                    let Some(&d) = df.get(q.as_str()) else { return 0.0 };
                    let idf = ((n - d + 0.5) / (d + 0.5) + 1.0).ln();
                    idf * tf * (K1 + 1.0) / (tf + K1 * length_norm)
                })
                .sum()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_words_are_lowercased_stemmed_and_stop_words_dropped() {
        assert_eq!(terms("When did Caroline go Hiking? She hikes!"), vec!["carolin", "go", "hike", "hike"]);
        assert_eq!(terms("2023 pottery-classes"), vec!["2023", "potteri", "class"]);
    }

    #[test]
    fn cjk_text_is_indexed_as_character_pairs() {
        assert_eq!(terms("我喜欢长期记忆"), vec!["我喜", "喜欢", "欢长", "长期", "期记", "记忆"]);
        assert_eq!(terms("東京に住む Tom"), vec!["東京", "京に", "に住", "住む", "tom"]);
        assert_eq!(terms("猫"), vec!["猫"]);
        // A two-character query word is one of the pairs of a longer text.
        let doc = terms("用户喜欢喝乌龙茶");
        assert!(query_terms("乌龙").iter().all(|q| doc.contains(q)));
    }

    #[test]
    fn bm25_prefers_rarer_and_repeated_terms() {
        let docs: Vec<Vec<String>> =
            ["the cat sat", "the dog sat", "a cat and a cat"].iter().map(|d| terms(d)).collect();
        let scores = bm25_over(&query_terms("cat"), &docs);
        assert_eq!(scores[1], 0.0);
        assert!(scores[2] > scores[0] && scores[0] > 0.0);
        assert_eq!(bm25_over(&[], &docs), vec![0.0; 3]);
    }
}
