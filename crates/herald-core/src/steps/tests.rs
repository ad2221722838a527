//! The scheduler driven to the end on small graphs: every decision, no IO.

use std::time::Duration;

use herald_api::{ActionDefinition, ActionJob, Retries, RunPhase, Step, StepCondition, reasons};

use super::*;

fn step(name: &str, needs: &[&str]) -> Step {
    Step {
        name: name.into(),
        command: vec!["true".into()],
        needs: needs.iter().map(|n| (*n).to_owned()).collect(),
        ..Step::default()
    }
}

fn graph(steps: Vec<Step>, finally: Vec<Step>) -> StepGraph {
    StepGraph::new(&ActionDefinition {
        steps,
        finally,
        ..ActionDefinition::default()
    })
    .expect("valid graph")
}

/// What one drive saw: the waves of starts, every skip, and the verdict.
#[derive(Debug, Default)]
struct Drive {
    waves: Vec<Vec<String>>,
    skipped: Vec<(String, &'static str, String)>,
    cancelled: Vec<String>,
    delays: Vec<(String, u32, Duration)>,
    states: Vec<StepState>,
    verdict: Option<RunVerdict>,
}

/// Runs the graph to its end: every started attempt ends as `outcome(name, attempt)` says,
/// a wave at a time. `time_out_after` waves, the action's timeout runs out.
fn drive(
    g: &StepGraph,
    outcome: impl Fn(&str, u32) -> RunPhase,
    time_out_after: Option<usize>,
) -> Drive {
    let mut states = vec![StepState::default(); g.nodes().len()];
    let mut seen = Drive::default();
    for wave in 0..100 {
        let timed_out = time_out_after.is_some_and(|w| wave >= w);
        let next = advance(g, &states, timed_out.then_some(&Halt::TimedOut));
        let mut started = Vec::new();
        for m in next.moves {
            match m {
                Move::Start {
                    step,
                    attempt,
                    delay,
                } => {
                    let name = g.nodes()[step].step.name.clone();
                    states[step] = StepState::new(RunPhase::Running, reasons::RUN_STARTED);
                    states[step].attempt = attempt;
                    seen.delays.push((name.clone(), attempt, delay));
                    started.push((step, name));
                }
                Move::Skip {
                    step,
                    reason,
                    message,
                } => {
                    states[step] = StepState::new(RunPhase::Skipped, reason);
                    seen.skipped
                        .push((g.nodes()[step].step.name.clone(), reason, message));
                }
                Move::Cancel { step, reason, .. } => {
                    states[step] = StepState {
                        phase: RunPhase::Cancelled,
                        reason: Some(reason.into()),
                        ..states[step].clone()
                    };
                    seen.cancelled.push(g.nodes()[step].step.name.clone());
                }
            }
        }
        if let Some(verdict) = next.verdict {
            assert!(started.is_empty(), "no start after the verdict");
            seen.verdict = Some(verdict);
            seen.states = states;
            return seen;
        }
        // The timeout lands while this wave runs: its steps are cancelled, not finished.
        let lands = time_out_after.is_some_and(|w| wave + 1 >= w);
        for (i, name) in &started {
            if lands && !g.is_finally(*i) {
                continue;
            }
            let phase = outcome(name, states[*i].attempt);
            let reason = match phase {
                RunPhase::Succeeded => reasons::RUN_COMPLETED,
                RunPhase::TimedOut => reasons::RUN_DEADLINE_EXCEEDED,
                _ => reasons::RUN_ERROR,
            };
            states[*i].phase = phase;
            states[*i].reason = Some(reason.into());
            states[*i].message = Some(format!("{name} ended"));
        }
        seen.waves
            .push(started.into_iter().map(|(_, name)| name).collect());
    }
    panic!("no verdict after 100 waves: {seen:?}");
}

fn all_succeed(_: &str, _: u32) -> RunPhase {
    RunPhase::Succeeded
}

fn names(wave: &[&str]) -> Vec<String> {
    wave.iter().map(|s| (*s).to_owned()).collect()
}

fn phase_of(g: &StepGraph, d: &Drive, name: &str) -> RunPhase {
    d.states[g.position(name).unwrap()].phase
}

#[test]
fn steps_start_when_their_needs_have_finished_and_parallel_branches_run_together() {
    // build -> (test, lint) -> deploy
    let g = graph(
        vec![
            step("deploy", &["test", "lint"]),
            step("test", &["build"]),
            step("lint", &["build"]),
            step("build", &[]),
        ],
        vec![],
    );
    let d = drive(&g, all_succeed, None);
    assert_eq!(
        d.waves,
        [
            names(&["build"]),
            names(&["test", "lint"]),
            names(&["deploy"])
        ]
    );
    let v = d.verdict.unwrap();
    assert_eq!(v.phase, RunPhase::Succeeded);
    assert_eq!(v.reason, reasons::RUN_COMPLETED);
    assert_eq!(v.message, "4 steps succeeded, 0 skipped");
}

#[test]
fn parallelism_bounds_the_steps_running_at_once() {
    let mut def = ActionDefinition {
        steps: ["a", "b", "c", "d", "e"].map(|n| step(n, &[])).to_vec(),
        parallelism: Some(2),
        ..ActionDefinition::default()
    };
    let d = drive(&StepGraph::new(&def).unwrap(), all_succeed, None);
    assert_eq!(
        d.waves,
        [names(&["a", "b"]), names(&["c", "d"]), names(&["e"])]
    );
    def.parallelism = None;
    let d = drive(&StepGraph::new(&def).unwrap(), all_succeed, None);
    assert_eq!(d.waves.len(), 1);
}

#[test]
fn a_failure_skips_its_dependents_and_the_skip_propagates_naming_the_cause() {
    let g = graph(
        vec![
            step("build", &[]),
            step("test", &["build"]),
            step("deploy", &["test"]),
            step("docs", &[]),
        ],
        vec![],
    );
    let d = drive(
        &g,
        |name, _| {
            if name == "build" {
                RunPhase::Failed
            } else {
                RunPhase::Succeeded
            }
        },
        None,
    );
    assert_eq!(
        d.skipped,
        [
            (
                "test".to_owned(),
                reasons::STEP_NEED_FAILED,
                "skipped: build failed".to_owned()
            ),
            (
                "deploy".to_owned(),
                reasons::STEP_NEED_FAILED,
                "skipped: test was skipped because a step before it failed".to_owned()
            ),
        ]
    );
    assert_eq!(phase_of(&g, &d, "docs"), RunPhase::Succeeded);
    let v = d.verdict.unwrap();
    assert_eq!(v.phase, RunPhase::Failed);
    assert_eq!(v.reason, reasons::RUN_ERROR);
    assert_eq!(v.message, "step build failed: build ended");
}

#[test]
fn if_failure_runs_only_after_a_failure_upstream_and_always_runs_regardless() {
    let on_failure = |name: &str, needs: &[&str]| Step {
        condition: Some(StepCondition::Failure),
        ..step(name, needs)
    };
    let always = |name: &str, needs: &[&str]| Step {
        condition: Some(StepCondition::Always),
        ..step(name, needs)
    };
    let steps = vec![
        step("build", &[]),
        step("test", &["build"]),
        on_failure("report", &["test"]),
        always("notify", &["test"]),
    ];
    // test is skipped because build failed: report still sees the failure through it.
    let g = graph(steps.clone(), vec![]);
    let failing = |name: &str, _| {
        if name == "build" {
            RunPhase::Failed
        } else {
            RunPhase::Succeeded
        }
    };
    let d = drive(&g, failing, None);
    assert_eq!(phase_of(&g, &d, "report"), RunPhase::Succeeded);
    assert_eq!(phase_of(&g, &d, "notify"), RunPhase::Succeeded);
    assert_eq!(d.verdict.unwrap().phase, RunPhase::Failed);
    // Nothing fails: report is skipped with a reason that names what it watched.
    let d = drive(&g, all_succeed, None);
    assert_eq!(phase_of(&g, &d, "report"), RunPhase::Skipped);
    assert_eq!(
        d.skipped,
        [(
            "report".to_owned(),
            reasons::STEP_CONDITION_FALSE,
            "skipped: if: failure, and none of test failed".to_owned()
        )]
    );
    assert_eq!(d.verdict.unwrap().phase, RunPhase::Succeeded);
}

#[test]
fn a_skip_by_condition_is_not_a_failure_downstream() {
    let g = graph(
        vec![
            step("build", &[]),
            Step {
                condition: Some(StepCondition::Failure),
                ..step("rollback", &["build"])
            },
            step("after-rollback", &["rollback"]),
        ],
        vec![],
    );
    let d = drive(&g, all_succeed, None);
    assert_eq!(
        d.skipped[1],
        (
            "after-rollback".to_owned(),
            reasons::STEP_NEED_SKIPPED,
            "skipped: rollback was skipped".to_owned()
        )
    );
    assert_eq!(d.verdict.unwrap().phase, RunPhase::Succeeded);
}

#[test]
fn continue_on_error_lets_dependents_run_but_the_failure_is_kept() {
    let g = graph(
        vec![
            Step {
                continue_on_error: true,
                ..step("flaky", &[])
            },
            step("next", &["flaky"]),
        ],
        vec![],
    );
    let d = drive(
        &g,
        |name, _| {
            if name == "flaky" {
                RunPhase::Failed
            } else {
                RunPhase::Succeeded
            }
        },
        None,
    );
    assert_eq!(phase_of(&g, &d, "flaky"), RunPhase::Failed);
    assert_eq!(phase_of(&g, &d, "next"), RunPhase::Succeeded);
    // Its failure counted as success, so the run succeeds.
    assert_eq!(d.verdict.unwrap().phase, RunPhase::Succeeded);
}

#[test]
fn retries_follow_failures_and_timeouts_with_a_doubling_backoff_never_a_success() {
    let retried = Step {
        retries: Some(Retries {
            limit: 3,
            backoff: Some("5s".into()),
        }),
        ..step("fetch", &[])
    };
    let g = graph(vec![retried, step("use", &["fetch"])], vec![]);
    // Fails, times out, then succeeds on the third attempt.
    let d = drive(
        &g,
        |name, attempt| match (name, attempt) {
            ("fetch", 1) => RunPhase::Failed,
            ("fetch", 2) => RunPhase::TimedOut,
            _ => RunPhase::Succeeded,
        },
        None,
    );
    assert_eq!(
        d.delays,
        [
            ("fetch".to_owned(), 1, Duration::ZERO),
            ("fetch".to_owned(), 2, Duration::from_secs(5)),
            ("fetch".to_owned(), 3, Duration::from_secs(10)),
            ("use".to_owned(), 1, Duration::ZERO),
        ]
    );
    assert_eq!(d.verdict.unwrap().phase, RunPhase::Succeeded);
    // Out of attempts: the last failure is final.
    let d = drive(
        &g,
        |name, _| {
            if name == "fetch" {
                RunPhase::Failed
            } else {
                RunPhase::Succeeded
            }
        },
        None,
    );
    assert_eq!(d.states[0].attempt, 4);
    assert_eq!(phase_of(&g, &d, "use"), RunPhase::Skipped);
}

#[test]
fn finally_runs_after_the_graph_whatever_happened_even_after_its_timeout() {
    let g = graph(
        vec![step("build", &[]), step("test", &["build"])],
        vec![step("cleanup", &[]), step("report", &["cleanup", "test"])],
    );
    // Success: finally runs last, in its own order.
    let d = drive(&g, all_succeed, None);
    assert_eq!(
        d.waves,
        [
            names(&["build"]),
            names(&["test"]),
            names(&["cleanup"]),
            names(&["report"])
        ]
    );
    // The action's timeout lands while build runs: the graph is cancelled, finally runs.
    let d = drive(&g, all_succeed, Some(1));
    assert_eq!(d.cancelled, ["build", "test"]);
    assert_eq!(phase_of(&g, &d, "cleanup"), RunPhase::Succeeded);
    assert_eq!(phase_of(&g, &d, "report"), RunPhase::Succeeded);
    let v = d.verdict.unwrap();
    assert_eq!(v.phase, RunPhase::Failed);
    assert_eq!(v.reason, reasons::RUN_DEADLINE_EXCEEDED);
}

#[test]
fn a_retry_never_starts_after_the_action_timed_out() {
    let g = graph(
        vec![Step {
            retries: Some(Retries {
                limit: 5,
                backoff: None,
            }),
            ..step("a", &[])
        }],
        vec![],
    );
    let mut states = vec![StepState::new(RunPhase::Failed, reasons::RUN_ERROR)];
    states[0].attempt = 1;
    let next = advance(&g, &states, None);
    assert!(matches!(next.moves[..], [Move::Start { attempt: 2, .. }]));
    assert_eq!(next.moves.len(), 1);
    let next = advance(&g, &states, Some(&Halt::TimedOut));
    assert!(next.moves.is_empty(), "{:?}", next.moves);
    assert_eq!(next.verdict.unwrap().reason, reasons::RUN_DEADLINE_EXCEEDED);
}

#[test]
fn an_action_job_is_a_graph_of_one_step_with_the_job_s_own_words() {
    let g = StepGraph::new(
        &ActionJob {
            command: vec!["make".into()],
            active_deadline_seconds: Some(90),
            ..ActionJob::default()
        }
        .into(),
    )
    .unwrap();
    assert_eq!(g.nodes().len(), 1);
    assert_eq!(g.nodes()[0].step.name, herald_api::ACTION_JOB_STEP);
    assert_eq!(g.nodes()[0].timeout, Duration::from_secs(90));
    let d = drive(&g, |_, _| RunPhase::TimedOut, None);
    let v = d.verdict.unwrap();
    assert_eq!(v.reason, reasons::RUN_DEADLINE_EXCEEDED);
    // One step: the run says what the step said, without a step prefix.
    assert_eq!(v.message, "main ended");
}

#[test]
fn the_same_states_give_the_same_moves_so_a_restart_rebuilds_them() {
    let g = graph(
        vec![step("a", &[]), step("b", &["a"]), step("c", &["a"])],
        vec![],
    );
    let mut states = vec![StepState::default(); 3];
    states[0] = StepState::new(RunPhase::Succeeded, reasons::RUN_COMPLETED);
    states[1] = StepState::new(RunPhase::Running, reasons::RUN_STARTED);
    let first = advance(&g, &states, None);
    assert_eq!(first, advance(&g, &states, None));
    // b runs already (its Job was adopted): only c starts, and b is not started twice.
    assert_eq!(
        first.moves,
        [Move::Start {
            step: 2,
            attempt: 1,
            delay: Duration::ZERO
        }]
    );
}

#[test]
fn step_timeouts_default_to_the_action_s_and_finally_keeps_its_own() {
    let def = ActionDefinition {
        steps: vec![
            step("a", &[]),
            Step {
                timeout: Some("1m".into()),
                ..step("b", &[])
            },
        ],
        finally: vec![step("z", &[])],
        timeout: Some("10m".into()),
        ..ActionDefinition::default()
    };
    let g = StepGraph::new(&def).unwrap();
    let timeouts: Vec<Duration> = g.nodes().iter().map(|n| n.timeout).collect();
    assert_eq!(
        timeouts,
        [
            Duration::from_secs(600),
            Duration::from_secs(60),
            DEFAULT_STEP_TIMEOUT
        ]
    );
}

mod outputs {
    use super::*;

