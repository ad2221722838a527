//! A multi-step action's graph: names, needs, conditions, time budgets and outputs.
//!
//! The API server cannot check any of this (v1.20 ignores CEL), so the loader and the
//! controller both rely on it before a run is planned.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use super::action::{Exec, exec};
use super::{Errors, index, join, names};
use crate::action::{MAX_STEPS, OUTPUT_RESULT_KEY, needs_env_name};
use crate::{ActionDefinition, Step, StepCondition};

/// Which list a step is declared in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Graph,
    Finally,
}

impl Part {
    fn field(self) -> &'static str {
        match self {
            Self::Graph => "steps",
            Self::Finally => "finally",
        }
    }
}

/// A declared step with where it was declared.
struct Declared<'a> {
    step: &'a Step,
    part: Part,
    at: String,
}

pub(super) fn definition(errors: &mut Errors, def: &ActionDefinition) {
    let declared: Vec<Declared<'_>> = [(Part::Graph, &def.steps), (Part::Finally, &def.finally)]
        .into_iter()
        .flat_map(|(part, steps)| {
            steps.iter().enumerate().map(move |(i, step)| Declared {
                step,
                part,
                at: index(part.field(), i),
            })
        })
        .collect();
    if declared.len() > MAX_STEPS {
        errors.add(
            "steps",
            format!(
                "{} steps and finally steps; an action has at most {MAX_STEPS}",
                declared.len()
            ),
        );
    }
    if let Some(p) = def.parallelism
        && p < 1
    {
        errors.add(
            "parallelism",
            format!("must be at least 1, got {p}; leave it out for no limit"),
        );
    }
    if let Some(c) = &def.concurrency
        && c.max < 1
    {
        errors.add(
            "concurrency.max",
            format!(
                "must be at least 1, got {}; leave concurrency out for no limit",
                c.max
            ),
        );
    }
    let action_timeout = def.timeout.as_deref().and_then(|t| {
        let parsed = duration(t);
        errors.check("timeout", parsed.as_ref().map(|_| ()).map_err(Clone::clone));
        parsed.ok()
    });
    let by_name = unique_names(errors, &declared);
    for d in &declared {
        step(errors, d, &declared, &by_name, action_timeout);
    }
    if let Some(path) = first_cycle(&declared, &by_name) {
        let (first, _) = by_name[path[0]];
        errors.add(
            join(&declared[first].at, "needs"),
            format!("the needs form a cycle: {}", path.join(" -> ")),
        );
    }
}

/// Index and part of each name, reporting duplicates and bad names.
fn unique_names<'a>(
    errors: &mut Errors,
    declared: &[Declared<'a>],
) -> HashMap<&'a str, (usize, Part)> {
    let mut by_name = HashMap::new();
    for (i, d) in declared.iter().enumerate() {
        let name = d.step.name.as_str();
        errors.check(
            join(&d.at, "name"),
            names::dns1123_label(name).map_err(|m| format!("step name {m}")),
        );
        if let Some((first, _)) = by_name.insert(name, (i, d.part)) {
            errors.add(
                join(&d.at, "name"),
                format!(
                    "step name {name:?} is already used by {}",
                    declared[first].at
                ),
            );
            by_name.insert(name, (first, declared[first].part));
        }
    }
    by_name
}

