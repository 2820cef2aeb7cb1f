//! First-party storage of the host page. Access can throw (privacy modes, sandboxed frames),
//! in which case the widget still works, it just forgets on reload. Nothing is written while
//! consent is withdrawn.

fn local() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

pub fn get(key: &str) -> Option<String> {
    local()?.get_item(key).ok().flatten()
}

pub fn set(key: &str, value: &str) {
    if crate::state::core(|c| c.blocked) {
        return;
    }
    if let Some(s) = local() {
        let _ = s.set_item(key, value);
    }
}

pub fn remove(key: &str) {
    if let Some(s) = local() {
        let _ = s.remove_item(key);
    }
}
