//! The result cache (issue 14, points 1-6): what is in a session's key,
//! which sessions run again, and that no entry can break a build.
//!
//! Every session appends its name to `runs.log` when its process runs, so a
//! test counts the processes a build started.

use std::fs;

use crate::util::*;

/// A bash session `name` that logs its run and prints `out`.
fn session(name: &str, attrs: &str, out: &str) -> String {
    format!(
        "```bash lpid={name} lptype=session{attrs}\necho {name} >> runs.log\necho {out}\n```\n\n"
    )
}

/// The names logged since the last call (the log is emptied).
fn runs(t: &TestDir) -> Vec<String> {
    let p = t.path().join("runs.log");
    let text = fs::read_to_string(&p).unwrap_or_default();
    let _ = fs::remove_file(&p);
    let mut names: Vec<String> = text.lines().map(str::to_string).collect();
    names.sort();
    names
}

fn entries(t: &TestDir) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = fs::read_dir(t.path().join(".litprog/cache"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    found.sort();
    found
}

#[test]
fn a_second_build_starts_no_process_and_writes_the_same_results() {
    let t = TestDir::new();
    t.write("doc.md", session("a", "", "one") + &session("b", "", "two"));
    t.litprog(&["build"])
        .success()
        .stderr_has("2 sessions: 2 ran, 0 from the cache");
    assert_eq!(runs(&t), ["a", "b"]);
    let built = t.read("doc.md");
    assert!(
        built.contains("```text lpout=b\ntwo\n# exit: 0\n```"),
        "{built}"
    );
    assert_eq!(t.read(".litprog/.gitignore"), "*\n");
    t.litprog(&["build"])
        .success()
        .stderr_has("2 sessions: 0 ran, 2 from the cache");
    assert_eq!(runs(&t), Vec::<String>::new());
    assert_eq!(t.read("doc.md"), built);
    // `check` uses the cache the same way.
    t.litprog(&["check"]).success().stderr_has("up to date");
    assert_eq!(runs(&t), Vec::<String>::new());
}

#[test]
fn changing_one_block_reruns_exactly_the_sessions_whose_key_changed() {
    let t = TestDir::new();
    let doc = |a: &str, c: &str| {
        session("a", "", a)
            + &session("b", " requires=a", "b")
            + &session("c", "", c)
            + &session("d", "", "d")
    };
    t.write("doc.md", doc("a1", "c1"));
    t.litprog(&["build"]).success();
    assert_eq!(runs(&t), ["a", "b", "c", "d"]);
    // b requires a: a's code is in b's key.
    t.write("doc.md", t.read("doc.md").replace("echo a1", "echo a2"));
    t.litprog(&["build"])
        .success()
        .stderr_has("4 sessions: 2 ran, 2 from the cache");
    assert_eq!(runs(&t), ["a", "b"]);
    assert!(t.read("doc.md").contains("a2\n# exit: 0"));
    t.write("doc.md", t.read("doc.md").replace("echo c1", "echo c2"));
    t.litprog(&["build"]).success();
    assert_eq!(runs(&t), ["c"]);
    // An option that can change the output is in the key.
    t.write(
        "doc.md",
        t.read("doc.md")
            .replace("lpid=d lptype=session", "lpid=d lptype=session timeout=7"),
    );
    t.litprog(&["build"]).success();
    assert_eq!(runs(&t), ["d"]);
    // Back to a version already seen: its entry is still there.
    t.write("doc.md", t.read("doc.md").replace("echo c2", "echo c1"));
    t.litprog(&["build"]).success();
    assert_eq!(runs(&t), Vec::<String>::new());
    assert!(t.read("doc.md").contains("c1\n# exit: 0"));
}

#[test]
fn editing_prose_or_a_result_block_by_hand_reruns_nothing() {
    let t = TestDir::new();
    t.write(
        "doc.md",
        format!("# Title\n\n{}", session("a", "", "hello")),
    );
    t.litprog(&["build"]).success();
    runs(&t);
    let built = t.read("doc.md");
    let edited = built
        .replace("# Title\n", "# Title\n\nA new paragraph.\n\nAnd another.\n")
        .replace("hello\n# exit: 0", "hand edit\n# exit: 0");
    t.write("doc.md", &edited);
    t.litprog(&["check"]).status(1).stdout_has("+hello");
    assert_eq!(runs(&t), Vec::<String>::new());
    t.litprog(&["build"])
        .success()
        .stderr_has("1 session: 0 ran, 1 from the cache");
    assert_eq!(runs(&t), Vec::<String>::new());
    assert_eq!(
        t.read("doc.md"),
        built.replace("# Title\n", "# Title\n\nA new paragraph.\n\nAnd another.\n")
    );
}

#[test]
fn files_named_in_files_are_part_of_the_key() {
    let t = TestDir::new();
    t.write("data/one.txt", "1\n");
    t.write(
        "doc.md",
        "```bash lpid=s lptype=session files=data/*.txt\necho s >> runs.log\ncat data/*.txt\n```\n",
    );
    t.litprog(&["build"]).success();
    assert_eq!(runs(&t), ["s"]);
    t.litprog(&["build"]).success();
    assert_eq!(runs(&t), Vec::<String>::new());
    t.write("data/one.txt", "changed\n");
    t.litprog(&["build"]).success();
    assert_eq!(runs(&t), ["s"]);
    assert!(t.read("doc.md").contains("changed\n# exit: 0"));
    // A new file that matches, then one that does not.
    t.write("data/two.txt", "2\n");
    t.litprog(&["build"]).success();
    assert_eq!(runs(&t), ["s"]);
    t.write("data/other.csv", "x\n");
    t.litprog(&["build"]).success();
    assert_eq!(runs(&t), Vec::<String>::new());
    // Back to files already seen: their entry gives the results.
    fs::remove_file(t.path().join("data/two.txt")).unwrap();
    t.litprog(&["build"]).success();
    assert_eq!(runs(&t), Vec::<String>::new());
    assert!(
        t.read("doc.md")
            .contains("```text lpout=s\nchanged\n# exit: 0")
    );
}

#[test]
fn a_required_out_file_is_in_the_key_by_its_tangled_content() {
    let t = TestDir::new();
    let doc = |greeting: &str| {
        format!(
            "```yaml\nlpid: greet.sh\nlptype: out_file\ninputs: [greet]\n```\n\n\
             ```bash lpid=greet\necho {greeting}\n```\n\n\
             ```bash lpid=s lptype=session requires=greet.sh\necho s >> runs.log\nbash greet.sh\n```\n"
        )
    };
    t.write("doc.md", doc("hi"));
    t.litprog(&["build"]).success();
    assert_eq!(runs(&t), ["s"]);
    t.litprog(&["build"]).success();
    assert_eq!(runs(&t), Vec::<String>::new());
    let built = t.read("doc.md");
    t.write("doc.md", built.replace("echo hi", "echo bye"));
    t.litprog(&["build"]).success();
    assert_eq!(runs(&t), ["s"]);
    assert!(t.read("doc.md").contains("bye\n# exit: 0"));
    assert!(t.read("greet.sh").contains("echo bye"));
}

#[test]
fn cache_false_and_failed_sessions_always_run() {
    let t = TestDir::new();
    t.write(
        "doc.md",
        session("off", " cache=false", "x")
            + "```bash lpid=three lptype=session expected_exit_code=3\necho three >> runs.log\nexit 3\n```\n\n"
            + "```bash lpid=fails lptype=session\necho fails >> runs.log\nexit 4\n```\n\n",
    );
    t.litprog(&["build", "--keep-going"]).status(1);
    assert_eq!(runs(&t), ["fails", "off", "three"]);
    // A failure is not cached; the expected exit status is.
    t.litprog(&["build", "--keep-going"])
        .status(1)
        .stderr_has("3 sessions: 2 ran, 1 from the cache");
    assert_eq!(runs(&t), ["fails", "off"]);
    assert_eq!(entries(&t).len(), 1);
}

#[test]
fn no_cache_runs_everything_and_refreshes_the_entries() {
    let t = TestDir::new();
    t.write("doc.md", session("a", "", "one") + &session("b", "", "two"));
    t.litprog(&["build", "--no-cache"])
        .success()
        .stderr_has("2 sessions: 2 ran, 0 from the cache");
    assert_eq!(runs(&t), ["a", "b"]);
    t.litprog(&["build", "--no-cache"]).success();
    assert_eq!(runs(&t), ["a", "b"]);
    t.litprog(&["build"]).success();
    assert_eq!(runs(&t), Vec::<String>::new());
}

#[test]
fn damaged_entries_are_misses_never_errors() {
    let t = TestDir::new();
    t.write("doc.md", session("a", "", "one") + &session("b", "", "two"));
    t.litprog(&["build"]).success();
    runs(&t);
    let built = t.read("doc.md");
    let found = entries(&t);
    assert_eq!(found.len(), 2);
    let whole = fs::read(&found[0]).unwrap();
    type Damage<'a> = Box<dyn Fn(&std::path::Path) + 'a>;
    let damages: Vec<Damage> = vec![
        Box::new(|p| fs::write(p, &whole[..whole.len() / 2]).unwrap()),
        Box::new(|p| fs::write(p, "").unwrap()),
        Box::new(|p| fs::write(p, b"\xff\xfe garbage").unwrap()),
        Box::new(|p| {
            // A result edited in the entry without its checksum.
            let text = String::from_utf8(fs::read(p).unwrap()).unwrap();
            fs::write(p, text.replace("exit: 0", "exit: 9")).unwrap()
        }),
        Box::new(|p| {
            fs::remove_file(p).unwrap();
            fs::create_dir(p).unwrap();
        }),
    ];
    for damage in damages {
        for p in entries(&t) {
            damage(&p);
        }
        let run = t.litprog(&["build"]).success();
        assert!(!run.stderr.contains("error:"), "{}", run.stderr);
        let ran = runs(&t);
        assert!(!ran.is_empty(), "{}", run.stderr);
        assert_eq!(t.read("doc.md"), built);
        for p in entries(&t) {
            if p.is_dir() {
                fs::remove_dir(&p).unwrap();
            }
        }
        t.litprog(&["build"]).success();
        runs(&t);
    }
}

#[test]
fn clean_removes_the_cache_and_nothing_else() {
    let t = TestDir::new();
    t.write(
        "doc.md",
        "```text lpid=out.txt lptype=out_file\ncontent\n```\n\n".to_string()
            + &session("a", "", "one"),
    );
    t.litprog(&["build"]).success();
    runs(&t);
    assert!(!entries(&t).is_empty());
    let before: Vec<_> = t
        .snapshot()
        .into_iter()
        .filter(|(p, _)| !p.starts_with(t.path().join(".litprog/cache")))
        .collect();
    t.litprog(&["clean"])
        .success()
        .stderr_has("removed the result cache (1 entry)");
    assert!(!t.exists(".litprog/cache"));
    assert_eq!(t.snapshot(), before);
    t.litprog(&["clean"]).success();
    t.litprog(&["build"]).success();
    assert_eq!(runs(&t), ["a"]);
}

#[test]
fn builds_sharing_the_cache_at_once_do_not_corrupt_it() {
    let t = TestDir::new();
    let doc: String = (0..12)
        .map(|i| session(&format!("s{i}"), "", &format!("out{i}")))
        .collect();
    t.write("doc.md", &doc);
    // Two builds of the same documents at once: each writes every entry.
    let one = t.spawn_litprog(&["check", "-j", "4"]);
    let two = t.spawn_litprog(&["check", "-j", "4"]);
    finish(one).status(1);
    finish(two).status(1);
    runs(&t);
    assert_eq!(entries(&t).len(), 12);
    t.litprog(&["build"])
        .success()
        .stderr_has("12 sessions: 0 ran, 12 from the cache");
    assert_eq!(runs(&t), Vec::<String>::new());
    let built = t.read("doc.md");
    for i in 0..12 {
        assert!(built.contains(&format!("out{i}\n# exit: 0")), "{built}");
    }
}
