//! Tests of `litprog list`: the Markdown walker, block options, groups and
//! the list output (issue 2), run through the real binary.

use serde_json::Value;

use crate::util::*;

/// `litprog list --json ARGS` in `dir`, which must succeed; the groups.
fn list_json(dir: &TestDir, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["list", "--json"];
    all.extend_from_slice(args);
    let run = dir.litprog(&all).success();
    match serde_json::from_str(&run.stdout) {
        Ok(Value::Array(groups)) => groups,
        other => panic!("list --json printed no array: {other:?}\n{}", run.stdout),
    }
}

/// The group `lpid` of a `list --json` array.
#[track_caller]
fn group<'a>(groups: &'a [Value], lpid: &str) -> &'a Value {
    groups
        .iter()
        .find(|g| g["lpid"] == lpid)
        .unwrap_or_else(|| panic!("no group {lpid:?} in {groups:#?}"))
}

/// The lpids of a `list --json` array, in order.
fn lpids(groups: &[Value]) -> Vec<&str> {
    groups.iter().map(|g| g["lpid"].as_str().unwrap()).collect()
}

/// The whitespace-separated cells of the text row for `lpid`.
#[track_caller]
fn row(stdout: &str, lpid: &str) -> Vec<String> {
    stdout
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .find(|cells| cells.first().map(String::as_str) == Some(lpid))
        .unwrap_or_else(|| panic!("no row for {lpid:?} in\n{stdout}"))
}

// ---------------------------------------------------------------- seed

#[test]
#[cfg_attr(not(has_seed), ignore = "../shared/seed/session.md is absent")]
fn seed_document_lists_its_three_groups() {
    let dir = TestDir::new();
    dir.write("session.md", seed());
    let run = dir.litprog(&["list"]).success().stdout_has(
        "-> src/litprog/session.py <- license_header_boilerplate, generated_preamble, \
         common.imports, module_logger, session.code",
    );
    let out = row(&run.stdout, "src/litprog/session.py");
    assert_eq!(out[1..4], ["out_file", "0", "blocks"], "{out:?}");
    assert_eq!(out[4], "session.md:9");
    let code = row(&run.stdout, "session.code");
    assert_eq!(code[1..5], ["raw_block", "12", "blocks", "session.md:20"]);
    let tests = row(&run.stdout, "session.tests");
    assert_eq!(tests[1..5], ["session", "3", "blocks", "session.md:64"]);
    // The root, then the three groups.
    assert!(run.stdout.starts_with("root: "), "{}", run.stdout);
    assert_eq!(run.stdout.lines().count(), 4, "{}", run.stdout);
}

#[test]
#[cfg_attr(not(has_seed), ignore = "../shared/seed/session.md is absent")]
fn seed_document_as_json() {
    let dir = TestDir::new();
    dir.write("session.md", seed());
    let groups = list_json(&dir, &["session.md"]);
    assert_eq!(
        lpids(&groups),
        ["src/litprog/session.py", "session.code", "session.tests"]
    );
    let out = group(&groups, "src/litprog/session.py");
    assert_eq!(out["lptype"], "out_file");
    assert_eq!(out["filepath"], "src/litprog/session.py");
    assert_eq!(
        out["inputs"],
        serde_json::json!([
            "license_header_boilerplate",
            "generated_preamble",
            "common.imports",
            "module_logger",
            "session.code"
        ])
    );
    assert_eq!(group(&groups, "session.code")["blocks"], 12);
    let tests = group(&groups, "session.tests");
    assert_eq!(tests["lptype"], "session");
    assert_eq!(tests["blocks"], 3);
    assert_eq!(tests["file"], "session.md");
    assert_eq!(tests["line"], 64);
}

// ---------------------------------------------------------------- walker

