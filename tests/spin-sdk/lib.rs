//! Nothing: this crate only pins spin-sdk for its WIT.
