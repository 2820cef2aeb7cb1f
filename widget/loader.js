/* Switchboard loader: what a site pastes. It draws the launcher at once inside a Shadow DOM
   (no host CSS in, no widget CSS out), queues API calls, and loads the real widget (wasm) when
   the browser is idle or the visitor clicks, whichever comes first. Never throws into the page.
   The build fills in the three __SB_*__ placeholders below (glue JS, wasm, CSS) with asset
   paths relative to the relay's base URL. */
(function (w, d) {
  function warn(e) { try { console.warn("Switchboard:", e); } catch (_) {} }
  try {
    if (w.__switchboard) return;
    w.__switchboard = 1;
    var me = d.currentScript || d.querySelector('script[data-site][src*="widget.js"]');
    if (!me) return warn("cannot find its <script> tag");
    var site = me.getAttribute("data-site"), base = new URL(".", me.src).href;
    // Calls the site made through the inline stub before we ran are kept and replayed in order.
    var prior = w.Switchboard && w.Switchboard.q, queue = prior ? [].slice.call(prior) : [];
    w.Switchboard = function () { queue.push(arguments); };
    var root, button, started;
  } catch (e) { return warn(e); }

  function load() {
    if (started) return;
    started = 1;
    try {
      var css = d.createElement("link");
      css.rel = "stylesheet";
      css.href = base + "__SB_CSS__";
      root.appendChild(css);
      import(base + "__SB_GLUE__").then(function (m) {
        return m.default({ module_or_path: base + "__SB_WASM__" }).then(function () {
          var box = d.createElement("div");
          box.className = "sb-root";
          root.appendChild(box);
          m.mount(box, site, base);
          w.Switchboard = function (name, a, b) {
            try { return m.command(String(name), a, b); } catch (e) { warn(e); }
          };
          button.remove();
          for (var i = 0; i < queue.length; i++) w.Switchboard.apply(null, queue[i]);
          queue = [];
        });
      }).catch(function (e) { warn(e); });
    } catch (e) { warn(e); }
  }

  function draw() {
    try {
      var host = d.createElement("div");
      host.id = "switchboard-host";
      d.body.appendChild(host);
      root = host.attachShadow({ mode: "open" });
      // The same look as the widget's .sb-launcher, so the swap is invisible.
      var style = d.createElement("style");
      style.textContent =
        ":host{all:initial!important;display:block!important;position:static!important;transform:none!important;opacity:1!important;visibility:visible!important}" +
        ".sb-boot{position:fixed;right:20px;bottom:20px;z-index:2147483647;width:56px;height:56px;border:0;border-radius:50%;padding:0;margin:0;" +
        "background:#2563eb;color:#fff;display:flex;align-items:center;justify-content:center;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25)}";
      root.appendChild(style);
      button = d.createElement("button");
      button.className = "sb-boot";
      button.setAttribute("data-testid", "launcher-placeholder");
      button.setAttribute("aria-label", "Open chat");
      button.innerHTML = '<svg viewBox="0 0 24 24" width="28" height="28" aria-hidden="true"><path fill="currentColor" d="M4 4h16a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg>';
      button.onclick = function () { queue.push(["open"]); load(); };
      root.appendChild(button);
      if (w.requestIdleCallback) w.requestIdleCallback(load, { timeout: 3000 });
      else setTimeout(load, 1500);
    } catch (e) { warn(e); }
  }

  if (d.body) draw(); else d.addEventListener("DOMContentLoaded", draw);
})(window, document);
