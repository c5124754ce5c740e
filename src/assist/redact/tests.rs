//! Tests for the secret rules: both sides, a corpus each.

use super::*;

const OPENAI: &str = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cT3BlbkFJxY3zQw9vUt6sRp2oNm5l";
const GH: &str = "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8";
const JWT: &str =
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";

fn redact(text: &str) -> String {
    Redactor::new().redact(text, &mut RedactionMap::new())
}

#[test]
fn every_rule_compiles() {
    assert_eq!(Redactor::new().rules().len(), RULES.len());
}

#[test]
fn secrets_are_redacted_by_kind() {
    let pem =
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabc\n-----END RSA PRIVATE KEY-----";
    let cases = [
        (format!("key = \"{OPENAI}\""), "openai-key"),
        (
            "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789-AA".into(),
            "anthropic-key",
        ),
        ("id: AKIAIOSFODNN7EXAMPLE\n".into(), "aws-access-key"),
        (
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            "aws-secret",
        ),
        (format!("GITHUB={GH}"), "github-token"),
        (
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz".into(),
            "github-token",
        ),
        (
            "slack: xoxb-123456789012-abcdefABCDEF".into(),
            "slack-token",
        ),
        (format!("Authorization = {JWT}"), "jwt"),
        (format!("let k = `{pem}`;"), "private-key"),
        (
            "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q".into(),
            "google-api-key",
        ),
        (
            "stripe.api_key = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'".into(),
            "stripe-key",
        ),
        ("password = \"hunter2x9!\"".into(), "secret"),
        ("DB_PASSWORD=s3cr3tP4ss".into(), "secret"),
        ("{\"apiKey\": \"8f4a1c9e2b7d6a5f\"}".into(), "secret"),
        ("client_secret: Zq8!pL2vR9xT".into(), "secret"),
        ("headers: Bearer abcDEF123456ghiJKL789".into(), "secret"),
        (
            "DATABASE_URL=postgres://app:Tr0ub4dor@db:5432/app".into(),
            "secret",
        ),
        (
            "SECRET_KEY = '3f1b9c0a7d2e4f6a8b0c1d2e3f4a5b6c'".into(),
            "secret",
        ),
    ];
    for (text, kind) in cases {
        let out = redact(&text);
        assert!(
            out.contains(&format!("«REDACTED:{kind}#1»")),
            "{text} -> {out}"
        );
        assert!(contains_placeholder(&out));
    }
}

#[test]
fn generic_rule_replaces_the_value_only() {
    assert_eq!(
        redact("password = \"hunter2x9!\""),
        "password = \"«REDACTED:secret#1»\""
    );
    assert_eq!(
        redact("export API_KEY=a1b2c3d4e5f6\n"),
        "export API_KEY=«REDACTED:secret#1»\n"
    );
}

#[test]
fn false_positive_corpus_is_left_alone() {
    let corpus = [
        "id = \"123e4567-e89b-12d3-a456-426614174000\"",
        "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
        "checksum = \"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"",
        "\"integrity\": \"sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUR\"",
        "public_key = \"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\"",
        "token_count = 42",
        "password = \"\"",
        "password = getenv(\"DB_PASSWORD\")",
        "password = os.environ[\"DB_PASSWORD\"]",
        "password = config.db.password",
        "let token = self.token.clone();",
        "password = \"changeme\"",
        "api_key = \"<your-key>\"",
        "secret = \"xxxxxxxxxxxx\"",
        "token = \"${GITHUB_TOKEN}\"",
        "PASSWORD=$DB_PASSWORD",
        "password: \"Password must have at least 8 characters\"",
        "tokenizer = \"bert-base-uncased\"",
        "author = \"Jane Doe <jane@example.org>\"",
        "token_type = \"Bearer\"",
        "auth_url = \"https://auth.example.org/oauth2/token\"",
        "password = \"12345678\"",
        "password: PASSWORD_FROM_ENV",
        "secret = mySecretHolder",
        "fn tokens(&self) -> usize { self.len }",
        "sk-learn is a library; bearer tokens are opaque",
        "«REDACTED:secret#1»",
        "url = \"postgres://user:${DB_PASSWORD}@localhost/db\"",
        "see https://example.org/a:b@c",
    ];
    for text in corpus {
        assert_eq!(redact(text), text, "false positive");
    }
}

