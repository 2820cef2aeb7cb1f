//! axe-core in the page under test: injected from `tools/node_modules` (`npm ci --prefix
//! tools`), run on the whole document, violations returned for the test to assert on.

use fantoccini::Client;
use serde_json::Value;

use crate::util::workspace;

/// Every axe violation on the page now, as `"rule-id: help (selectors…)"` lines.
pub async fn violations(c: &Client) -> Vec<String> {
    let path = workspace().join("tools/node_modules/axe-core/axe.min.js");
    let source = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run `npm ci --prefix tools` to install axe-core)",
            path.display()
        )
    });
    c.execute(&format!("{source}\nreturn typeof axe;"), vec![])
        .await
        .expect("injecting axe-core");
    let found = c
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             axe.run(document, { resultTypes: ['violations'] })\
               .then(r => done(r.violations.map(v => v.id + ': ' + v.help + ' (' +\
                  v.nodes.map(n => n.target.join(' ')).join(', ') + ')')))\
               .catch(e => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .expect("running axe");
    match found {
        Value::Array(v) => v
            .into_iter()
            .map(|x| x.as_str().unwrap_or_default().to_owned())
            .collect(),
        other => vec![format!("axe returned {other}")],
    }
}

/// Asserts the page has no axe violations, naming the screen when it has.
pub async fn assert_clean(c: &Client, screen: &str) {
    let v = violations(c).await;
    assert!(
        v.is_empty(),
        "axe violations on {screen}:\n{}",
        v.join("\n")
    );
}
