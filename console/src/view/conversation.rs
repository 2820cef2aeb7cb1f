//! The open conversation: transcript and reply box.

use leptos::prelude::*;
use switchboard_protocol::linkify::{segments, Segment};
use switchboard_protocol::{ClientMsg, SenderKind};

use super::clock;
use crate::connection;
use crate::state::{send, session, Console, Line};

pub fn conversation(c: Console) -> impl IntoView {
    let lines = move || {
        let conv = c.selected.get()?;
        Some(
            c.transcripts
                .with(|all| all.get(&conv).cloned().unwrap_or_default()),
        )
    };
    view! {
        <section class="c-conversation" aria-label="Conversation">
            <Show
                when=move || c.selected.get().is_some()
                fallback=|| view! { <p class="c-empty">"Pick a conversation from the inbox."</p> }
            >
                <ol class="c-transcript" data-testid="transcript" role="log" aria-live="polite">
                    <For
                        each=move || lines().unwrap_or_default()
                        key=|l| l.render_key()
                        children=row
                    />
                </ol>
                <p class="c-typing" data-testid="visitor-typing">
                    {move || {
                        (c.visitor_typing.get().is_some() && c.visitor_typing.get() == c.selected.get())
                            .then_some("Visitor is typing…")
                    }}
                </p>
                {reply_box(c)}
            </Show>
        </section>
    }
}

fn row(l: Line) -> impl IntoView {
    let sender = match l.kind {
        SenderKind::Visitor => "visitor",
        SenderKind::Agent => "agent",
        SenderKind::Bot => "bot",
        SenderKind::System => "system",
    };
    let name = l.name.clone().unwrap_or_else(|| {
        if l.kind == SenderKind::Visitor {
            "Visitor".into()
        } else {
            sender.into()
        }
    });
    let body = segments(&l.text)
        .into_iter()
        .map(|s| match s {
            Segment::Text(t) => view! { <span>{t}</span> }.into_any(),
            Segment::Link(url) => {
                let shown = url.clone();
                view! { <a href=url target="_blank" rel="noopener noreferrer nofollow">{shown}</a> }
                    .into_any()
            }
        })
        .collect_view();
    view! {
        <li
            class="c-message"
            class:c-mine=l.kind != SenderKind::Visitor
            data-testid="message"
            data-sender=sender
            data-state=l.state
            data-seq=l.seq.map(|s| s.to_string()).unwrap_or_default()
        >
            <div class="c-meta">
                <span data-testid="message-sender">{name}</span>
                <time>{clock(l.at)}</time>
                {(l.state != "sent").then_some(l.state)}
            </div>
            <div class="c-text" data-testid="message-text">{body}</div>
        </li>
    }
}

fn reply_box(c: Console) -> impl IntoView {
    let draft = RwSignal::new(String::new());
    let submit = move || {
        let text = draft.get_untracked().trim().to_owned();
        let Some(conv) = c.selected.get_untracked() else {
            return;
        };
        if text.is_empty() || text.len() > switchboard_protocol::limits::MAX_TEXT_BYTES {
            return;
        }
        draft.set(String::new());
        connection::reply(c, conv, text);
    };
    view! {
        <form
            class="c-reply"
            data-testid="reply"
            on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                submit();
            }
        >
            <textarea
                data-testid="reply-input"
                aria-label="Reply"
                placeholder="Reply… (Enter sends, Shift+Enter for a new line)"
                rows="3"
                prop:value=move || draft.get()
                on:input=move |ev| {
                    draft.set(event_target_value(&ev));
                    typing(c);
                }
                on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                    if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                        ev.prevent_default();
                        submit();
                    }
                }
            ></textarea>
            <button type="submit" data-testid="reply-send">"Send"</button>
        </form>
    }
}

fn typing(c: Console) {
    let now = js_sys::Date::now();
    let due = session(|s| {
        let due = now - s.last_typing_sent > 3_000.0;
        if due {
            s.last_typing_sent = now;
        }
        due
    });
    if let (true, Some(conversation_id)) = (due, c.selected.get_untracked()) {
        send(&ClientMsg::Typing {
            conversation_id,
            active: true,
        });
    }
}