#[test]
fn backtick_and_tilde_fences_of_any_length() {
    let dir = TestDir::new();
    dir.write(
        "a.md",
        r#"# Fences

```sh lpid=three
echo 3
```

````sh lpid=four
```
echo "inner fence is content"
```
````

~~~sh lpid=tilde
echo ~
~~~

~~~~~~ sh lpid=longtilde
~~~
echo six
~~~
~~~~~~
"#,
    );
    let groups = list_json(&dir, &[]);
    assert_eq!(lpids(&groups), ["three", "four", "tilde", "longtilde"]);
    for (lpid, line) in [("three", 3), ("four", 7), ("tilde", 13), ("longtilde", 17)] {
        let g = group(&groups, lpid);
        assert_eq!(g["line"], line, "{lpid}");
        assert_eq!(g["blocks"], 1, "{lpid}");
        assert_eq!(g["lptype"], "raw_block", "{lpid}");
    }
}

#[test]
fn long_fence_keeps_inner_fences_as_content() {
    let dir = TestDir::new();
    dir.write(
        "a.md",
        "```yaml\nfilepath: out.txt\ninputs: [four, six]\n```\n\n\
         ````text lpid=four\n```\ninner\n```\n````\n\n\
         ~~~~~~text lpid=six\n~~~\nsix\n~~~~~~\n",
    );
    dir.litprog(&["build"]).success();
    assert_eq!(dir.read("out.txt"), "```\ninner\n```\n~~~\nsix\n");
}

