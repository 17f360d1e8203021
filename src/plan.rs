//! The dependency plan: which sessions run, and what each waits for.
//!
//! `requires` names lpids (or globs over lpids) that must be complete before
//! a session starts. out_files and raw blocks are complete once tangling is
//! done, so only session-to-session edges remain. The planner decides; the
//! runner ([`crate::build`]) executes.

use std::collections::HashMap;

use crate::document::Project;
use crate::error::{Diagnostic, Diagnostics, Focus, Kind, attach_snippets, location};
use crate::options::{SessionSpec, Spec};

/// One session to run.
#[derive(Debug, Clone)]
pub struct Step {
    /// Index into [`Project::groups`].
    pub group: usize,
    /// Indices into [`Plan::steps`] that must finish first.
    pub after: Vec<usize>,
}

/// The sessions of a project with their direct dependencies; acyclic.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Sessions, in order of first appearance.
    pub steps: Vec<Step>,
}

impl Plan {
    /// Resolve every session's `requires`. Unknown lpids and cycles are
    /// errors naming the chain and each member's file:line.
    pub fn new(project: &Project) -> Result<Plan, Diagnostics> {
        let mut errors = check_sessions(project);
        let sessions: Vec<(usize, &SessionSpec)> = project
            .groups
            .iter()
            .enumerate()
            .filter_map(|(i, g)| match &g.spec {
                Spec::Session(s) => Some((i, s)),
                _ => None,
            })
            .collect();
        let step_of: HashMap<usize, usize> = sessions
            .iter()
            .enumerate()
            .map(|(s, (g, _))| (*g, s))
            .collect();
        let mut steps = Vec::new();
        for &(gi, spec) in &sessions {
            let group = &project.groups[gi];
            let mut after = Vec::new();
            for req in &spec.requires {
                let matched = project.matching(req);
                if matched.is_empty() {
                    let (path, line) = project.option_location(group, "requires");
                    errors.push(
                        Diagnostic::new(
                            Kind::UnknownReference,
                            &path,
                            line,
                            format!(
                                "session '{}' requires unknown lpid '{req}'{}",
                                group.lpid,
                                project.no_match_hint(req)
                            ),
                        )
                        .about(Focus::Item("requires".into(), req.clone())),
                    );
                }
                for mi in matched {
                    if let Some(&s) = step_of.get(&mi)
                        && !after.contains(&s)
                    {
                        after.push(s);
                    }
                }
            }
            steps.push(Step { group: gi, after });
        }
        let plan = Plan { steps };
        if let Some(cycle) = plan.find_cycle() {
            let names: Vec<&str> = cycle
                .iter()
                .map(|&s| project.groups[plan.steps[s].group].lpid.as_str())
                .collect();
            let first = &project.groups[plan.steps[cycle[0]].group];
            let members: Vec<String> = cycle[..cycle.len() - 1]
                .iter()
                .map(|&s| {
                    let g = &project.groups[plan.steps[s].group];
                    format!("'{}' at {}", g.lpid, location(&g.path, g.line))
                })
                .collect();
            errors.push(Diagnostic::new(
                Kind::Cycle,
                &first.path,
                first.line,
                format!(
                    "requires form a cycle: {} ({})",
                    names.join(" -> "),
                    members.join(", ")
                ),
            ));
        }
        if errors.is_empty() {
            Ok(plan)
        } else {
            errors.sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
            for doc in &project.documents {
                attach_snippets(&doc.path, &doc.text, &mut errors);
            }
            Err(Diagnostics(errors))
        }
    }

