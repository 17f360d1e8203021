//! Defaults that do what authors mean (issue 13, points 6-11): the
//! interpreter from the language, carry-forward, per-block options,
//! info-string lists, and diagnostics.

use crate::util::{TestDir, require};

/// A session in `lang` without `command` runs in the language's
/// interpreter (`program`): `code` prints `want`.
fn runs_in_its_languages_interpreter(lang: &str, program: &str, code: &str, want: &str) {
    require(program);
    let t = TestDir::new();
    t.write(
        "a.md",
        format!("```{lang} lpid=s lptype=session\n{code}```\n"),
    );
    t.litprog(&["build"]).success();
    let doc = t.read("a.md");
    assert!(
        doc.contains(&format!("```text lpout=s\n{want}\n# exit: 0\n```")),
        "{lang}: {doc}"
    );
}

#[test]
fn a_session_in_sh_runs_in_sh() {
    runs_in_its_languages_interpreter("sh", "sh", "echo shell\n", "shell");
}

#[test]
#[cfg_attr(not(has_python3), ignore = "python3 is not installed")]
fn a_session_in_python_runs_in_python3() {
    runs_in_its_languages_interpreter(
        "python",
        "python3",
        "import sys\nprint(sys.version_info[0])\n",
        "3",
    );
}

#[test]
#[cfg_attr(not(has_zsh), ignore = "zsh is not installed")]
fn a_session_in_zsh_runs_in_zsh() {
    runs_in_its_languages_interpreter("zsh", "zsh", "echo $ZSH_NAME\n", "zsh");
}

#[test]
#[cfg_attr(not(has_node), ignore = "node is not installed")]
fn a_session_in_js_runs_in_node() {
    runs_in_its_languages_interpreter("js", "node", "console.log(typeof process)\n", "object");
}

#[test]
#[cfg_attr(not(has_ruby), ignore = "ruby is not installed")]
fn a_session_in_ruby_runs_in_ruby() {
    runs_in_its_languages_interpreter("ruby", "ruby", "puts RUBY_VERSION.class\n", "String");
}

#[test]
#[cfg_attr(not(has_perl), ignore = "perl is not installed")]
fn a_session_in_perl_runs_in_perl() {
    runs_in_its_languages_interpreter("perl", "perl", "print \"perl\\n\";\n", "perl");
}

#[test]
#[cfg_attr(not(has_sqlite3), ignore = "sqlite3 is not installed")]
fn a_session_in_sql_runs_in_sqlite3() {
    runs_in_its_languages_interpreter("sql", "sqlite3", "select 1+1;\n", "2");
}

#[test]
fn list_shows_the_interpreter_taken_from_the_language() {
    let t = TestDir::new();
    t.write("a.md", "```python lpid=p lptype=session\nprint(1)\n```\n");
    t.litprog(&["list", "--json"])
        .success()
        .stdout_has("\"python3\"");
}

#[test]
fn session_in_an_unknown_language_without_command_is_an_error() {
    let t = TestDir::new();
    t.write("a.md", "# x\n\n```text lpid=t lptype=session\nx\n```\n");
    let before = t.snapshot();
    t.litprog(&["build"]).status(2).stderr_has(
        "a.md:3: session 't' sets no command, and its first code block is in 'text', a language litprog knows no interpreter for",
    );
    assert_eq!(t.snapshot(), before);
    // With a command, any language runs.
    t.write(
        "a.md",
        "```text lpid=t lptype=session command=cat\nx\n```\n",
    );
    t.litprog(&["build"]).success();
}

#[test]
fn carry_forward_stops_at_a_heading() {
    let t = TestDir::new();
    t.write(
        "a.md",
        "# Setup\n\n```bash lpid=s lptype=session command=bash\necho one\n```\n\n```bash\necho two\n```\n\n## Illustration\n\nWhat a script might look like:\n\n```bash\necho never\n```\n",
    );
    t.litprog(&["build"]).success();
    let doc = t.read("a.md");
    assert!(
        doc.contains("```text lpout=s\ntwo\n# exit: 0\n```"),
        "{doc}"
    );
    assert!(
        !doc.contains("never\n# exit") && doc.ends_with("echo never\n```\n"),
        "{doc}"
    );
    t.litprog(&["list", "--json"])
        .success()
        .stdout_has("\"blocks\": 2");
}

#[test]
fn info_strings_take_yaml_flow_lists() {
    let t = TestDir::new();
    t.write(
        "a.md",
        "```bash lpid=setup lptype=session\necho setup\n```\n\n```bash lpid=data lptype=session\necho data\n```\n\n```bash lpid=main lptype=session requires=[setup, data] env={GREETING: hi}\necho $GREETING\n```\n",
    );
    t.litprog(&["list", "--json"])
        .success()
        .stdout_has("\"requires\": [\n      \"setup\",\n      \"data\"\n    ]");
    t.litprog(&["build", "-j", "3"]).success();
    assert!(
        t.read("a.md")
            .contains("```text lpout=main\nhi\n# exit: 0\n```")
    );
}

