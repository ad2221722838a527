//! herald-local
