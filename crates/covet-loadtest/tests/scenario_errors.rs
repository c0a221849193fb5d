//! Scenario files: what parses, and a line and a reason for what does not.

use covet_core::Value;
use covet_loadtest::{ParamGen, Scenario};

fn err(text: &str) -> String {
    Scenario::parse("s.toml", text, 1.0)
        .unwrap_err()
        .to_string()
}

#[test]
fn a_full_scenario_parses() {
    let s = Scenario::parse(
        "s.toml",
        r#"
name = "mixed"
setup = false

[[statement]]
name = "reads"
builtin = "read_users"
weight = 3

[[statement]]
name = "by_age"
sql = "SELECT id FROM users WHERE age BETWEEN $1 AND $2 AND hair_color = $3"
weight = 1.5
params = [{ int32 = [10, 40] }, { int = [41, 80] }, { choice = ["red", "black"] }]

[[statement]]
name = "insert"
sql = "INSERT INTO t (a, b, c, d, e) VALUES ($1, $2, $3, $4, $5)"
params = [{ sequence = 100, step = 5 }, { string = [3, 8] }, "unique_email", "now", { value = true }]
"#,
        1.0,
    )
    .unwrap();
    assert_eq!(s.name, "mixed");
    assert!(!s.setup);
    assert_eq!(s.statements.len(), 3);
    assert_eq!(s.statements[0].weight, 3.0);
    assert_eq!(
        s.statements[1].params[2],
        ParamGen::Choice(vec![Value::Text("red".into()), Value::Text("black".into())])
    );
    assert_eq!(
        s.statements[2].params[0],
        ParamGen::Sequence {
            start: 100,
            step: 5
        }
    );
    assert_eq!(
        s.statements[2].params[4],
        ParamGen::Const(Value::Bool(true))
    );
    assert_eq!(s.statements[2].kind, covet_loadtest::StatementKind::Execute);
}

#[test]
fn each_mistake_names_its_line_and_what_is_wrong() {
    let cases: &[(&str, &str)] = &[
        (
            "[[statement]]\nname = \"a\"\nsql = \"SELECT 1\"\nweight = \"x\"\n",
            "s.toml:4:",
        ),
        (
            "[[statement]]\nname = \"a\"\nsql = \"SELECT $1\"\n",
            "s.toml:3:",
        ),
        (
            "[[statement]]\nname = \"a\"\nbuiltin = \"read_user\"\n",
            "s.toml:3:",
        ),
        (
            "[[statement]]\nname = \"a\"\nsql = \"SELECT 1\"\nweight = -2\n",
            "s.toml:4:",
        ),
        (
            "[[statement]]\nname = \"a\"\nsql = \"SELECT 1\"\ncolour = 1\n",
            "s.toml:4:",
        ),
        (
            "\n\n[[statement]]\nname = \"a\"\nsql = \"SELECT $1\"\nparams = [{ int = [9, 1] }]\n",
            "s.toml:6:",
        ),
        (
            "[[statement]]\nname = \"a\"\nsql = \"SELECT $1\"\nparams = [\"uuid\"]\n",
            "s.toml:4:",
        ),
        (
            "[[statement]]\nname = \"a\"\nsql = \"SELECT 1\"\n[[statement]]\nname = \"a\"\nsql = \"SELECT 2\"\n",
            "s.toml:5:",
        ),
        ("[[statement]\nname = \"a\"\n", "s.toml:1:"),
        ("name = \"nothing\"\n", "s.toml:1:1: no [[statement]]"),
    ];
    for (text, want) in cases {
        let e = err(text);
        assert!(
            e.starts_with(want),
            "expected `{want}...`, got `{e}` for:\n{text}"
        );
    }
    assert!(
        err("[[statement]]\nname = \"a\"\nbuiltin = \"read_user\"\n")
            .contains("unknown built-in statement `read_user`; built-ins are: read_users")
    );
    assert!(
        err("[[statement]]\nname = \"a\"\nsql = \"SELECT $1\"\n")
            .contains("1 placeholder(s) ($1..$1) but 0 parameter generator(s)")
    );
    assert!(
        err("[[statement]]\nname = \"a\"\nsql = \"SELECT $1\"\nparams = [{ int = [9, 1] }]\n")
            .contains("`int` takes two integers `[min, max]` with min <= max")
    );
    assert!(
        err("[[statement]]\nname = \"a\"\nsql = \"SELECT 1\"\ncolour = 1\n").contains("colour")
    );
}

#[test]
fn read_intent_comes_from_the_author_not_the_sql() {
    let s = Scenario::parse(
        "s.toml",
        r#"
[[statement]]
name = "reads"
builtin = "read_users"

[[statement]]
name = "reads_on_primary"
builtin = "point_select"
read = false

[[statement]]
name = "by_age"
sql = "SELECT id FROM users WHERE age > $1"
read = true
params = [{ int32 = [10, 40] }]

[[statement]]
name = "unmarked"
sql = "SELECT 1"
"#,
        1.0,
    )
    .unwrap();
    let read: Vec<(String, bool)> = s
        .statements
        .iter()
        .map(|st| (st.name.clone(), st.read))
        .collect();
    assert_eq!(
        read,
        [
            ("reads".to_string(), true),
            ("reads_on_primary".to_string(), false),
            ("by_age".to_string(), true),
            ("unmarked".to_string(), false),
        ]
    );
    let e = err("[[statement]]\nname = \"x\"\nsql = \"SELECT 1\"\nread = \"yes\"\n");
    assert!(e.starts_with("s.toml:4:"), "{e}");
}
