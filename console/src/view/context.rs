//! What the agent knows about the visitor: page, identity, cart and order, live. Everything
//! here comes from the visitor's browser or the site, so it is shown as text and only http(s)
//! URLs become links.

use leptos::prelude::*;
use switchboard_protocol::context::{is_email, is_http_url, LineItem, Page, Verified};
use switchboard_protocol::{Cart, Context, Identity, Order};

use crate::i18n::{fill, number, t};
use crate::money;
use crate::state::Console;

const NONE: &str = "—";

pub fn sidebar(c: Console) -> impl IntoView {
    // A memo, so contexts arriving for other conversations do not re-render this one.
    let context = Memo::new(move |_| {
        let conv = c.selected.get()?;
        Some(c.contexts.with(|all| all.get(&conv).cloned()))
    });
    view! {
        <aside class="c-context" data-testid="context" aria-label=t().visitor_context>
            {super::layout::context_head(c)}
            {move || match context.get() {
                None => view! { <p class="c-empty">{t().no_selection}</p> }.into_any(),
                Some(None) => view! { <p class="c-empty">{t().loading_details}</p> }.into_any(),
                Some(Some(ctx)) => details(ctx).into_any(),
            }}
            {super::trail::trail(c)}
            <Show when=move || c.selected.get().is_some()>{super::history::list(c)}</Show>
        </aside>
    }
}

/// A link if the URL is http(s), plain text otherwise.
fn link(url: String, testid: &'static str) -> AnyView {
    if is_http_url(&url) {
        let shown = url.clone();
        view! {
            <a href=url target="_blank" rel="noopener noreferrer nofollow" data-testid=testid>{shown}</a>
        }
        .into_any()
    } else {
        view! { <span data-testid=testid>{url}</span> }.into_any()
    }
}

fn or_none(v: Option<String>) -> String {
    v.filter(|v| !v.is_empty()).unwrap_or_else(|| NONE.into())
}

fn details(ctx: Context) -> impl IntoView {
    let Context {
        page,
        identity,
        cart,
        order,
        custom,
    } = ctx;
    let custom = (!custom.is_empty()).then(|| {
        let rows = custom
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                view! { <dt>{k}</dt><dd>{v}</dd> }
            })
            .collect_view();
        view! {
            <section class="c-box">
                <h3>{t().more}</h3>
                <dl data-testid="context-custom">{rows}</dl>
            </section>
        }
    });
    view! {
        {identity.map(identity_box)}
        {page.map(page_box)}
        {order_box(order)}
        {cart_box(cart)}
        {custom}
    }
}

