// hotline consoles: a JSON form encoding for htmx (empty fields are sent as null), the outcome of a
// change shown in #flash, and the running timers (wrap-up, time in state). No other script.
(function () {
  htmx.defineExtension("json-form", {
    onEvent: function (name, evt) {
      if (name === "htmx:configRequest") { evt.detail.headers["Content-Type"] = "application/json"; }
    },
    encodeParameters: function (xhr, parameters, elt) {
      xhr.overrideMimeType("text/json");
      const form = elt.closest("form");
      const body = {};
      for (const [key, value] of parameters.entries()) {
        const input = form ? form.elements[key] : null;
        if (input && input.dataset && "skip" in input.dataset) { continue; }
        body[key] = value === "" ? null : value;
      }
      return JSON.stringify(body);
    }
  });

  window.consoleDone = function (event, refresh) {
    const flash = document.getElementById("flash");
    const xhr = event.detail.xhr;
    if (event.detail.successful) {
      flash.className = "ok"; flash.textContent = "Saved.";
      if (refresh) { htmx.trigger(refresh, "refresh"); }
      const cases = document.getElementById("cases");
      if (cases) { htmx.trigger(cases, "refresh"); }
    } else {
      let detail = xhr.statusText;
      try {
        const body = JSON.parse(xhr.responseText);
        detail = typeof body.detail === "string" ? body.detail
          : body.detail.map(function (d) { return d.loc.slice(-1)[0] + ": " + d.msg; }).join("; ");
      } catch (e) { /* not JSON */ }
      flash.className = "error"; flash.textContent = xhr.status + " " + detail;
    }
  };

  function tick() {
    document.querySelectorAll(".timer[data-since]").forEach(function (el) {
      const seconds = Math.max(0, Math.floor((Date.now() - Date.parse(el.dataset.since)) / 1000));
      el.textContent = Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
    });
  }
  // The desk changed (a call came, was answered, ended): the agent's case list may have a new case.
  document.addEventListener("htmx:sseMessage", function (event) {
    const cases = document.getElementById("cases");
    if (cases && event.detail.type === "desk") { htmx.trigger(cases, "refresh"); }
  });

  setInterval(tick, 1000);
  document.addEventListener("htmx:afterSwap", tick);
})();
