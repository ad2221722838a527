//! Herald's pure logic, shared by local and cluster mode: which revision a trigger looks at,
//! whether it fires, how a run is named, what environment an action gets, when a schedule is
//! due, and how hooks are verified and read. No IO here, so most unit tests live in this crate.

mod credentials;
mod decide;
mod env;
mod firing;
mod naming;
mod schedule;

pub mod flux;
pub mod hooks;
pub mod steps;

pub use credentials::{
    CredentialItem, CredentialPlan, FILE_CA, FILE_KNOWN_HOSTS, FILE_PASSWORD, FILE_SSH_PRIVATE_KEY,
    FILE_TOKEN, FILE_USERNAME, credential_plan,
};
pub use decide::{
    Decision, RefTip, SelectError, Selected, SourceChoiceError, decide, files_match, select_pushed,
    select_revision, sources_to_fire, why_not_selected,
};
pub use env::{RunContext, WORKDIR_ENV, run_env};
pub use firing::{Firing, RunPlan, plan_run};
pub use naming::run_name;
pub use schedule::{Ticker, TickerError};
