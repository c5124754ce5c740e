//! Tests for patch answers: the format's details, every refusal, line endings.

use super::*;
use proptest::prelude::*;

const PATH: &str = "src/calc.py";

const SEL: &str = "\
def f(x):
    a = 1
    b = 2
    return a + b

def g(x):
    a = 1
    b = 2
    return a * b
";

fn patch(body: &str) -> String {
    format!("*** Begin Patch\n*** Update File: {PATH}\n{body}*** End Patch\n")
}

fn run(text: &str, patch_text: &str) -> Result<Applied, PatchError> {
    apply_to_text(patch_text, PATH, text)
}

#[test]
fn patches_that_apply() {
    let cases: &[(&str, String, String)] = &[
        (
            "one hunk with context",
            patch("@@\n def f(x):\n-    a = 1\n+    a = 10\n     b = 2\n     return a + b\n"),
            SEL.replacen("    a = 1", "    a = 10", 1),
        ),
        (
            "a header picks the second of two identical blocks",
            patch("@@ def g(x):\n     a = 1\n-    b = 2\n+    b = 3\n"),
            SEL.replace("    b = 2\n    return a * b", "    b = 3\n    return a * b"),
        ),
        (
            "a header cut short still names its line",
            patch("@@ def g(\n     a = 1\n-    b = 2\n+    b = 3\n"),
            SEL.replace("    b = 2\n    return a * b", "    b = 3\n    return a * b"),
        ),
        (
            "two hunks in order, the first without @@",
            patch(
                "-def f(x):\n+def f(x: int):\n     a = 1\n@@ def g(x):\n     b = 2\n-    return a * b\n+    return a * b * x\n",
            ),
            SEL.replace("def f(x):", "def f(x: int):")
                .replace("a * b", "a * b * x"),
        ),
        (
            "an empty line is an empty context line",
            patch("     return a + b\n\n-def g(x):\n+def g(y):\n"),
            SEL.replace("def g(x)", "def g(y)"),
        ),
        (
            "End of File anchors at the end of the selection",
            patch("@@\n     b = 2\n-    return a * b\n+    return b * a\n*** End of File\n"),
            SEL.replace("a * b", "b * a"),
        ),
        (
            "a blank line before End Patch is not context",
            patch("@@ def f(x):\n-    a = 1\n+    a = 0\n\n"),
            SEL.replacen("a = 1", "a = 0", 1),
        ),
        (
            "only added lines go to the end of the selection",
            patch("@@\n+\n+def h(x):\n+    return x\n"),
            format!("{SEL}\ndef h(x):\n    return x\n"),
        ),
        (
            "only added lines after a header go right after it",
            patch("@@ def g(x):\n+    \"\"\"g.\"\"\"\n"),
            SEL.replace("def g(x):\n", "def g(x):\n    \"\"\"g.\"\"\"\n"),
        ),
        (
            "removing lines only",
            patch("@@ def f(x):\n     a = 1\n-    b = 2\n-    return a + b\n+    return a\n"),
            SEL.replacen("    b = 2\n    return a + b", "    return a", 1),
        ),
        (
            "unified-diff line numbers are not a header",
            patch("@@ -2,1 +2,1 @@\n def f(x):\n-    a = 1\n+    a = 5\n"),
            SEL.replacen("a = 1", "a = 5", 1),
        ),
    ];
    for (name, p, want) in cases {
        let got = run(SEL, p).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&got.text, want, "{name}");
        assert!(!got.whitespace_tolerant, "{name}");
    }
}

#[test]
fn the_envelope_is_lenient_where_models_vary() {
    let inner = "@@ def f(x):\n-    a = 1\n+    a = 2\n";
    let want = SEL.replacen("a = 1", "a = 2", 1);
    let variants = [
        format!("apply_patch <<'EOF'\n{}EOF\n", patch(inner)),
        format!("<<EOF\n{}EOF", patch(inner)),
        format!(
            "\n  *** Begin Patch  \n *** Update File:   ./{PATH} \n{inner}  *** End Patch \n\n"
        ),
        patch(inner).replace('\n', "\r\n"),
        format!("*** Begin Patch\n*** Update File: {PATH}\n{inner}*** End Patch"),
    ];
    for v in variants {
        assert_eq!(run(SEL, &v).map(|a| a.text).as_ref(), Ok(&want), "{v:?}");
    }
}

