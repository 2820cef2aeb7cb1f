//! axe-core in the page under test: every screen a person sees must have no violations.
//!
//! `cargo xtask test` installs the pinned axe-core (`tools/package.json`, `npm ci --prefix
//! tools`); without it these checks fail, since a skipped accessibility check would pass
//! silently. axe runs in the script WebDriver evaluates, not through a `<script>` element,
//! which the console's CSP (rightly) refuses.

use fantoccini::Client;
use serde_json::{json, Value};

use crate::util::workspace;

fn source() -> String {
    let path = workspace().join("tools/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (`cargo xtask test` installs axe-core, or run `npm ci --prefix tools`)",
            path.display()
        )
    })
}

/// Every axe violation within `selector` (`"document"`: the whole page; shadow trees
/// included), as `"rule-id: help (selectors…)"` lines. Waits for running animations first:
/// colours sampled halfway through a panel's fade-in are not what anyone reads.
pub async fn violations_in(c: &Client, selector: &str) -> Vec<String> {
    let loaded = c
        .execute("return !!window.axe;", vec![])
        .await
        .expect("a page");
    if loaded != json!(true) {
        c.execute(
            &format!("{}\nwindow.axe = axe; return 1;", source()),
            vec![],
        )
        .await
        .expect("injecting axe-core");
    }
    let found = c
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             const context = arguments[0] === 'document' ? document : { include: [[arguments[0]]] };\
             const host = document.getElementById('switchboard-host');\
             const animations = document.getAnimations()\
               .concat(host && host.shadowRoot ? host.shadowRoot.getAnimations() : []);\
             Promise.all(animations.map(a => a.finished.catch(() => null)))\
               .then(() => axe.run(context, { resultTypes: ['violations'] }))\
               .then(r => done(r.violations.map(v => v.id + ': ' + v.help + ' (' +\
                  v.nodes.map(n => n.target.join(' ')).join(', ') + ')')))\
               .catch(e => done(['axe failed: ' + e]));",
            vec![json!(selector)],
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
    assert_clean_in(c, "document", screen).await;
}

/// Asserts that nothing within `selector` has axe violations.
pub async fn assert_clean_in(c: &Client, selector: &str, screen: &str) {
    let v = violations_in(c, selector).await;
    assert!(
        v.is_empty(),
        "axe violations on {screen}:\n{}",
        v.join("\n")
    );
}
