//! What one update attempt came to. The types live in herald-api (the HTTP API answers with
//! them too); these are their names in the engine.

pub use herald_api::{UpdateOutcome as Outcome, UpdateReport as Report};
