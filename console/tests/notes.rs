//! How the console reads `@mentions` out of a private note (run in headless Chromium, like the
//! other component tests).

use switchboard_console::notes::mentioned;
use switchboard_protocol::AgentEntry;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn agent(id: &str, name: &str) -> AgentEntry {
    AgentEntry {
        id: id.into(),
        name: name.into(),
        sites: vec!["s".into()],
    }
}

#[wasm_bindgen_test]
fn mentions_are_read_by_id_name_or_unique_first_name() {
    let agents = [
        agent("alex", "Alex Kim"),
        agent("sam", "Sam Lee"),
        agent("sam2", "Sam Ode"),
    ];
    assert_eq!(mentioned(&agents, "@sam please look"), vec!["sam"]);
    assert_eq!(mentioned(&agents, "cc @AlexKim."), vec!["alex"]);
    assert_eq!(mentioned(&agents, "@alex, @alex and @Alex"), vec!["alex"]);
    // Two Sams: the first name alone is ambiguous, the ids are not.
    assert_eq!(mentioned(&agents, "@Sam2 and @sam"), vec!["sam2", "sam"]);
    assert!(mentioned(&agents, "mail me at a@b.c or @nobody").is_empty());
}
