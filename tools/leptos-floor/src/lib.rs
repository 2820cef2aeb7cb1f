use leptos::prelude::*;
use wasm_bindgen::prelude::*;

#[cfg(not(feature = "chat"))]
#[wasm_bindgen]
pub fn mount() {
    let (n, set_n) = signal(0u32);
    leptos::mount::mount_to_body(move || view! {
        <button on:click=move |_| set_n.update(|n| *n += 1)>{move || n.get()}</button>
    });
}

#[cfg(feature = "chat")]
#[wasm_bindgen]
pub fn mount() {
    #[derive(Clone)]
    struct Line { id: u32, text: String, mine: bool }
    let (lines, set_lines) = signal(Vec::<Line>::new());
    let (open, set_open) = signal(false);
    let (draft, set_draft) = signal(String::new());
    leptos::mount::mount_to_body(move || view! {
        <div class="root">
            <button aria-expanded=move || open.get().to_string() on:click=move |_| set_open.update(|o| *o = !*o)>"Chat"</button>
            <Show when=move || open.get()>
                <section role="dialog" aria-label="Chat">
                    <header><h2>"Support"</h2><p>{move || format!("{} messages", lines.get().len())}</p></header>
                    <div role="log">
                        <For each=move || lines.get() key=|l| l.id let:l>
                            <div class:mine=l.mine><p>{l.text.clone()}</p></div>
                        </For>
                    </div>
                    <form on:submit=move |ev| { ev.prevent_default(); let t = draft.get(); set_lines.update(|v| { let id = v.len() as u32; v.push(Line { id, text: t, mine: true }) }); set_draft.set(String::new()); }>
                        <textarea prop:value=move || draft.get() on:input=move |ev| set_draft.set(event_target_value(&ev))></textarea>
                        <button type="submit" disabled=move || draft.get().trim().is_empty()>"Send"</button>
                    </form>
                </section>
            </Show>
        </div>
    });
}