#[test]
fn a_key_twice_in_one_info_string_is_an_error() {
    let t = TestDir::new();
    t.write(
        "a.md",
        "text\n\n```bash lpid=s lptype=session timeout=5 timeout=50\necho\n```\n\n```bash lpid=t lptype=session requires=[s\necho\n```\n",
    );
    let before = t.snapshot();
    let run = t
        .litprog(&["build"])
        .status(2)
        .stderr_has("a.md:3: option 'timeout' is given twice in the info string");
    assert!(
        run.stderr
            .contains("a.md:7: option 'requires' is not a valid YAML flow list"),
        "{}",
        run.stderr
    );
    assert_eq!(t.snapshot(), before);
}

#[test]
fn output_none_on_one_block_hides_that_blocks_result_only() {
    let t = TestDir::new();
    t.write(
        "a.md",
        "```bash lpid=s lptype=session\necho one\n```\n\n```bash output=none\necho secret\n```\n\n```bash\necho three\n```\n",
    );
    t.litprog(&["build"]).success();
    assert_eq!(
        t.read("a.md"),
        "```bash lpid=s lptype=session\necho one\n```\n\n```text lpout=s\none\n```\n\n```bash output=none\necho secret\n```\n\n```bash\necho three\n```\n\n```text lpout=s\nthree\n# exit: 0\n```\n"
    );
    // The other way round: a session without output shows one block.
    let t = TestDir::new();
    t.write(
        "a.md",
        "```yaml\nlpid: s\nlptype: session\ncommand: bash\noutput: none\n```\n\n```bash lpid=s\necho one\n```\n\n```bash output=block\necho two\n```\n",
    );
    t.litprog(&["build"]).success();
    assert!(
        t.read("a.md").ends_with(
            "```bash output=block\necho two\n```\n\n```text lpout=s\ntwo\n# exit: 0\n```\n"
        ),
        "{}",
        t.read("a.md")
    );
}

#[test]
fn a_session_wide_option_with_another_value_on_a_continuation_is_an_error() {
    let t = TestDir::new();
    t.write(
        "a.md",
        "```bash lpid=s lptype=session timeout=5\necho one\n```\n\n```bash timeout=50\necho two\n```\n\n```bash output=session\necho three\n```\n",
    );
    let before = t.snapshot();
    t.litprog(&["build"])
        .status(2)
        .stderr_has("a.md:5: option 'timeout' of 's' is redeclared as 50 here, but 5 at a.md:1 (it applies to the whole group, so it takes one value)");
    assert_eq!(t.snapshot(), before);
    t.write(
        "a.md",
        "```bash lpid=s lptype=session\necho one\n```\n\n```bash output=session\necho three\n```\n",
    );
    t.litprog(&["build"]).status(2).stderr_has(
        "a.md:5: option 'output' of one block of 's' must be block or none, not \"session\"",
    );
}

#[test]
fn a_block_whose_language_does_not_fit_its_session_is_a_warning_naming_both_places() {
    let t = TestDir::new();
    t.write(
        "a.md",
        "# A\n\n```python lpid=demo lptype=session\nprint(1)\n```\n",
    );
    t.write("b.md", "# B\n\nText.\n\n```bash lpid=demo\necho 2\n```\n");
    let run = t.litprog(&["list"]).success().stderr_has(
        "b.md:5: a bash block in session 'demo', which runs python3 (from a.md:3); is the lpid used for two things?",
    );
    assert!(run.stdout.contains("a.md:3, b.md:5"), "{}", run.stdout);
    t.litprog(&["list", "--json"])
        .success()
        .stdout_has("\"spans\": [\n      \"a.md:3\",\n      \"b.md:5\"\n    ]");
    // Blocks that fit, or in languages litprog knows no interpreter of,
    // are no warning.
    t.write(
        "b.md",
        "```py lpid=demo\nprint(2)\n```\n\n```text lpid=demo\nx\n```\n",
    );
    let run = t.litprog(&["list"]).success();
    assert!(!run.stderr.contains("warn"), "{}", run.stderr);
}

#[test]
fn every_document_error_is_reported_in_one_run() {
    let t = TestDir::new();
    t.write(
        "a.md",
        "```yaml\nlpid: s\nlptype: session\ncommand: bash\noutput: blocks\ntimeout: soon\n```\n",
    );
    t.write(
        "b.md",
        "```bash lpid=t lptype=session echo=1 echo=2\necho\n```\n",
    );
    t.write("c.md", "```text lpid=u lptype=session\nx\n```\n");
    let run = t.litprog(&["build"]).status(2);
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    for want in [
        "error: a.md:5: option 'output' must be block, session or none",
        "error: a.md:6: option 'timeout' must be a number of seconds",
        "error: b.md:1: option 'echo' is given twice in the info string",
        "error: c.md:1: session 'u' sets no command",
    ] {
        assert!(
            errors.iter().any(|e| e.starts_with(want)),
            "{want}\n{}",
            run.stderr
        );
    }
}

