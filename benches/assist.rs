//! The domain's share of an action: building the (redacted) request for a selection
//! with its context, and turning the answer into minimal edits.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use codex_lsp::assist::actions::lookup;
use codex_lsp::assist::edit::plan_edit;
use codex_lsp::assist::exclude::ExcludeRules;
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

criterion_group!(benches, bench);
criterion_main!(benches);
