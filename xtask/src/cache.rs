//! Where Tusk keeps what it builds outside the work tree: `$TUSK_CACHE_DIR`, else `$XDG_CACHE_HOME/tusk`, else
//! `~/.cache/tusk`. A fresh clone on the same machine reuses it.

use anyhow::{Context, Result};
use std::path::PathBuf;

/// The cache directory (not created).
pub fn dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("TUSK_CACHE_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(dir).join("tusk"));
    }
    let home = std::env::var_os("HOME")
        .context("neither TUSK_CACHE_DIR, XDG_CACHE_HOME nor HOME is set")?;
    Ok(PathBuf::from(home).join(".cache/tusk"))
}

/// A short, stable fingerprint of some bytes (64-bit FNV-1a, in hex): it names cache entries after their inputs.
pub fn fingerprint<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        hash = hash.rotate_left(5) ^ part.len() as u64;
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::fingerprint;

    #[test]
    fn fingerprints_are_stable_and_tell_inputs_apart() {
        assert_eq!(
            fingerprint([b"go.mod".as_slice()]),
            fingerprint([b"go.mod".as_slice()])
        );
        assert_ne!(
            fingerprint([b"ab".as_slice(), b"c"]),
            fingerprint([b"a".as_slice(), b"bc"])
        );
        assert_eq!(fingerprint([b"".as_slice()]).len(), 16);
    }
}
