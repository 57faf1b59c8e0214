//! The token format (SPEC §1): `tbm_` + 24 bytes from the OS CSPRNG encoded as
//! URL-safe base64 without padding, 36 characters in all. What is stored is
//! the SHA-256 of the whole plaintext; what is shown is its first 12 chars.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::TryRngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

use crate::error::{Error, Result};

pub const PREFIX: &str = "tbm_";
pub const SECRET_BYTES: usize = 24;
/// Length of the base64 part: 24 bytes encode to exactly 32 characters.
pub const BODY_LEN: usize = 32;
pub const TOKEN_LEN: usize = PREFIX.len() + BODY_LEN;
pub const DISPLAY_PREFIX_LEN: usize = 12;

/// SHA-256 of a token's plaintext: the only form a token is stored in.
pub type TokenHash = [u8; 32];

/// A freshly minted token. It is wiped from memory when dropped and its
/// `Debug` form never shows it, so it cannot slip into a log by accident.
pub struct Plaintext(String);

impl Plaintext {
    /// Mints a new token from the operating system's CSPRNG (never a
    /// user-space generator: one seeded before the postmaster forks would be
    /// shared by every backend).
    pub fn generate() -> Result<Self> {
        let mut secret = [0u8; SECRET_BYTES];
        OsRng
            .try_fill_bytes(&mut secret)
            .map_err(|e| Error::Random(e.to_string()))?;
        let mut text = String::with_capacity(TOKEN_LEN);
        text.push_str(PREFIX);
        URL_SAFE_NO_PAD.encode_string(secret, &mut text);
        secret.zeroize();
        Ok(Plaintext(text))
    }

    /// The token itself, to hand to the caller exactly once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        digest(self.0.as_bytes())
    }

    pub fn display_prefix(&self) -> &str {
        &self.0[..DISPLAY_PREFIX_LEN]
    }
}

impl Drop for Plaintext {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Plaintext({}…)", self.display_prefix())
    }
}

/// Input that has the exact shape of a token. Only such input is ever hashed
/// and looked up; anything else is `malformed` without touching a table.
#[derive(Clone, Copy)]
pub struct WellFormed<'a>(&'a [u8]);

impl<'a> WellFormed<'a> {
    /// The token's characters, inside this crate only (nothing outside
    /// needs the plaintext of a presented token, only its hash and prefix).
    pub(crate) fn bytes(&self) -> &'a [u8] {
        self.0
    }

    pub fn hash(&self) -> TokenHash {
        digest(self.0)
    }

    pub fn display_prefix(&self) -> &str {
        // The shape check admitted ASCII only, so any byte index is a char
        // boundary.
        std::str::from_utf8(&self.0[..DISPLAY_PREFIX_LEN]).unwrap_or_default()
    }
}

impl std::fmt::Debug for WellFormed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WellFormed({}…)", self.display_prefix())
    }
}

/// Whether `byte` belongs to the URL-safe base64 alphabet.
pub fn is_url_safe(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'
}

/// Checks the shape of a presented token: the `tbm_` prefix, then exactly 32
/// URL-safe base64 characters. 32 such characters always decode to 24 bytes
/// (192 bits, no leftover bits), so no decoding is needed. The length is
/// checked first: a megabyte of input costs one comparison.
pub fn parse(input: &[u8]) -> Option<WellFormed<'_>> {
    if input.len() != TOKEN_LEN || !input.starts_with(PREFIX.as_bytes()) {
        return None;
    }
    input[PREFIX.len()..]
        .iter()
        .all(|&b| is_url_safe(b))
        .then_some(WellFormed(input))
}

/// The shortest and longest key imported from another system
/// (`tokens.import`) that verify looks up.
pub const IMPORTED_MIN_LEN: usize = 16;
pub const IMPORTED_MAX_LEN: usize = 512;

/// The hash to look up for a presented key that is not in the `tbm_`
/// format: a key imported from another system, stored as the SHA-256 of
/// its bytes. Only 16 to 512 visible ASCII characters (no space, no
/// control character) qualify; anything else is malformed without a
/// lookup, and a well-formed `tbm_` token never takes this path.
pub fn imported_hash(input: &[u8]) -> Option<TokenHash> {
    let shaped = (IMPORTED_MIN_LEN..=IMPORTED_MAX_LEN).contains(&input.len())
        && input.iter().all(|b| b.is_ascii_graphic())
        && parse(input).is_none();
    shaped.then(|| digest(input))
}

/// The one hashing function of the project.
pub fn hash(token: &WellFormed<'_>) -> TokenHash {
    token.hash()
}

fn digest(bytes: &[u8]) -> TokenHash {
    Sha256::digest(bytes).into()
}