#[test]
fn refusals_name_the_hunk_and_say_why() {
    let no_begin = format!("*** Update File: {PATH}\n@@\n-a\n+b\n*** End Patch\n");
    let no_end = format!("*** Begin Patch\n*** Update File: {PATH}\n@@\n-    a = 1\n+    a = 2\n");
    let cases: Vec<(&str, String, &str)> = vec![
        ("empty text", String::new(), "the patch is empty"),
        ("blank text", "  \n\n".into(), "the patch is empty"),
        (
            "no hunks at all",
            "*** Begin Patch\n*** End Patch\n".into(),
            "the patch is empty",
        ),
        (
            "an update without hunks",
            patch(""),
            "`*** Update File: src/calc.py` has no hunks",
        ),
        (
            "no Begin Patch",
            no_begin,
            "must start with `*** Begin Patch`",
        ),
        ("no End Patch", no_end, "does not end with `*** End Patch`"),
        (
            "a line that is not a hunk line",
            patch("@@\nreturn 1\n"),
            "line 4: `return 1` is not a hunk line",
        ),
        (
            "an unknown marker",
            patch("*** Frobnicate\n"),
            "unknown marker `*** Frobnicate`",
        ),
        (
            "hunk lines before Update File",
            "*** Begin Patch\n-a\n*** End Patch\n".into(),
            "expected `*** Update File: src/calc.py`",
        ),
        (
            "text after End Patch",
            format!("{}more\n", patch("-    a = 1\n")),
            "text after `*** End Patch`",
        ),
        (
            "a header without lines",
            patch("@@ def f(x):\n*** End of File\n"),
            "`*** End of File` outside a hunk",
        ),
        (
            "Add File",
            "*** Begin Patch\n*** Add File: evil.sh\n+rm -rf /\n*** End Patch\n".into(),
            "adds a file (`*** Add File: evil.sh`)",
        ),
        (
            "Delete File",
            "*** Begin Patch\n*** Delete File: src/calc.py\n*** End Patch\n".into(),
            "deletes a file (`*** Delete File: src/calc.py`)",
        ),
        (
            "Move to",
            format!(
                "*** Begin Patch\n*** Update File: {PATH}\n*** Move to: src/other.py\n@@\n-    a = 1\n+    a = 2\n*** End Patch\n"
            ),
            "moves a file (`*** Move to: src/other.py`)",
        ),
        (
            "another file",
            "*** Begin Patch\n*** Update File: src/other.py\n@@\n-x\n+y\n*** End Patch\n".into(),
            "updates `src/other.py`, but only the selection in `src/calc.py`",
        ),
        (
            "an absolute path",
            "*** Begin Patch\n*** Update File: /etc/passwd\n@@\n-x\n+y\n*** End Patch\n".into(),
            "updates `/etc/passwd`",
        ),
        (
            "a second file after the right one",
            format!(
                "*** Begin Patch\n*** Update File: {PATH}\n@@\n-    a = 1\n+    a = 2\n*** Update File: x.py\n@@\n-x\n+y\n*** End Patch\n"
            ),
            "updates `x.py`",
        ),
        (
            "no match",
            patch("@@ def f(x):\n-    a = 100\n+    a = 2\n"),
            "hunk 1 (@@ def f(x):) matches nowhere in the selection",
        ),
        (
            "several matches",
            patch("@@\n     a = 1\n-    b = 2\n+    b = 3\n"),
            "hunk 1 (starting `     a = 1`) matches 2 places in the selection",
        ),
        (
            "the second hunk matches nowhere",
            patch("@@ def f(x):\n-    a = 1\n+    a = 2\n@@ def g(x):\n-    c = 3\n+    c = 4\n"),
            "hunk 2 (@@ def g(x):) matches nowhere in the selection after hunk 1",
        ),
        (
            "hunks out of order",
            patch("@@ def g(x):\n-    b = 2\n+    b = 3\n@@ def f(x):\n-    a = 1\n+    a = 2\n"),
            "hunk 2 (@@ def f(x):): its `@@` header line `def f(x):` is nowhere in the selection after hunk 1",
        ),
        (
            "a header that is nowhere",
            patch("@@ class Nope:\n-    a = 1\n+    a = 2\n"),
            "hunk 1 (@@ class Nope:): its `@@` header line `class Nope:` is nowhere",
        ),
        (
            "End of File not at the end",
            patch("@@\n def f(x):\n-    a = 1\n+    a = 2\n*** End of File\n"),
            "hunk 1 (starting ` def f(x):`) is marked `*** End of File` but does not match the end",
        ),
    ];
    for (name, p, needle) in cases {
        match run(SEL, &p) {
            Ok(a) => panic!("{name}: applied instead of refused:\n{}", a.text),
            Err(e) => assert!(e.to_string().contains(needle), "{name}: {e}"),
        }
    }
}