#[test]
fn same_secret_same_placeholder_within_one_map() {
    let r = Redactor::new();
    let mut map = RedactionMap::new();
    let a = r.redact(&format!("a = \"{GH}\"\nb = \"{GH}\""), &mut map);
    assert_eq!(a.matches("«REDACTED:github-token#1»").count(), 2);
    let b = r.redact(
        "password = \"hunter2x9!\" token = \"Zq8pL2vR9xTq\"",
        &mut map,
    );
    assert!(b.contains("«REDACTED:secret#1»") && b.contains("«REDACTED:secret#2»"));
    let c = r.redact(GH, &mut map);
    assert_eq!(c, "«REDACTED:github-token#1»");
    assert_eq!(map.len(), 3);
}

#[test]
fn map_debug_never_shows_secrets() {
    let mut map = RedactionMap::new();
    Redactor::new().redact(GH, &mut map);
    assert!(!format!("{map:?}").contains("ghp_"));
}

#[test]
fn unterminated_private_key_is_redacted_to_the_end() {
    let out = redact("x\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B");
    assert_eq!(out, "x\n«REDACTED:private-key#1»");
}

#[test]
fn placeholder_detection() {
    let cases = [
        ("«REDACTED:openai-key#12»", true),
        ("x = \"«REDACTED:secret#1»\";", true),
        ("«REDACTED:#1»", false),
        ("«REDACTED:secret#»", false),
        ("«REDACTED:secret#1", false),
        ("REDACTED", false),
    ];
    for (text, want) in cases {
        assert_eq!(contains_placeholder(text), want, "{text}");
    }
}

#[test]
fn new_secrets_in_output_are_found() {
    let r = Redactor::new();
    let out = format!("let k = \"{OPENAI}\";\nlet j = \"{JWT}\";\nlet k2 = \"{OPENAI}\";");
    assert_eq!(r.find_new_secrets(&out), vec!["openai-key", "jwt"]);
    assert!(
        r.find_new_secrets("let key = \"«REDACTED:openai-key#1»\";")
            .is_empty()
    );
    assert!(r.find_new_secrets("fn main() {}").is_empty());
}

#[test]
fn e3_selection_carries_placeholders_not_values() {
    let pem =
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----";
    let text = format!(
        "const OPENAI = \"{OPENAI}\";\nconst AWS = \"AKIAIOSFODNN7EXAMPLE\";\n\
         const GH = \"{GH}\";\nconst PEM = `{pem}`;\nconst JWT = \"{JWT}\";\n\
         password = \"hunter2x9!\"\n"
    );
    let out = redact(&text);
    for secret in [
        OPENAI,
        "AKIAIOSFODNN7EXAMPLE",
        GH,
        "MIIEvQIBADAN",
        JWT,
        "hunter2x9!",
    ] {
        assert!(!out.contains(secret), "{secret} leaked: {out}");
    }
    assert_eq!(out.matches("«REDACTED:").count(), 6);
}

#[test]
fn a_private_key_block_split_across_parts_is_masked_in_every_part() {
    let before = "let k = \"-----BEGIN RSA PRIVATE KEY-----\nAAAAbodyline1\n";
    let selection = "BBBBbodyline2\n";
    let after = "-----END RSA PRIVATE KEY-----\";\nlet token_count = 42;\n";
    let out = Redactor::new().redact_parts(&[before, selection, after], &mut RedactionMap::new());
    assert_eq!(out[0], "let k = \"«REDACTED:private-key#1»");
    assert_eq!(out[1], "«REDACTED:private-key#1»");
    assert_eq!(
        out[2],
        "«REDACTED:private-key#1»\";\nlet token_count = 42;\n"
    );
    // a lone BEGIN does not swallow the following parts
    let out = Redactor::new().redact_parts(
        &[
            "const H: &str = \"-----BEGIN RSA PRIVATE KEY-----\";\n",
            "fn parse() {}\n",
        ],
        &mut RedactionMap::new(),
    );
    assert_eq!(out[1], "fn parse() {}\n");
    // parts without blocks are redacted as before
    let out = Redactor::new().redact_parts(
        &["a\n", "password = \"hunter2x9!Qz\"\n"],
        &mut RedactionMap::new(),
    );
    assert_eq!(out, ["a\n", "password = \"«REDACTED:secret#1»\"\n"]);
}

