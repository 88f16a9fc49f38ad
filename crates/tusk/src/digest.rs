//! Short SHA-256 digests in hexadecimal: what revisions, Job names and pod template annotations record, so a
//! change of what they stand for is noticed without keeping the inputs.
//!
//! Each caller frames its inputs its own way (the framing is part of the recorded values, which must stay the
//! same across operator versions: a changed digest would run SQL or a Job again, or roll pods); this module
//! holds what they share.

use sha2::{Digest, Sha256};

/// The first `bytes` bytes of what `hasher` has taken in, as lower-case hexadecimal (`2 × bytes` digits).
pub fn hex(hasher: Sha256, bytes: usize) -> String {
    hasher
        .finalize()
        .iter()
        .take(bytes)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// 16 hexadecimal digits of the SHA-256 of `parts`, one after the other with nothing between them.
pub fn concatenated(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    hex(hasher, 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_takes_the_first_bytes() {
        let full = hex(Sha256::new(), 32);
        assert_eq!(
            full, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "SHA-256 of nothing"
        );
        assert_eq!(hex(Sha256::new(), 5), full[..10]);
    }

    #[test]
    fn concatenated_parts_are_one_text() {
        assert_eq!(concatenated(&["ab", "c"]), concatenated(&["abc"]));
        assert_eq!(concatenated(&["abc"]).len(), 16);
        assert_ne!(concatenated(&["abc"]), concatenated(&["abd"]));
    }
}
