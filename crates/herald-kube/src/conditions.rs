//! Standard conditions (`Ready`, `Reconciling`, `Stalled`) with transition times kept when the
//! status does not change.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

pub use herald_api::reasons::{READY, RECONCILING, STALLED};

/// The conditions for one outcome: `Ready` with `ready`, `Stalled` when the spec is at fault
/// (nothing happens until it changes), and `Reconciling` while neither holds. Transition times of conditions whose status did not change are kept from `previous`.
pub fn conditions(
    previous: &[Condition],
    ready: bool,
    stalled: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
) -> Vec<Condition> {
    let make =
        |type_: &str, status: bool| condition(previous, type_, status, reason, message, generation);
    vec![
        make(READY, ready),
        make(RECONCILING, !ready && !stalled),
        make(STALLED, stalled),
    ]
}

/// `conditions` with one more of `type_` (beside the standard three), its transition time
/// kept from `previous` when its status did not change; `None` removes it.
pub fn with_condition(
    mut conditions: Vec<Condition>,
    previous: &[Condition],
    type_: &str,
    state: Option<(bool, &str, &str)>,
    generation: Option<i64>,
) -> Vec<Condition> {
    conditions.retain(|c| c.type_ != type_);
    if let Some((ok, reason, message)) = state {
        conditions.push(condition(previous, type_, ok, reason, message, generation));
    }
    conditions
}

/// One condition, its transition time kept from `previous` when its status did not change.
fn condition(
    previous: &[Condition],
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
) -> Condition {
    let status = if status { "True" } else { "False" }.to_owned();
    let kept = previous
        .iter()
        .find(|c| c.type_ == type_ && c.status == status);
    Condition {
        type_: type_.to_owned(),
        status,
        reason: reason.to_owned(),
        message: message.to_owned(),
        observed_generation: generation,
        last_transition_time: kept.map_or_else(now, |c| c.last_transition_time.clone()),
    }
}

/// The current time as an API timestamp.
pub fn now() -> Time {
    Time(jiff::Timestamp::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_time_is_kept_while_status_holds() {
        let first = conditions(&[], true, false, "Ok", "fine", Some(1));
        let again = conditions(&first, true, false, "Ok", "still fine", Some(2));
        assert_eq!(first[0].last_transition_time, again[0].last_transition_time);
        assert_eq!(again[0].message, "still fine");
        let broken = conditions(&again, false, true, "InvalidSpec", "bad", Some(3));
        let statuses: Vec<_> = broken
            .iter()
            .map(|c| (c.type_.as_str(), c.status.as_str()))
            .collect();
        assert_eq!(
            statuses,
            [(READY, "False"), (RECONCILING, "False"), (STALLED, "True")]
        );
        assert_eq!(broken[2].reason, "InvalidSpec");
    }
}