/// The window `[before, selection, after]` of `doc` around `sel`, redacted with the
/// whole document in view; returns what would be sent.
fn window(doc: &str, before: &str, sel: &str, after: &str) -> String {
    let start = doc.find(&format!("{before}{sel}{after}")).unwrap();
    Redactor::new()
        .redact_window(doc, start, &[before, sel, after], &mut RedactionMap::new())
        .concat()
}

#[test]
fn a_selection_holding_only_the_value_sends_none_of_it() {
    let doc = "x = 1\nDB_PASSWORD = \"s3cr3tP4ssw0rd\"\ny = 2\n";
    let out = window(doc, "", "s3cr3tP4ssw0rd", "\"\ny = 2\n");
    assert!(!out.contains("s3cr3t"), "{out}");
    let out = window(doc, "", "P4ssw0", "");
    assert!(!out.contains("P4ss"), "{out}");
}

#[test]
fn a_selection_holding_only_the_name_sends_no_value_in_the_context() {
    let doc = "x = 1\nDB_PASSWORD = \"s3cr3tP4ssw0rd\"\ny = 2\n";
    let out = window(doc, "x = 1\n", "DB_PASSWORD", " = \"s3cr3tP4ssw0rd\"\n");
    assert!(
        !out.contains("s3cr3t") && out.contains("DB_PASSWORD"),
        "{out}"
    );
}

#[test]
fn a_selection_ending_inside_a_key_sends_no_prefix_of_it() {
    let doc = format!("k = \"{OPENAI}\"\n");
    let cut = &doc[..30];
    let out = window(&doc, "", cut, "");
    assert!(!out.contains("sk-proj-Ab3d"), "{out}");
}

#[test]
fn a_private_key_body_below_a_begin_outside_the_window_is_masked() {
    let body = "MIIEowIBAAKCAQEA1c7xq9ZfX3mT8vR2kL5pW0yN4hJ6gB1sD7eC9aF2uQ3tV8oI";
    let doc = format!(
        "KEY = \"\"\"-----BEGIN RSA PRIVATE KEY-----\n{body}\n{body}\n-----END RSA PRIVATE KEY-----\"\"\"\nX = 1\n"
    );
    let out = window(&doc, &format!("{body}\n"), body, "\n");
    assert!(!out.contains("MIIEow"), "{out}");
    // unterminated: the body lines after a BEGIN count, the code after them does not
    let doc = format!("-----BEGIN PRIVATE KEY-----\n{body}\n{body}\nfn main() {{}}\n");
    let out = window(&doc, "", &format!("{body}\nfn main() {{}}\n"), "");
    assert!(
        !out.contains("MIIEow") && out.contains("fn main() {}"),
        "{out}"
    );
}

#[test]
fn missed_shapes_are_found() {
    let session = format!("IQoJb3JpZ2luX2VjE{}", "Ab3dEf6hIj9kLm2nOp5q".repeat(32));
    let key_b64 =
        "c2stcHJvai1BYjNkRWY2aElqOWtMbTJuT3A1cVJzOHRUM0JsYmtGSnVWMXdYNHlaN2FCMGNEM2VGNmdI";
    let cases = [
        format!("aws_session_token = {session}\n"),
        format!("\"SessionToken\": \"{}\"", "Zm9vYmFy".repeat(80)),
        "fetch(\"https://api.example.com/v1/items?api_key=Q7vX2mP9kLr4Tz8N&page=2\")".into(),
        "const U = 'https://x.blob.core.windows.net/c?sv=2020&sig=aB3dE%2Bf6hIj9kLm2nOp5q%3D'"
            .into(),
        "url = \"https://h/cb?token=Zq8pL2vR9xTk4mW7&x=1\"".into(),
        "KEY = \"sk-proj-Ab3dEf6hIj9k\" \"Lm2nOp5qRs8tT3BlbkFJuV1wX4yZ7aB0cD3eF6gH\"".into(),
        "key = \"sk-proj-Ab3dEf6hIj9k\" +\n    \"Lm2nOp5qRs8tT3BlbkFJuV1wX4yZ7aB0cD3eF6gH\";"
            .into(),
        format!("blob = \"{key_b64}\""),
        "t = eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo".into(),
    ];
    for text in cases {
        let out = redact(&text);
        assert!(contains_placeholder(&out), "not redacted: {text}");
        for piece in [
            "Ab3dEf6hIj9k",
            "Q7vX2mP9",
            "aB3dE",
            "Zq8pL2vR",
            "ZRrHA1",
            "Zm9vYmFy",
        ] {
            assert!(!out.contains(piece), "`{piece}` left in {out}");
        }
        assert!(!out.contains(key_b64), "{out}");
    }
}

