//! The editor's side of a document for the table bench: a generated Python file with
//! accents, CJK and emoji (the shared driver's `unicode` kind), kept as lines so that
//! single-character edits and the server's `workspace/applyEdit`s cost microseconds,
//! and UTF-16 positions (what VS Code sends) computed from it.

use serde_json::{Value, json};

const UNICODE_BITS: [&str; 10] = [
    "café",
    "naïve",
    "中文注释",
    "😀",
    "🇫🇷",
    "e\u{301}",
    "Ω≈ç√",
    "𝔘𝔫𝔦",
    "🤗 ok",
    "ß",
];

/// Characters a burst types: ASCII, an accent, CJK and a character outside the BMP.
const TYPED: [char; 7] = ['x', 'a', ' ', '_', 'é', '中', '😀'];

/// LSP lines of the text: `text == lines.join("\n")`, so the last line is what
/// follows the final newline (empty for a generated file).
pub struct Doc {
    pub lines: Vec<String>,
}

/// Python functions and classes like the shared driver's `gen_python`, half of them
/// with a comment of three accented, CJK or emoji bits; `n` lines and a final newline.
pub fn python(n: usize, rng: &mut fastrand::Rng) -> Doc {
    let mut out: Vec<String> = Vec::with_capacity(n + 16);
    let mut i = 0;
    while out.len() < n {
        let name = format!("func_{i}_{}", rng.u32(0..1_000_000));
        let mut body = vec![
            format!("def {name}(alpha, beta=None, *args, **kwargs):"),
            format!("    \"\"\"Compute {name} for the given inputs.\"\"\""),
            format!("    total = alpha * {} + len(args)", rng.u32(0..1000)),
            "    if beta is not None:".to_owned(),
            format!("        total += beta - {}", rng.u32(0..100)),
            "    for item in range(total % 17):".to_owned(),
            format!("        total = (total ^ item) + {}", rng.u32(0..50)),
            "    return total".to_owned(),
            String::new(),
        ];
        if rng.bool() {
            let mut bits = UNICODE_BITS.to_vec();
            rng.shuffle(&mut bits);
            body[2].push_str("  # ");
            body[2].push_str(&bits[..3].join(" "));
        }
        if i % 5 == 0 {
            let size = rng.u32(0..99);
            out.extend([
                format!("class Widget{i}:"),
                format!("    size = {size}"),
                String::new(),
            ]);
        }
        out.extend(body);
        i += 1;
    }
    out.truncate(n);
    out.push(String::new());
    Doc { lines: out }
}

/// UTF-16 units of `line` before its `chars`th character.
fn utf16_col(line: &str, chars: usize) -> usize {
    line.chars().take(chars).map(char::len_utf16).sum()
}

/// The byte offset in `line` of a UTF-16 column (clamped to the line; inside a
/// surrogate pair, the next character), as the server reads a column.
fn byte_of(line: &str, col: u64) -> usize {
    let mut units = 0u64;
    for (b, ch) in line.char_indices() {
        if units >= col {
            return b;
        }
        units += ch.len_utf16() as u64;
    }
    line.len()
}

impl Doc {
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }

    /// The whole of line `l`, `(l, 0)` to its end, as an LSP range.
    pub fn line_range(&self, l: usize) -> Value {
        let end = utf16_col(&self.lines[l], usize::MAX);
        json!({"start": {"line": l, "character": 0}, "end": {"line": l, "character": end}})
    }

    /// A random non-blank ASCII line in the middle 80% of the file that `taken` does not
    /// hold (the shared driver's cursor lines).
    pub fn pick_line(&self, rng: &mut fastrand::Rng, taken: &[usize]) -> usize {
        let n = self.lines.len();
        for _ in 0..100_000 {
            let l = rng.usize(n / 10..(n * 9 / 10).max(n / 10 + 1));
            let s = &self.lines[l];
            if !s.trim().is_empty() && s.is_ascii() && !taken.contains(&l) {
                return l;
            }
        }
        panic!("no free ASCII line in a {n}-line document");
    }

    /// One random single-character edit, applied here and returned as a
    /// `contentChanges` entry: mostly typing a character (ASCII, accented, CJK or
    /// emoji) at a random place, sometimes deleting the character there.
    pub fn random_edit(&mut self, rng: &mut fastrand::Rng) -> Value {
        let l = rng.usize(..self.lines.len());
        let line = &mut self.lines[l];
        let len = line.chars().count();
        let at = rng.usize(..=len);
        let col = utf16_col(line, at);
        let byte = line.char_indices().nth(at).map_or(line.len(), |(b, _)| b);
        let pos = json!({"line": l, "character": col});
        if at < len && rng.u8(..100) < 15 {
            let gone = line.remove(byte);
            let end = json!({"line": l, "character": col + gone.len_utf16()});
            json!({"range": {"start": pos, "end": end}, "text": ""})
        } else {
            let ch = TYPED[rng.usize(..TYPED.len())];
            line.insert(byte, ch);
            json!({"range": {"start": pos, "end": pos}, "text": ch.to_string()})
        }
    }

    /// Applies one LSP text edit (UTF-16 range, `newText`).
    fn apply(&mut self, edit: &Value) {
        let last = self.lines.len() - 1;
        let at = |p: &Value| -> (usize, u64) {
            let line = p["line"].as_u64().unwrap_or(0) as usize;
            (line.min(last), p["character"].as_u64().unwrap_or(0))
        };
        let (l1, c1) = at(&edit["range"]["start"]);
        let (l2, c2) = at(&edit["range"]["end"]);
        let b1 = byte_of(&self.lines[l1], c1);
        let b2 = byte_of(&self.lines[l2], c2);
        let before = self.lines[l1][..b1].to_owned();
        let after = self.lines[l2][b2..].to_owned();
        let new = edit["newText"].as_str().unwrap_or("").replace("\r\n", "\n");
        let mut parts: Vec<String> = new.split('\n').map(str::to_owned).collect();
        parts[0].insert_str(0, &before);
        if let Some(p) = parts.last_mut() {
            p.push_str(&after);
        }
        self.lines.splice(l1..=l2, parts);
    }

    /// Applies a `workspace/applyEdit`'s edits for `uri`, last first, as the editor does.
    pub fn apply_workspace_edit(&mut self, uri: &str, params: &Value) {
        let mut edits = edits_for(uri, params);
        let key = |e: &Value| {
            let s = &e["range"]["start"];
            (s["line"].as_u64(), s["character"].as_u64())
        };
        edits.sort_by_key(|e| std::cmp::Reverse(key(e)));
        for e in &edits {
            self.apply(e);
        }
    }
}

/// The text edits a `workspace/applyEdit` makes to `uri` (`documentChanges` or `changes`).
pub fn edits_for(uri: &str, params: &Value) -> Vec<Value> {
    let edit = &params["edit"];
    let mut out = Vec::new();
    for dc in edit["documentChanges"].as_array().into_iter().flatten() {
        if dc["textDocument"]["uri"] == uri {
            out.extend(dc["edits"].as_array().cloned().unwrap_or_default());
        }
    }
    out.extend(edit["changes"][uri].as_array().cloned().unwrap_or_default());
    out
}

/// The URIs a `workspace/applyEdit` touches.
pub fn uris_of(params: &Value) -> Vec<String> {
    let edit = &params["edit"];
    let mut out: Vec<String> = edit["documentChanges"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|dc| dc["textDocument"]["uri"].as_str().map(str::to_owned))
        .collect();
    if let Some(m) = edit["changes"].as_object() {
        out.extend(m.keys().cloned());
    }
    out
}