    /// A cycle as a path of step indices whose last equals its first.
    fn find_cycle(&self) -> Option<Vec<usize>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Active,
            Done,
        }
        let mut marks = vec![Mark::New; self.steps.len()];
        for start in 0..self.steps.len() {
            if marks[start] != Mark::New {
                continue;
            }
            // Iterative depth-first search: (step, next edge to follow).
            let mut path: Vec<(usize, usize)> = vec![(start, 0)];
            marks[start] = Mark::Active;
            while let Some(&mut (node, ref mut edge)) = path.last_mut() {
                if let Some(&next) = self.steps[node].after.get(*edge) {
                    *edge += 1;
                    match marks[next] {
                        Mark::Active => {
                            let from = path.iter().position(|&(n, _)| n == next).unwrap_or(0);
                            let mut cycle: Vec<usize> =
                                path[from..].iter().map(|&(n, _)| n).collect();
                            cycle.push(next);
                            // Show the chain in "requires" direction.
                            return Some(cycle);
                        }
                        Mark::New => {
                            marks[next] = Mark::Active;
                            path.push((next, 0));
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
}

/// Check what sessions hand to the operating system: environment names
/// (not empty, no `=` or NUL) and values, the command, `cwd` and `marker`
/// (no NUL, which no C string can hold). Every problem is a document error
/// at the line of the option, found before anything is written or run.
fn check_sessions(project: &Project) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    for group in &project.groups {
        let Spec::Session(spec) = &group.spec else {
            continue;
        };
        let mut bad = |key: &str, message: String| {
            let (path, line) = project.option_location(group, key);
            errors.push(
                Diagnostic::new(
                    Kind::InvalidValue,
                    &path,
                    line,
                    format!("{message} (in '{}')", group.lpid),
                )
                .about(Focus::Value(key.to_string())),
            );
        };
        for (name, value) in &spec.env {
            let shown = name.escape_debug();
            if name.is_empty() {
                bad("env", "environment variable name is empty".to_string());
            } else if name.contains('=') {
                bad(
                    "env",
                    format!("environment variable name '{shown}' contains '='"),
                );
            } else if name.contains('\0') {
                bad(
                    "env",
                    format!("environment variable name '{shown}' contains a NUL character"),
                );
            }
            if value.contains('\0') {
                bad(
                    "env",
                    format!("the value of environment variable '{shown}' contains a NUL character"),
                );
            }
        }
        if spec.command.0.iter().any(|a| a.contains('\0')) {
            bad(
                "command",
                "option 'command' contains a NUL character".to_string(),
            );
        }
        if spec.cwd.as_deref().is_some_and(|c| c.contains('\0')) {
            bad("cwd", "option 'cwd' contains a NUL character".to_string());
        }
        if spec.marker.as_deref().is_some_and(|c| c.contains('\0')) {
            bad(
                "marker",
                "option 'marker' contains a NUL character".to_string(),
            );
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Document;
    use std::path::Path;

    fn plan(text: &str) -> Result<Plan, Diagnostics> {
        let p = Project::new(vec![
            Document::parse(Path::new("t.md"), text.to_string()).unwrap(),
        ])
        .unwrap();
        Plan::new(&p)
    }

    fn session(lpid: &str, requires: &str) -> String {
        format!("```yaml\nlpid: {lpid}\nlptype: session\nrequires: {requires}\n```\n\n")
    }

    #[test]
    fn direct_dependencies_and_globs() {
        let text = session("a", "[]") + &session("b", "[a]") + &session("c", "['[ab]']");
        let p = plan(&text).unwrap();
        assert_eq!(p.steps[1].after, vec![0]);
        assert_eq!(p.steps[2].after, vec![0, 1]);
    }

    #[test]
    fn cycles_of_length_one_two_three() {
        let e = plan(&session("a", "[a]")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.md:1: requires form a cycle: a -> a ('a' at t.md:1)"
        );
        let e = plan(&(session("a", "[b]") + &session("b", "[a]"))).unwrap_err();
        assert!(
            e.to_string()
                .contains("a -> b -> a ('a' at t.md:1, 'b' at t.md:7)"),
            "{e}"
        );
        let e =
            plan(&(session("a", "[b]") + &session("b", "[c]") + &session("c", "[a]"))).unwrap_err();
        assert!(e.to_string().contains("a -> b -> c -> a"), "{e}");
    }

    #[test]
    fn unknown_requirement() {
        let e = plan(&session("a", "[nope]")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.md:4: session 'a' requires unknown lpid 'nope'"
        );
        let e = plan(&(session("setup", "[]") + &session("a", "[stup]"))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.md:10: session 'a' requires unknown lpid 'stup' (did you mean 'setup'?)"
        );
        let e = plan(&(session("Setup", "[]") + &session("a", "[setup]"))).unwrap_err();
        assert!(e.to_string().ends_with("(did you mean 'Setup'?)"), "{e}");
    }
}