#[test]
fn new_shapes_leave_look_alikes_alone() {
    for text in [
        "fetch(\"https://api.example.com/v1/items?page=2&sort=name\")",
        "let msg = \"hello \" \"world\";",
        "const LONG_IDENTIFIER_NAME_FOR_TESTING_PURPOSES: u32 = 1;",
        "x = \"a\" + \"b\"",
        "const H: &str = \"-----BEGIN RSA PRIVATE KEY-----\";\nfn parse() {}\n",
    ] {
        let out = redact(text);
        let lone_begin = text.contains("BEGIN");
        assert!(lone_begin || out == text, "changed: {text} -> {out}");
        assert!(out.contains("fn parse() {}") || !lone_begin, "{out}");
    }
}

#[test]
fn rules_compile_when_first_needed_or_warmed_not_when_made() {
    let r = Redactor::new();
    assert!(
        r.rules.get().is_none(),
        "making a redactor compiles nothing"
    );
    r.warm();
    assert_eq!(r.rules.get().map(Vec::len), Some(RULES.len()));
    let lazy = Redactor::new();
    let out = lazy.redact(&format!("k = \"{OPENAI}\""), &mut RedactionMap::new());
    assert!(!out.contains(OPENAI), "{out}");
}

proptest::proptest! {
    /// The cheap test in front of the generic assignment rule never drops a name the
    /// full test accepts.
    #[test]
    fn the_name_prefilter_keeps_every_secret_name(
        parts in proptest::collection::vec(
            proptest::sample::select(vec![
                "db", "Password", "PASSWD", "pwd", "pass", "Secret", "secrets", "token", "API",
                "Key", "apikey", "auth", "Credential", "credentials", "private", "access",
                "user", "name", "id", "x", "AccessKey", "privateKey", "Passphrase",
            ]),
            1..4,
        ),
        sep in proptest::sample::select(vec!["", "_", ".", "-"]),
    ) {
        let name = parts.join(sep);
        if is_secret_name(&name) {
            proptest::prop_assert!(may_be_secret_name(&format!("{name} = \"x\"")), "{name}");
        }
    }
}

#[test]
fn only_these_rules_can_match_across_lines() {
    let r = Redactor::new();
    let spanning: Vec<&str> = r
        .rules()
        .iter()
        .filter(|r| r.spans_lines)
        .map(|r| r.kind)
        .collect();
    assert_eq!(spanning, ["private-key", "aws-secret", "aws-session-token"]);
}

#[test]
fn windows_widen_to_whole_lines_and_more() {
    let text = "l0\nl1\nl2 abc\nl3\nl4\nl5";
    let at = |s: &str| text.find(s).unwrap();
    assert_eq!(
        &text[widen_to_lines(text, at("abc")..at("abc") + 1, 0)],
        "l2 abc\n"
    );
    assert_eq!(
        &text[widen_to_lines(text, at("abc")..at("l3"), 1)],
        "l1\nl2 abc\nl3\nl4\n"
    );
    assert_eq!(&text[widen_to_lines(text, at("l1")..at("l4"), 2)], text);
    assert_eq!(&text[widen_to_lines(text, 0..0, 1)], "l0\nl1\n");
}

