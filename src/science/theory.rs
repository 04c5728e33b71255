//! Derivations (documentation only; see docs/THEORY.md).
#![doc = include_str!("../../docs/THEORY.md")]
