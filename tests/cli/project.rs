//! Tests of the project model (issue 13): the root, litprog.toml, whole-
//! project parsing with selection, ignore-aware discovery, `tangle`, and
//! the exit status of a write failure.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::*;

/// `litprog ARGS` run in `dir` (any directory).
fn litprog_in(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_litprog"))
        .args(args)
        .current_dir(dir)
        .env_remove("LITPROG_LOG")
        .output()
        .expect("run litprog");
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Every file under `dir` with its bytes, keyed by the path relative to it.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(|e| e.path());
        for e in entries {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).unwrap().to_path_buf();
                out.push((rel, std::fs::read(&p).unwrap_or_default()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out
}

const CONFIG: &str = r#"# the book's settings
exclude = ["drafts/"]

[session]
env = { GREETING = "hello", WHO = "session" }

[languages.python]
command = "python3"
env = { WHO = "python" }
"#;

/// A five-chapter book under `dir/book`: an out_file in chapter 1, a seed
/// session in chapter 2 that chapter 3's requires, a session with its own
/// cwd, one taking its command and env from `[languages.python]`, a
/// vendored README that .gitignore leaves out, and a draft `exclude` does.
fn write_book(t: &TestDir) {
    t.write("book/litprog.toml", CONFIG)
        .write("book/.gitignore", "vendor/\n")
        .write(
            "book/docs/01-intro.md",
            "# Intro\n\n```yaml\nfilepath: build/kv.py\ninputs: [kv.core]\n```\n\n\
             ```python lpid=kv.core\nimport sys\nprint('kv', *sys.argv[1:])\n```\n",
        )
        .write(
            "book/docs/02-seed.md",
            "# Seed\n\n```bash lpid=seed lptype=session\nmkdir -p data && echo 42 > data/seed.txt\n\
             basename \"$PWD\"\n```\n",
        )
        .write(
            "book/docs/part2/03-usage.md",
            "# Usage\n\n```yaml\nlpid: usage\nlptype: session\nrequires: [seed, build/kv.py]\n```\n\n\
             ```bash lpid=usage\npython3 build/kv.py \"$(cat data/seed.txt)\"\necho \"$GREETING\"\n```\n",
        )
        .write(
            "book/docs/part2/04-cwd.md",
            "# Elsewhere\n\n```bash lpid=where lptype=session cwd=docs\nbasename \"$PWD\"\n```\n",
        )
        .write(
            "book/05-python.md",
            "# Python\n\n```python lpid=py lptype=session\nimport os\nprint(os.environ['GREETING'], os.environ['WHO'])\n```\n",
        )
        .write(
            "book/vendor/README.md",
            "```bash lpid=vendored lptype=session\nexit 3\n```\n",
        )
        .write(
            "book/drafts/wip.md",
            "```bash lpid=wip lptype=session\nexit 4\n```\n",
        );
}

#[test]
#[cfg_attr(not(has_python3), ignore = "python3 is not installed")]
fn a_book_builds_the_same_from_its_root_a_subdirectory_and_outside() {
    require("python3");
    let mut results = Vec::new();
    for from in ["book", "book/docs/part2", "elsewhere"] {
        let t = TestDir::new();
        write_book(&t);
        std::fs::create_dir_all(t.path().join("elsewhere")).unwrap();
        let before = tree(t.path());
        let root = t.path().join("book");
        let args: Vec<String> = match from {
            "elsewhere" => vec!["build".into(), root.display().to_string()],
            _ => vec!["build".into()],
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        litprog_in(&t.path().join(from), &args).success();
        let after = tree(t.path());
        // Only files under the root were written.
        for (path, bytes) in &after {
            if !path.starts_with("book") {
                assert!(
                    before.contains(&(path.clone(), bytes.clone())),
                    "{from}: wrote {path:?}"
                );
            }
        }
        // The cache's entries record how long each session took.
        let book: Vec<_> = tree(&root)
            .into_iter()
            .filter(|(p, _)| !p.starts_with(".litprog/cache"))
            .collect();
        results.push((from, book));
    }
    let (_, first) = &results[0];
    for (from, book) in &results[1..] {
        assert_eq!(
            book, first,
            "building from {from} differs from building at the root"
        );
    }
    let file = |name: &str| {
        let (_, bytes) = first
            .iter()
            .find(|(p, _)| p == Path::new(name))
            .unwrap_or_else(|| panic!("{name} not written"));
        String::from_utf8(bytes.clone()).unwrap()
    };
    assert_eq!(
        file("build/kv.py"),
        "import sys\nprint('kv', *sys.argv[1:])\n"
    );
    assert_eq!(file("data/seed.txt"), "42\n");
    // Sessions run in the root, or in their cwd relative to it.
    assert!(file("docs/02-seed.md").contains("lpout=seed\nbook\n# exit: 0"));
    assert!(file("docs/part2/04-cwd.md").contains("lpout=where\ndocs\n# exit: 0"));
    // requires resolves across chapters.
    assert!(file("docs/part2/03-usage.md").contains("lpout=usage\nkv 42\nhello\n# exit: 0"));
    // [languages.python] gives the command and wins over [session].
    assert!(file("05-python.md").contains("lpout=py\nhello python\n# exit: 0"));
    // Ignored and excluded documents are neither run nor rewritten.
    assert!(!file("vendor/README.md").contains("lpout"));
    assert!(!file("drafts/wip.md").contains("lpout"));
    assert!(
        !results
            .iter()
            .any(|(_, b)| b.iter().any(|(p, _)| p.starts_with("docs/build")))
    );
}

#[test]
fn the_root_rule_and_list_printing_it() {
    let t = TestDir::new();
    t.write("repo/.git/HEAD", "ref: refs/heads/main\n")
        .write("repo/src/notes.md", "```sh lpid=notes\nx\n```\n")
        .write("repo/book/litprog.toml", "")
        .write("repo/book/ch/a.md", "```sh lpid=a\nx\n```\n");
    let repo = t.path().join("repo").canonicalize().unwrap();
    // From a subdirectory, the nearest litprog.toml; else the nearest .git.
    litprog_in(&repo.join("book/ch"), &["list"])
        .success()
        .stdout_has(&format!("root: {}\n", repo.join("book").display()))
        .stdout_has("ch/a.md:1");
    let run = litprog_in(&repo.join("src"), &["list"]).success();
    assert!(
        run.stdout
            .starts_with(&format!("root: {}\n", repo.display())),
        "{}",
        run.stdout
    );
    // The nested project is its own: the repository's list leaves it out.
    assert!(!run.stdout.contains("ch/a.md"), "{}", run.stdout);
    assert!(run.stdout.contains("src/notes.md:1"), "{}", run.stdout);
    // The first PATH decides, and --root overrides.
    litprog_in(t.path(), &["list", "repo/book/ch"])
        .success()
        .stdout_has(&format!("root: {}\n", repo.join("book").display()));
    litprog_in(&repo.join("book/ch"), &["list", "--root", "../.."])
        .success()
        .stdout_has(&format!("root: {}\n", repo.display()));
    // Without either, the current directory.
    t.write("plain/x.md", "```sh lpid=x\nx\n```\n");
    let plain = t.path().join("plain").canonicalize().unwrap();
    litprog_in(&plain, &["list"])
        .success()
        .stdout_has(&format!("root: {}\n", plain.display()));
}

#[test]
fn state_and_out_files_live_at_the_root_from_any_directory() {
    let t = TestDir::new();
    t.write("litprog.toml", "")
        .write(
            "docs/a.md",
            "```yaml\nfilepath: out/a.txt\ninputs: [a]\n```\n\n```text lpid=a\nx\n```\n",
        )
        .write(
            "docs/esc.md",
            "```yaml\nfilepath: ../../escape.txt\ninputs: [a]\n```\n",
        );
    // Relative to the root, ../../ leaves it even though docs/.. would not.
    litprog_in(&t.path().join("docs"), &["tangle"])
        .status(2)
        .stderr_has(
            "docs/esc.md:1: out_file '../../escape.txt' would be written outside the project root",
        );
    t.write("docs/esc.md", "nothing\n");
    litprog_in(&t.path().join("docs"), &["tangle"]).success();
    assert_eq!(t.read("out/a.txt"), "x\n");
    assert!(t.exists(".litprog/state.json"));
    assert!(!t.exists("docs/.litprog") && !t.exists("docs/out"));
}

#[test]
fn paths_select_what_runs_and_what_is_written_and_requires_cross_chapters() {
    let t = TestDir::new();
    t.write("litprog.toml", "").write(
        "docs/01-seed.md",
        "```bash lpid=seed lptype=session\necho seeded >> log.txt\necho seed\n```\n",
    )
    .write(
        "docs/02-other.md",
        "```bash lpid=other lptype=session\necho other >> log.txt\necho other\n```\n",
    )
    .write(
        "docs/06-usage.md",
        "```bash lpid=usage lptype=session requires=seed\necho usage >> log.txt\ncat log.txt\n```\n",
    );
    litprog_in(&t.path().join("docs"), &["build", "06-usage.md"]).success();
    // seed ran for usage, other did not; only the named document changed.
    assert_eq!(t.read("log.txt"), "seeded\nusage\n");
    assert!(
        t.read("docs/06-usage.md")
            .contains("lpout=usage\nseeded\nusage\n")
    );
    assert!(!t.read("docs/01-seed.md").contains("lpout"));
    assert!(!t.read("docs/02-other.md").contains("lpout"));
    // --only takes globs, repeatable, and writes the documents it names.
    std::fs::remove_file(t.path().join("log.txt")).unwrap();
    // (--no-cache: seed ran above and would come from the cache.)
    t.litprog(&["build", "--no-cache", "--only", "oth*", "--only", "seed"])
        .success();
    assert_eq!(t.read("log.txt"), "seeded\nother\n");
    assert!(t.read("docs/01-seed.md").contains("lpout=seed\nseed\n"));
    assert!(t.read("docs/02-other.md").contains("lpout=other\nother\n"));
    assert!(
        !t.read("docs/06-usage.md")
            .contains("lpout=usage\nseeded\nother")
    );
    t.litprog(&["build", "--only", "nope*"])
        .status(2)
        .stderr_has("'nope*' matches no session or out_file");
}

#[test]
fn discovery_honours_gitignore_ignore_and_hidden_files_and_exclude() {
    let t = TestDir::new();
    let block = |lpid: &str| format!("```sh lpid={lpid}\nx\n```\n");
    t.write(".gitignore", "vendor/\n*.gen.md\n")
        .write("docs/.ignore", "private.md\n")
        .write("litprog.toml", "exclude = [\"old/**\"]\n")
        .write("a.md", block("a"))
        .write("vendor/README.md", block("vendored"))
        .write("b.gen.md", block("generated"))
        .write("docs/private.md", block("private"))
        .write("docs/c.md", block("c"))
        .write(".hidden.md", block("hidden"))
        .write("old/d.md", block("old"));
    let run = t.litprog(&["list"]).success();
    let lpids: Vec<&str> = run
        .stdout
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(lpids, ["a", "c"], "{}", run.stdout);
    // A file named explicitly is read all the same.
    t.litprog(&["list", "vendor/README.md"])
        .success()
        .stdout_has("vendored");
}

#[test]
fn include_restricts_the_documents_to_its_globs() {
    let t = TestDir::new();
    let block = |lpid: &str| format!("```sh lpid={lpid}\nx\n```\n");
    t.write("litprog.toml", "include = [\"docs/\", \"README.md\"]\n")
        .write("README.md", block("readme"))
        .write("docs/x/a.md", block("a"))
        .write("notes/n.md", block("notes"));
    let run = t.litprog(&["list"]).success();
    assert!(run.stdout.contains("readme") && run.stdout.contains("docs/x/a.md"));
    assert!(!run.stdout.contains("notes"), "{}", run.stdout);
}

#[test]
fn litprog_toml_is_validated_with_lines_and_did_you_mean() {
    let t = TestDir::new();
    t.write("a.md", "```sh lpid=a\nx\n```\n");
    t.write("litprog.toml", "jbos = 2\n\n[session]\ntimout = 3\n");
    t.litprog(&["list"])
        .success()
        .stderr_has("litprog.toml:1: unknown key 'jbos' (did you mean 'jobs'?)")
        .stderr_has("litprog.toml:4: unknown session option 'timout' in [session] (did you mean 'timeout'?)");
    t.write("litprog.toml", "jobs = 2\n[languages.python]\nstderr = 5\n");
    t.litprog(&["build"]).status(2).stderr_has(
        "litprog.toml:3: option 'stderr' must be merged or separate, not 5 (in [languages.python])",
    );
    t.write("litprog.toml", "timeout = \"soon\"\n");
    t.litprog(&["check"])
        .status(2)
        .stderr_has("litprog.toml:1: 'timeout' must be a positive number of seconds");
    t.write("litprog.toml", "[session\n");
    t.litprog(&["list"])
        .status(2)
        .stderr_has("litprog.toml:1: invalid TOML");
}

#[test]
fn a_sessions_own_options_win_over_its_language_over_session() {
    let t = TestDir::new();
    t.write(
        "litprog.toml",
        "timeout = 0.5\n[session]\nenv = { A = \"s\", B = \"s\", C = \"s\" }\n[languages.bash]\nenv = { B = \"lang\", C = \"lang\" }\n",
    )
    .write(
        "doc.md",
        "```yaml\nlpid: s\nlptype: session\nenv: {C: own}\n```\n\n```bash lpid=s\necho $A $B $C\n```\n\n\
         ```sh lpid=t lptype=session\necho $A $B $C\nsleep 5\n```\n",
    );
    let run = t.litprog(&["build"]).status(1);
    let doc = t.read("doc.md");
    assert!(doc.contains("lpout=s\ns lang own\n# exit: 0"), "{doc}");
    // The sh session is not bash: [session] alone; the top-level timeout applies.
    assert!(
        doc.contains("lpout=t\ns s s\n# timed out after 0.5 s"),
        "{doc}\n{}",
        run.stderr
    );
}

#[test]
fn init_writes_a_commented_file_that_parses_and_never_overwrites() {
    let t = TestDir::new();
    t.write("a.md", "```sh lpid=a\nx\n```\n");
    t.litprog(&["init"]).success();
    let text = t.read("litprog.toml");
    for key in [
        "include",
        "exclude",
        "jobs",
        "timeout",
        "[session]",
        "[languages.python]",
    ] {
        assert!(text.contains(key), "{key} missing from\n{text}");
    }
    t.litprog(&["list"]).success();
    t.write("litprog.toml", "jobs = 3\n");
    t.litprog(&["init"]).status(2).stderr_has("already exists");
    assert_eq!(t.read("litprog.toml"), "jobs = 3\n");
}

#[test]
fn tangle_writes_out_files_and_runs_nothing() {
    let t = TestDir::new();
    let doc = "```yaml\nfilepath: out.txt\ninputs: [a]\n```\n\n```text lpid=a\nx\n```\n\n\
               ```bash lpid=s lptype=session\ntouch ran\necho hi\n```\n";
    t.write("doc.md", doc);
    t.litprog(&["tangle"]).success();
    assert_eq!(t.read("out.txt"), "x\n");
    assert!(!t.exists("ran"));
    assert_eq!(t.read("doc.md"), doc);
}

#[test]
fn an_out_file_that_cannot_be_written_exits_1_and_runs_nothing() {
    let t = TestDir::new();
    t.write(
        "doc.md",
        "```yaml\nfilepath: out.txt\ninputs: [a]\n```\n\n```text lpid=a\nx\n```\n\n\
         ```bash lpid=s lptype=session\ntouch ran\n```\n",
    );
    // No file may grow past 0 bytes (and SIGXFSZ is ignored, so the write
    // fails with EFBIG): even root cannot write the tangled file.
    let bin = env!("CARGO_BIN_EXE_litprog");
    let out = Command::new("sh")
        .args([
            "-c",
            &format!("trap '' XFSZ; ulimit -f 0; exec '{bin}' build"),
        ])
        .current_dir(t.path())
        .env_remove("LITPROG_LOG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("doc.md:1: cannot write out_file 'out.txt'"),
        "{stderr}"
    );
    assert!(!t.exists("ran") && !t.exists("out.txt"));
}