fn page_box(p: Page) -> impl IntoView {
    let utm = p.utm.map(|u| {
        [
            ("source", u.source),
            ("medium", u.medium),
            ("campaign", u.campaign),
            ("term", u.term),
            ("content", u.content),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={v}")))
        .collect::<Vec<_>>()
        .join(", ")
    });
    let referrer = match p.referrer.filter(|r| !r.is_empty()) {
        Some(r) => link(r, "context-referrer"),
        None => view! { <span data-testid="context-referrer">{NONE}</span> }.into_any(),
    };
    view! {
        <section class="c-box">
            <h3>{t().page}</h3>
            <p class="c-strong" data-testid="context-page-title">{p.title}</p>
            <p class="c-url">{link(p.url, "context-page-url")}</p>
            <dl>
                <dt>{t().referrer}</dt>
                <dd>{referrer}</dd>
                <dt>{t().campaign}</dt>
                <dd data-testid="context-utm">{or_none(utm)}</dd>
                <dt>{t().language}</dt>
                <dd data-testid="context-locale">{or_none(p.locale)}</dd>
                <dt>{t().time_zone}</dt>
                <dd data-testid="context-timezone">{or_none(p.timezone)}</dd>
                <dt>{t().window}</dt>
                <dd data-testid="context-viewport">
                    {or_none(p.viewport.map(|v| format!("{}×{}", v.width, v.height)))}
                </dd>
            </dl>
        </section>
    }
}

/// Whether the relay verified a field (from the site's signed identity token) or the page
/// merely claims it: agents must not act on a claim as on a fact.
fn mark(verified: bool, field: &'static str) -> impl IntoView {
    let testid = format!("verified-{field}");
    if verified {
        view! { <span class="c-badge c-ok" data-testid=testid data-verified="true">{t().verified}</span> }
            .into_any()
    } else {
        view! { <span class="c-muted c-small" data-testid=testid data-verified="false">{t().unverified}</span> }
            .into_any()
    }
}

fn identity_box(i: Identity) -> impl IntoView {
    let verified = |f| i.is_verified(f);
    let (v_name, v_email, v_id) = (
        verified(Verified::Name),
        verified(Verified::Email),
        verified(Verified::Id),
    );
    let also: Vec<&str> = [
        (Verified::Order, t().the_order),
        (Verified::Cart, t().the_cart),
    ]
    .into_iter()
    .filter(|(f, _)| verified(*f))
    .map(|(_, n)| n)
    .collect();
    let also = (!also.is_empty()).then(|| {
        view! {
            <p class="c-small" data-testid="verified-also">
                {fill(t().verified_also, &[("what", &also.join(t().and))])}
            </p>
        }
    });
    let email = i.email.filter(|e| !e.is_empty()).map(|e| {
        // A link only for one plain address: `a@x?bcc=…` or a list would write to others.
        if is_email(&e) {
            let href = format!("mailto:{e}");
            view! { <p><a href=href data-testid="context-email">{e}</a>" "{mark(v_email, "email")}</p> }.into_any()
        } else {
            view! { <p data-testid="context-email">{e}" "{mark(v_email, "email")}</p> }.into_any()
        }
    });
    let id = i.id.map(|id| {
        view! { <p class="c-muted">{fill(t().customer_id, &[("id", &id)])}" "{mark(v_id, "id")}</p> }
    });
    let name = i.name.map(|n| view! { {n}" "{mark(v_name, "name")} });
    view! {
        <section class="c-box" data-testid="context-identity">
            <h3>{t().customer}</h3>
            <p class="c-strong">{name.map(IntoAny::into_any).unwrap_or_else(|| t().unnamed.into_any())}</p>
            {email}
            {id}
            {also}
        </section>
    }
}

fn cart_box(cart: Option<Cart>) -> AnyView {
    let Some(cart) = cart else {
        return view! {
            <section class="c-box" data-testid="cart">
                <h3>{t().cart}</h3>
                <p class="c-muted">{t().no_cart}</p>
            </section>
        }
        .into_any();
    };
    if cart.items.is_empty() {
        return view! {
            <section class="c-box" data-testid="cart">
                <h3>{t().cart}</h3>
                <p class="c-muted">{t().cart_empty}</p>
            </section>
        }
        .into_any();
    }
    let currency = cart.currency;
    let total = cart
        .total
        .or_else(|| sum(&cart.items))
        .map(|t| money::format(t, currency.as_deref()));
    view! {
        <section class="c-box" data-testid="cart">
            <h3>{t().cart}</h3>
            {items(cart.items, currency.as_deref(), "cart-item")}
            <p class="c-total">{t().total_label} <span data-testid="cart-total">{or_none(total)}</span></p>
        </section>
    }
    .into_any()
}

fn order_box(order: Option<Order>) -> AnyView {
    let Some(o) = order else {
        return view! {
            <section class="c-box" data-testid="order">
                <h3>{t().order.trim_end()}</h3>
                <p class="c-muted">{t().no_order}</p>
            </section>
        }
        .into_any();
    };
    let currency = o.currency;
    let total = o
        .total
        .or_else(|| sum(&o.items))
        .map(|t| money::format(t, currency.as_deref()));
    let status = o.status.filter(|s| !s.is_empty());
    // The badge colour follows a few common words; anything else gets the neutral one.
    let tone = match status.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("delivered" | "complete" | "completed" | "shipped") => "c-ok",
        Some("delayed" | "cancelled" | "canceled" | "failed" | "returned" | "refunded") => "c-bad",
        _ => "c-neutral",
    };
    let tracking = o
        .tracking_url
        .filter(|u| !u.is_empty())
        .map(|u| link(u, "order-tracking"));
    view! {
        <section class="c-box" data-testid="order">
            <h3>{t().order} <span data-testid="order-number">{format!("#{}", o.number)}</span></h3>
            <p>
                <span class=format!("c-badge {tone}") data-testid="order-status">
                    {status.unwrap_or_else(|| t().unknown.into())}
                </span>
            </p>
            <dl>
                <dt>{t().placed}</dt>
                <dd data-testid="order-placed">{or_none(o.placed_at)}</dd>
                <dt>{t().delivery}</dt>
                <dd data-testid="order-delivery">{or_none(o.estimated_delivery)}</dd>
                <dt>{t().tracking}</dt>
                <dd>{tracking.unwrap_or_else(|| NONE.into_any())}</dd>
            </dl>
            {items(o.items, currency.as_deref(), "order-item")}
            <p class="c-total">{t().total_label} <span data-testid="order-total">{or_none(total)}</span></p>
        </section>
    }
    .into_any()
}

/// The sum of the priced lines, when the site sent no total; None when nothing is priced.
fn sum(items: &[LineItem]) -> Option<f64> {
    items
        .iter()
        .filter_map(|i| i.price.map(|p| p * i.quantity as f64))
        .reduce(|a, b| a + b)
}

fn items(items: Vec<LineItem>, currency: Option<&str>, testid: &'static str) -> impl IntoView {
    if items.is_empty() {
        return None;
    }
    let rows = items
        .into_iter()
        .map(|i| {
            let unit = i.price.map(|p| money::format(p, currency));
            let line = i
                .price
                .map(|p| money::format(p * i.quantity as f64, currency));
            let name = match i.url {
                Some(u) if is_http_url(&u) => view! {
                    <a href=u target="_blank" rel="noopener noreferrer nofollow">{i.name}</a>
                }
                .into_any(),
                _ => i.name.into_any(),
            };
            view! {
                <tr data-testid=testid>
                    <td class="c-name">{name}</td>
                    <td class="c-num">{format!("× {}", number(u64::from(i.quantity)))}</td>
                    <td class="c-num">{unit}</td>
                    <td class="c-num">{line}</td>
                </tr>
            }
        })
        .collect_view();
    Some(view! {
        <table class="c-items">
            <thead>
                <tr>
                    <th scope="col">{t().item}</th>
                    <th scope="col" class="c-num">{t().qty}</th>
                    <th scope="col" class="c-num">{t().price}</th>
                    <th scope="col" class="c-num">{t().total}</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    })
}