fn step(
    errors: &mut Errors,
    d: &Declared<'_>,
    declared: &[Declared<'_>],
    by_name: &HashMap<&str, (usize, Part)>,
    action_timeout: Option<Duration>,
) {
    let step = d.step;
    let at = d.at.as_str();
    exec(
        errors,
        at,
        Exec {
            image: step.image.as_deref(),
            command: &step.command,
            env: &step.env,
            workdir: step.workdir.as_deref(),
        },
    );
    needs(errors, d, declared, by_name);
    if step.condition == Some(StepCondition::Failure) && step.needs.is_empty() {
        errors.add(
            join(at, "if"),
            "if: failure needs something to have failed: list the steps it watches in needs",
        );
    }
    if let Some(t) = &step.timeout {
        match duration(t) {
            Err(e) => errors.add(join(at, "timeout"), e),
            Ok(t) if d.part == Part::Graph && action_timeout.is_some_and(|a| t > a) => {
                errors.add(
                    join(at, "timeout"),
                    format!(
                        "{} is longer than the action's timeout of {}: the step could never use it",
                        humantime::format_duration(t),
                        humantime::format_duration(action_timeout.unwrap_or_default())
                    ),
                );
            }
            Ok(_) => {}
        }
    }
    if let Some(retries) = &step.retries {
        if !(0..=10).contains(&retries.limit) {
            errors.add(
                join(at, "retries.limit"),
                format!("from 0 to 10 retries, got {}", retries.limit),
            );
        }
        if let Some(backoff) = &retries.backoff {
            errors.check(join(at, "retries.backoff"), duration(backoff).map(|_| ()));
        }
    }
    outputs(errors, at, step);
}

fn needs(
    errors: &mut Errors,
    d: &Declared<'_>,
    declared: &[Declared<'_>],
    by_name: &HashMap<&str, (usize, Part)>,
) {
    let needs_at = join(&d.at, "needs");
    let mut seen = HashSet::new();
    // HERALD_NEEDS_* names this step would get, and which need gives each.
    let mut env_names: HashMap<String, &str> = HashMap::new();
    for (i, need) in d.step.needs.iter().enumerate() {
        let at = index(&needs_at, i);
        if !seen.insert(need.as_str()) {
            errors.add(at, format!("{need:?} is listed twice"));
            continue;
        }
        if *need == d.step.name {
            errors.add(at, format!("step {need:?} needs itself"));
            continue;
        }
        let Some(&(target, part)) = by_name.get(need.as_str()) else {
            errors.add(at, format!("no step is named {need:?}"));
            continue;
        };
        if d.part == Part::Graph && part == Part::Finally {
            errors.add(
                at,
                format!(
                    "{need:?} is a finally step: finally steps run after the whole graph, so a \
                     step of the graph cannot wait for one"
                ),
            );
            continue;
        }
        let given = &declared[target].step.outputs;
        for key in given.iter().map(String::as_str).chain([OUTPUT_RESULT_KEY]) {
            let name = needs_env_name(need, key);
            if let Some(other) = env_names.insert(name.clone(), need.as_str())
                && other != need
            {
                errors.add(
                    &needs_at,
                    format!("{other:?} and {need:?} would both set {name}; rename a step or a key"),
                );
            }
        }
    }
}

fn outputs(errors: &mut Errors, at: &str, step: &Step) {
    let outputs_at = join(at, "outputs");
    let mut seen = HashSet::new();
    for (i, key) in step.outputs.iter().enumerate() {
        let at = index(&outputs_at, i);
        if let Err(e) = output_key(key) {
            errors.add(at, e);
        } else if !seen.insert(key.to_ascii_uppercase()) {
            errors.add(
                at,
                format!("{key:?} is declared twice (keys are told apart without case, as in HERALD_NEEDS_*)"),
            );
        }
    }
}

/// A key of `$HERALD_OUTPUT`: it becomes part of an environment variable's name.
pub fn output_key(key: &str) -> Result<(), String> {
    let mut chars = key.chars();
    let valid = key.len() <= 64
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "output key {key:?} must be letters, digits and '_' (not first a digit), at most 64"
        ));
    }
    if key.eq_ignore_ascii_case(OUTPUT_RESULT_KEY) {
        return Err(format!(
            "{key:?} is reserved: HERALD_NEEDS_<STEP>_{OUTPUT_RESULT_KEY} carries the step's result"
        ));
    }
    Ok(())
}

/// A step or action time budget: a positive duration.
pub fn duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text.trim()) {
        Ok(d) if d.is_zero() => Err(format!("{text:?} must be longer than zero")),
        Ok(d) => Ok(d),
        Err(e) => Err(format!(
            "invalid duration {text:?}: {e} (write one such as \"90s\", \"10m\" or \"1h 30m\")"
        )),
    }
}

