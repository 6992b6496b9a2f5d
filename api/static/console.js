// hotline consoles: a JSON form encoding for htmx (empty fields are sent as null), the outcome of a
// change shown in #flash, the running timers (time in state, wrap-up left) and the agent's live transcript
// (an EventSource on the call the desk names). No other script.
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

  // The pause form's reason: a usual one from the list, with the agent's own words after it, or only their
  // words for "other" (none: the API refuses the empty reason and #flash says so).
  window.pauseReason = function (event, form) {
    const choice = form.elements.reason_choice.value;
    const text = form.elements.reason_text.value.trim();
    event.detail.parameters.reason = choice === "other" ? text : (text ? choice + ": " + text : choice);
  };

  function clock(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    return Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
  }
  // The server's clock minus this browser's, from the page's data-server-now (the instants come from the
  // server; a browser clock a minute off would otherwise show a wrap-up a minute off).
  let skew = 0;
  function serverNow() { return Date.now() + skew; }
  function tick() {
    document.querySelectorAll(".timer[data-since]").forEach(function (el) {
      el.textContent = clock((serverNow() - Date.parse(el.dataset.since)) / 1000);
    });
    document.querySelectorAll(".countdown[data-until]").forEach(function (el) {
      el.textContent = clock((Date.parse(el.dataset.until) - serverNow()) / 1000);
    });
  }

  // -- the live transcript of the agent's call ------------------------------------------------------------
  // The desk names the call to follow (data-follow-call: the call in progress, then in wrap-up the call
  // just ended). A new call id closes the old stream and opens one for it; the same id (every re-render of
  // the desk) changes nothing; no id leaves the last transcript on show. Finals are appended, each
  // speaker's partial line is replaced, and the stream is closed at "end". A new call also opens its case
  // in the case panel when no case is open there.
  let live = null;

  function line(segment, partial) {
    const li = document.createElement("li");
    li.className = segment.speaker + (partial ? " partial" : "");
    li.dataset.speaker = segment.speaker;
    const who = document.createElement("b");
    who.textContent = segment.speaker;
    li.append(who, " " + segment.text);
    return li;
  }

  function refreshCasePart(caseId, part, tries) {
    // Only that part of the case panel, so a form being filled in is left alone. The stored transcript
    // lands on the case a moment after "end": ask again while it is pending (at most a minute).
    if (!document.getElementById("case-" + caseId) || !document.getElementById(part)) { return; }
    htmx.ajax("GET", "/console/agent/cases/" + caseId, {target: "#" + part, select: "#" + part, swap: "outerHTML"})
      .then(function () {
        const left = tries === undefined ? 0 : tries;
        if (left > 0 && document.querySelector("#" + part + "[data-pending]")) {
          setTimeout(function () { refreshCasePart(caseId, part, left - 1); }, 1000);
        }
      });
  }

  function follow(callId, caseId) {
    if (live) { live.source.close(); }
    const list = document.getElementById("live-transcript");
    const status = document.getElementById("live-status");
    list.replaceChildren();
    status.textContent = "connecting";
    const source = new EventSource("/api/v1/calls/" + encodeURIComponent(callId) + "/transcript/live");
    const partials = {};
    live = {callId: callId, source: source};
    source.addEventListener("open", function () {
      list.replaceChildren();  // a reconnection replays the call from its start
      for (const speaker in partials) { delete partials[speaker]; }
      status.textContent = "live · call " + callId;
    });
    source.addEventListener("partial", function (event) {
      const segment = JSON.parse(event.data);
      const old = partials[segment.speaker];
      if (!segment.text) { if (old) { old.remove(); delete partials[segment.speaker]; } return; }
      const li = line(segment, true);
      if (old) { old.replaceWith(li); } else { list.append(li); }
      partials[segment.speaker] = li;
    });
    source.addEventListener("final", function (event) {
      const segment = JSON.parse(event.data);
      if (partials[segment.speaker]) { partials[segment.speaker].remove(); delete partials[segment.speaker]; }
      list.append(line(segment, false));
      Object.values(partials).forEach(function (li) { list.append(li); });  // partials stay last
      refreshCasePart(caseId, "suggestions");
    });
    source.addEventListener("end", function () {
      source.close();
      Object.values(partials).forEach(function (li) { li.remove(); });  // guesses no final confirmed
      status.textContent = "call ended · transcript on case #" + caseId;
      refreshCasePart(caseId, "case-transcript", 60);
    });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) {
        status.textContent = "no live transcript for this call (it is on its case once the call ends)";
      }
    });
  }

  function followDesk() {
    const desk = document.querySelector("#desk [data-follow-call]");
    if (desk && (!live || live.callId !== desk.dataset.followCall)) {
      follow(desk.dataset.followCall, desk.dataset.followCase);
      // A new call: its case comes up to be filled in, unless the agent is working on a case already.
      if (!document.querySelector("#case [id^='case-']")) {
        htmx.ajax("GET", "/console/agent/cases/" + desk.dataset.followCase, {target: "#case"});
      }
    }
  }

  // The desk changed (a call came, was answered, ended): the agent's case list may have a new case.
  document.addEventListener("htmx:sseMessage", function (event) {
    const cases = document.getElementById("cases");
    if (cases && event.detail.type === "desk") { htmx.trigger(cases, "refresh"); }
  });

  setInterval(tick, 1000);
  document.addEventListener("htmx:afterSwap", tick);
  document.addEventListener("htmx:afterSettle", followDesk);
  document.addEventListener("DOMContentLoaded", function () {
    const page = document.querySelector("[data-server-now]");
    if (page) { skew = Date.parse(page.dataset.serverNow) - Date.now(); }
    tick();
    followDesk();
  });
})();
