//! Token parsing (SPEC §1) under arbitrary bytes.
//!
//! The whole input goes to `pg_tokens_core::parse` as a presented token, and
//! to `leak::find_tokens` as a pasted blob (which must find every token in it
//! not glued to other URL-safe text, and nothing else). Neither may panic,
//! and what they accept is checked against oracles written here from the
//! SPEC, not from the core's code: a token is `tbm_` + exactly 32 URL-safe
//! base64 characters, its hash is the SHA-256 of all 36 bytes, its display
//! prefix is its first 12.
//!
//! The first 24 bytes of the input are also minted into a token the way the
//! core mints one (`tbm_` + base64url of 24 random bytes, no padding), which
//! must parse and decode back to those bytes; then one byte of it is changed
//! (where and to what, the next two input bytes say), which must either make
//! it malformed or change its hash.

#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use pg_tokens_core::format::{BODY_LEN, DISPLAY_PREFIX_LEN, SECRET_BYTES, TOKEN_LEN};
use pg_tokens_core::{display_prefix, hash, leak, parse, WellFormed};
use sha2::{Digest, Sha256};

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The SPEC's shape, spelled out independently of `format::is_url_safe`.
fn has_token_shape(bytes: &[u8]) -> bool {
    bytes.len() == 36
        && bytes.starts_with(b"tbm_")
        && bytes[4..].iter().all(|b| ALPHABET.contains(b))
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Everything a well-formed token promises about the bytes it came from.
fn check_well_formed(input: &[u8], token: &WellFormed<'_>) {
    assert_eq!((TOKEN_LEN, BODY_LEN, DISPLAY_PREFIX_LEN), (36, 32, 12));
    assert!(has_token_shape(input), "parse admitted a malformed token");
    assert!(input.starts_with(b"tbm_"));

    let expected = sha256(input);
    assert_eq!(token.hash(), expected, "hash is not SHA-256 of the input");
    assert_eq!(hash(token), expected);

    let prefix = display_prefix(token);
    assert_eq!(prefix.as_bytes(), &input[..12]);
    assert_eq!(token.display_prefix(), prefix);
    assert!(input.starts_with(prefix.as_bytes()));

    // 32 URL-safe characters are exactly 24 bytes, with no leftover bits.
    let secret = URL_SAFE_NO_PAD
        .decode(&input[4..])
        .expect("a well-formed body is valid base64url");
    assert_eq!(secret.len(), SECRET_BYTES);
    assert_eq!(URL_SAFE_NO_PAD.encode(&secret).as_bytes(), &input[4..]);

    // Debug shows the display prefix, never the token.
    let shown = format!("{token:?}");
    let text = std::str::from_utf8(input).expect("a well-formed token is ASCII");
    assert!(!shown.contains(text), "Debug shows the token: {shown}");
    assert!(shown.contains(prefix));
}

/// A token changed in one byte is malformed or hashes differently.
fn check_mutation(original: &[u8], original_hash: &[u8; 32], at: usize, byte: u8) {
    let mut changed = original.to_vec();
    changed[at] = byte;
    let Some(token) = parse(&changed) else {
        assert!(
            !has_token_shape(&changed),
            "parse refused a well-formed token"
        );
        return;
    };
    assert!(
        has_token_shape(&changed),
        "parse admitted a malformed token"
    );
    let hash = token.hash();
    assert_eq!(hash, sha256(&changed), "hash is not SHA-256 of the input");
    if changed != original {
        assert_ne!(&hash, original_hash, "two tokens share a hash");
    }
}

fn check_blob(blob: &[u8]) {
    let found = leak::find_tokens(blob);
    for (i, token) in found.iter().enumerate() {
        let prefix = display_prefix(token).as_bytes();
        // Each found token occurs in the blob, not glued to URL-safe text.
        let occurs = blob.windows(36).enumerate().any(|(at, w)| {
            w.starts_with(prefix)
                && sha256(w) == token.hash()
                && (at == 0 || !ALPHABET.contains(&blob[at - 1]))
                && blob.get(at + 36).is_none_or(|b| !ALPHABET.contains(b))
        });
        assert!(occurs, "find_tokens found a token not in the blob");
        assert!(
            found[..i].iter().all(|t| t.hash() != token.hash()),
            "find_tokens repeated a token"
        );
    }
    // And it misses none.
    for (at, w) in blob.windows(36).enumerate() {
        let unglued = (at == 0 || !ALPHABET.contains(&blob[at - 1]))
            && blob.get(at + 36).is_none_or(|b| !ALPHABET.contains(b));
        if unglued && has_token_shape(w) {
            let hash = sha256(w);
            assert!(
                found.iter().any(|t| t.hash() == hash),
                "find_tokens missed the token at byte {at}"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // The presented token: the core and the oracle agree on every input.
    match parse(data) {
        Some(token) => {
            check_well_formed(data, &token);
            let original = token.hash();
            for at in 0..data.len() {
                check_mutation(data, &original, at, data[at] ^ 0x01);
                check_mutation(data, &original, at, data[at].wrapping_add(0x20));
            }
            let found = leak::find_tokens(data);
            assert_eq!(found.len(), 1, "a whole-input token is found as a leak");
            assert_eq!(found[0].hash(), token.hash());
        }
        None => assert!(!has_token_shape(data), "parse refused a well-formed token"),
    }

    // The same bytes as a pasted blob.
    check_blob(data);

    // A minted-looking token from 24 input bytes round-trips.
    if data.len() >= SECRET_BYTES {
        let secret = &data[..SECRET_BYTES];
        let minted = format!("tbm_{}", URL_SAFE_NO_PAD.encode(secret));
        let token = parse(minted.as_bytes()).expect("a minted token parses");
        check_well_formed(minted.as_bytes(), &token);
        assert_eq!(URL_SAFE_NO_PAD.decode(&minted[4..]).unwrap(), secret);

        if let (Some(&at), Some(&byte)) = (data.get(SECRET_BYTES), data.get(SECRET_BYTES + 1)) {
            let at = usize::from(at) % TOKEN_LEN;
            check_mutation(minted.as_bytes(), &token.hash(), at, byte);
        }

        // Pasted after the input, behind a separator, it is always found.
        let mut blob = data.to_vec();
        blob.push(b' ');
        blob.extend_from_slice(minted.as_bytes());
        blob.push(b'\n');
        check_blob(&blob);
        assert!(
            leak::find_tokens(&blob)
                .iter()
                .any(|t| t.hash() == token.hash()),
            "a pasted token was missed"
        );
    }
});
