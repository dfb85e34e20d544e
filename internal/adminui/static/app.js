// ConnectHub admin UI behaviour. The pages work without this script (forms
// post, the server validates and re-renders); it adds inline JSON
// validation, the handler's schema fields, live log tails and small
// conveniences. Everything user-controlled is inserted with textContent,
// never innerHTML, so a log line or a config value cannot become markup.
(function () {
  "use strict";

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }

  // --- Toasts and flashes -------------------------------------------------
  var toastTimer;
  function toast(text) {
    var el = $("#toast");
    if (!el) { return; }
    el.textContent = text;
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { el.hidden = true; }, 6000);
  }

  document.addEventListener("click", function (e) {
    var t = e.target;
    if (t.closest && t.closest("[data-dismiss]")) {
      var box = t.closest(".flash");
      if (box) { box.remove(); }
    }
    if (t.closest && t.closest("[data-back]")) { history.back(); }
  });
  if (history.length > 1) { $$("[data-back]").forEach(function (b) { b.hidden = false; }); }

  document.addEventListener("htmx:responseError", function (e) {
    var xhr = e.detail && e.detail.xhr;
    toast((xhr && xhr.responseText) || "Request failed (" + (xhr ? xhr.status : "?") + ")");
  });
  document.addEventListener("htmx:sendError", function () {
    toast(document.body.dataset.lang === "zh-CN" ? "无法连接服务器，请检查网络后重试。" : "Could not reach the server. Check the connection and try again.");
  });

  // --- JSON editors -------------------------------------------------------
  // A JSON editor must hold a JSON object; the secret editor may also be
  // empty (keep the stored secrets). Messages are the SPEC's, from the
  // editor's data-msg-object attribute.
  function parseObject(editor) {
    var text = editor.value.trim();
    if (text === "" && editor.hasAttribute("data-allow-empty")) { return { ok: true, empty: true }; }
    if (text === "") { return { ok: true, value: {} }; }
    try {
      var v = JSON.parse(text);
      if (v === null || typeof v !== "object" || Array.isArray(v)) {
        return { ok: false, message: editor.dataset.msgObject };
      }
      return { ok: true, value: v };
    } catch (err) {
      return { ok: false, message: editor.dataset.msgObject, detail: err.message };
    }
  }

  function showEditorError(editor, message) {
    var box = $('[data-json-error="' + editor.name + '"]');
    if (!box) { return; }
    box.textContent = message || "";
    box.hidden = !message;
    editor.setAttribute("aria-invalid", message ? "true" : "false");
  }

  function checkEditor(editor) {
    var r = parseObject(editor);
    // The parser's detail is in the browser's language, which need not be
    // the page's: only English pages show it.
    var detail = r.detail && document.documentElement.lang === "en" ? " (" + r.detail + ")" : "";
    showEditorError(editor, r.ok ? "" : r.message + detail);
    return r;
  }

  $$("[data-json-editor]").forEach(function (editor) {
    editor.addEventListener("input", function () {
      var r = checkEditor(editor);
      if (r.ok && editor.name === "public_cfg") { syncFieldsFromJSON(); }
    });
    editor.addEventListener("keydown", function (e) {
      if (e.key === "Tab" && !e.shiftKey && !e.ctrlKey && !e.metaKey && !e.altKey) {
        // Indent rather than leave the editor; Shift+Tab still moves focus.
        e.preventDefault();
        var s = editor.selectionStart;
        editor.setRangeText("  ", s, editor.selectionEnd, "end");
      }
    });
  });

  $$("[data-json-format]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var editor = document.getElementById(btn.dataset.jsonFormat);
      var r = checkEditor(editor);
      if (r.ok && !r.empty) { editor.value = JSON.stringify(r.value, null, 2); }
    });
  });

  // --- Handler schema fields ---------------------------------------------
  var handlerSelect = $("[data-handler-select]");
  var publicEditor = $("#public_cfg");

  function activeSchema() {
    if (!handlerSelect) { return null; }
    return $$("[data-schema-for]").filter(function (s) { return s.dataset.schemaFor === handlerSelect.value; })[0] || null;
  }

  function showHandler() {
    if (!handlerSelect) { return; }
    var name = handlerSelect.value;
    $$("[data-handler-doc]").forEach(function (el) { el.hidden = el.dataset.handlerDoc !== name; });
    $$("[data-schema-for]").forEach(function (el) { el.hidden = el.dataset.schemaFor !== name; });
    var exampleBtn = $("[data-json-example]");
    var schema = activeSchema();
    if (exampleBtn) { exampleBtn.hidden = !(schema && schema.dataset.example && schema.dataset.example !== "{}"); }
    syncFieldsFromJSON();
  }

  function currentConfig() {
    if (!publicEditor) { return null; }
    var r = parseObject(publicEditor);
    return r.ok ? (r.value || {}) : null;
  }

  // Fill the schema inputs from the JSON editor.
  function syncFieldsFromJSON() {
    var schema = activeSchema();
    var cfg = currentConfig();
    if (!schema || !cfg) { return; }
    $$("[data-cfg-key]", schema).forEach(function (input) {
      var v = cfg[input.dataset.cfgKey];
      if (input.dataset.cfgInput === "checkbox") {
        input.checked = v === true;
      } else if (v === undefined || v === null) {
        input.value = "";
      } else if (typeof v === "object") {
        input.value = JSON.stringify(v);
      } else {
        input.value = String(v);
      }
    });
    validateSchema(schema, cfg);
  }

  // Write one schema input back into the JSON editor.
  function syncJSONFromField(input) {
    var cfg = currentConfig();
    if (!cfg) {
      checkEditor(publicEditor);
      publicEditor.focus();
      return;
    }
    var key = input.dataset.cfgKey;
    var kind = input.dataset.cfgInput;
    if (kind === "checkbox") {
      cfg[key] = input.checked;
    } else if (input.value === "") {
      delete cfg[key];
    } else if (kind === "number" || kind === "integer") {
      var n = Number(input.value);
      cfg[key] = isNaN(n) ? input.value : n;
    } else {
      cfg[key] = input.value;
    }
    publicEditor.value = JSON.stringify(cfg, null, 2);
    checkEditor(publicEditor);
    validateSchema(activeSchema(), cfg);
  }

  function typeOK(type, v) {
    if (!type) { return true; }
    return type.split(" | ").some(function (t) {
      switch (t) {
        case "string": return typeof v === "string";
        case "number": return typeof v === "number";
        case "integer": return typeof v === "number" && Math.floor(v) === v;
        case "boolean": return typeof v === "boolean";
        case "object": return v !== null && typeof v === "object" && !Array.isArray(v);
        case "array": return Array.isArray(v);
        case "null": return v === null;
      }
      return true;
    });
  }

  // A first check against the schema as the person types; the server
  // validates the whole schema on save.
  function validateSchema(schema, cfg) {
    if (!schema || !cfg) { return; }
    $$("[data-cfg-field]", schema).forEach(function (field) {
      var key = field.dataset.cfgField;
      var box = $("[data-cfg-error]", field);
      var msg = "";
      var v = cfg[key];
      if (v === undefined) {
        if (field.hasAttribute("data-required")) { msg = schema.dataset.msgRequired.replace("%s", key); }
      } else if (!typeOK(field.dataset.cfgType, v)) {
        msg = schema.dataset.msgType.replace("%s", key).replace("%s", field.dataset.cfgType);
      } else {
        var sel = $("select[data-cfg-key]", field);
        if (sel && typeof v === "string") {
          var allowed = $$("option", sel).map(function (o) { return o.value; }).filter(Boolean);
          if (allowed.indexOf(v) < 0) { msg = schema.dataset.msgEnum.replace("%s", key).replace("%s", allowed.join(", ")); }
        }
      }
      box.textContent = msg;
      box.hidden = !msg;
    });
  }

  if (handlerSelect) {
    handlerSelect.addEventListener("change", showHandler);
    showHandler();
  }
  $$("[data-cfg-key]").forEach(function (input) {
    input.addEventListener(input.tagName === "SELECT" || input.type === "checkbox" ? "change" : "input", function () { syncJSONFromField(input); });
  });
  var exampleBtn = $("[data-json-example]");
  if (exampleBtn) {
    exampleBtn.addEventListener("click", function () {
      var schema = activeSchema();
      if (!schema) { return; }
      var cfg = currentConfig();
      var example = JSON.parse(schema.dataset.example);
      // Keep what is already there; add the missing keys.
      if (cfg) { Object.keys(cfg).forEach(function (k) { example[k] = cfg[k]; }); }
      publicEditor.value = JSON.stringify(example, null, 2);
      checkEditor(publicEditor);
      syncFieldsFromJSON();
    });
  }

  // The cron cheat sheet fills the cron field; the preview follows.
  $$("[data-cron-example]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var cron = $("#cron_expr");
      if (!cron) { return; }
      cron.value = btn.dataset.cronExample;
      cron.dispatchEvent(new Event("input", { bubbles: true }));
      cron.focus();
    });
  });

  // Refuse to submit a form whose JSON editors are invalid: the error is
  // already shown next to the editor, and a round trip would only lose the
  // secrets typed in (they are never sent back to the browser).
  var jobForm = $("#job-form");
  if (jobForm) {
    jobForm.addEventListener("submit", function (e) {
      var firstBad = null;
      $$("[data-json-editor]", jobForm).forEach(function (editor) {
        if (!checkEditor(editor).ok && !firstBad) { firstBad = editor; }
      });
      if (firstBad) {
        e.preventDefault();
        firstBad.focus();
      }
    });
  }

  // --- Live log tail ------------------------------------------------------
  var log = $("[data-log-stream]");
  if (log && window.EventSource) {
    var indicator = $("[data-live-indicator]");
    var es = new EventSource(log.dataset.logStream);
    es.addEventListener("log", function (e) {
      var nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 48;
      log.appendChild(document.createTextNode(JSON.parse(e.data)));
      var empty = $("[data-log-empty]");
      if (empty) { empty.remove(); }
      if (nearBottom) { log.scrollTop = log.scrollHeight; }
    });
    es.addEventListener("status", function (e) {
      var shown = $("[data-run-status]");
      if (shown && shown.dataset.runStatus !== e.data) { refreshLiveRegions(); }
    });
    es.addEventListener("end", function (e) {
      es.close();
      log.removeAttribute("data-log-stream");
      log.dataset.logEnded = e.data;
      if (indicator) { indicator.hidden = true; }
      // A run that ended without a line is no longer waiting for one.
      var empty = $("[data-log-empty]");
      if (empty) { empty.textContent = log.dataset.emptyText; }
      refreshLiveRegions();
    });
    es.addEventListener("error", function () {
      if (es.readyState === EventSource.CLOSED && indicator) { indicator.hidden = true; }
    });
  }

  // Replace the parts of the page marked data-live-region with their
  // current version when the run starts or ends: status, outcome, actions.
  var refreshSeq = 0;
  function refreshLiveRegions() {
    var seq = ++refreshSeq;
    fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (resp) { return resp.ok ? resp.text() : Promise.reject(resp.status); })
      .then(function (html) {
        if (seq !== refreshSeq) { return; } // a newer refresh is on its way
        var doc = new DOMParser().parseFromString(html, "text/html");
        $$("[data-live-region][id]").forEach(function (el) {
          var fresh = doc.getElementById(el.id);
          if (fresh) { el.replaceWith(document.importNode(fresh, true)); }
        });
        var side = $(".run-side");
        var attempts = doc.getElementById("run-attempts");
        if (side && attempts && !document.getElementById("run-attempts")) {
          side.insertBefore(document.importNode(attempts, true), side.children[1] || null);
        }
        if (log.dataset.logEnded) { document.body.dataset.runEnded = "true"; }
      })
      .catch(function () {
        if (log.dataset.logEnded) { document.body.dataset.runEnded = "true"; }
      });
  }
})();
