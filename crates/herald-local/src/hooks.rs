//! Local mode's side of the hook endpoints: the engine's fire path and fan-out, then the new
//! runs start as processes.

use herald_api::TriggerKind;
use herald_engine::HookOutcomes;
use herald_server::{Delivery, FireError, Fired, FiredRun, HookAuth, Hooks, LookupError};

use crate::engine::{self, Engine, FireRequest};

impl Hooks for Engine {
    async fn hook_auth(&self, namespace: &str, trigger: &str) -> Result<HookAuth, LookupError> {
        let catalog = self.catalog();
        catalog
            .hook_auth(namespace, trigger)
            .ok_or_else(|| LookupError::NotFound(format!("{namespace}/{trigger}")))?
            .map_err(LookupError::NotReady)
    }

    async fn fire_hook(
        &self,
        namespace: &str,
        trigger: &str,
        source: Option<&str>,
        delivery: &Delivery,
    ) -> Result<Fired, FireError> {
        let request = FireRequest {
            kind: TriggerKind::WebhookTrigger,
            namespace: namespace.to_owned(),
            name: trigger.to_owned(),
            source: source.map(str::to_owned),
            firing: herald_engine::delivery_firing(delivery.id.as_deref()),
            pushes: delivery.pushes.clone(),
            listing_max_age: std::time::Duration::ZERO,
        };
        let outcomes = self.fire_each(&request).await.map_err(|e| match e {
            engine::FireError::NotFound(why) | engine::FireError::BadRequest(why) => {
                FireError::BadRequest(why)
            }
            engine::FireError::SourceRequired => FireError::SourceRequired,
            // Suspended since the delivery was verified: refused the same way.
            engine::FireError::Suspended(_) => FireError::Suspended,
        })?;
        let gathered = HookOutcomes::gather(outcomes, |_, run, created| FiredRun {
            id: Some(run.id),
            name: run.name.clone(),
            source: run.source.clone(),
            revision: run.revision.clone(),
            created,
        });
        for run in gathered.created {
            self.spawn(run);
        }
        gathered.answer
    }

    fn delivery_log(&self) -> Option<&herald_store::Store> {
        Some(self.store())
    }
}