#[test]
fn warnings_come_before_any_session_runs_in_document_order() {
    let t = TestDir::new();
    t.write(
        "a.md",
        "```bash lpid=s lptype=session timout=5\necho one\n```\n\n```yaml\nlpid: r\nlptype: session\ncommand: bash\nrequirez: []\n```\n\n```bash lpid=r\necho two\n```\n",
    );
    t.write(
        "b.md",
        "```bash lpid=s echo=true\necho three\n```\n\n# Other\n\n```bash lpID=x\necho\n```\n",
    );
    let run = t.litprog(&["build"]).success();
    let lines: Vec<&str> = run.stderr.lines().collect();
    let at = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in\n{}", run.stderr))
    };
    let warnings = [
        at("a.md:1: unknown option 'timout' for session 's' (did you mean 'timeout'?)"),
        at("a.md:9: unknown option 'requirez' for session 'r' (did you mean 'requires'?)"),
        at("b.md:7: unknown option 'lpID' (did you mean 'lpid'?)"),
    ];
    assert!(warnings.is_sorted(), "{}", run.stderr);
    assert!(warnings[2] < at("ok    s"), "{}", run.stderr);
}

#[test]
fn unknown_lpids_in_requires_and_inputs_get_did_you_mean() {
    let t = TestDir::new();
    t.write(
        "a.md",
        "```bash lpid=setup lptype=session\necho\n```\n\n```bash lpid=main lptype=session requires=[stup]\necho\n```\n\n```yaml\nfilepath: out.txt\ninputs: [Part]\n```\n\n```text lpid=part\nx\n```\n",
    );
    t.litprog(&["build"])
        .status(2)
        .stderr_has("session 'main' requires unknown lpid 'stup' (did you mean 'setup'?)")
        .stderr_has("unknown input 'Part' of out_file 'out.txt' (did you mean 'part'?)");
}

#[test]
fn completions_are_printed_for_every_shell() {
    let t = TestDir::new();
    for (shell, marker) in [
        ("bash", "complete -F _litprog"),
        ("zsh", "#compdef litprog"),
        ("fish", "complete -c litprog"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[litprog]"),
    ] {
        let run = t.litprog(&["completions", shell]).success();
        assert!(run.stdout.contains(marker), "{shell}: {}", run.stdout);
        assert!(
            run.stdout.contains("check"),
            "{shell} lacks the subcommands"
        );
        // A subcommand's own options are built only when it runs (clap's
        // `defer`); the script has them all the same.
        for option in ["skip-unavailable", "message-format", "force", "json"] {
            assert!(run.stdout.contains(option), "{shell} lacks --{option}");
        }
    }
    // Each subcommand's help keeps its own description.
    for (command, about) in [
        ("mdbook", "The mdBook preprocessor"),
        ("build", "Tangle out_files, run sessions"),
        ("watch", "Build, then build again"),
    ] {
        let help = t.litprog(&[command, "--help"]).success().stdout;
        assert!(help.starts_with(about), "{command} --help: {help}");
    }
    t.litprog(&["completions", "tcsh"])
        .status(2)
        .stderr_has("invalid value 'tcsh'");
    {
        // The bash script loads and registers the completion.
        let script = t.litprog(&["completions", "bash"]).stdout;
        t.write("c.bash", script);
        let out = std::process::Command::new("bash")
            .args(["-c", "source ./c.bash && complete -p litprog"])
            .current_dir(t.path())
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("_litprog"),
            "{out:?}"
        );
    }
}

