//! Leak triage: every well-formed token in a pasted blob (a log, a chat
//! message). A token is `tbm_` + 32 URL-safe characters, neither preceded
//! nor followed by a URL-safe character: the same rule as the secret
//! scanner rule in `contrib/gitleaks.toml`.

use std::collections::HashSet;

use crate::format::{is_url_safe, parse, WellFormed, PREFIX, TOKEN_LEN};

/// The largest blob `tokens.find_leaked` takes: 16 MiB.
pub const LEAK_TEXT_MAX_BYTES: usize = 16 * 1024 * 1024;

/// The distinct well-formed tokens in `blob`, in order of first appearance.
/// Linear in the blob's length, however many tokens it holds.
pub fn find_tokens(blob: &[u8]) -> Vec<WellFormed<'_>> {
    let prefix = PREFIX.as_bytes();
    let mut found: Vec<WellFormed<'_>> = Vec::new();
    let mut seen: HashSet<&[u8]> = HashSet::new();
    let mut at = 0;
    while let Some(offset) = find(&blob[at..], prefix) {
        let start = at + offset;
        at = start + 1;
        let end = start + TOKEN_LEN;
        if end > blob.len() {
            break;
        }
        let free_before = start == 0 || !is_url_safe(blob[start - 1]);
        let free_after = end == blob.len() || !is_url_safe(blob[end]);
        if !(free_before && free_after) {
            continue;
        }
        if let Some(token) = parse(&blob[start..end]) {
            if seen.insert(token.bytes()) {
                found.push(token);
            }
            at = end;
        }
    }
    found
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Plaintext;
    use proptest::prelude::*;

    fn as_str<'a>(t: &WellFormed<'a>) -> &'a str {
        std::str::from_utf8(t.bytes()).unwrap()
    }

    fn minted(n: usize) -> Vec<String> {
        (0..n)
            .map(|_| Plaintext::generate().unwrap().expose().to_owned())
            .collect()
    }

    /// Look-alikes that are not tokens: wrong length, wrong prefix, glued to
    /// more URL-safe characters.
    fn near_misses(t: &str) -> Vec<String> {
        vec![
            t[..35].to_owned(), // 31 characters after the prefix
            format!("{t}A"),    // 33
            format!("x{t}"),    // glued before
            format!("-{t}"),
            format!("{t}_"),               // glued after
            t.replacen("tbm_", "tbx_", 1), // wrong prefix
            t.replacen("tbm_", "TBM_", 1),
            format!("tbm_{}", "A".repeat(31) + "!"), // a character outside the alphabet
        ]
    }

    /// Many tokens, each pasted twice: one row per distinct token, in order
    /// of first appearance (de-duplicated by a set, not by a scan of the rows).
    #[test]
    fn a_blob_of_many_repeated_tokens_gives_each_once() {
        let tokens = minted(20_000);
        let blob = format!("{}\n{}", tokens.join(" "), tokens.join(","));
        let found: Vec<&str> = find_tokens(blob.as_bytes())
            .iter()
            .map(|t| as_str(t))
            .collect();
        assert_eq!(found, tokens.iter().map(String::as_str).collect::<Vec<_>>());
    }

    #[test]
    fn finds_tokens_in_urls_json_and_logs_but_no_look_alike() {
        let tokens = minted(4);
        let blob = format!(
            "GET /api?token={}&x=1 HTTP/1.1\n{{\"key\":\"{}\"}}\nAuthorization: Bearer {}\n{}",
            tokens[0], tokens[1], tokens[2], tokens[3]
        );
        let found: Vec<&str> = find_tokens(blob.as_bytes())
            .iter()
            .map(|t| as_str(t))
            .collect();
        assert_eq!(found, tokens.iter().map(String::as_str).collect::<Vec<_>>());
        for miss in near_misses(&tokens[0]) {
            let blob = format!("log line: {miss} end");
            assert!(find_tokens(blob.as_bytes()).is_empty(), "{miss}");
        }
        let twice = format!("{} and again {}", tokens[0], tokens[0]);
        assert_eq!(
            find_tokens(twice.as_bytes()).len(),
            1,
            "one row per distinct token"
        );
        assert_eq!(
            find_tokens(tokens[0].as_bytes()).len(),
            1,
            "the whole blob is a token"
        );
    }

    #[test]
    fn a_mebibyte_with_fifty_tokens_among_look_alikes() {
        let tokens = minted(50);
        let mut blob = String::new();
        let mut i = 0;
        while blob.len() < 1 << 20 {
            let t = &tokens[(i / 5) % 50];
            match i % 5 {
                0 => blob.push_str(&format!("url https://x.test/cb?access_token={t}&s=1\n")),
                1 => blob.push_str(&format!("{{\"token\": \"{t}\", \"n\": {i}}}\n")),
                2 => blob.push_str(&format!(
                    "{} {}\n",
                    near_misses(t).join(" "),
                    "filler ".repeat(20)
                )),
                3 => blob.push_str(&format!("[{t}]\n")),
                _ => blob.push_str("tbm_ tbm_tbm_ nothing to see here 0123456789\n"),
            }
            i += 1;
        }
        let found: std::collections::HashSet<&str> = find_tokens(blob.as_bytes())
            .iter()
            .map(|t| as_str(t))
            .collect();
        assert_eq!(found.len(), 50);
        assert!(tokens.iter().all(|t| found.contains(t.as_str())));
    }

    /// The scanner rule shipped for gitleaks (Go RE2 syntax) agrees with
    /// find_tokens on minted tokens and on look-alikes.
    #[test]
    fn the_gitleaks_rule_matches_what_find_tokens_finds() {
        let config = include_str!("../../contrib/gitleaks.toml");
        let pattern = config
            .lines()
            .find_map(|l| {
                l.strip_prefix("regex = '''")
                    .and_then(|r| r.strip_suffix("'''"))
            })
            .expect("a regex line");
        let rule = regex::Regex::new(pattern).expect("the rule compiles");
        let scan = |text: &str| -> Vec<String> {
            rule.captures_iter(text).map(|c| c[1].to_owned()).collect()
        };
        for t in minted(20) {
            for context in [
                format!("{t}"),
                format!("key={t}\n"),
                format!("\"{t}\""),
                format!("?a={t}&b"),
            ] {
                assert_eq!(scan(&context), vec![t.clone()], "{context}");
            }
            for miss in near_misses(&t) {
                assert!(scan(&format!(" {miss} ")).is_empty(), "{miss}");
            }
        }
    }

    proptest! {
        /// Whatever surrounds them, find_tokens finds exactly the tokens set
        /// apart by non-URL-safe characters.
        #[test]
        fn finds_exactly_the_planted_tokens(
            pieces in proptest::collection::vec("[ -~\n]{0,40}", 1..20),
        ) {
            let tokens = minted(pieces.len());
            let mut blob = String::new();
            for (piece, token) in pieces.iter().zip(&tokens) {
                blob.push_str(piece);
                blob.push(' ');
                blob.push_str(token);
                blob.push(' ');
            }
            let found: Vec<&str> = find_tokens(blob.as_bytes()).iter().map(|t| as_str(t)).collect();
            for t in &tokens {
                prop_assert!(found.contains(&t.as_str()));
            }
            // Anything else found is a token the random text itself formed.
            for f in found {
                prop_assert!(tokens.iter().any(|t| t == f) || pieces.iter().any(|p| p.contains(f)));
            }
        }
    }
}
