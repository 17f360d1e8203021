//! The event stream (issue 14, points 10 and 11): `--message-format json`
//! prints one JSON object per event on stdout, and nothing else there.

use serde_json::Value;

use crate::util::*;

const DOC: &str = "```yaml\nlpid: out.txt\nlptype: out_file\ninputs: [text]\n```\n\n\
                   ```text lpid=text\ncontent\n```\n\n\
                   ```bash lpid=a lptype=session\necho a\n```\n\n\
                   ```bash lpid=b lptype=session requires=a\necho b\n```\n";

/// Every stdout line as JSON (each must be one object), and the
/// `event` field of each with its lpid or path.
fn events(run: &Run) -> (Vec<Value>, Vec<String>) {
    let values: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    let names = values
        .iter()
        .map(|v| {
            assert!(v.is_object(), "{v}");
            let what = v
                .get("lpid")
                .or_else(|| v.get("path"))
                .and_then(Value::as_str)
                .unwrap_or("");
            format!("{} {what}", v["event"].as_str().unwrap())
                .trim_end()
                .to_string()
        })
        .collect();
    (values, names)
}

#[test]
fn json_messages_are_one_object_per_event_in_order() {
    let t = TestDir::new();
    t.write("doc.md", DOC);
    let run = t.litprog(&["build", "--message-format", "json"]).success();
    let (values, names) = events(&run);
    assert_eq!(
        names,
        [
            "tangled_file_written out.txt",
            "session_started a",
            "block_started a",
            "session_finished a",
            "session_started b",
            "block_started b",
            "session_finished b",
            "document_written doc.md",
            "build_finished",
        ]
    );
    let finished_a = &values[3];
    assert_eq!(finished_a["ok"], true);
    assert_eq!(finished_a["outcome"], "exit 0");
    assert_eq!(finished_a["file"], "doc.md");
    assert_eq!(finished_a["line"], 11);
    assert!(finished_a["duration_s"].as_f64().unwrap() > 0.0);
    let last = values.last().unwrap();
    assert_eq!(last["success"], true);
    assert_eq!(
        (last["ran"].as_u64(), last["cached"].as_u64()),
        (Some(2), Some(0))
    );

    // The second build: both from the cache, no process started.
    let run = t.litprog(&["build", "--message-format", "json"]).success();
    let (values, names) = events(&run);
    assert_eq!(
        names,
        ["session_cached a", "session_cached b", "build_finished"]
    );
    assert_eq!(values[2]["cached"], 2);
}

#[test]
fn with_json_messages_check_s_diffs_go_to_stderr() {
    let t = TestDir::new();
    t.write("doc.md", DOC);
    let run = t
        .litprog(&["check", "--message-format", "json"])
        .status(1)
        .stderr_has("+```text lpout=a");
    let (values, names) = events(&run);
    assert_eq!(names.last().unwrap(), "build_finished");
    assert_eq!(values.last().unwrap()["stale"][0], "doc.md");
    assert_eq!(values.last().unwrap()["success"], false);
}
