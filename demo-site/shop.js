// The demo shop's own code: a cart in localStorage, told to Switchboard on every page and
// every change, exactly as a customer's site would.
(function () {
  var PRODUCTS = {
    "rain-jacket": { sku: "RJ-01", name: "Rain jacket", price: 89.0 },
    "trail-boots": { sku: "TB-07", name: "Trail boots", price: 129.5 },
    "wool-socks": { sku: "WS-03", name: "Wool socks (3 pack)", price: 18.0 }
  };
  function load() {
    try { return JSON.parse(localStorage.getItem("demo-cart") || "[]"); } catch (e) { return []; }
  }
  function cart() {
    var items = load(), total = 0;
    items.forEach(function (i) { total += i.price * i.quantity; });
    return { items: items, total: Math.round(total * 100) / 100, currency: "EUR" };
  }
  function tell() { Switchboard("setContext", { cart: cart() }); }
  window.demoShop = {
    products: PRODUCTS,
    cart: cart,
    add: function (id) {
      var p = PRODUCTS[id], items = load(), found = false;
      items.forEach(function (i) { if (i.sku === p.sku) { i.quantity += 1; found = true; } });
      if (!found) items.push({ sku: p.sku, name: p.name, quantity: 1, price: p.price, url: location.origin + "/product.html?id=" + id });
      localStorage.setItem("demo-cart", JSON.stringify(items));
      tell();
      var n = document.getElementById("cart-count");
      if (n) n.textContent = String(items.length);
    }
  };
  // A signed-in customer: the shop knows who this is.
  Switchboard("identify", { id: "cust-77", name: "Dana Demo", email: "dana@example.com" });
  tell();
  document.addEventListener("DOMContentLoaded", function () {
    var n = document.getElementById("cart-count");
    if (n) n.textContent = String(load().length);
  });
})();