#[test]
fn trailing_whitespace_is_tolerated_in_a_second_pass_and_reported() {
    let sel = "x = 1   \ny = 2\t\nz = 3\n";
    let a = run(sel, &patch("@@\n x = 1\n-y = 2\n+y = 20\n z = 3\n")).unwrap();
    assert!(a.whitespace_tolerant);
    // the kept context line keeps the document's own trailing spaces
    assert_eq!(a.text, "x = 1   \ny = 20\nz = 3\n");
    let exact = run(sel, &patch("@@\n-z = 3\n+z = 30\n")).unwrap();
    assert!(!exact.whitespace_tolerant);
    // an exact match wins over a tolerant one elsewhere
    let sel2 = "a \na\n";
    let a = run(sel2, &patch("@@\n-a\n+b\n")).unwrap();
    assert_eq!((a.text.as_str(), a.whitespace_tolerant), ("a \nb\n", false));
    // leading whitespace is never ignored
    assert!(run(sel, &patch("@@\n-  y = 2\n+y = 3\n")).is_err());
}

#[test]
fn crlf_text_keeps_its_line_endings() {
    let sel = SEL.replace('\n', "\r\n");
    let a = run(
        &sel,
        &patch("@@ def f(x):\n     a = 1\n-    b = 2\n+    b = 3\n+    c = 4\n"),
    )
    .unwrap();
    let want = SEL
        .replacen("    b = 2\n", "    b = 3\n    c = 4\n", 1)
        .replace('\n', "\r\n");
    assert_eq!(a.text, want);
    assert!(
        !a.text.replace("\r\n", "").contains('\n'),
        "a bare LF crept in"
    );
}

#[test]
fn a_selection_without_a_final_line_break_keeps_none() {
    let sel = "a\nb\nc";
    assert_eq!(
        run(sel, &patch("@@\n b\n-c\n+d\n")).unwrap().text,
        "a\nb\nd"
    );
    assert_eq!(run(sel, &patch("@@\n c\n+e\n")).unwrap().text, "a\nb\nc\ne");
    assert_eq!(run(sel, &patch("@@\n-a\n+z\n")).unwrap().text, "z\nb\nc");
}

#[test]
fn untouched_lines_come_from_the_document_not_from_what_the_model_saw() {
    let real = "key = \"sk-real\"\nx = 1\ny = 2\n";
    let seen = "key = \"«REDACTED:openai-key#1»\"\nx = 1\ny = 2\n";
    let p = parse(
        &patch("@@\n key = \"«REDACTED:openai-key#1»\"\n-x = 1\n+x = 10\n"),
        PATH,
    )
    .unwrap();
    let a = apply(&p, seen, real, "\n").unwrap();
    assert_eq!(a.text, "key = \"sk-real\"\nx = 10\ny = 2\n");
    // when the lines do not line up (a multi-line secret), what the model saw is used
    let a = apply(&p, seen, "one line", "\n").unwrap();
    assert_eq!(a.text, "key = \"«REDACTED:openai-key#1»\"\nx = 10\ny = 2\n");
}

#[test]
fn consecutive_headers_narrow_the_same_hunk() {
    let sel = "class A:\n    def run(self):\n        return 1\nclass B:\n    def run(self):\n        return 1\n";
    let p = patch("@@ class B:\n@@     def run(self):\n-        return 1\n+        return 2\n");
    let a = run(sel, &p).unwrap();
    assert_eq!(a.hunks, 1);
    assert_eq!(
        a.text,
        "class A:\n    def run(self):\n        return 1\nclass B:\n    def run(self):\n        return 2\n"
    );
}

#[test]
fn parse_counts_hunks_and_keeps_headers() {
    let p = parse(
        &patch("@@ def f(x):\n-    a = 1\n+    a = 2\n@@\n-    b = 2\n+    b = 3\n"),
        PATH,
    )
    .unwrap();
    assert_eq!(p.path, PATH);
    assert_eq!(p.hunks.len(), 2);
    assert_eq!(p.hunks[0].headers, ["def f(x):"]);
    assert!(p.hunks[1].headers.is_empty());
    assert_eq!(
        p.hunks[1].lines,
        [
            HunkLine::Remove("    b = 2".into()),
            HunkLine::Add("    b = 3".into())
        ]
    );
}