#[test]
fn fences_in_lists_and_block_quotes() {
    let dir = TestDir::new();
    dir.write(
        "a.md",
        r#"```yaml
filepath: out.txt
inputs: [quoted, listed, nested]
```

> A quote:
>
> ```sh lpid=quoted
> echo quoted
> ```

1. A list item:

   ~~~sh lpid=listed
   echo listed
   ~~~

- outer
  - inner

    ```sh lpid=nested
    echo nested
    ```
"#,
    );
    let groups = list_json(&dir, &[]);
    assert_eq!(group(&groups, "quoted")["line"], 8);
    assert_eq!(group(&groups, "listed")["line"], 14);
    assert_eq!(group(&groups, "nested")["line"], 21);
    dir.litprog(&["build"]).success();
    assert_eq!(
        dir.read("out.txt"),
        "echo quoted\necho listed\necho nested\n"
    );
}

#[test]
fn indented_code_blocks_are_not_literate_blocks() {
    let dir = TestDir::new();
    dir.write(
        "a.md",
        "Text.\n\n    # lpid = indented\n    echo no\n\n```sh lpid=fenced\necho yes\n```\n",
    );
    let groups = list_json(&dir, &[]);
    assert_eq!(lpids(&groups), ["fenced"]);
}

#[test]
fn crlf_documents_work() {
    let dir = TestDir::new();
    let text = "# T\r\n\r\n```yaml\r\nfilepath: out.txt\r\ninputs: [a]\r\n```\r\n\r\n\
                ```bash\r\n# lpid = a\r\necho one\r\n```\r\n\r\n\
                > ```bash lpid=a\r\n> echo two\r\n> ```\r\n";
    dir.write("a.md", text);
    let groups = list_json(&dir, &[]);
    let out = group(&groups, "out.txt");
    assert_eq!(out["lptype"], "out_file");
    assert_eq!(out["line"], 3);
    let a = group(&groups, "a");
    assert_eq!(a["blocks"], 2);
    assert_eq!(a["line"], 8);
    dir.litprog(&["build"]).success();
    assert_eq!(dir.read_bytes("out.txt"), b"echo one\r\necho two\r\n");
    assert_eq!(
        dir.read_bytes("a.md"),
        text.as_bytes(),
        "document rewritten"
    );
}

#[test]
fn a_utf8_bom_is_tolerated() {
    let dir = TestDir::new();
    let text =
        "\u{feff}```yaml\nfilepath: out.txt\ninputs: [a]\n```\n\n```sh lpid=a\necho bom\n```\n";
    dir.write("a.md", text);
    let groups = list_json(&dir, &[]);
    assert_eq!(group(&groups, "out.txt")["line"], 1);
    assert_eq!(group(&groups, "a")["line"], 6);
    dir.litprog(&["build"]).success();
    assert_eq!(dir.read_bytes("out.txt"), b"echo bom\n");
    assert_eq!(dir.read_bytes("a.md"), text.as_bytes());
}

#[test]
fn markdown_and_md_extensions_only() {
    let dir = TestDir::new();
    dir.write("a.md", "```sh lpid=md\nx\n```\n")
        .write("b.markdown", "```sh lpid=markdown\nx\n```\n")
        .write("c.txt", "```sh lpid=txt\nx\n```\n")
        .write("d.mdx", "```sh lpid=mdx\nx\n```\n");
    let groups = list_json(&dir, &[]);
    assert_eq!(lpids(&groups), ["md", "markdown"]);
    assert_eq!(group(&groups, "markdown")["file"], "b.markdown");
}

// ---------------------------------------------------------------- option blocks

#[test]
fn yaml_option_block_with_filepath_is_an_out_file_named_by_its_path() {
    let dir = TestDir::new();
    dir.write(
        "a.md",
        "# T\n\n```yaml\nfilepath     : \"src/x.py\"\ninputs       : [\n    \"a\",\n    \"b\",\n ]\n```\n\n\
         ```python lpid=a\nA = 1\n```\n\n```python lpid=b\nB = 2\n```\n",
    );
    let groups = list_json(&dir, &[]);
    let g = group(&groups, "src/x.py");
    assert_eq!(g["lptype"], "out_file");
    assert_eq!(g["filepath"], "src/x.py");
    assert_eq!(g["inputs"], serde_json::json!(["a", "b"]));
    assert_eq!(g["blocks"], 0, "an option block is not code");
    assert_eq!(g["file"], "a.md");
    assert_eq!(g["line"], 3);
    let run = dir
        .litprog(&["list"])
        .success()
        .stdout_has("-> src/x.py <- a, b");
    let cells = row(&run.stdout, "src/x.py");
    assert_eq!(cells[1..5], ["out_file", "0", "blocks", "a.md:3"]);
    dir.litprog(&["build"]).success();
    assert_eq!(dir.read("src/x.py"), "A = 1\nB = 2\n");
}

#[test]
fn toml_option_blocks() {
    let dir = TestDir::new();
    dir.write(
        "a.md",
        "```toml\nfilepath = \"out.txt\"\ninputs = [\"a\"]\n```\n\n\
         ```toml\nlpid = \"s\"\nlptype = \"session\"\ncommand = \"sh -eu\"\ntimeout = 3\n```\n\n\
         ```toml\nlpid = \"named\"\nlptype = \"out_file\"\nfilepath = \"other.txt\"\n```\n\n\
         ```sh lpid=a\necho a\n```\n",
    );
    let groups = list_json(&dir, &[]);
    assert_eq!(lpids(&groups), ["out.txt", "s", "named", "a"]);
    assert_eq!(group(&groups, "out.txt")["lptype"], "out_file");
    let s = group(&groups, "s");
    assert_eq!(s["lptype"], "session");
    assert_eq!(s["command"], serde_json::json!(["sh", "-eu"]));
    assert_eq!(s["line"], 6);
    let named = group(&groups, "named");
    assert_eq!(named["lptype"], "out_file");
    assert_eq!(named["filepath"], "other.txt", "an explicit lpid wins");
}

#[test]
fn json_option_blocks() {
    let dir = TestDir::new();
    dir.write(
        "a.md",
        "```json\n{\n  \"filepath\": \"out.json.txt\",\n  \"inputs\": [\"a\"]\n}\n```\n\n\
         ```json\n{\"lpid\": \"s\", \"lptype\": \"session\", \"command\": [\"python3\", \"-u\"]}\n```\n\n\
         ```sh lpid=a\necho a\n```\n",
    );
    let groups = list_json(&dir, &[]);
    let out = group(&groups, "out.json.txt");
    assert_eq!(out["lptype"], "out_file");
    assert_eq!(out["inputs"], serde_json::json!(["a"]));
    let s = group(&groups, "s");
    assert_eq!(s["lptype"], "session");
    assert_eq!(s["command"], serde_json::json!(["python3", "-u"]));
}

#[test]
fn ordinary_yaml_toml_json_blocks_are_left_alone_even_when_broken() {
    let dir = TestDir::new();
    dir.write(
        "a.md",
        "```yaml\nname: example\nitems: [1, 2]\n```\n\n\
         ```yaml\nbroken: [\n```\n\n\
         ```toml\n= not toml\n```\n\n\
         ```json\n{\"oops\": }\n```\n\n\
         ```json\n[{\"lptype\": \"not a mapping at the top\"}]\n```\n\n\
         ```sh lpid=real\necho\n```\n",
    );
    let before = dir.snapshot();
    let groups = list_json(&dir, &[]);
    assert_eq!(lpids(&groups), ["real"]);
    let run = dir.litprog(&["list"]).success();
    assert!(!run.stderr.contains("error"), "{}", run.stderr);
    assert_eq!(dir.snapshot(), before);
}

#[test]
fn ordinary_yaml_blocks_can_carry_an_lpid_and_be_tangled() {
    // A yaml block with no lptype/filepath key is code like any other.
    let dir = TestDir::new();
    dir.write(
        "a.md",
        "```yaml\nfilepath: conf.yml\ninputs: [conf]\n```\n\n\
         ```yaml lpid=conf\nname: x\n```\n\n```yaml\n# lpid = conf\nsize: 2\n```\n",
    );
    dir.litprog(&["build"]).success();
    assert_eq!(dir.read("conf.yml"), "name: x\nsize: 2\n");
}

// ---------------------------------------------------------------- comment options

#[test]
fn comment_options_in_many_languages_are_removed_from_the_code() {
    let cases: &[(&str, &str, &str)] = &[
        ("python", "# lpid = py", "print(1)"),
        ("bash", "#lpid=sh", "echo 1"),
        ("ruby", "# lpid = 'rb'", "puts 1"),
        ("make", "# lpid = mk", "all:"),
        ("rust", "// lpid = rs", "fn main() {}"),
        ("c", "// lpid = \"c\"", "int x;"),
        ("go", "// lpid = go", "package main"),
        ("javascript", "// lpid = js", "let x = 1;"),
        ("typescript", "// lpid = ts", "let x: number = 1;"),
        ("sql", "-- lpid = sql", "select 1;"),
        ("lisp", "; lpid = lisp", "(car x)"),
        ("scheme", ";lpid = scm", "(define x 1)"),
        ("clojure", "; lpid = clj", "(def x 1)"),
        ("erlang", "% lpid = erl", "x() -> 1."),
        ("prolog", "% lpid = pl", "x(1)."),
        ("html", "<!-- lpid = html -->", "<p>hi</p>"),
        ("svg", "<!--lpid=svg-->", "<svg/>"),
        ("css", "/* lpid = css */", "body { margin: 0 }"),
    ];
    let mut doc = String::from("# Many languages\n\n");
    let mut inputs = Vec::new();
    let mut expected = String::new();
    for (lang, option, code) in cases {
        let lpid = option
            .split('=')
            .nth(1)
            .unwrap()
            .trim_end_matches("-->")
            .trim_end_matches("*/")
            .trim()
            .trim_matches(['"', '\''])
            .to_string();
        doc.push_str(&format!("```{lang}\n{option}\n{code}\n```\n\n"));
        expected.push_str(&format!("{code}\n"));
        inputs.push(lpid);
    }
    doc.push_str(&format!(
        "```yaml\nfilepath: all.txt\ninputs: [{}]\n```\n",
        inputs.join(", ")
    ));
    let dir = TestDir::new();
    dir.write("a.md", &doc);
    let groups = list_json(&dir, &[]);
    for lpid in &inputs {
        let g = group(&groups, lpid);
        assert_eq!(g["lptype"], "raw_block", "{lpid}");
        assert_eq!(g["blocks"], 1, "{lpid}");
    }
    dir.litprog(&["build"]).success();
    assert_eq!(dir.read("all.txt"), expected);
}

#[test]
fn comment_options_end_at_the_first_other_line() {
    let dir = TestDir::new();
    dir.write(
        "a.md",
        "```yaml\nfilepath: out.txt\ninputs: [a]\n```\n\n\
         ```python\n# lpid = a\n# lptype = raw_block\nx = 1\n# lpid = late\n```\n\n\
         ```python\n#!/usr/bin/env python3\n# lpid = shebang_first\n```\n",
    );
    let groups = list_json(&dir, &[]);
    assert_eq!(lpids(&groups), ["out.txt", "a"], "later lines are code");
    // The shebang block sets no lpid of its own: it continues `a`.
    assert_eq!(group(&groups, "a")["blocks"], 2);
    dir.litprog(&["build"]).success();
    assert_eq!(
        dir.read("out.txt"),
        "x = 1\n# lpid = late\n#!/usr/bin/env python3\n# lpid = shebang_first\n"
    );
}

#[test]
fn comment_options_in_an_unknown_language_are_code() {
    let dir = TestDir::new();
    dir.write("a.md", "```nosuchlang\n# lpid = x\nbody\n```\n");
    assert!(list_json(&dir, &[]).is_empty());
}

#[test]
fn comment_lptype_makes_a_session() {
    let dir = TestDir::new();
    dir.write(
        "a.md",
        "```bash\n# lpid = demo\n# lptype = session\necho hi\n```\n",
    );
    let groups = list_json(&dir, &[]);
    let g = group(&groups, "demo");
    assert_eq!(g["lptype"], "session");
    assert_eq!(g["command"], serde_json::json!(["bash"]));
    assert_eq!(g["blocks"], 1);
}

// ---------------------------------------------------------------- info string

#[test]
fn info_string_attributes() {
    let dir = TestDir::new();
    dir.write(
        "a.md",
        "```python lpid=demo\nprint(1)\n```\n\n\
         ```bash lpid=sess lptype=session timeout=5 'command=bash --norc'\necho\n```\n\n\
         ```text lpid=\"quoted id\"\nq\n```\n\n\
         ```yaml\nfilepath: out.txt\ninputs: [demo, \"quoted id\"]\n```\n",
    );
    let groups = list_json(&dir, &[]);
    assert_eq!(group(&groups, "demo")["lptype"], "raw_block");
    let s = group(&groups, "sess");
    assert_eq!(s["lptype"], "session");
    assert_eq!(s["command"], serde_json::json!(["bash", "--norc"]));
    assert_eq!(group(&groups, "quoted id")["line"], 9);
    dir.litprog(&["build"]).success();
    assert_eq!(dir.read("out.txt"), "print(1)\nq\n");
}

// ---------------------------------------------------------------- lptypes

#[test]
fn lptypes_session_out_file_raw_block_and_meta() {
    let dir = TestDir::new();
    dir.write(
        "a.md",
        "```yaml\nlptype: meta\ntitle: A document\nauthors: [Ann, Bob]\n```\n\n\
         ```yaml\nlpid: info\nlptype: meta\nversion: 2\n```\n\n\
         ```yaml\nlpid: run\nlptype: session\ncommand: sh\n```\n\n\
         ```sh\n# lpid = run\necho 1\n```\n\n\
         ```yaml\nlpid: out\nlptype: out_file\nfilepath: o.txt\ninputs: [raw]\nis_executable: true\n```\n\n\
         ```text lpid=raw lptype=raw_block\nraw\n```\n",
    );
    let groups = list_json(&dir, &[]);
    assert_eq!(lpids(&groups), ["info", "run", "out", "raw"]);
    let kinds: Vec<_> = groups
        .iter()
        .map(|g| g["lptype"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["meta", "session", "out_file", "raw_block"]);
    assert_eq!(group(&groups, "run")["blocks"], 1);
    assert_eq!(group(&groups, "out")["filepath"], "o.txt");
    let run = dir.litprog(&["list"]).success();
    assert!(
        !run.stderr.contains("unknown option"),
        "meta keys are free-form: {}",
        run.stderr
    );
    let meta = row(&run.stdout, "info");
    assert_eq!(meta[1..5], ["meta", "0", "blocks", "a.md:7"]);
}

#[test]
fn out_file_without_filepath_uses_its_lpid() {
    let dir = TestDir::new();
    dir.write(
        "a.md",
        "```yaml\nlpid: gen/out.txt\nlptype: out_file\ninputs: [a]\n```\n\n```sh lpid=a\nx\n```\n",
    );
    let groups = list_json(&dir, &[]);
    assert_eq!(group(&groups, "gen/out.txt")["filepath"], "gen/out.txt");
    dir.litprog(&["build"]).success();
    assert_eq!(dir.read("gen/out.txt"), "x\n");
}

#[test]
fn unknown_option_key_is_a_warning_naming_the_closest_key() {
    let dir = TestDir::new();
    dir.write(
        "a.md",
        "# T\n\n```yaml\nlpid: s\nlptype: session\ntimout: 3\n```\n",
    );
    let run = dir
        .litprog(&["list"])
        .success()
        .stderr_has("a.md:6:")
        .stderr_has("unknown option 'timout'")
        .stderr_has("did you mean 'timeout'?");
    assert_eq!(row(&run.stdout, "s")[1], "session");
    dir.write(
        "a.md",
        "```yaml\nfilepath: o.txt\ninputz: [a]\n```\n\n```toml\nlpid = \"t\"\nlptype = \"session\"\nzzzzzz = 1\n```\n",
    );
    let run = dir
        .litprog(&["list"])
        .success()
        .stderr_has("a.md:3:")
        .stderr_has("'inputz'")
        .stderr_has("did you mean 'inputs'?")
        .stderr_has("a.md:9:")
        .stderr_has("'zzzzzz'");
    let zline = run.stderr.lines().find(|l| l.contains("zzzzzz")).unwrap();
    assert!(!zline.contains("did you mean"), "{zline}");
}

// ---------------------------------------------------------------- groups

#[test]
fn carry_forward_continues_the_lpid_of_the_same_language() {
    let dir = TestDir::new();
    dir.write(
        "a.md",
        "```yaml\nfilepath: out.txt\ninputs: [a]\n```\n\n\
         ```python\n# lpid = a\none = 1\n```\n\nText.\n\n\
         ```python\ntwo = 2\n```\n\n\
         ```yaml\nlpid: other\nlptype: session\n```\n\n\
         ```python\nthree = 3\n```\n",
    );
    let groups = list_json(&dir, &[]);
    assert_eq!(group(&groups, "a")["blocks"], 3);
    dir.litprog(&["build"]).success();
    assert_eq!(dir.read("out.txt"), "one = 1\ntwo = 2\nthree = 3\n");
}

#[test]
fn carry_forward_stops_at_a_different_language() {
    let dir = TestDir::new();
    dir.write(
        "a.md",
        "```python lpid=a\n1\n```\n\n```bash\necho\n```\n\n```python\n2\n```\n",
    );
    let groups = list_json(&dir, &[]);
    assert_eq!(lpids(&groups), ["a"]);
    assert_eq!(group(&groups, "a")["blocks"], 1);
}

#[test]
fn carry_forward_skips_result_blocks() {
    let dir = TestDir::new();
    dir.write(
        "a.md",
        "```yaml\nfilepath: out.txt\ninputs: [a]\n```\n\n\
         ```python lpid=a\n1\n```\n\n```python lpout=a\nresult\n```\n\n```python\n2\n```\n",
    );
    let groups = list_json(&dir, &[]);
    assert_eq!(
        lpids(&groups),
        ["out.txt", "a"],
        "a result block is no group"
    );
    assert_eq!(group(&groups, "a")["blocks"], 2);
    dir.litprog(&["build"]).success();
    assert_eq!(dir.read("out.txt"), "1\n2\n");
}

#[test]
fn lpignore_keeps_a_block_out() {
    let dir = TestDir::new();
    dir.write(
        "a.md",
        "```yaml\nfilepath: out.txt\ninputs: [a]\n```\n\n\
         ```python lpid=a\n1\n```\n\n```python lpignore\nignored\n```\n\n\
         ```python lpignore lpid=b\n# lpid = c\nalso ignored\n```\n\n```python\n2\n```\n",
    );
    let groups = list_json(&dir, &[]);
    assert_eq!(lpids(&groups), ["out.txt", "a"]);
    assert_eq!(group(&groups, "a")["blocks"], 2);
    dir.litprog(&["build"]).success();
    assert_eq!(dir.read("out.txt"), "1\n2\n");
}

#[test]
fn carry_forward_does_not_cross_files() {
    let dir = TestDir::new();
    dir.write("a.md", "```python lpid=a\n1\n```\n")
        .write("b.md", "```python\n2\n```\n");
    let groups = list_json(&dir, &[]);
    assert_eq!(group(&groups, "a")["blocks"], 1);
}

#[test]
fn groups_concatenate_across_files_ordered_by_path() {
    let dir = TestDir::new();
    dir.write(
        "b.md",
        "```yaml\nfilepath: out.txt\ninputs: [g]\n```\n\n```sh lpid=g\necho b\n```\n",
    )
    .write("a.md", "```sh lpid=g\necho a\n```\n")
    .write("c/d.md", "```sh lpid=g\necho c/d\n```\n")
    .write("c.md", "```sh lpid=g\necho c\n```\n");
    let groups = list_json(&dir, &[]);
    let g = group(&groups, "g");
    assert_eq!(g["blocks"], 4);
    assert_eq!(g["file"], "a.md", "first block is in the first file");
    dir.litprog(&["build"]).success();
    assert_eq!(
        dir.read("out.txt"),
        "echo a\necho b\necho c/d\necho c\n",
        "files ordered by path (c/d.md before c.md)"
    );
    // The order of PATH arguments does not matter, and every document of
    // the project is read whatever they select: the group has all 4 blocks.
    let groups = list_json(&dir, &["c.md", "b.md", "a.md"]);
    assert_eq!(group(&groups, "g")["file"], "a.md");
    assert_eq!(group(&groups, "g")["blocks"], 4);
}

#[test]
fn the_same_option_with_the_same_value_may_be_repeated() {
    let dir = TestDir::new();
    dir.write(
        "a.md",
        "```yaml\nlpid: s\nlptype: session\ntimeout: 5\n```\n\n\
         ```bash lpid=s timeout=5\necho\n```\n\n```bash\n# lpid = s\n# lptype = session\necho\n```\n",
    );
    let groups = list_json(&dir, &[]);
    assert_eq!(group(&groups, "s")["blocks"], 2);
}

// ---------------------------------------------------------------- paths

#[test]
fn directories_are_searched_recursively_skipping_hidden_and_target() {
    let dir = TestDir::new();
    let block = |lpid: &str| format!("```sh lpid={lpid}\nx\n```\n");
    dir.write("top.md", block("top"))
        .write("docs/deep/er/doc.md", block("deep"))
        .write(".hidden/h.md", block("hidden"))
        .write("docs/.cache/g.md", block("cache"))
        .write("target/t.md", block("target"))
        .write("docs/target/t.md", block("nested_target"));
    let groups = list_json(&dir, &[]);
    assert_eq!(lpids(&groups), ["deep", "top"]);
    assert_eq!(group(&groups, "deep")["file"], "docs/deep/er/doc.md");
    let groups = list_json(&dir, &["docs"]);
    assert_eq!(lpids(&groups), ["deep"]);
    assert_eq!(group(&groups, "deep")["file"], "docs/deep/er/doc.md");
    // A file named explicitly is read wherever it is.
    let groups = list_json(&dir, &[".hidden/h.md", "top.md"]);
    assert_eq!(lpids(&groups), ["hidden", "top"]);
}

#[test]
fn json_output_has_the_documented_keys() {
    let dir = TestDir::new();
    dir.write(
        "a.md",
        "```yaml\nfilepath: o.txt\ninputs: [r]\n```\n\n```sh lpid=r\nx\n```\n\n\
         ```yaml\nlpid: s\nlptype: session\n```\n",
    );
    let groups = list_json(&dir, &[]);
    assert_eq!(groups.len(), 3);
    for g in &groups {
        let obj = g.as_object().unwrap();
        for key in ["lpid", "lptype", "blocks", "file", "line"] {
            assert!(obj.contains_key(key), "{key} missing in {g}");
        }
        assert!(g["blocks"].is_u64() && g["line"].is_u64(), "{g}");
        let is_out_file = g["lptype"] == "out_file";
        assert_eq!(obj.contains_key("filepath"), is_out_file, "{g}");
        assert_eq!(obj.contains_key("inputs"), is_out_file, "{g}");
    }
    let o = group(&groups, "o.txt");
    assert_eq!(
        (&o["file"], &o["line"], &o["filepath"]),
        (&Value::from("a.md"), &Value::from(1), &Value::from("o.txt"))
    );
    assert_eq!(o["inputs"], serde_json::json!(["r"]));
    assert_eq!(group(&groups, "r")["line"], 6);
    assert_eq!(group(&groups, "s")["line"], 10);
}

#[test]
#[cfg_attr(not(has_seed), ignore = "../shared/seed/session.md is absent")]
fn list_changes_no_file() {
    let dir = TestDir::new();
    dir.write("session.md", seed());
    let before = dir.snapshot();
    dir.litprog(&["list"]).success();
    dir.litprog(&["list", "--json"]).success();
    assert_eq!(dir.snapshot(), before);
}

/// Regression: a session key on a raw block was reported as unknown with
/// the hint "did you mean 'timeout'?" for `timeout` itself.
#[test]
fn option_of_another_lptype_is_not_suggested_as_itself() {
    let dir = TestDir::new();
    dir.write("a.md", "# T\n\n```python lpid=demo timeout=5\nx\n```\n");
    let run = dir
        .litprog(&["list"])
        .success()
        .stderr_has("a.md:3: option 'timeout' does not apply to raw_block 'demo'")
        .stderr_has("session");
    assert!(!run.stderr.contains("did you mean"), "{}", run.stderr);
}

/// Regression: a broken example block with a nested `filepath:` key (as in
/// a docker-compose file) was taken for a broken option block: exit 2.
#[test]
fn broken_example_with_a_nested_option_key_is_left_alone() {
    let dir = TestDir::new();
    dir.write(
        "a.md",
        "```yaml\nservices:\n  web:\n    filepath: [\n```\n\n\
         ```toml\n[tool.x]\nfilepath = \n```\n\n\
         ```json\n{\"a\": {\n  \"filepath\": [}\n```\n\n```sh lpid=real\nx\n```\n",
    );
    let before = dir.snapshot();
    assert_eq!(lpids(&list_json(&dir, &[])), ["real"]);
    assert!(dir.snapshot() == before);
    // The same keys at the top level are still option blocks.
    dir.write("a.md", "```yaml\nfilepath: [\n```\n");
    let run = dir.litprog(&["list"]).status(2);
    assert!(run.stderr.contains("a.md:"), "{}", run.stderr);
}

/// Regression: in a block without a language (```` ``` lpid=x ````) the
/// attribute was taken for the language and silently ignored.
#[test]
fn info_string_attribute_without_a_language() {
    let dir = TestDir::new();
    dir.write(
        "a.md",
        "```yaml\nfilepath: out.txt\ninputs: [bare]\n```\n\n``` lpid=bare\nplain text\n```\n",
    );
    let groups = list_json(&dir, &[]);
    assert_eq!(group(&groups, "bare")["line"], 6);
    dir.litprog(&["build"]).success();
    assert_eq!(dir.read("out.txt"), "plain text\n");
}