proptest::proptest! {
    /// Scanning only near the window finds, in the window, what scanning the whole
    /// neighbourhood finds.
    #[test]
    fn scanning_near_the_window_redacts_what_scanning_everything_does(
        lines in proptest::collection::vec(
            proptest::sample::select(vec![
                "x = 1".to_owned(),
                "def f(a, b):".to_owned(),
                "    return a + b  # café 中文 😀".to_owned(),
                format!("OPENAI_API_KEY = \"{OPENAI}\""),
                format!("token: {GH}"),
                format!("auth = \"Bearer {JWT}\""),
                "db_password = \"hunter2-correct-horse-battery\"".to_owned(),
                "aws_secret_access_key =".to_owned(),
                "    \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"".to_owned(),
                "-----BEGIN RSA PRIVATE KEY-----".to_owned(),
                "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun".to_owned(),
                "-----END RSA PRIVATE KEY-----".to_owned(),
                "key = \"sk-proj-abcdefghij\" +".to_owned(),
                "      \"klmnopqrstuvwxyz0123\"".to_owned(),
                "url = \"https://user:s3cr3tpass@host/db?api_key=abcdef123456\"".to_owned(),
                "blob = \"c2stcHJvai1BYjNkRWY2aElqOWtMbTJuT3A1cVJzOHRVdjF3WHk0ekFiN2M=\"".to_owned(),
                "".to_owned(),
            ]),
            1..40,
        ),
        cut in proptest::collection::vec(0usize..1000, 4),
        crlf in proptest::bool::ANY,
    ) {
        let doc = lines.join(if crlf { "\r\n" } else { "\n" });
        let mut bounds: Vec<usize> = cut.iter().map(|c| {
            let mut i = c * doc.len() / 1000;
            while !doc.is_char_boundary(i) { i += 1; }
            i
        }).collect();
        bounds.sort_unstable();
        let parts = [&doc[bounds[0]..bounds[1]], &doc[bounds[1]..bounds[2]], &doc[bounds[2]..bounds[3]]];
        let r = Redactor::new();
        let near = r.redact_window(&doc, bounds[0], &parts, &mut RedactionMap::new());
        // the whole-neighbourhood scan, as it was
        let mut found = r.find(&doc);
        let joined: String = parts.concat();
        found.extend(r.find(&joined).into_iter().map(|(s, e, k)| (s + bounds[0], e + bounds[0], k)));
        let expected = cut_parts(&doc, bounds[0], &parts, &merge(found), &mut RedactionMap::new());
        proptest::prop_assert_eq!(near, expected);
    }
}

proptest::proptest! {
    /// The literal splitter finds, in every chain, the literals the regex finds.
    #[test]
    fn literal_contents_match_the_literal_pattern(
        pieces in proptest::collection::vec(
            (proptest::bool::ANY, "[a-zé中\"'\\\\ ]{0,8}"),
            2..6,
        ),
        seps in proptest::collection::vec(
            proptest::sample::select(vec!["", " ", " + ", ".", " .. ", "\n    ", " \\\n  ", " || ", "&"]),
            6,
        ),
    ) {
        let mut text = String::new();
        for (i, (double, body)) in pieces.iter().enumerate() {
            let q = if *double { '"' } else { '\'' };
            // escape what would end the literal, as source code would
            let mut lit = String::new();
            for c in body.chars() {
                if c == q || c == '\\' { lit.push('\\'); }
                lit.push(c);
            }
            if i > 0 { text.push_str(seps[i % seps.len()]); }
            text.push(q);
            text.push_str(&lit);
            text.push(q);
        }
        for chain in LITERAL_CHAIN.as_ref().unwrap().find_iter(&text) {
            let by_regex: Vec<(usize, usize)> = LITERAL.as_ref().unwrap()
                .find_iter(chain.as_str()).map(|m| (m.start() + 1, m.end() - 1)).collect();
            let by_scan: Vec<(usize, usize)> = literal_contents(chain.as_str()).collect();
            proptest::prop_assert_eq!(by_scan, by_regex, "{:?}", chain.as_str());
        }
    }
}
