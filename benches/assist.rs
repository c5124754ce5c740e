//! The domain's share of an action: building the (redacted) request for a selection
//! with its context, turning the answer into minimal edits, and applying a patch
//! answer (group `patch`: a 2,000-line selection with 5 changed lines).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use codex_lsp::assist::actions::lookup;
use codex_lsp::assist::edit::plan_edit;
use codex_lsp::assist::exclude::ExcludeRules;
use codex_lsp::assist::patch;
use codex_lsp::assist::prompt::{PromptParts, build_request};
use codex_lsp::assist::redact::Redactor;
use codex_lsp::settings::Settings;
use criterion::{Criterion, criterion_group, criterion_main};

fn lines(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("    let value_{i} = compute(&config.name, {i}) + offset;\n"))
        .collect()
}

fn bench(c: &mut Criterion) {
    let redactor = Redactor::new();
    let settings = Settings::default();
    let spec = lookup("refactor", &[]).unwrap();
    let mut g = c.benchmark_group("assist");
    for n in [50usize, 2_000] {
        let (before, sel, after) = (lines(0, 60), lines(60, n), lines(60 + n, 60));
        let parts = PromptParts {
            path: "src/lib.rs",
            language_id: "rust",
            before: &before,
            selection: &sel,
            after: &after,
            instruction: None,
            diagnostic: None,
            document: None,
        };
        g.bench_function(format!("build_request_{n}_lines"), |b| {
            b.iter(|| {
                black_box(build_request(
                    &spec,
                    &parts,
                    &settings,
                    &Default::default(),
                    &redactor,
                ))
            })
        });
        let answer = sel.replacen("compute(&config.name, 61)", "compute(&config.label, 61)", 1);
        g.bench_function(format!("plan_edit_{n}_lines"), |b| {
            b.iter(|| black_box(plan_edit(&sel, 1000, true, &answer, "\n", &redactor)))
        });
    }
    let dir = std::env::temp_dir();
    g.bench_function("exclude_rules_new_and_check", |b| {
        b.iter(|| black_box(ExcludeRules::new(&dir, &[]).check(&dir.join("src/lib.rs"))))
    });
    g.finish();
}

/// The selection, the same with five lines changed, and the patch that says so
/// (three lines of context around each change, as codex models write them).
fn five_changes(n: usize) -> (String, String, String) {
    let sel = lines(60, n);
    let old: Vec<&str> = sel.lines().collect();
    let mut new: Vec<String> = old.iter().map(|l| (*l).to_owned()).collect();
    let mut p = String::from("*** Begin Patch\n*** Update File: src/lib.rs\n");
    for k in 1..=5 {
        let at = k * n / 6;
        new[at] = old[at].replace("offset", "offset * 2");
        p.push_str("@@\n");
        for l in &old[at - 3..at] {
            p.push_str(&format!(" {l}\n"));
        }
        p.push_str(&format!("-{}\n+{}\n", old[at], new[at]));
        for l in &old[at + 1..at + 4] {
            p.push_str(&format!(" {l}\n"));
        }
    }
    p.push_str("*** End Patch\n");
    let new: String = new.iter().map(|l| format!("{l}\n")).collect();
    (sel, new, p)
}

#[allow(clippy::print_stderr)]
fn bench_patch(c: &mut Criterion) {
    let (sel, new, p) = five_changes(2_000);
    let applied = patch::apply_to_text(&p, "src/lib.rs", &sel).unwrap();
    assert_eq!(applied.text, new);
    // what the model must write: the function call's arguments
    let as_patch = serde_json::json!({ "patch": p })
        .to_string()
        .chars()
        .count();
    let as_code = serde_json::json!({ "code": new })
        .to_string()
        .chars()
        .count();
    eprintln!(
        "patch answer: {as_patch} characters; replace_selection answer: {as_code} characters; \
         {:.1}x smaller",
        as_code as f64 / as_patch as f64
    );
    let mut g = c.benchmark_group("patch");
    g.bench_function("parse_and_apply_5_hunks_2000_lines", |b| {
        b.iter(|| black_box(patch::apply_to_text(&p, "src/lib.rs", &sel)))
    });
    g.bench_function("plan_edit_after_patch_2000_lines", |b| {
        let redactor = Redactor::new();
        b.iter(|| black_box(plan_edit(&sel, 1000, true, &applied.text, "\n", &redactor)))
    });
    g.finish();
}

criterion_group!(benches, bench, bench_patch);
criterion_main!(benches);
