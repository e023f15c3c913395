//! Hyperparameter tuning job state changes: a completed tuning job registers its best trial like
//! a training job of its own (the trial's Completed event was kept for this); a failed or stopped
//! one is told like a failed job.
//!
//! Idempotent: registration is the training job's (one package per job); the message goes out
//! once; a tuning event that arrives before its best trial's is retried, not lost; a Failed or
//! Stopped event after the job's completion was recorded is stale and changes nothing.

use super::alerts;
use super::events::{TrainingJob, TuningJob};
use super::job::JobOutcome;
use super::names::tagged_model;
use super::{Guards, Hosting, Lifecycle, LifecycleError, Outcome, Registry, tuning_trial_key};

/// Where a tuning job's completion is remembered (a late Failed or Stopped is then stale).
pub fn tuning_state_key(tuning_job: &str) -> String {
    format!("state/lifecycle/tuning/{tuning_job}.json")
}
use crate::config::ModelConfig;
use crate::store::{Notifier, ObjectStore};
use crate::training::tags as tag;

/// The model of a tuning job: by its tags, else by its name (`<model>-<version>`).
pub fn tuning_model<'c>(
    job: &TuningJob,
    project: &str,
    models: &'c [ModelConfig],
) -> Option<&'c ModelConfig> {
    if job.tags.contains_key(tag::MODEL) {
        return tagged_model(&job.tags, project, models);
    }
    models
        .iter()
        .filter(|m| m.tuning.is_some())
        .filter(|m| {
            job.hyper_parameter_tuning_job_name
                .strip_prefix(m.name.as_str())
                .is_some_and(|rest| rest.starts_with('-'))
        })
        .max_by_key(|m| m.name.len())
}

impl<S, N, R, H, G> Lifecycle<'_, S, N, R, H, G>
where
    S: ObjectStore,
    N: Notifier,
    R: Registry,
    H: Hosting,
    G: Guards,
{
    /// A tuning job: when Completed, its best trial is registered like a training job of its
    /// own; a failed or stopped tuning job is told like a failed job.
    pub(super) async fn tuning_job(&self, job: &TuningJob) -> Result<Outcome, LifecycleError> {
        let name = &job.hyper_parameter_tuning_job_name;
        let Some(model) = tuning_model(job, self.project(), &self.config.models) else {
            return Ok(Outcome::Ignored {
                reason: format!("tuning job {name} is not a Hawkins job of a configured model"),
            });
        };
        let links = self.links();
        match job.hyper_parameter_tuning_job_status.as_str() {
            "Completed" => {
                let Some(best) = &job.best_training_job else {
                    return Ok(Outcome::Ignored {
                        reason: format!("tuning job {name} completed without a best training job"),
                    });
                };
                let stored = self
                    .store
                    .get(&tuning_trial_key(name, &best.training_job_name))
                    .await?;
                let trial: Option<TrainingJob> =
                    stored.and_then(|o| serde_json::from_slice(&o.bytes).ok());
                let Some(trial) = trial else {
                    return Err(LifecycleError::BestJobNotRecorded {
                        tuning: name.clone(),
                        best: best.training_job_name.clone(),
                    });
                };
                let outcome = self.register(&trial, model).await?;
                // Remembered after the registration, so a crash before it only repeats the
                // (idempotent) registration.
                self.store
                    .put_if_changed(
                        &tuning_state_key(name),
                        br#"{"status":"Completed"}"#.to_vec(),
                        "application/json",
                    )
                    .await?;
                Ok(outcome)
            }
            "Failed" | "Stopped" if self.store.head(&tuning_state_key(name)).await?.is_some() => {
                // Events come in any order: a tuning job that completed does not fail later, so
                // this event is older than the completion (or a replay of a stale one).
                Ok(Outcome::Ignored {
                    reason: format!(
                        "tuning job {name} completed already: a {} event about it is stale",
                        job.hyper_parameter_tuning_job_status
                    ),
                })
            }
            "Failed" | "Stopped" => {
                let reason = job.failure_reason.clone().unwrap_or_else(|| {
                    format!(
                        "the tuning job is {}",
                        job.hyper_parameter_tuning_job_status
                    )
                });
                let alerted = self
                    .send_once(&alerts::job_failed(
                        &model.name,
                        name,
                        &reason,
                        false,
                        &links,
                    ))
                    .await?;
                Ok(Outcome::Job {
                    job: name.clone(),
                    outcome: JobOutcome::Failed {
                        reason,
                        spot_capacity: false,
                    },
                    recorded: false,
                    alerted,
                })
            }
            _ => Ok(Outcome::Job {
                job: name.clone(),
                outcome: JobOutcome::Running,
                recorded: false,
                alerted: false,
            }),
        }
    }
}
