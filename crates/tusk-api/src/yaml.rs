//! How Tusk prints YAML: block style, one line per scalar unless the text itself has line breaks.

use serde::Serialize;

/// Why a value could not be written as YAML.
pub type Error = serde_saphyr::ser::Error;

/// Serializes `value` as YAML the way `tusk crd` and `tusk render` print it.
pub fn to_yaml<T: Serialize>(value: &T) -> Result<String, Error> {
    let options = serde_saphyr::ser_options! {
        folded_wrap_chars: usize::MAX / 2,
    };
    serde_saphyr::to_string_with_options(value, options)
}
