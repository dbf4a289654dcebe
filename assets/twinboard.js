/* twinboard big screen: uniform canvas scaling, the clock, deck.gl maps from the local bundle, playlists. */
(function () {
  "use strict";

  function fitCanvas() {
    var canvas = document.getElementById("tb-canvas");
    if (!canvas) { return; }
    var w = +canvas.dataset.width || 1920, h = +canvas.dataset.height || 1080;
    var s = Math.min(window.innerWidth / w, window.innerHeight / h);
    var left = (window.innerWidth - w * s) / 2, top = (window.innerHeight - h * s) / 2;
    canvas.style.transform = "translate(" + left + "px," + top + "px) scale(" + s + ")";
    canvas.dataset.scale = String(s);
  }

  var WEEK_ZH = ["日", "一", "二", "三", "四", "五", "六"];
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function tick() {
    var el = document.getElementById("tb-clock");
    if (el) {
      var d = new Date();
      var date = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
      var time = pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
      el.textContent = el.dataset.lang === "en" ? date + " " + time
        : date + " 星期" + WEEK_ZH[d.getDay()] + " " + time;
    }
    fitCanvas();
  }

  var deckLoad = null;
  function ensureDeckGL() {
    if (window.createDeck) { return Promise.resolve(); }
    if (!deckLoad) {
      deckLoad = new Promise(function (resolve, reject) {
        var s = document.createElement("script");
        s.src = "/vendor/deckgl/index.js";
        s.onload = function () { resolve(); };
        s.onerror = function () { deckLoad = null; reject(new Error("deck.gl bundle failed to load")); };
        document.head.appendChild(s);
      });
    }
    return deckLoad;
  }

  var decks = {};
  function renderDeck(spec, id) {
    if (!spec || !id) { return window.dash_clientside.no_update; }
    // Dash writes pattern-matching ids into the DOM as JSON with sorted keys.
    var key = JSON.stringify(Object.keys(id).sort().reduce(function (o, k) { o[k] = id[k]; return o; }, {}));
    ensureDeckGL().then(function () {
      var host = document.getElementById(key);
      if (!host) { return; }
      var entry = decks[key];
      if (entry && entry.host === host) {
        window.updateDeck(spec, entry.deck);
      } else {
        host.innerHTML = "";
        entry = { host: host, deck: window.createDeck({ container: host, jsonInput: spec, tooltip: true }) };
        decks[key] = entry;
      }
      host.dataset.rendered = String((+host.dataset.rendered || 0) + 1);
    }).catch(function (err) {
      var host = document.getElementById(key);
      if (host) { host.textContent = String(err); }
    });
    return "map";
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    twinboard: { renderDeck: renderDeck }
  });

  function startPlaylist() {
    var root = document.getElementById("tb-playlist");
    if (!root || root.dataset.started) { return; }
    root.dataset.started = "1";
    var items = JSON.parse(root.dataset.items || "[]"), i = 0;
    function next() {
      var frame = document.getElementById("tb-playlist-frame");
      if (!frame || !items.length) { return; }
      setTimeout(function () {
        i = (i + 1) % items.length;
        frame.src = items[i].src;
        next();
      }, items[i].seconds * 1000);
    }
    next();
  }

  // A wall must never show a silently frozen number: probe the server and mark every panel stale while it is away.
  var offlineSince = null;
  function probe() {
    if (!document.getElementById("tb-canvas")) { return; }
    var ctl = new AbortController();
    var timer = setTimeout(function () { ctl.abort(); }, 4000);
    fetch("/api/health", { cache: "no-store", signal: ctl.signal }).then(function (r) {
      clearTimeout(timer);
      if (!r.ok) { throw new Error(String(r.status)); }
      setOffline(false);
    }).catch(function () { clearTimeout(timer); setOffline(true); });
  }
  function setOffline(off) {
    var canvas = document.getElementById("tb-canvas");
    if (!canvas) { return; }
    var banner = document.getElementById("tb-offline");
    if (!banner) {
      banner = document.createElement("div");
      banner.id = "tb-offline";
      banner.className = "tb-offline";
      canvas.appendChild(banner);
    }
    if (off && offlineSince === null) { offlineSince = Date.now(); }
    if (!off) { offlineSince = null; }
    canvas.classList.toggle("tb-disconnected", off);
    var zh = (canvas.getAttribute("lang") || "zh").indexOf("zh") === 0;
    banner.textContent = off ? (zh ? "⚠ 与服务器的连接已中断，正在重连…" : "⚠ Connection to the server lost, reconnecting…") : "";
    banner.style.display = off ? "block" : "none";
  }
  setInterval(probe, 5000);

  window.addEventListener("resize", fitCanvas);
  setInterval(function () { tick(); startPlaylist(); }, 1000);
  new MutationObserver(function () { fitCanvas(); startPlaylist(); }).observe(document.documentElement,
    { childList: true, subtree: true });
})();
