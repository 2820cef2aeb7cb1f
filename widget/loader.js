/* Switchboard loader: what a site pastes. It draws the launcher at once inside a Shadow DOM
   (no host CSS in, no widget CSS out) and queues API calls. The widget itself (glue, wasm, CSS)
   is fetched only when the visitor reaches for the launcher (hover, focus, click) or the site
   calls `open`, and at idle only when this browser has a conversation to come back to (a stored
   token or unsent messages): a page view that never chats costs this file and nothing else.
   With data-consent="required" it reads, stores and fetches nothing until
   Switchboard('consent', true); a click before that asks (the site's `consent_required`
   listeners, else a small prompt). Never throws into the page. The build fills in the three
   __SB_*__ placeholders (glue JS, wasm, CSS) with paths relative to the relay's base URL.
   Served as widget.js?site=KEY, the relay puts the site's theme (relay/src/theme.rs) before
   the first closing style tag below, so the launcher has the site's colour and place at once. */
(function (w, d) {
  function warn(e) { try { console.warn("Switchboard:", e); } catch (_) {} }
  try {
    if (w.__switchboard) return;
    w.__switchboard = 1;
    var me = d.currentScript || d.querySelector('script[data-site][src*="widget.js"]');
    if (!me) return warn("cannot find its <script> tag");
    var site = me.getAttribute("data-site"), base = new URL(".", me.src).href,
      // The widget's keys in the page's localStorage (widget/src/connection.rs, outbox.rs).
      keys = ["token", "outbox"].map(function (k) { return "switchboard:" + site + ":" + k; }),
      consented = me.getAttribute("data-consent") != "required",
      // Calls the site made through the inline stub before we ran are kept and replayed in order.
      prior = w.Switchboard && w.Switchboard.q, queue = [],
      hooks = { consent_required: [], consent: [] },
      root, button, prompt, started, m;
    w.Switchboard = api;
    if (prior) for (var i = 0; i < prior.length; i++) api.apply(null, prior[i]);
  } catch (e) { return warn(e); }

  function api(name, a, b) {
    try {
      if (name == "consent") return consent(a === true);
      if (name == "on" && hooks[a]) return void (typeof b == "function" && hooks[a].push(b));
      if (m) return m.command(String(name), a, b);
      if (name == "reset") forget("reset");
      queue.push([name, a, b]);
      if (root && (name == "open" || name == "toggle")) want();
    } catch (e) { warn(e); }
  }

  function call(list, v) {
    for (var i = 0; i < list.length; i++) try { list[i](v); } catch (e) { warn(e); }
  }

  function opening() {
    return queue.some(function (q) { return q[0] == "open" || q[0] == "toggle"; });
  }

  // A conversation to come back to: a stored token, or messages typed but not yet sent.
  function returning() {
    try {
      var s = w.localStorage;
      return !!s.getItem(keys[0]) || /[^\[\]]/.test(s.getItem(keys[1]) || "");
    } catch (e) { return false; }
  }

  // Before the widget loaded: drop what it stored and tell the tabs where it runs.
  function forget(t) {
    try { keys.forEach(function (k) { w.localStorage.removeItem(k); }); } catch (e) {}
    try {
      var c = new BroadcastChannel("switchboard:" + site);
      c.postMessage('{"t":"' + t + '"}');
      c.close();
    } catch (e) {}
  }

  function consent(yes) {
    var was = consented;
    consented = yes;
    if (m) return m.command("consent", yes);
    if (!yes) return forget("withdraw");
    hide();
    if (!root || was) return;
    if (opening()) load(); else if (returning()) idle();
  }

  function want() { if (consented) load(); else ask(); }

  function ask() {
    if (hooks.consent_required.length) call(hooks.consent_required); else show();
  }

  function idle() {
    if (w.requestIdleCallback) w.requestIdleCallback(load, { timeout: 3000 });
    else setTimeout(load, 1500);
  }

  function load() {
    if (started || !consented) return;
    started = 1;
    try {
      var css = d.createElement("link");
      css.rel = "stylesheet";
      css.href = base + "__SB_CSS__";
      root.appendChild(css);
      import(base + "__SB_GLUE__").then(function (mod) {
        return mod.default({ module_or_path: base + "__SB_WASM__" }).then(function () {
          var box = d.createElement("div"), focused = root.activeElement == button;
          box.className = "sb-root";
          root.appendChild(box);
          mod.mount(box, site, base);
          m = mod;
          m.command("on", "consent_required", ask);
          if (!consented) m.command("consent", false);
          button.remove();
          if (focused) focus();
          var q = queue;
          queue = [];
          for (var i = 0; i < q.length; i++) api.apply(null, q[i]);
        });
      }).catch(function (e) { started = 0; warn(e); });
    } catch (e) { warn(e); }
  }

  function focus() {
    var l = root.querySelector(".sb-launcher,.sb-boot");
    if (l) l.focus();
  }

  function show() {
    if (!prompt) {
      // English only, to keep this file small: a site in another language shows its own
      // consent dialog from a `consent_required` listener instead.
      prompt = d.createElement("div");
      prompt.innerHTML = '<div class="sb-consent" role="dialog" aria-labelledby="sb-ct" data-testid="consent-prompt"><p id="sb-ct">' +
        "Chat keeps the conversation on this device. Allow it?</p>" +
        '<button class="sb-allow" data-testid="consent-allow">Allow chat</button><button data-testid="consent-later">Not now</button></div>';
      prompt = root.appendChild(prompt.firstChild);
      var b = prompt.querySelectorAll("button");
      b[0].onclick = function () { hide(); call(hooks.consent, true); consent(true); api("open"); };
      b[1].onclick = function () {
        queue = queue.filter(function (q) { return q[0] != "open" && q[0] != "toggle"; });
        hide();
      };
      prompt.onkeydown = function (e) { if (e.key == "Escape") b[1].onclick(); };
    }
    prompt.hidden = false;
    prompt.querySelector("button").focus();
  }

  function hide() {
    if (prompt && !prompt.hidden) { prompt.hidden = true; focus(); }
  }

  function draw() {
    try {
      var host = d.createElement("div");
      host.id = "switchboard-host";
      d.body.appendChild(host);
      root = host.attachShadow({ mode: "open" });
      // The same look as the widget's .sb-launcher, so the swap is invisible; bottom-left
      // when the widget will speak right to left.
      root.innerHTML = "<style>" +
        ":host{all:initial!important;display:block!important;position:static!important;transform:none!important;opacity:1!important;visibility:visible!important}" +
        ".sb-boot{position:fixed;right:20px;bottom:20px;z-index:2147483647;width:56px;height:56px;border:0;border-radius:50%;padding:0;margin:0;" +
        "background:#2563eb;color:#fff;display:flex;align-items:center;justify-content:center;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25)}" +
        "[dir=rtl]{right:auto;left:20px}" +
        ".sb-consent p{margin:0 0 12px}.sb-consent{position:fixed;right:20px;bottom:88px;z-index:2147483647;width:min(288px,calc(100vw - 72px));padding:16px;" +
        "border-radius:12px;background:#fff;color:#111;font:15px/1.45 system-ui,sans-serif;box-shadow:0 4px 14px rgba(0,0,0,.25)}" +
        ".sb-consent button{font:inherit;margin:0 8px 0 0;padding:8px 14px;border:1px solid #2563eb;border-radius:8px;background:#fff;color:#1d4ed8;cursor:pointer}" +
        ".sb-consent .sb-allow{background:#2563eb;color:#fff}button:focus-visible{outline:3px solid #111;outline-offset:2px}</style>" +
        '<button class="sb-boot" data-testid="launcher-placeholder" aria-label="Open chat"><svg viewBox="0 0 24 24" width="28" height="28" aria-hidden="true"><path fill="currentColor" d="M4 4h16a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg></button>';
      button = root.lastChild;
      // Right to left (Arabic, the one such language the widget ships): its launcher sits
      // bottom-left, and so does this one, by the same choice the widget makes (an explicit
      // data-locale, else the page's language, else the browser's).
      if (/^ar/i.test(me.dataset.locale || d.documentElement.lang || navigator.language)) button.dir = "rtl";
      button.onclick = function () { queue.push(["open"]); want(); };
      // Reaching for the launcher starts the download, so the click finds it (nearly) ready.
      button.onpointerenter = button.onfocus = function () { if (consented) load(); };
      if (opening()) want(); else if (consented && returning()) idle();
    } catch (e) { warn(e); }
  }

  if (d.body) draw(); else d.addEventListener("DOMContentLoaded", draw);
})(window, document);