    fn declared(keys: &[&str]) -> Vec<String> {
        keys.iter().map(|k| (*k).to_owned()).collect()
    }

    #[test]
    fn key_value_lines_are_read_and_values_keep_their_equals_signs() {
        let out = parse_outputs(
            b"tag=v1.2.3\n\nurl=https://x/?a=b\n",
            &declared(&["tag", "url"]),
            &[],
        )
        .unwrap();
        assert_eq!(out["tag"], "v1.2.3");
        assert_eq!(out["url"], "https://x/?a=b");
        assert!(parse_outputs(b"", &declared(&[]), &[]).unwrap().is_empty());
    }

    #[test]
    fn bad_files_fail_with_a_reason_never_truncated() {
        let keys = declared(&["tag"]);
        let cases: [(&[u8], &str); 5] = [
            (b"tag v1\n", reasons::STEP_OUTPUT_MALFORMED),
            (b"tag=1\ntag=2\n", reasons::STEP_OUTPUT_MALFORMED),
            (b"other=1\n", reasons::STEP_OUTPUT_UNDECLARED),
            (b"tag=\xff\n", reasons::STEP_OUTPUT_MALFORMED),
            (b"1tag=x\n", reasons::STEP_OUTPUT_MALFORMED),
        ];
        for (bytes, reason) in cases {
            let e = parse_outputs(bytes, &keys, &[]).unwrap_err();
            assert_eq!(e.reason(), reason, "{bytes:?}: {e}");
        }
        let big = format!("tag={}", "x".repeat(MAX_STEP_OUTPUT));
        let e = parse_outputs(big.as_bytes(), &keys, &[]).unwrap_err();
        assert_eq!(e.reason(), reasons::STEP_OUTPUT_TOO_LARGE);
        let fits = format!("tag={}", "x".repeat(MAX_STEP_OUTPUT - 4));
        assert!(parse_outputs(fits.as_bytes(), &keys, &[]).is_ok());
        // The message says where, never what: a malformed line may hold a secret.
        let e = parse_outputs(b"tag=ok\nhunter2\n", &keys, &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2 of $HERALD_OUTPUT is not key=value (or not UTF-8)"
        );
    }