#[test]
fn diagnostics_show_the_source_line_with_a_caret() {
    let t = TestDir::new();
    t.write(
        "a.md",
        "# T\n\n```yaml\nlpid: s\nlptype: session\ncommand: bash\ntimeout: soon\n```\n\n```bash lpid=u lptype=session echo=maybe\necho\n```\n",
    );
    let run = t.litprog(&["build"]).status(2);
    // Not a terminal: the first line of each stays `file:line: message`,
    // and the line follows with a caret under the value.
    let want = "error: a.md:7: option 'timeout' must be a number of seconds, not a string (\"soon\") (in 's')\n  |\n7 | timeout: soon\n  |          ^^^^\n";
    assert!(run.stderr.contains(want), "{}", run.stderr);
    let want = "error: a.md:10: option 'echo' must be true or false, not a string (\"maybe\") (in 'u')\n   |\n10 | ```bash lpid=u lptype=session echo=maybe\n   |                                    ^^^^^\n";
    assert!(run.stderr.contains(want), "{}", run.stderr);
    // An unknown lpid in a list: the caret is under it.
    t.write(
        "a.md",
        "```bash lpid=setup lptype=session\necho\n```\n\n```bash lpid=m lptype=session requires=[setup, stup] timout=1\necho\n```\n",
    );
    let run = t.litprog(&["build"]).status(2);
    let want = "error: a.md:5: session 'm' requires unknown lpid 'stup' (did you mean 'setup'?)\n  |\n5 | ```bash lpid=m lptype=session requires=[setup, stup] timout=1\n  |                                                ^^^^\n";
    assert!(run.stderr.contains(want), "{}", run.stderr);
    // Warnings too, under the key.
    let run = t.litprog(&["list"]).success();
    let want = "warning: a.md:5: unknown option 'timout' for session 'm' (did you mean 'timeout'?)\n  |\n5 | ```bash lpid=m lptype=session requires=[setup, stup] timout=1\n  |                                                      ^^^^^^\n";
    assert!(run.stderr.contains(want), "{}", run.stderr);
}

#[test]
fn litprog_toml_language_commands_win_over_the_built_in_table() {
    let t = TestDir::new();
    t.write(
        "litprog.toml",
        "[languages.python]\ncommand = \"python3 -X utf8\"\n\n[languages.text]\ncommand = \"cat\"\n",
    );
    t.write(
        "a.md",
        "```python lpid=p lptype=session\nimport sys\nprint(sys.flags.utf8_mode)\n```\n\n```text lpid=t lptype=session\nx\n```\n",
    );
    t.litprog(&["list", "--json"])
        .success()
        .stdout_has("\"-X\",\n      \"utf8\"")
        .stdout_has("\"cat\"");
}

#[test]
#[cfg_attr(not(has_python3), ignore = "python3 is not installed")]
fn litprog_toml_language_commands_are_the_ones_run() {
    require("python3");
    let t = TestDir::new();
    t.write(
        "litprog.toml",
        "[languages.python]\ncommand = \"python3 -X utf8\"\n",
    );
    t.write(
        "a.md",
        "```python lpid=p lptype=session\nimport sys\nprint(sys.flags.utf8_mode)\n```\n",
    );
    t.litprog(&["build"]).success();
    assert!(
        t.read("a.md")
            .contains("```text lpout=p\n1\n# exit: 0\n```")
    );
}

#[test]
fn planning_errors_come_in_the_same_run_as_option_errors() {
    let t = TestDir::new();
    t.write(
        "a.md",
        "```yaml\nlpid: s\nlptype: session\ncommand: bash\ntimeout: soon\n```\n\n```bash lpid=m lptype=session requires=[s, nope]\necho\n```\n",
    );
    let run = t
        .litprog(&["build"])
        .status(2)
        .stderr_has("error: a.md:5: option 'timeout' must be a number of seconds")
        .stderr_has("error: a.md:8: session 'm' requires unknown lpid 'nope'");
    // 's' has wrong options, but it is not unknown.
    assert!(!run.stderr.contains("lpid 's'"), "{}", run.stderr);
    // A document that cannot be read: its lpids are not called unknown.
    t.write(
        "a.md",
        "```bash lpid=m lptype=session requires=[s] timeout=soon\necho\n```\n",
    );
    t.write("b.md", "```bash lpid=s lptype=session\n\0\n```\n");
    let run = t.litprog(&["build", "a.md", "b.md"]).status(2);
    assert!(
        run.stderr.contains("b.md:2: the file contains a NUL byte"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("a.md:1: option 'timeout'"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("unknown lpid"), "{}", run.stderr);
}

#[test]
fn warnings_are_an_event_before_the_sessions_in_json_messages() {
    let t = TestDir::new();
    t.write(
        "a.md",
        "```bash lpid=s lptype=session timout=5\necho\n```\n",
    );
    let run = t.litprog(&["build", "--message-format", "json"]).success();
    let events: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[0]["event"], "warnings", "{}", run.stdout);
    assert_eq!(events[0]["warnings"][0]["line"], 1);
    assert_eq!(events[1]["event"], "session_started", "{}", run.stdout);
}

#[test]
fn tangling_errors_come_in_the_same_run_as_option_errors() {
    let t = TestDir::new();
    t.write(
        "doc.md",
        "```bash lpid=s lptype=session timeout=soon\necho hi\n```\n\n\
         ```yaml\nfilepath: out.txt\ninputs: [no-such-part]\n```\n",
    );
    t.litprog(&["build"])
        .status(2)
        .stderr_has("timeout")
        .stderr_has("no-such-part");
    assert!(!t.exists("out.txt"));
}
