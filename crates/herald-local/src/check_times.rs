//! When each trigger last looked at its sources and when it looks next, kept for the
//! dashboard's overview. In memory: after a restart a trigger shows "not yet" until it checks.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use herald_api::TriggerKind;
use jiff::Timestamp;

type Key = (TriggerKind, String, String);

/// A trigger's last check and, for a schedule, its next.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checked {
    pub last: Option<Timestamp>,
    pub next: Option<Timestamp>,
}

#[derive(Debug, Default)]
pub struct CheckTimes(Mutex<HashMap<Key, Checked>>);

impl CheckTimes {
    /// The trigger looked at its sources at `at`.
    pub fn checked(&self, kind: TriggerKind, namespace: &str, name: &str, at: Timestamp) {
        self.update(kind, namespace, name, |c| c.last = Some(at));
    }

    /// The schedule trigger looks next at `next`.
    pub fn due(&self, namespace: &str, name: &str, next: Timestamp) {
        self.update(TriggerKind::ScheduleTrigger, namespace, name, |c| {
            c.next = Some(next);
        });
    }

    pub fn get(&self, kind: TriggerKind, namespace: &str, name: &str) -> Checked {
        let times = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (kind, namespace.to_owned(), name.to_owned());
        times.get(&key).copied().unwrap_or_default()
    }

    /// Forgets the triggers `keep` refuses (those gone from the folder).
    pub fn retain(&self, keep: impl Fn(TriggerKind, &str, &str) -> bool) {
        let mut times = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        times.retain(|(kind, namespace, name), _| keep(*kind, namespace, name));
    }

    fn update(
        &self,
        kind: TriggerKind,
        namespace: &str,
        name: &str,
        change: impl FnOnce(&mut Checked),
    ) {
        let mut times = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (kind, namespace.to_owned(), name.to_owned());
        change(times.entry(key).or_default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trigger_keeps_its_last_and_next_check_until_it_is_gone() {
        let times = CheckTimes::default();
        let at = Timestamp::from_second(100).expect("in range");
        let next = Timestamp::from_second(160).expect("in range");
        times.checked(TriggerKind::ScheduleTrigger, "default", "every", at);
        times.due("default", "every", next);
        let checked = times.get(TriggerKind::ScheduleTrigger, "default", "every");
        assert_eq!(
            checked,
            Checked {
                last: Some(at),
                next: Some(next)
            }
        );
        assert_eq!(
            times.get(TriggerKind::WebhookTrigger, "default", "every"),
            Checked::default()
        );
        times.retain(|_, _, name| name != "every");
        assert_eq!(
            times.get(TriggerKind::ScheduleTrigger, "default", "every"),
            Checked::default()
        );
    }
}