    #[test]
    fn a_value_holding_a_secret_the_step_was_given_is_refused() {
        let keys = declared(&["token", "note"]);
        let secrets = ["s3cr3t-value", "ab"];
        for bytes in [
            &b"token=s3cr3t-value\n"[..],
            b"note=Bearer s3cr3t-value!\n",
            b"note=ab\n",
        ] {
            let e = parse_outputs(bytes, &keys, &secrets).unwrap_err();
            assert_eq!(e.reason(), reasons::STEP_OUTPUT_SECRET);
            assert!(!e.to_string().contains("s3cr3t"), "{e}");
        }
        // A short secret only as a whole value: "about" holds "ab".
        assert!(parse_outputs(b"note=about\n", &keys, &secrets).is_ok());
    }

    #[test]
    fn a_run_keeps_at_most_its_budget_of_outputs() {
        let mut big = herald_api::StepOutputs::new();
        big.insert("k".into(), "v".repeat(4000));
        assert!(fits_run(0, &big).is_ok());
        let e = fits_run(MAX_RUN_OUTPUTS - 100, &big).unwrap_err();
        assert_eq!(e.reason(), reasons::STEP_OUTPUT_TOO_LARGE);
    }

    #[test]
    fn dependents_get_the_outputs_and_result_of_what_they_need_directly() {
        let g = graph(
            vec![
                Step {
                    outputs: declared(&["image_tag"]),
                    ..step("build-image", &[])
                },
                step("test", &["build-image"]),
                step("deploy", &["test"]),
            ],
            vec![],
        );
        let states = vec![
            StepState::new(RunPhase::Succeeded, reasons::RUN_COMPLETED),
            StepState::new(RunPhase::Succeeded, reasons::RUN_COMPLETED),
            StepState::default(),
        ];
        let mut outputs = vec![herald_api::StepOutputs::new(); 3];
        outputs[0].insert("image_tag".into(), "v7".into());
        let mut env = needs_env(&g, &states, &outputs, 1);
        env.sort();
        assert_eq!(
            env,
            [
                (
                    "HERALD_NEEDS_BUILD_IMAGE_IMAGE_TAG".to_owned(),
                    "v7".to_owned()
                ),
                (
                    "HERALD_NEEDS_BUILD_IMAGE_RESULT".to_owned(),
                    "success".to_owned()
                ),
            ]
        );
        // Only direct needs: deploy sees test, not build-image.
        let env = needs_env(&g, &states, &outputs, 2);
        assert_eq!(
            env,
            [("HERALD_NEEDS_TEST_RESULT".to_owned(), "success".to_owned())]
        );
    }
}