/// The first cycle in the needs, as the names along it (`a`, `b`, `a`).
fn first_cycle<'a>(
    declared: &[Declared<'a>],
    by_name: &HashMap<&'a str, (usize, Part)>,
) -> Option<Vec<&'a str>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    // A step that needs itself is reported as such, not as a cycle.
    let edges: Vec<Vec<usize>> = declared
        .iter()
        .enumerate()
        .map(|(from, d)| {
            d.step
                .needs
                .iter()
                .filter_map(|n| by_name.get(n.as_str()).map(|&(i, _)| i))
                .filter(|&to| to != from)
                .collect()
        })
        .collect();
    let mut marks = vec![Mark::New; declared.len()];
    for start in 0..declared.len() {
        if marks[start] != Mark::New {
            continue;
        }
        // Depth-first without recursion: a 1,000-step chain must not overflow the stack.
        let mut path: Vec<(usize, usize)> = vec![(start, 0)];
        marks[start] = Mark::OnPath;
        while let Some((node, next)) = path.last_mut() {
            let node = *node;
            if let Some(&to) = edges[node].get(*next) {
                *next += 1;
                match marks[to] {
                    Mark::OnPath => {
                        let from = path.iter().position(|&(n, _)| n == to).unwrap_or(0);
                        let mut cycle: Vec<&str> = path[from..]
                            .iter()
                            .map(|&(n, _)| declared[n].step.name.as_str())
                            .collect();
                        cycle.push(declared[to].step.name.as_str());
                        return Some(cycle);
                    }
                    Mark::New => {
                        marks[to] = Mark::OnPath;
                        path.push((to, 0));
                    }
                    Mark::Done => {}
                }
            } else {
                marks[node] = Mark::Done;
                path.pop();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::Validate as _;
    use crate::validate::test_support::paths;

    fn step(name: &str, needs: &[&str]) -> Step {
        Step {
            name: name.into(),
            command: vec!["true".into()],
            needs: needs.iter().map(|n| (*n).to_owned()).collect(),
            ..Step::default()
        }
    }

    fn def(steps: Vec<Step>, finally: Vec<Step>) -> ActionDefinition {
        ActionDefinition {
            steps,
            finally,
            ..ActionDefinition::default()
        }
    }

    fn errors(d: &ActionDefinition) -> Vec<String> {
        d.validate()
            .err()
            .unwrap_or_default()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_valid_graph_with_finally() {
        let d = def(
            vec![
                step("build", &[]),
                Step {
                    outputs: vec!["image_tag".into()],
                    retries: Some(crate::Retries {
                        limit: 2,
                        backoff: Some("30s".into()),
                    }),
                    timeout: Some("5m".into()),
                    ..step("push", &["build"])
                },
                Step {
                    condition: Some(StepCondition::Failure),
                    ..step("report", &["push"])
                },
            ],
            vec![step("cleanup", &["push"])],
        );
        assert_eq!(errors(&d), Vec::<String>::new());
    }

    #[test]
    fn names_must_be_unique_labels_across_steps_and_finally() {
        let d = def(
            vec![
                step("build", &[]),
                step("build", &[]),
                step("Bad_Name", &[]),
            ],
            vec![step("build", &[])],
        );
        assert_eq!(
            paths(d.validate()),
            ["steps[1].name", "steps[2].name", "finally[0].name"]
        );
        assert!(
            errors(&d)[0].contains("already used by steps[0]"),
            "{:?}",
            errors(&d)
        );
    }

    #[test]
    fn needs_must_name_other_steps_of_the_graph() {
        let d = def(
            vec![
                step("a", &["missing"]),
                step("b", &["b"]),
                step("c", &["a", "a"]),
                step("d", &["z"]),
            ],
            vec![step("z", &[])],
        );
        let e = errors(&d);
        assert_eq!(
            paths(d.validate()),
            [
                "steps[0].needs[0]",
                "steps[1].needs[0]",
                "steps[2].needs[1]",
                "steps[3].needs[0]"
            ]
        );
        assert!(e[0].contains("no step is named \"missing\""), "{e:?}");
        assert!(e[1].contains("needs itself"), "{e:?}");
        assert!(e[2].contains("listed twice"), "{e:?}");
        assert!(e[3].contains("finally step"), "{e:?}");
    }

    #[test]
    fn a_cycle_is_reported_as_its_path() {
        let d = def(
            vec![
                step("a", &["c"]),
                step("b", &["a"]),
                step("c", &["b"]),
                step("d", &[]),
            ],
            vec![],
        );
        assert_eq!(
            errors(&d),
            ["steps[0].needs: the needs form a cycle: a -> c -> b -> a"]
        );
        let two = def(vec![step("a", &["b"]), step("b", &["a"])], vec![]);
        assert_eq!(
            errors(&two),
            ["steps[0].needs: the needs form a cycle: a -> b -> a"]
        );
    }

    #[test]
    fn conditions_budgets_and_counts() {
        let d = ActionDefinition {
            timeout: Some("10m".into()),
            parallelism: Some(0),
            ..def(
                vec![
                    Step {
                        condition: Some(StepCondition::Failure),
                        ..step("a", &[])
                    },
                    Step {
                        timeout: Some("1h".into()),
                        ..step("b", &[])
                    },
                    Step {
                        timeout: Some("soon".into()),
                        retries: Some(crate::Retries {
                            limit: 11,
                            backoff: Some("0s".into()),
                        }),
                        ..step("c", &[])
                    },
                ],
                // finally has its own budget, so a long timeout there is fine.
                vec![Step {
                    timeout: Some("2h".into()),
                    ..step("z", &[])
                }],
            )
        };
        assert_eq!(
            paths(d.validate()),
            [
                "parallelism",
                "steps[0].if",
                "steps[1].timeout",
                "steps[2].timeout",
                "steps[2].retries.limit",
                "steps[2].retries.backoff",
            ]
        );
        let e = errors(&d);
        assert!(
            e[2].contains("longer than the action's timeout of 10m"),
            "{e:?}"
        );
        let many = def(
            (0..=MAX_STEPS)
                .map(|i| step(&format!("s{i}"), &[]))
                .collect(),
            vec![],
        );
        assert_eq!(paths(many.validate()), ["steps"]);
    }

    #[test]
    fn output_keys_and_the_variables_they_become() {
        let d = def(
            vec![
                Step {
                    outputs: vec!["tag".into(), "TAG".into(), "1x".into(), "result".into()],
                    ..step("a", &[])
                },
                Step {
                    outputs: vec!["c".into()],
                    ..step("b", &[])
                },
                Step {
                    outputs: vec!["b_c".into()],
                    ..step("x-a", &[])
                },
                Step {
                    outputs: vec!["c".into()],
                    ..step("x-a-b", &[])
                },
                step("uses", &["x-a", "x-a-b"]),
            ],
            vec![],
        );
        let e = errors(&d);
        assert_eq!(
            paths(d.validate()),
            [
                "steps[0].outputs[1]",
                "steps[0].outputs[2]",
                "steps[0].outputs[3]",
                "steps[4].needs"
            ]
        );
        assert!(e[2].contains("reserved"), "{e:?}");
        assert!(e[3].contains("HERALD_NEEDS_X_A_B_C"), "{e:?}");
    }
}
