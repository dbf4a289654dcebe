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

  // Deck panels receive patches (core/web/deckpatch.py): whole layers, row deltas against a layer version
  // this browser holds, or nothing at all. Each panel keeps its merged scene here and answers with what
  // it holds (the tb-have store), so the next refresh carries only what changed. Only changed layers are
  // converted again: deck.gl keeps every unchanged layer, and its GPU buffers, as it is.
  var decks = {};   // host id -> {props, layers: {id: json}, order, have, dirty, dirtyProps, host, deck, conv}
  function hostKey(id) {
    // Dash writes pattern-matching ids into the DOM as JSON with sorted keys.
    return JSON.stringify(Object.keys(id).sort().reduce(function (o, k) { o[k] = id[k]; return o; }, {}));
  }

  function mergeLayer(old, d) {
    var layer = Object.assign({}, old, d.set || {});
    (d.unset || []).forEach(function (k) { delete layer[k]; });
    if (d.rows) {
      var data = (old.data || []).slice(0, d.n);
      d.rows.forEach(function (r) { data[r[0]] = r[2] ? r[1] : Object.assign({}, data[r[0]], r[1]); });
      layer.data = data;
    }
    return layer;
  }

  // Merge a patch into a panel's scene; false when it needs a layer version this browser does not hold.
  function mergePatch(entry, patch) {
    var layers = {}, hashes = {}, dirty = {};
    for (var i = 0; i < patch.order.length; i++) {
      var lid = patch.order[i], d = patch.deltas[lid];
      if (patch.layers[lid]) {
        layers[lid] = patch.layers[lid];
        dirty[lid] = 1;
      } else if (d) {
        if (!entry.layers[lid] || entry.have.layers[lid] !== d.base) { return false; }
        layers[lid] = mergeLayer(entry.layers[lid], d);
        dirty[lid] = 1;
      } else if (entry.layers[lid]) {
        layers[lid] = entry.layers[lid];
      } else {
        return false;
      }
      hashes[lid] = patch.hashes[lid] || entry.have.layers[lid];
    }
    Object.keys(dirty).forEach(function (k) { entry.dirty[k] = 1; });
    if (patch.props) { entry.props = patch.props; entry.dirtyProps = true; }
    entry.layers = layers;
    entry.order = patch.order.slice();
    entry.have = { props: patch.props_hash, layers: hashes };
    return true;
  }

  function convertJson(json) {
    // the bundle's JSON converter, through updateDeck with a stand-in deck that keeps what it is given
    var out = null;
    window.updateDeck(json, { setProps: function (p) { out = p; } });
    return out || {};
  }

  function deckProps(props) {
    // the panel's tooltip ({html|text, style}) goes to createDeck, not to deck.gl's props
    var out = Object.assign({}, props);
    delete out.tooltip;
    delete out.tbLegend;   // the layer legend is ours (drawLegend), not a deck.gl prop
    delete out.tbBasemap;  // so are the base map's levels and label zooms (basemapJson)
    return out;
  }

  // Layers a person turns on and off: a panel whose spec has tbLegend ([{ids, label, color, icon?}]) gets a
  // legend of chips on its map; the choice is kept per panel in this browser (localStorage). A chip with an
  // icon shows the map's symbol (core/web/icons.py: the atlas cell through a CSS mask) in its colour, else a dot.
  function applyVisibility(entry) {
    if (!entry.deck || !entry.hidden || !Object.keys(entry.hidden).length) { return; }
    entry.deck.setProps({ layers: (entry.deck.props.layers || []).map(function (l) {
      return l && l.clone({ visible: layerShown(entry, l.id) });
    }) });
  }
  function drawLegend(key, entry) {
    var items = entry.props && entry.props.tbLegend, host = entry.host;
    if (!items || !host || !host.parentNode) { return; }
    var store = "tb-legend:" + key;
    if (!entry.hidden) {
      try { entry.hidden = JSON.parse(window.localStorage.getItem(store) || "{}"); } catch (e) { entry.hidden = {}; }
    }
    var box = host.parentNode.querySelector(".tb-deck-legend");
    if (!box) {
      box = document.createElement("div");
      box.className = "tb-deck-legend";
      host.parentNode.appendChild(box);
    }
    if (box.dataset.built === JSON.stringify(items)) { return; }
    box.dataset.built = JSON.stringify(items);
    box.innerHTML = "";
    items.forEach(function (it) {
      var chip = document.createElement("button");
      chip.type = "button";
      chip.className = "tb-legend-chip" + (entry.hidden[it.ids[0]] ? " tb-off" : "");
      chip.dataset.layers = it.ids.join(",");
      var mark = document.createElement("span"), icon = typeof it.icon === "string" && /^[a-z][a-z0-9_-]*$/.test(it.icon);
      mark.className = icon ? "tb-legend-icon tb-icon tb-icon-" + it.icon : "tb-legend-dot";
      if (icon) { mark.dataset.icon = it.icon; }
      mark.style.backgroundColor = "rgb(" + it.color.slice(0, 3).join(",") + ")";
      chip.appendChild(mark);
      chip.appendChild(document.createTextNode(it.label));
      chip.addEventListener("click", function (ev) {
        ev.stopPropagation();
        var off = !entry.hidden[it.ids[0]];
        it.ids.forEach(function (id) { if (off) { entry.hidden[id] = 1; } else { delete entry.hidden[id]; } });
        chip.classList.toggle("tb-off", off);
        try { window.localStorage.setItem(store, JSON.stringify(entry.hidden)); } catch (e) { /* private mode */ }
        if (entry.deck) {
          entry.deck.setProps({ layers: (entry.deck.props.layers || []).map(function (l) {
            return l && l.clone({ visible: layerShown(entry, l.id) });
          }) });
          host.dataset.hidden = (entry.deck.props.layers || []).filter(function (l) {
            return l && l.props.visible === false && entry.hidden[l.id]; }).map(function (l) { return l.id; }).join(",");
        }
      });
      box.appendChild(chip);
    });
  }

  // Chinese labels: deck.gl draws a TextLayer's glyphs into an atlas once, with whatever font the page has
  // at that moment, and keeps it. The wall PC has no Chinese system font, so the bundled web font
  // (assets/fonts.css) must be loaded, for the layer's characters, before any TextLayer is built.
  var fontsReady = {};
  function ensureFonts(entry) {
    if (!document.fonts || !document.fonts.load) { return Promise.resolve(); }
    var waits = [];
    entry.order.forEach(function (lid) {
      var l = entry.layers[lid];
      if (!l || l["@@type"] !== "TextLayer" || typeof l.fontFamily !== "string") { return; }
      var chars = Array.isArray(l.characterSet) ? l.characterSet.join("")
        : (typeof l.characterSet === "string" && l.characterSet !== "auto" ? l.characterSet : "");
      var family = /["',]/.test(l.fontFamily) ? l.fontFamily : '"' + l.fontFamily + '"';
      var font = (l.fontWeight || 400) + " 32px " + family, k = font + "|" + chars;
      if (fontsReady[k]) { return; }
      waits.push(document.fonts.load(font, chars || "中").then(function () { fontsReady[k] = 1; },
        function () { fontsReady[k] = 1; /* draw with what there is rather than never */ }));
    });
    return Promise.all(waits);
  }

  // The host's base map (core/web/basemap_layers.py, ``tbBasemap``): its GeoJSON layers name a URL per zoom
  // level, and its label layers show in a zoom range. As a person zooms, the layers switch to the level of
  // the current zoom (coarse far out, fine close in) and the town names give way to the district's name.
  function basemapState(entry, zoom) {
    var b = entry.props && entry.props.tbBasemap, z = +zoom || 0, fl = Math.floor(z), level = -1, shown = {};
    if (!b || !b.levels || !b.levels.length) { return null; }
    for (var i = 0; i < b.levels.length && level < 0; i++) {
      var lv = b.levels[i];
      if (lv.min <= fl && (lv.max === null || lv.max === undefined || fl <= lv.max)) { level = i; }
    }
    if (level < 0) { level = fl < b.levels[0].min ? 0 : b.levels.length - 1; }
    Object.keys(b.zooms || {}).forEach(function (lid) {
      var r = b.zooms[lid];
      shown[lid] = (r[0] === null || z >= r[0]) && (r[1] === null || z < r[1]);
    });
    return { level: level, shown: shown };
  }
  function basemapJson(entry, lid, j) {
    var st = entry.bm, b = entry.props && entry.props.tbBasemap;
    if (!st || !b || !j) { return j; }
    var lv = b.levels[st.level], url = lv && lv.urls ? lv.urls[lid] : undefined, out = j;
    if (url && j.data !== url) { out = Object.assign({}, out, { data: url }); }
    if (lid in st.shown && j.visible !== st.shown[lid]) { out = Object.assign({}, out, { visible: st.shown[lid] }); }
    return out;
  }
  function markBasemap(entry) {
    var b = entry.props && entry.props.tbBasemap;
    if (!b) { return; }
    Object.keys(entry.layers).forEach(function (lid) {
      if ((b.zooms && lid in b.zooms) || b.levels.some(function (lv) { return lv.urls && lv.urls[lid]; })) {
        entry.dirty[lid] = 1;
      }
    });
  }
  // a layer shows unless its legend chip is off or the base map hides it at this zoom
  function layerShown(entry, lid) {
    return !(entry.hidden && entry.hidden[lid]) && !(entry.bm && entry.bm.shown[lid] === false);
  }
  function watchZoom(key, entry) {
    entry.deck.setProps({ onViewStateChange: function (p) {
      var st = basemapState(entry, p.viewState && p.viewState.zoom);
      if (st && JSON.stringify(st) !== JSON.stringify(entry.bm)) {
        entry.bm = st;
        markBasemap(entry);
        setTimeout(function () { drawDeck(key); }, 0);
      }
    } });
  }

  // The wall scales the 1920×1080 canvas with a CSS transform; deck.gl draws at the scaled size (×2 on
  // 4K) so that lines and labels stay sharp instead of being magnified.
  function pixelRatio() {
    var canvas = document.getElementById("tb-canvas");
    var s = canvas ? (+canvas.dataset.scale || 1) : 1;
    return Math.min(Math.max(s, 1) * (window.devicePixelRatio || 1), 3);
  }
  function rescaleDecks() {
    var r = pixelRatio();
    Object.keys(decks).forEach(function (k) {
      var e = decks[k];
      if (e.deck && e.ratio !== r) { e.ratio = r; e.deck.setProps({ useDevicePixels: r }); }
    });
  }

  function drawDeck(key) {
    var entry = decks[key], host = document.getElementById(key);
    if (!entry || !host) { return; }
    var layerJson = function (lid) { return basemapJson(entry, lid, entry.layers[lid]); };
    var bm = entry.props && entry.props.tbBasemap;
    if (entry.dirtyProps) {
      // a new initial view (the scene flies somewhere) sets the level; other new props keep the person's zoom
      var ivs = JSON.stringify(entry.props.initialViewState || {}), z = (entry.props.initialViewState || {}).zoom;
      var vp = ivs === entry.ivs && entry.deck && entry.host === host ? entry.deck.getViewports()[0] : null;
      if (vp) { z = vp.zoom; }
      entry.ivs = ivs;
      var st = basemapState(entry, z);
      if (JSON.stringify(st) !== JSON.stringify(entry.bm)) { entry.bm = st; markBasemap(entry); }
    }
    host.style.background = bm ? bm.sea : "";
    host.dataset.basemapLevel = entry.bm ? String(entry.bm.level) : "";
    if (!entry.deck || entry.host !== host) {
      if (entry.deck) { try { entry.deck.finalize(); } catch (e) { /* its canvas is gone already */ } }
      host.innerHTML = "";
      entry.host = host;
      entry.ratio = pixelRatio();
      entry.deck = window.createDeck({ container: host, tooltip: entry.props.tooltip || true,
        jsonInput: Object.assign(deckProps(entry.props), { layers: entry.order.map(layerJson),
                                                           useDevicePixels: entry.ratio }) });
      entry.conv = {};
      (entry.deck.props.layers || []).forEach(function (l) { if (l) { entry.conv[l.id] = l; } });
      listenClicks(key, entry);
      watchZoom(key, entry);
    } else {
      var ids = Object.keys(entry.dirty).filter(function (lid) { return entry.layers[lid]; });
      var update = entry.dirtyProps ? convertJson(deckProps(entry.props)) : {};
      if (ids.length) {
        (convertJson({ layers: ids.map(layerJson) }).layers || []).forEach(function (l) {
          if (l) { entry.conv[l.id] = l; }
        });
      }
      var conv = {};
      entry.order.forEach(function (lid) { if (entry.conv[lid]) { conv[lid] = entry.conv[lid]; } });
      entry.conv = conv;
      update.layers = entry.order.map(function (lid) { return conv[lid]; }).filter(Boolean);
      entry.deck.setProps(update);
    }
    entry.dirty = {};
    entry.dirtyProps = false;
    host.dataset.rendered = String((+host.dataset.rendered || 0) + 1);
    host.dataset.layers = String(entry.order.length);
    drawLegend(key, entry);
    applyVisibility(entry);
  }

  // A panel gone from the page (another screen opened) lets its deck.gl instance and WebGL context go.
  function sweepDecks() {
    Object.keys(decks).forEach(function (k) {
      var e = decks[k];
      if (e.host && e.host.isConnected === false) {
        try { e.deck.finalize(); } catch (err) { /* already gone */ }
        delete decks[k];
      }
    });
  }

  function renderDeck(patch, id) {
    var nu = window.dash_clientside.no_update;
    if (!patch || !id || !patch.order) { return [nu, nu]; }
    sweepDecks();
    var key = hostKey(id), entry = decks[key];
    if (patch.full) {
      entry = decks[key] = Object.assign(entry || {}, { props: {}, layers: {}, order: [], dirty: {},
        dirtyProps: true, have: { props: null, layers: {} } });
    }
    if (!entry || !mergePatch(entry, patch)) {
      return ["map", null];          // a change to a scene this browser lacks: the next refresh sends it whole
    }
    ensureDeckGL().then(function () { return ensureFonts(entry); }).then(function () { drawDeck(key); })
      .catch(function (err) {
      var host = document.getElementById(key);
      if (host) { host.textContent = String(err); }
    });
    return ["map", entry.have];
  }

  // Clicks are read from the DOM (press and release within a few pixels; a drag is no click) and picked
  // through deck.gl: deck.gl's own tap gesture drops clicks whose press looks long on a busy machine. The
  // pick waits for deck.gl's next frame, so layers a refresh has just replaced are drawn and pickable.
  function listenClicks(key, entry) {
    var host = entry.host, down = null;
    host.addEventListener("pointerdown", function (e) { down = { x: e.clientX, y: e.clientY }; });
    host.addEventListener("click", function (e) {
      if (!down || Math.abs(e.clientX - down.x) > 5 || Math.abs(e.clientY - down.y) > 5 || !entry.deck) { return; }
      var rect = host.getBoundingClientRect(), k = (rect.width / (host.offsetWidth || rect.width)) || 1;
      var x = (e.clientX - rect.left) / k, y = (e.clientY - rect.top) / k;   // the wall's canvas is scaled
      entry.deck.redraw(true);
      requestAnimationFrame(function () {
        requestAnimationFrame(function () {
          if (!entry.deck) { return; }
          var info = entry.deck.pickObject({ x: x, y: y, radius: 2 }), coord = info && info.coordinate;
          if (!coord) {
            var vp = entry.deck.getViewports()[0];
            coord = vp ? vp.unproject([x, y]) : null;
          }
          if (coord) { onPick(key, { object: info && info.object, layer: info && info.layer, coordinate: coord }); }
        });
      });
    });
  }

  // A click on a map: the picked entity (or ground point) becomes the screen's selection (tb-select),
  // and every panel that follows the selection is poked to render at once (the scene flies there).
  function onPick(key, info) {
    var dc = window.dash_clientside;
    if (!info || !info.coordinate || !dc.set_props) { return; }
    var obj = info.object || {}, props = obj.properties || {};
    var pid = obj.id !== undefined ? obj.id : props.id;
    var sel = { panel: JSON.parse(key).panel, layer: info.layer ? String(info.layer.id) : null,
                id: pid === undefined || pid === null ? null : String(pid),
                lon: info.coordinate[0], lat: info.coordinate[1], ts: Date.now() / 1000 };
    dc.set_props("tb-select", { data: sel });
    document.querySelectorAll("[data-follows]").forEach(function (frame) {
      try {
        dc.set_props({ type: "tb-poke", panel: JSON.parse(frame.id).panel }, { data: sel.ts });
      } catch (e) { /* a frame without a pattern id */ }
    });
  }

  // Tests and the console: the deck.gl instance drawn in a panel's host element.
  window.twinboardDeck = function (hostId) { return decks[hostId] ? decks[hostId].deck : null; };

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    twinboard: { renderDeck: renderDeck }
  });

  // A playlist holds two stacked frames: the one shown (#tb-playlist-frame) and a spare (#tb-playlist-next)
  // that loads the next screen a few seconds ahead. A switch waits until the spare's screen has painted
  // (its canvas, every panel past "加载中"), then fades it in over the shown one and swaps the ids: the
  // wall never shows Dash's "Loading..." page or an empty frame.
  var PRELOAD_MS = 8000, READY_CAP_MS = 15000, FADE_MS = 700;
  function screenReady(f) {
    try {
      var d = f.contentDocument;
      if (!d || d.readyState !== "complete" || !d.getElementById("tb-canvas")) { return false; }
      return !d.querySelector("._dash-loading, .tb-loading");
    } catch (e) { return true; /* another origin: nothing to inspect */ }
  }
  function startPlaylist() {
    var root = document.getElementById("tb-playlist");
    if (!root || root.dataset.started) { return; }
    root.dataset.started = "1";
    var items = JSON.parse(root.dataset.items || "[]"), i = 0, timer = null, preTimer = null, incident = null;
    var pending = null;
    function frame() { return document.getElementById("tb-playlist-frame"); }
    function spare() { return document.getElementById("tb-playlist-next"); }
    function load(f, src) { if (f.dataset.src !== src) { f.dataset.src = src; f.src = src; } }
    function show(src, then) {
      var sp = spare(), token = {}, t0 = Date.now();
      if (!sp || !frame()) { return; }
      pending = token;
      load(sp, src);
      (function wait() {
        if (pending !== token) { return; }
        if (!screenReady(sp) && Date.now() - t0 < READY_CAP_MS) { setTimeout(wait, 100); return; }
        var cur = frame();
        cur.id = "tb-playlist-next";
        sp.id = "tb-playlist-frame";
        cur.classList.add("tb-leaving");
        cur.classList.remove("tb-shown");
        sp.classList.add("tb-shown");
        root.dataset.switches = String((+root.dataset.switches || 0) + 1);
        setTimeout(function () {
          cur.classList.remove("tb-leaving");
          // the old screen stops its timers and maps unless it is the one being preloaded again
          if (!cur.classList.contains("tb-shown") && cur.dataset.src !== (root.dataset.preload || "")) {
            cur.dataset.src = ""; cur.src = "about:blank";
          }
        }, FADE_MS);
        if (then) { then(); }
      })();
    }
    function next() {
      if (!frame() || items.length < 2 || incident !== null) { return; }
      var j = (i + 1) % items.length, dwell = items[i].seconds * 1000;
      preTimer = setTimeout(function () {
        if (incident === null && spare()) { root.dataset.preload = items[j].src; load(spare(), items[j].src); }
      }, Math.max(0, dwell - PRELOAD_MS));
      timer = setTimeout(function () { i = j; show(items[i].src, next); }, dwell);
    }
    if (frame()) { frame().dataset.src = frame().getAttribute("src"); }
    next();
    // Routine <-> incident mode: the wall leaves the rotation for the incident view until a manager returns it.
    var incidentSrc = root.dataset.incidentSrc;
    if (!incidentSrc) { return; }
    var since = "";
    function poll() {
      // long poll: the server answers at once when the mode differs from what we saw, else when it changes
      fetch("/api/wall?wall=" + encodeURIComponent(root.dataset.wall || "leaders") + "&since=" + since + "&wait=25",
            { cache: "no-store" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (st) {
          if (!st || !frame()) { setTimeout(poll, 2000); return; }
          since = st.since === null ? "" : String(st.since);
          if (st.mode === "incident" && incident !== st.incident_id) {
            incident = st.incident_id;
            clearTimeout(timer); clearTimeout(preTimer);
            root.dataset.mode = "incident";
            root.dataset.preload = "";
            show(incidentSrc + "&incident=" + incident, null);
          } else if (st.mode !== "incident" && incident !== null) {
            incident = null;
            root.dataset.mode = "routine";
            i = 0;
            show(items[0].src, next);
          }
          setTimeout(poll, 50);
        }).catch(function () { setTimeout(poll, 2000); /* offline: keep showing what we have, retry */ });
    }
    poll();
  }

  // The title bar's mode badge follows the wall (routine / incident) on every screen.
  function pollMode() {
    var badge = document.getElementById("tb-mode");
    if (!badge) { return; }
    fetch("/api/wall", { cache: "no-store" }).then(function (r) { return r.ok ? r.json() : null; }).then(function (st) {
      if (!st) { return; }
      var zh = (document.getElementById("tb-canvas").getAttribute("lang") || "zh").indexOf("zh") === 0;
      var inc = st.mode === "incident";
      var what = st.drill ? (zh ? "演练 · #" : "Drill · #") : (zh ? "事件处置 · #" : "Incident · #");
      badge.textContent = inc ? what + st.incident_id : (zh ? "常态" : "Routine");
      badge.className = "tb-mode " + (inc ? (st.drill ? "tb-mode-drill" : "tb-mode-incident") : "tb-mode-routine");
    }).catch(function () {});
  }
  setInterval(pollMode, 3000);
  var modeSeen = null;   // a new screen (a Dash page change) asks at once, not 3 s later

  // A wall must never show a silently frozen number: probe the server's readiness and say what is wrong.
  // /api/ready answers 503 with what failed (database, event transport); no answer means the server is away.
  // Panels keep their last values; when the data can no longer be trusted they are marked stale.
  var offlineSince = null;
  function probe() {
    if (!document.getElementById("tb-canvas")) { return; }
    var ctl = new AbortController();
    var timer = setTimeout(function () { ctl.abort(); }, 4000);
    fetch("/api/ready", { cache: "no-store", signal: ctl.signal }).then(function (r) {
      clearTimeout(timer);
      return r.json().catch(function () { return null; }).then(function (doc) {
        if (r.ok) { setOffline(null); return; }
        if (!doc || r.status !== 503) { setOffline("server"); return; }
        if (doc.database && !doc.database.ok) { setOffline("database"); return; }
        if (doc.events && !doc.events.ok) { setOffline("events"); return; }
        setOffline("server");
      });
    }).catch(function () { clearTimeout(timer); setOffline("server"); });
  }
  var OFFLINE_TEXT = {
    server: ["⚠ 与服务器的连接已中断，显示最后数据，正在重连…", "⚠ Connection to the server lost, showing the last data, reconnecting…"],
    database: ["⚠ 数据库连接中断，显示最后数据，正在重连…", "⚠ Database unreachable, showing the last data, reconnecting…"],
    events: ["⚠ 事件通道中断，报警推送可能延迟，正在重连…", "⚠ Event channel down, alerts may arrive late, reconnecting…"]
  };
  function setOffline(reason) {
    var canvas = document.getElementById("tb-canvas");
    if (!canvas) { return; }
    var banner = document.getElementById("tb-offline");
    if (!banner) {
      banner = document.createElement("div");
      banner.id = "tb-offline";
      banner.className = "tb-offline";
      canvas.appendChild(banner);
    }
    var off = reason !== null;
    if (off && offlineSince === null) { offlineSince = Date.now(); }
    if (!off) { offlineSince = null; }
    // with the events channel down the panels still read the database: live, only the push is late
    var stale = off && reason !== "events";
    canvas.classList.toggle("tb-disconnected", stale);
    var zh = (canvas.getAttribute("lang") || "zh").indexOf("zh") === 0;
    banner.dataset.reason = reason || "";
    banner.textContent = off ? OFFLINE_TEXT[reason][zh ? 0 : 1] : "";
    banner.style.display = off ? "block" : "none";
  }
  setInterval(probe, 5000);

  // Dash's renderer records every input change (each dcc.Interval tick of each panel) in an undo
  // history that nothing on a wall reads and nothing trims: a few entries a second, for weeks, each
  // tick copying the whole list. Keep only the newest few.
  var HISTORY_KEEP = 20;
  function trimHistory() {
    (window.dash_stores || (window.store ? [window.store] : [])).forEach(function (store) {
      var h = store.getState().history;
      if (h && h.past && h.past.length > 2 * HISTORY_KEEP) { h.past.splice(0, h.past.length - HISTORY_KEEP); }
    });
  }
  // Lists longer than their panel run as a ticker (as a DataV scroll board does) instead of being cut:
  // a panel body, or a box inside it that hides its overflow, that holds more than it shows is marked
  // data-tb-ticker and scrolled smoothly one row at a time, pausing at both ends; it stops while the
  // pointer is on it. With prefers-reduced-motion it does not move: it becomes scrollable by hand
  // (data-tb-ticker="manual"). A cell cut with an ellipsis gets its full text as a title.
  var REDUCED = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  var TICK_EVERY_MS = 2500;
  function overflowsY(el) {
    var oy = getComputedStyle(el).overflowY;
    return (oy === "hidden" || oy === "clip" || oy === "auto" || oy === "scroll") && el.scrollHeight > el.clientHeight + 1;
  }
  function rowStep(el) {
    var row = el.querySelector("li, tbody tr, .tb-row, [data-row]");
    var h = row ? row.getBoundingClientRect().height / ((+document.getElementById("tb-canvas").dataset.scale) || 1) : 0;
    if (!(h > 8) || h > el.clientHeight * 0.8) { h = Math.max(24, el.clientHeight / 3); }
    return h;
  }
  function markTickers() {
    var canvas = document.getElementById("tb-canvas");
    if (!canvas) { return; }
    var boxes = canvas.querySelectorAll(".tb-panel-body, .tb-panel-body [style*='overflow'], .tb-scroll");
    for (var i = 0; i < boxes.length; i++) {
      var el = boxes[i];
      if (el.closest(".tb-panel-deck .tb-panel-body") === el || el.closest("svg")) { continue; }
      var over = overflowsY(el);
      if (over && !el.dataset.tbTicker) {
        el.dataset.tbTicker = REDUCED ? "manual" : "auto";
        el.dataset.tbPause = "1";
        if (!el.dataset.tbHover) {
          el.dataset.tbHover = "0";
          el.addEventListener("mouseenter", function () { this.dataset.tbHover = "1"; });
          el.addEventListener("mouseleave", function () { this.dataset.tbHover = "0"; });
        }
      } else if (!over && el.dataset.tbTicker && el.scrollTop === 0) {
        delete el.dataset.tbTicker;
      }
    }
    var cut = canvas.querySelectorAll(".tb-panel-body [style*='ellipsis'], .tb-panel-body .tb-ell");
    for (var j = 0; j < cut.length; j++) {
      if (cut[j].scrollWidth > cut[j].clientWidth + 1 && !cut[j].title) { cut[j].title = cut[j].textContent.trim(); }
    }
  }
  function stepTickers() {
    if (REDUCED) { return; }
    var els = document.querySelectorAll("#tb-canvas [data-tb-ticker='auto']");
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      if (el.dataset.tbHover === "1") { continue; }
      if (el.dataset.tbPause === "1") { el.dataset.tbPause = "0"; continue; }   // rest a beat at each end
      var end = el.scrollHeight - el.clientHeight;
      if (el.scrollTop >= end - 1) {
        el.scrollTo({ top: 0, behavior: "smooth" });
        el.dataset.tbPause = "1";
      } else {
        var next = Math.min(end, el.scrollTop + rowStep(el));
        el.scrollTo({ top: next, behavior: "smooth" });
        if (next >= end - 1) { el.dataset.tbPause = "1"; }
      }
    }
  }
  setInterval(stepTickers, TICK_EVERY_MS);
  var markQueued = false;
  function queueMark() {      // a panel re-rendered: mark its lists before the next frame
    if (markQueued) { return; }
    markQueued = true;
    window.requestAnimationFrame(function () { markQueued = false; markTickers(); });
  }
  window.twinboardMarkTickers = markTickers;

  // Live incidents pulse (issue 19): a map layer with ``tbPulse: true`` in its spec gets a ring drawn under it
  // that grows and fades every PULSE_MS, so a leader's eye finds a live incident from across the room. Only
  // uniforms change (radiusScale, opacity): no data is uploaded again. Off when the page is hidden, the
  // layer is hidden or empty, or the viewer asks for reduced motion.
  var PULSE_MS = 1600, pulseStill = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  function pulseDecks() {
    if (pulseStill || document.hidden) { return; }
    var phase = (Date.now() % PULSE_MS) / PULSE_MS;
    Object.keys(decks).forEach(function (k) {
      var entry = decks[k];
      if (!entry.deck || !entry.host || !entry.host.isConnected) { return; }
      var layers = entry.deck.props.layers || [], out = [], changed = false;
      layers.forEach(function (l) {
        if (!l || /~pulse$/.test(l.id)) { if (l) { changed = true; } return; }
        var data = l.props.data;
        if (l.props.tbPulse && l.props.visible !== false && Array.isArray(data) && data.length) {
          var grow = 1 + 1.8 * phase;   // the pixel clamp grows too, or a far-out view would show no pulse
          out.push(l.clone({ id: l.id + "~pulse", filled: false, stroked: true, pickable: false,
                             radiusScale: grow, radiusMinPixels: (l.props.radiusMinPixels || 0) * grow,
                             opacity: 0.9 * (1 - phase),
                             lineWidthMinPixels: 3, getLineColor: l.props.getFillColor,
                             updateTriggers: { getLineColor: l.props.updateTriggers && l.props.updateTriggers.getFillColor } }));
          changed = true;
        }
        out.push(l);
      });
      if (changed) { entry.deck.setProps({ layers: out }); entry.host.dataset.pulse = phase.toFixed(2); }
    });
  }
  setInterval(pulseDecks, 66);

  window.addEventListener("resize", function () { fitCanvas(); rescaleDecks(); });
  setInterval(function () { tick(); rescaleDecks(); startPlaylist(); trimHistory(); markTickers(); }, 1000);
  new MutationObserver(function () {
    fitCanvas(); startPlaylist(); queueMark();
    var badge = document.getElementById("tb-mode");
    if (badge && badge !== modeSeen) { modeSeen = badge; pollMode(); }
  }).observe(document.documentElement,
    { childList: true, subtree: true });
})();