proptest! {
    /// A patch built from a known change (3 lines of context, unique lines) applies to
    /// exactly the changed text, whatever the line endings.
    #[test]
    fn a_patch_of_one_change_reproduces_it(
        n in 1usize..60,
        at in 0usize..60,
        removed in 0usize..4,
        added in proptest::collection::vec("[a-z ]{0,12}", 0..4),
        crlf in any::<bool>(),
    ) {
        let at = at % n;
        let removed = removed.min(n - at);
        prop_assume!(removed > 0 || !added.is_empty());
        let lines: Vec<String> = (0..n).map(|i| format!("line {i}")).collect();
        let ctx_from = at.saturating_sub(3);
        let ctx_to = (at + removed + 3).min(n);
        let mut body = String::from("@@\n");
        for l in &lines[ctx_from..at] { body.push_str(&format!(" {l}\n")); }
        for l in &lines[at..at + removed] { body.push_str(&format!("-{l}\n")); }
        for l in &added { body.push_str(&format!("+{l}\n")); }
        for l in &lines[at + removed..ctx_to] { body.push_str(&format!(" {l}\n")); }
        let eol = if crlf { "\r\n" } else { "\n" };
        let text: String = lines.iter().map(|l| format!("{l}{eol}")).collect();
        let mut want_lines: Vec<String> = lines[..at].to_vec();
        want_lines.extend(added.iter().cloned());
        want_lines.extend(lines[at + removed..].iter().cloned());
        let want: String = want_lines.iter().map(|l| format!("{l}{eol}")).collect();
        let only_added_without_context = ctx_from == ctx_to;
        prop_assume!(!only_added_without_context);
        let got = run(&text, &patch(&body)).map(|a| a.text);
        prop_assert_eq!(got, Ok(want));
    }
}

#[test]
fn a_header_does_not_hide_two_matches_inside_its_own_block() {
    let sel = "def f(x):\n    a = 1\n    a = 1\ndef g(x):\n    a = 1\n";
    let e = run(sel, &patch("@@ def f(x):\n-    a = 1\n+    a = 2\n")).unwrap_err();
    assert!(
        e.to_string()
            .contains("hunk 1 (@@ def f(x):) matches 3 places"),
        "{e}"
    );
    // inside g's block there is one
    let a = run(sel, &patch("@@ def g(x):\n-    a = 1\n+    a = 2\n")).unwrap();
    assert_eq!(
        a.text,
        "def f(x):\n    a = 1\n    a = 1\ndef g(x):\n    a = 2\n"
    );
}

/// The measure (also printed by `cargo bench --bench assist -- patch`): for a
/// 2,000-line selection with 5 changed lines, the patch answer is at least 10x smaller
/// than the whole replacement.
#[test]
fn a_patch_of_five_lines_in_two_thousand_is_at_least_ten_times_smaller() {
    let old: Vec<String> = (0..2_000)
        .map(|i| format!("    let value_{i} = compute(&config.name, {i}) + offset;"))
        .collect();
    let mut new = old.clone();
    let mut p = format!("*** Begin Patch\n*** Update File: {PATH}\n");
    for k in 1..=5 {
        let at = k * 2_000 / 6;
        new[at] = old[at].replace("offset", "offset * 2");
        p.push_str("@@\n");
        old[at - 3..at]
            .iter()
            .for_each(|l| p.push_str(&format!(" {l}\n")));
        p.push_str(&format!("-{}\n+{}\n", old[at], new[at]));
        old[at + 1..at + 4]
            .iter()
            .for_each(|l| p.push_str(&format!(" {l}\n")));
    }
    p.push_str("*** End Patch\n");
    let text: String = old.iter().map(|l| format!("{l}\n")).collect();
    let want: String = new.iter().map(|l| format!("{l}\n")).collect();
    let applied = run(&text, &p).unwrap();
    assert_eq!(applied.text, want);
    assert_eq!(applied.hunks, 5);
    let as_patch = serde_json::json!({ "patch": p })
        .to_string()
        .chars()
        .count();
    let as_code = serde_json::json!({ "code": want })
        .to_string()
        .chars()
        .count();
    assert!(
        as_code >= 10 * as_patch,
        "patch {as_patch} vs code {as_code} characters"
    );
}
