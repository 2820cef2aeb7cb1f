//! What the agent knows about the visitor: page, identity, cart and order, live.

use leptos::prelude::*;
use switchboard_protocol::context::{is_http_url, LineItem};
use switchboard_protocol::Context;

use crate::money;
use crate::state::Console;

pub fn sidebar(c: Console) -> impl IntoView {
    let context = move || {
        let conv = c.selected.get()?;
        c.contexts.with(|all| all.get(&conv).cloned())
    };
    view! {
        <aside class="c-context" data-testid="context" aria-label="Visitor context">
            {move || match context() {
                None => view! { <p class="c-empty">"No visitor selected."</p> }.into_any(),
                Some(ctx) => details(ctx).into_any(),
            }}
        </aside>
    }
}

fn link(url: &str, testid: &'static str) -> AnyView {
    if is_http_url(url) {
        view! { <a href=url.to_owned() target="_blank" rel="noopener noreferrer" data-testid=testid>{url.to_owned()}</a> }.into_any()
    } else {
        view! { <span data-testid=testid>{url.to_owned()}</span> }.into_any()
    }
}

fn details(ctx: Context) -> impl IntoView {
    let page = ctx.page.clone().map(|p| {
        let utm = p.utm.as_ref().map(|u| {
            [("source", &u.source), ("medium", &u.medium), ("campaign", &u.campaign), ("term", &u.term), ("content", &u.content)]
                .iter()
                .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
                .collect::<Vec<_>>()
                .join(", ")
        });
        view! {
            <section class="c-box">
                <h3>"Page"</h3>
                <p class="c-strong" data-testid="context-page-title">{p.title.clone()}</p>
                <p>{link(&p.url, "context-page-url")}</p>
                <dl>
                    <dt>"Referrer"</dt>
                    <dd data-testid="context-referrer">{p.referrer.clone().unwrap_or_else(|| "—".into())}</dd>
                    <dt>"Campaign"</dt>
                    <dd data-testid="context-utm">{utm.unwrap_or_else(|| "—".into())}</dd>
                    <dt>"Language"</dt>
                    <dd data-testid="context-locale">{p.locale.clone().unwrap_or_else(|| "—".into())}</dd>
                    <dt>"Time zone"</dt>
                    <dd data-testid="context-timezone">{p.timezone.clone().unwrap_or_else(|| "—".into())}</dd>
                    <dt>"Screen"</dt>
                    <dd>{p.viewport.map(|v| format!("{}×{}", v.width, v.height)).unwrap_or_else(|| "—".into())}</dd>
                </dl>
            </section>
        }
    });
    let identity = ctx.identity.clone().map(|i| {
        let email = i.email.clone().map(|e| {
            let href = format!("mailto:{e}");
            view! { <a href=href>{e}</a> }
        });
        view! {
            <section class="c-box" data-testid="context-identity">
                <h3>"Customer"</h3>
                <p class="c-strong">{i.name.clone().unwrap_or_else(|| "Unnamed".into())}</p>
                <p>{email}</p>
                <p class="c-muted">{i.id.clone().map(|id| format!("id {id}"))}</p>
                <p class="c-muted">"As the site says; not verified."</p>
            </section>
        }
    });
    let cart = match ctx.cart.clone() {
        Some(cart) if !cart.items.is_empty() => {
            let currency = cart.currency.clone();
            let total = cart.total.map(|t| money::format(t, currency.as_deref()));
            view! {
                <section class="c-box" data-testid="cart">
                    <h3>"Cart"</h3>
                    {items(&cart.items, currency.as_deref(), "cart-item")}
                    <p class="c-total">"Total " <span data-testid="cart-total">{total}</span></p>
                </section>
            }
            .into_any()
        }
        _ => view! { <section class="c-box" data-testid="cart"><h3>"Cart"</h3><p class="c-muted">"No cart"</p></section> }.into_any(),
    };
    let order = match ctx.order.clone() {
        Some(o) => {
            let currency = o.currency.clone();
            let total = o.total.map(|t| money::format(t, currency.as_deref()));
            let tracking = o.tracking_url.clone().map(|u| link(&u, "order-tracking"));
            view! {
                <section class="c-box" data-testid="order">
                    <h3>"Order " <span data-testid="order-number">{format!("#{}", o.number)}</span></h3>
                    <p>
                        <span class="c-badge" data-testid="order-status">{o.status.clone().unwrap_or_else(|| "unknown".into())}</span>
                    </p>
                    <dl>
                        <dt>"Placed"</dt>
                        <dd>{o.placed_at.clone().unwrap_or_else(|| "—".into())}</dd>
                        <dt>"Delivery"</dt>
                        <dd data-testid="order-delivery">{o.estimated_delivery.clone().unwrap_or_else(|| "—".into())}</dd>
                        <dt>"Tracking"</dt>
                        <dd>{tracking}</dd>
                    </dl>
                    {items(&o.items, currency.as_deref(), "order-item")}
                    <p class="c-total">"Total " <span data-testid="order-total">{total}</span></p>
                </section>
            }
            .into_any()
        }
        None => view! { <section class="c-box" data-testid="order"><h3>"Order"</h3><p class="c-muted">"No order"</p></section> }.into_any(),
    };
    let custom = (!ctx.custom.is_empty()).then(|| {
        let rows = ctx
            .custom
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                view! { <dt>{k.clone()}</dt><dd>{v}</dd> }
            })
            .collect_view();
        view! { <section class="c-box"><h3>"More"</h3><dl data-testid="context-custom">{rows}</dl></section> }
    });
    view! { {page} {identity} {cart} {order} {custom} }
}

fn items(items: &[LineItem], currency: Option<&str>, testid: &'static str) -> impl IntoView {
    let rows = items
        .iter()
        .map(|i| {
            let unit = i.price.map(|p| money::format(p, currency));
            let line = i.price.map(|p| money::format(p * i.quantity as f64, currency));
            let name = match &i.url {
                Some(u) if is_http_url(u) => {
                    view! { <a href=u.clone() target="_blank" rel="noopener noreferrer">{i.name.clone()}</a> }.into_any()
                }
                _ => view! { <span>{i.name.clone()}</span> }.into_any(),
            };
            view! {
                <tr data-testid=testid>
                    <td>{name}</td>
                    <td class="c-num">{format!("× {}", i.quantity)}</td>
                    <td class="c-num">{unit}</td>
                    <td class="c-num">{line}</td>
                </tr>
            }
        })
        .collect_view();
    view! { <table class="c-items"><tbody>{rows}</tbody></table> }
}
