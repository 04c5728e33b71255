//! Names of enumerations (activations, losses, optimisers, ...), on the command line and in
//! files: every such enum derives clap's `ValueEnum` (its names and aliases) and says what kind
//! of name it is ([`Named`]), and [`parse_name`] reads them all the same way, with one error
//! message naming what was expected.

use crate::error::{Error, Result};
use clap::ValueEnum;

/// An enumeration read by name.
pub trait Named: ValueEnum {
    /// What kind of name it is, for messages (`activation`, `loss`, ...).
    const KIND: &'static str;
}

/// Parses `s` (surrounding space ignored, any case) as one of `E`'s names or aliases.
///
/// # Errors
/// [`Error::UnknownName`] with `E`'s kind, the name given and `E`'s names (aliases not listed).
pub fn parse_name<E: Named>(s: &str) -> Result<E> {
    E::from_str(s.trim(), true).map_err(|_| Error::UnknownName {
        kind: E::KIND,
        name: s.to_string(),
        expected: names::<E>().join(", "),
    })
}

/// `E`'s names in declaration order (aliases and hidden values not listed).
pub fn names<E: ValueEnum>() -> Vec<String> {
    E::value_variants()
        .iter()
        .filter_map(|v| v.to_possible_value())
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_string())
        .collect()
}