/// The display prefix of a well-formed token (`tbm_` + 8 characters).
pub fn display_prefix<'a>(token: &WellFormed<'a>) -> &'a str {
    std::str::from_utf8(&token.0[..DISPLAY_PREFIX_LEN]).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn imported_keys_are_hashed_as_their_bytes() {
        let key = b"sk_live_0123456789abcdef";
        assert_eq!(
            imported_hash(key),
            Some(<[u8; 32]>::from(Sha256::digest(key)))
        );
        // Too short, too long, a space, a control character, non-ASCII.
        assert_eq!(imported_hash(b"short-key-15chr"), None);
        assert!(imported_hash(b"exactly-16-chars").is_some());
        assert_eq!(imported_hash(&[b'a'; IMPORTED_MAX_LEN + 1]), None);
        assert!(imported_hash(&[b'a'; IMPORTED_MAX_LEN]).is_some());
        assert_eq!(imported_hash(b"with a space in it"), None);
        assert_eq!(imported_hash(b"with-a-tab\there-ok"), None);
        assert_eq!(imported_hash("non-ascii-key-\u{e9}\u{e9}".as_bytes()), None);
        // A well-formed token is never an imported key.
        let t = Plaintext::generate().unwrap();
        assert_eq!(imported_hash(t.expose().as_bytes()), None);
    }

    #[test]
    fn minted_tokens_have_the_documented_shape() {
        let t = Plaintext::generate().unwrap();
        let s = t.expose();
        assert_eq!(s.len(), 36);
        assert!(s.starts_with("tbm_"));
        assert!(s[4..].bytes().all(is_url_safe));
        assert_eq!(URL_SAFE_NO_PAD.decode(&s[4..]).unwrap().len(), 24);
        assert_eq!(t.display_prefix(), &s[..12]);
        assert!(parse(s.as_bytes()).is_some());
    }

    #[test]
    fn minted_tokens_differ() {
        let a = Plaintext::generate().unwrap();
        let b = Plaintext::generate().unwrap();
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn hash_is_sha256_of_the_whole_plaintext() {
        let t = Plaintext::generate().unwrap();
        let expected: [u8; 32] = Sha256::digest(t.expose().as_bytes()).into();
        assert_eq!(t.hash(), expected);
        assert_eq!(parse(t.expose().as_bytes()).unwrap().hash(), expected);
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let t = Plaintext::generate().unwrap();
        let shown = format!("{t:?}");
        assert!(!shown.contains(t.expose()));
        assert!(shown.contains(t.display_prefix()));
        let w = parse(t.expose().as_bytes()).unwrap();
        assert!(!format!("{w:?}").contains(t.expose()));
    }

    #[test]
    fn known_vector() {
        // SHA-256 of the SPEC's example token, computed independently.
        let w = parse(b"tbm_3KVNsn-zEVWQ3IzOXQxfe3e3AvQOx7Wz").unwrap();
        assert_eq!(display_prefix(&w), "tbm_3KVNsn-z");
        let hex: String = w.hash().iter().map(|b| format!("{b:02x}")).collect();
        let expected: String = Sha256::digest(b"tbm_3KVNsn-zEVWQ3IzOXQxfe3e3AvQOx7Wz")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, expected);
    }

    #[test]
    fn malformed_shapes_are_refused() {
        let good = "tbm_3KVNsn-zEVWQ3IzOXQxfe3e3AvQOx7Wz";
        let cases: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"tbm_".to_vec(),
            good[..35].as_bytes().to_vec(),
            format!("{good}A").into_bytes(),
            good.replacen("tbm_", "tbx_", 1).into_bytes(),
            good.replacen("tbm_", "TBM_", 1).into_bytes(),
            good.replacen('3', "+", 1).into_bytes(),
            good.replacen('3', "/", 1).into_bytes(),
            good.replacen('3', "=", 1).into_bytes(),
            good.replacen('3', " ", 1).into_bytes(),
            format!(" {}", &good[..35]).into_bytes(),
            good.replacen("KV", "é", 1).into_bytes(),
            vec![0u8; 36],
            vec![b'a'; 1 << 20],
        ];
        for case in cases {
            assert!(
                parse(&case).is_none(),
                "{:?}",
                String::from_utf8_lossy(&case)
            );
        }
    }

    proptest! {
        #[test]
        fn any_url_safe_body_is_well_formed(body in "[A-Za-z0-9_-]{32}") {
            let token = format!("tbm_{body}");
            let parsed = parse(token.as_bytes());
            prop_assert!(parsed.is_some());
            prop_assert_eq!(display_prefix(&parsed.unwrap()), &token[..12]);
        }

        #[test]
        fn wrong_lengths_are_malformed(body in "[A-Za-z0-9_-]{0,64}") {
            prop_assume!(body.len() != 32);
            let token = format!("tbm_{body}");
            prop_assert!(parse(token.as_bytes()).is_none());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let parsed = parse(&bytes);
            if let Some(w) = parsed {
                prop_assert!(bytes.starts_with(b"tbm_") && bytes.len() == 36);
                let _ = w.hash();
            }
        }

        #[test]
        fn a_foreign_character_anywhere_is_malformed(
            body in "[A-Za-z0-9_-]{32}", at in 0usize..32, bad in "[^A-Za-z0-9_-]",
        ) {
            let mut chars: Vec<char> = body.chars().collect();
            chars[at] = bad.chars().next().unwrap();
            let token = format!("tbm_{}", chars.into_iter().collect::<String>());
            prop_assert!(parse(token.as_bytes()).is_none());
        }
    }
}
