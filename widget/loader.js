/* Switchboard loader: what a site pastes. It draws the launcher at once inside a Shadow DOM
   (no host CSS in, no widget CSS out) and queues API calls. The widget itself (glue, wasm, CSS)
   is fetched only when the visitor reaches for the launcher (hover, focus, click) or the site
   calls `open`, and at idle only when this browser has a conversation to come back to (a stored
   token or unsent messages): a page view that never chats costs this file and nothing else.
   With data-consent="required" it reads, stores and fetches nothing until
   Switchboard('consent', true); a click before that asks (the site's `consent_required`
   listeners, else a small prompt). Never throws into the page. The build fills in the three
   __SB_*__ placeholders (glue JS, wasm, CSS) with paths relative to the relay's base URL.
   Strict CSP: no inline style or script, no innerHTML (Trusted Types), every style through
   constructable stylesheets (style-src does not apply to them), the widget's CSS fetched as text
   (connect-src, like the wasm). Served as widget.js?site=KEY, the relay puts the site's theme
   (relay/src/theme.rs) after the last rule of this file's sheet, so the launcher has the site's
   colour and place at once; the relay also puts the visitor's language's words (`t`,
   relay/src/loader_text.rs) in place of the English ones. */
(function (w, d) {
  function warn(e) { try { console.warn("Switchboard:", e); } catch {} }
  try {
    if (w.__switchboard) return;
    w.__switchboard = 1;
    // (No tag found: `me.dataset` throws, and the catch below says so in the console.)
    var me = d.currentScript || d.querySelector('script[data-site][src*="widget.js"]');
    var site = me.dataset.site, base = new URL(".", me.src).href,
      // The widget's keys in the page's localStorage (widget/src/connection.rs, outbox.rs).
      keys = ["token", "outbox"].map(k => "switchboard:" + site + ":" + k),
      consented = me.dataset.consent != "required",
      // Calls the site made through the inline stub before we ran are kept and replayed in order.
      prior = w.Switchboard?.q, queue = [],
      hooks = { consent_required: [], consent: [] },
      // The words the loader shows: launcher name, consent question, allow, later.
      t = ["Open chat", "Chat keeps the conversation on this device. Allow it?", "Allow chat", "Not now"],
      root, button, prompt, started, m;
    w.Switchboard = api;
    prior?.forEach(c => api.apply(null, c));
  } catch (e) { return warn(e); }

  function api(name, a, b) {
    try {
      if (name == "consent") return consent(a === true);
      if (name == "on" && hooks[a]) return void hooks[a].push(b);
      if (m) return m.command(String(name), a, b);
      if (name == "reset") forget("reset");
      queue.push([name, a, b]);
      if (root && (name == "open" || name == "toggle")) want();
    } catch (e) { warn(e); }
  }

  function call(list, v) {
    list.forEach(f => { try { f(v); } catch (e) { warn(e); } });
    return list.length;
  }

  function opening() {
    return queue.some(q => q[0] == "open" || q[0] == "toggle");
  }

  // A conversation to come back to: a stored token, or messages typed but not yet sent.
  function returning() {
    try {
      var s = w.localStorage;
      return !!s.getItem(keys[0]) || (s.getItem(keys[1]) || "[]") > "[]";
    } catch { return false; }
  }

  // Before the widget loaded: drop what it stored and tell the tabs where it runs.
  function forget(t) {
    try { keys.forEach(k => w.localStorage.removeItem(k)); } catch {}
    try {
      var c = new BroadcastChannel("switchboard:" + site);
      c.postMessage('{"t":"' + t + '"}');
      c.close();
    } catch {}
  }

  function consent(yes) {
    var was = consented;
    consented = yes;
    if (m) return m.command("consent", yes);
    if (!yes) return forget("withdraw");
    hide();
    if (!root || was) return;
    opening() ? load() : returning() && idle();
  }

  function want() { consented ? load() : ask(); }

  function ask() {
    call(hooks.consent_required) || show();
  }

  function idle() {
    w.requestIdleCallback ? requestIdleCallback(load, { timeout: 3000 }) : setTimeout(load, 1500);
  }

  function load() {
    if (started || !consented) return;
    started = 1;
    try {
      // The widget's CSS as text, for a constructed sheet, fetched beside the glue.
      Promise.all([import(base + "__SB_GLUE__"), fetch(base + "__SB_CSS__").then(r => r.text())]).then(([mod, text]) =>
        mod.default({ module_or_path: base + "__SB_WASM__" }).then(() => {
          sheet(text);
          var focused = root.activeElement == button;
          mod.mount(el(root, "div", { class: "sb-root" }), site, base);
          m = mod;
          m.command("on", "consent_required", ask);
          consented || m.command("consent", false);
          button.remove();
          focused && focus();
          var q = queue;
          queue = [];
          q.forEach(c => api.apply(null, c));
        })
      ).catch(e => { started = 0; warn(e); });
    } catch (e) { warn(e); }
  }

  function focus() {
    root.querySelector(".sb-launcher,.sb-boot")?.focus();
  }

  function show() {
    if (!prompt) {
      // Beside the launcher, on its side of the page.
      prompt = el(root, "div", { class: "sb-consent", role: "dialog", "aria-labelledby": "sb-ct", "data-testid": "consent-prompt", dir: button.dir || "auto" });
      el(prompt, "p", { id: "sb-ct" }, t[1]);
      el(prompt, "button", { class: "sb-allow", "data-testid": "consent-allow" }, t[2]).onclick = () => {
        hide(); call(hooks.consent, true); consent(true); api("open");
      };
      var no = el(prompt, "button", { "data-testid": "consent-later" }, t[3]);
      no.onclick = () => {
        queue = queue.filter(q => q[0] != "open" && q[0] != "toggle");
        hide();
      };
      prompt.onkeydown = e => e.key == "Escape" && no.onclick();
    }
    prompt.hidden = false;
    prompt.querySelector("button").focus();
  }

  function hide() {
    if (prompt && !prompt.hidden) { prompt.hidden = true; focus(); }
  }

  // A child of `parent` (a new `tag`, or the node given) with these attributes and text; no
  // markup is parsed, so there is nothing for Trusted Types to refuse.
  function el(parent, tag, attrs, text) {
    var e = parent.appendChild(tag.nodeType ? tag : d.createElement(tag));
    Object.keys(attrs).forEach(k => e.setAttribute(k, attrs[k]));
    if (text) e.textContent = text;
    return e;
  }

  // One more constructed sheet in the shadow root (a strict CSP's style-src does not apply to
  // them; browsers without them, before Safari 16.4, get no widget).
  function sheet(css) {
    var s = new CSSStyleSheet();
    s.replaceSync(css);
    root.adoptedStyleSheets = root.adoptedStyleSheets.concat(s);
  }

  function draw() {
    try {
      root = el(d.body, "div", { id: "switchboard-host" }).attachShadow({ mode: "open" });
      // The same look as the widget's .sb-launcher, so the swap is invisible; bottom-left
      // when the widget will speak right to left.
      sheet(":host{all:initial!important;display:block!important;position:static!important;transform:none!important;opacity:1!important;visibility:visible!important}" +
        ".sb-boot,.sb-consent{position:fixed;right:20px;bottom:20px;z-index:2147483647;border:0;box-shadow:0 4px 14px #0004}" +
        ".sb-boot{width:56px;height:56px;border-radius:50%;padding:0;background:#2563eb;color:#fff;display:grid;place-items:center}" +
        "svg{width:28px;fill:currentColor}[dir=rtl]{right:auto;left:20px}" +
        ".sb-consent{bottom:88px;max-width:288px;padding:0 16px 16px;border-radius:12px;background:#fff;color:#111;font:15px system-ui}" +
        "p~button{font:inherit;margin-inline-end:8px;padding:8px 14px;border:1px solid;border-radius:8px;background:#fff;color:#1d4ed8}" +
        ".sb-allow{background:#1d4ed8;color:#fff}button{cursor:pointer}button:focus-visible{outline:3px solid #111;outline-offset:2px}");
      button = el(root, "button", { class: "sb-boot", "data-testid": "launcher-placeholder", "aria-label": t[0] });
      var n = "http://www.w3.org/2000/svg";
      el(el(button, d.createElementNS(n, "svg"), { viewBox: "0 0 24 24" }), d.createElementNS(n, "path"),
        { d: "M4 4h16a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z" });
      // Right to left (Arabic, the one such language the widget ships): its launcher sits
      // bottom-left, and so does this one, by the same choice the widget makes (an explicit
      // data-locale, else the page's language, else the browser's).
      if (/^ar/i.test(me.dataset.locale || d.documentElement.lang || navigator.language)) button.dir = "rtl";
      button.onclick = () => { queue.push(["open"]); want(); };
      // Reaching for the launcher starts the download, so the click finds it (nearly) ready.
      button.onpointerenter = button.onfocus = () => consented && load();
      opening() ? want() : consented && returning() && idle();
    } catch (e) { warn(e); }
  }

  d.body ? draw() : d.addEventListener("DOMContentLoaded", draw);
})(window, document);
